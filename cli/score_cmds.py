"""``edgegrad blur-score`` and ``edgegrad focus-map``: sharpness for people and scripts.

``blur-score`` scores files and folders with one focus measure, renders a
table (or CSV/JSONL/JSON), judges images blurry by an absolute, percentile or
sigma threshold, optionally moves/copies/links the blurry ones, and exits 4
when ``--fail-under`` trips (the autofocus check).

CSV and JSONL are streamed: each record is written (and flushed) as its image
finishes, in input order, unless an option needs every score first (``--sort
score``, ``--best``, ``--percentile``, ``--sigma``). Written to ``-o FILE``,
such a log can be continued with ``--resume`` after the run was stopped.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import numpy.typing as npt

from edgegrad import metrics
from edgegrad.batch import Record, iter_batch, run_batch
from edgegrad.errors import EdgegradError
from edgegrad.io import (
    TransferAction,
    open_record_log,
    read_image_checked,
    transfer,
    write_image,
    write_text,
)
from edgegrad.jobs import FileScore, score_file

from .options import (
    debug_option,
    max_pixels_option,
    mirrored,
    overwrite_option,
    paths_argument,
    walk_inputs,
    walk_options,
)
from .records import (
    FORMATS,
    STREAMED,
    Row,
    earlier_rows,
    format_for,
    header_line,
    record_line,
    render,
)
from .report import EXIT_FAIL_UNDER, Report, pool_plan, progress

ACTIONS: tuple[TransferAction, ...] = ("move", "copy", "link")


def _parse_roi(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        parts = tuple(int(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0 or min(parts[:2]) < 0:
        raise click.BadParameter(f"expected x,y,w,h in pixels with w, h > 0; got {value!r}")
    return parts


def sharpness_key(score: float, method: str) -> float:
    """Map a score so that larger always means sharper."""
    return score if metrics.SHARPER_IS_HIGHER[method] else -score


def blurry_cut(
    keys: Sequence[float],
    method: str,
    *,
    threshold: float | None,
    percentile: float | None,
    sigma: float | None,
) -> float | None:
    """Return the sharpness key below which an image is blurry, or None."""
    if threshold is not None:
        return sharpness_key(threshold, method)
    if not keys:
        return None
    if percentile is not None:
        return float(np.percentile(keys, percentile))
    if sigma is not None:
        return float(np.mean(keys) - sigma * np.std(keys))
    return None


@click.command("blur-score")
@paths_argument
@click.option(
    "-m",
    "--method",
    type=click.Choice(list(metrics.METHODS)),
    default="lapv",
    show_default=True,
    help="lapv, teng, lapm, glvn: higher is sharper; blur-effect: higher is blurrier.",
)
@click.option("--roi", callback=_parse_roi, metavar="X,Y,W,H", help="Score only this region.")
@click.option(
    "--center",
    type=click.FloatRange(0, 1, min_open=True),
    metavar="FRACTION",
    help="Score only a centred region of this fraction of width and height.",
)
@click.option(
    "--working-size",
    type=click.IntRange(min=16),
    metavar="PIXELS",
    help="Resample to this many pixels first, with a pre-blur that gives every source "
    "the same blur, so scores compare across resolutions (smaller images are not "
    "upscaled but get the same pre-blur). Compare such scores only with each other.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format [default: from -o's extension (.csv, .jsonl, .json), else table]. "
    "CSV and JSONL records are written as images finish, unless --sort score, --best, "
    "--percentile or --sigma needs every score first.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout: record by record for streamed CSV/JSONL, "
    "else atomically at the end.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a stopped run: skip the inputs already recorded in -o FILE (CSV or "
    "JSONL) and append the others; start FILE if it does not exist. Give the same "
    "command line each time, as paths are matched as written.",
)
@click.option(
    "--sort",
    type=click.Choice(["score", "name"]),
    default=None,
    help="score: sharpest first; name: the order files were given and walked in "
    "[default: score for the table, JSON and --best, name for CSV and JSONL].",
)
@click.option("--best", type=click.IntRange(min=1), metavar="N", help="List only the N sharpest.")
@click.option("--threshold", type=float, help="Blurry when less sharp than this score.")
@click.option(
    "--percentile",
    type=click.FloatRange(0, 100),
    help="Blurry when below the P-th percentile of this run (the least sharp P%).",
)
@click.option(
    "--sigma",
    type=click.FloatRange(min=0),
    help="Blurry when below the run's mean - K·std (in the sharper direction).",
)
@click.option(
    "--move-to", type=click.Path(file_okay=False, path_type=Path), help="Move blurry images here."
)
@click.option(
    "--copy-to", type=click.Path(file_okay=False, path_type=Path), help="Copy blurry images here."
)
@click.option(
    "--link-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Symlink blurry images here.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Report the moves/copies/links (with their final names) without making them.",
)
@click.option(
    "--fail-under",
    type=float,
    metavar="T",
    help="Exit 4 when any image is less sharp than T (autofocus check).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Score truncated or corrupt files that still decode (missing rows come out grey), "
    "with a warning in the record, instead of reporting them as failed.",
)
@overwrite_option
@max_pixels_option
@walk_options
def blur_score_cmd(**kw: Any) -> None:
    """Score sharpness of images and folders; rank, flag and sort out blurry ones.

    \b
    Examples:
      edgegrad blur-score sample_images/
      edgegrad blur-score capture.png --fail-under 150
      edgegrad blur-score photos/ --percentile 10 --move-to blurry/ --dry-run
      edgegrad blur-score frames/ --format csv -o scores.csv
      edgegrad blur-score archive/ -o scores.jsonl --resume
    """
    modes = [k for k in ("threshold", "percentile", "sigma") if kw[k] is not None]
    if len(modes) > 1:
        raise click.UsageError("give at most one of --threshold, --percentile, --sigma")
    actions = [(a, kw[f"{a}_to"]) for a in ACTIONS if kw[f"{a}_to"] is not None]
    if len(actions) > 1:
        raise click.UsageError("give at most one of --move-to, --copy-to, --link-to")
    if actions and not modes:
        raise click.UsageError(
            "--move-to/--copy-to/--link-to need --threshold, --percentile or --sigma"
        )
    if kw["roi"] is not None and kw["center"] is not None:
        raise click.UsageError("give --roi or --center, not both")
    fmt: str = kw["fmt"] or format_for(kw["output"])
    whole_run = _whole_run_options(kw)
    if kw["resume"]:
        _check_resume(kw, fmt, whole_run, bool(actions))
    streamed = fmt in STREAMED and not whole_run
    method: str = kw["method"]
    report = Report(verb="scored", verbose=kw["verbose"])
    output: Path | None = kw["output"]
    if output is not None and output.is_file() and not kw["overwrite"] and not kw["resume"]:
        resume = " (or --resume to continue it)" if streamed else ""
        raise click.BadParameter(
            f"{output} exists; pass --overwrite to replace it{resume}", param_hint="'-o'"
        )
    verdicts = _Verdicts(
        method,
        floor=None if kw["fail_under"] is None else sharpness_key(kw["fail_under"], method),
        judge=bool(modes),
        keep_blurry=bool(actions),
    )
    if kw["threshold"] is not None:
        verdicts.cut = sharpness_key(kw["threshold"], method)
    # A log that cannot be resumed is refused before the walk, which may be long.
    recorded = _read_log(output, fmt, verdicts, report) if output and kw["resume"] else set()
    inputs = walk_inputs(kw["paths"], kw, report, away_from=[dest for _, dest in actions])
    todo = [path for path in inputs if str(path) not in recorded]
    report.recorded = len(inputs) - len(todo)
    if len(recorded) > report.recorded:
        click.echo(
            f"resume: {len(recorded) - report.recorded} records in {output} match no input of "
            "this run (paths are matched as written: give the paths the first run was given)",
            err=True,
        )
    job = functools.partial(
        score_file,
        method=method,
        roi=kw["roi"],
        center=kw["center"],
        working_size=kw["working_size"],
        max_pixels=kw["max_pixels"],
        allow_partial=kw["allow_partial"],
    )
    workers, chunksize = pool_plan(kw["workers"], len(todo))
    if streamed:
        # Records shown on the terminal show the progress; a bar would garble them.
        on_terminal = output is None and sys.stdout.isatty()
        # Nothing runs until the first record is asked for; closing cancels the rest.
        records = iter_batch(job, todo, workers=workers, chunksize=chunksize)
        with (
            contextlib.closing(records),
            _stream(
                output, fmt, resume=kw["resume"], overwrite=kw["overwrite"], protected=inputs
            ) as write,
            progress(len(todo), "scoring", hidden=on_terminal, report=report) as bar,
        ):
            for record in records:
                row = _row(record, method, report)
                verdicts.add(row)
                write(record_line(row, fmt))
                bar.update(1)
    else:
        with progress(len(todo), "scoring") as bar:
            batch = run_batch(
                job, todo, workers=workers, chunksize=chunksize, on_result=lambda _: bar.update(1)
            )
        rows = [_row(record, method, report) for record in batch]
        sharpness = {id(r): sharpness_key(r.score, method) for r in rows if r.score is not None}
        verdicts.cut = blurry_cut(
            list(sharpness.values()),
            method,
            threshold=kw["threshold"],
            percentile=kw["percentile"],
            sigma=kw["sigma"],
        )
        for row in rows:
            verdicts.add(row)
        # A ranking (--best) is listed sharpest first unless asked otherwise.
        sort = kw["sort"] or ("name" if fmt in STREAMED and kw["best"] is None else "score")
        text = render(_order(rows, sharpness, sort, kw["best"]), fmt)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_text(output, text, overwrite=kw["overwrite"], protected=inputs)

    if actions:
        folders = [p for p in kw["paths"] if p.is_dir()]
        _act(verdicts.to_act, *actions[0], folders=folders, dry_run=kw["dry_run"], report=report)
    summary = report.summary() + (f", {verdicts.blurry} blurry" if modes else "")
    click.echo(summary, err=True)
    if verdicts.under:
        side = "below" if metrics.SHARPER_IS_HIGHER[method] else "above"
        for path in verdicts.under:
            click.echo(f"fail-under: {path} scores {side} {kw['fail_under']:g}", err=True)
        raise SystemExit(EXIT_FAIL_UNDER)
    raise SystemExit(report.exit_code)


def _whole_run_options(kw: dict[str, Any]) -> list[str]:
    """The options given that need every score before the first record can be written."""
    given = {
        "--sort score": kw["sort"] == "score",
        "--best": kw["best"] is not None,
        "--percentile": kw["percentile"] is not None,
        "--sigma": kw["sigma"] is not None,
    }
    return [name for name, on in given.items() if on]


def _check_resume(kw: dict[str, Any], fmt: str, whole_run: list[str], acting: bool) -> None:
    """Refuse ``--resume`` where the run could not simply be continued."""
    if kw["output"] is None or fmt not in STREAMED:
        raise click.UsageError(
            "--resume needs -o FILE in CSV or JSONL (a .csv or .jsonl name, or --format "
            "csv|jsonl): it continues the records written there"
        )
    if kw["overwrite"]:
        raise click.UsageError(
            "give --resume or --overwrite, not both: --resume appends to -o FILE, "
            "--overwrite starts it again"
        )
    if whole_run:
        raise click.UsageError(
            f"--resume cannot be combined with {', '.join(whole_run)}: they need every score "
            "of the run before writing, so nothing is recorded until the end"
        )
    if acting:
        raise click.UsageError(
            "--resume cannot be combined with --move-to/--copy-to/--link-to: images "
            "recorded by the earlier run would not be acted on"
        )


@dataclass
class _Verdicts:
    """What a run keeps of its records: counts and the paths its end needs, never rows.

    ``add`` judges each row against ``cut`` (set it first) when a threshold
    was given, and checks it against the ``--fail-under`` key ``floor``.
    """

    method: str
    floor: float | None
    judge: bool
    keep_blurry: bool
    cut: float | None = None
    blurry: int = 0
    to_act: list[Path] = field(default_factory=list)
    under: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Set ``row.blurry`` (when judging) and note the row where the run's end needs it."""
        if row.score is None:
            return
        sharpness = sharpness_key(row.score, self.method)
        if self.judge:
            row.blurry = self.cut is not None and sharpness < self.cut
        if row.blurry:
            self.blurry += 1
            if self.keep_blurry:
                self.to_act.append(Path(row.path))
        if self.floor is not None and sharpness < self.floor:
            self.under.append(row.path)


@contextlib.contextmanager
def _stream(
    output: Path | None, fmt: str, *, resume: bool, overwrite: bool, protected: Sequence[Path]
) -> Iterator[Callable[[str], None]]:
    """Yield a function that writes one line to stdout or ``output`` at once.

    The CSV header goes first, unless a resumed file already holds lines.
    """
    first = header_line(fmt)
    if output is None:
        click.echo(first, nl=False)
        yield functools.partial(click.echo, nl=False)
        return
    with open_record_log(output, overwrite=overwrite, protected=protected, resume=resume) as log:
        if log.dropped:
            redo = "its image is scored again" if log.kept else "the log starts again"
            click.echo(
                f"resume: dropped the incomplete last line of {output} ({log.dropped} bytes, "
                f"cut short when the earlier run stopped); {redo}",
                err=True,
            )
        if first and not log.kept:
            log.write_line(first)
        yield log.write_line


def _read_log(path: Path, fmt: str, verdicts: _Verdicts, report: Report) -> set[str]:
    """The paths recorded in the log a run resumes, each record counted toward the exit code.

    Records of failures are counted and listed again, and scores are judged
    again (``--threshold``, ``--fail-under``), so the summary and the exit code
    cover the whole log. A last line cut short is left out: the log drops it.
    """
    recorded = set()
    for number, row in earlier_rows(path, fmt):
        if row.method != verdicts.method:
            raise click.UsageError(
                f"cannot resume {path}: line {number} holds a {row.method} score and this run "
                f"scores with {verdicts.method}; scores of different methods do not compare "
                f"(give -m {row.method}, or another -o FILE)"
            )
        recorded.add(row.path)
        if row.error is not None:
            report.recorded_failure(row.path, row.error)
        verdicts.add(row)
    return recorded


def _row(record: Record[FileScore], method: str, report: Report) -> Row:
    """Turn one batch record into an output row, counting it in ``report``."""
    if record.result is None:
        message = record.error or "unknown error"
        report.failure(record.path, message)
        return Row(str(record.path), None, method, None, None, None, None, message)
    report.success()
    r = record.result
    return Row(str(record.path), r.score, method, r.width, r.height, None, r.warning, None)


def _act(
    sources: list[Path],
    action: TransferAction,
    destination: Path,
    *,
    folders: Sequence[Path],
    dry_run: bool,
    report: Report,
) -> None:
    """Move, copy or link each source under ``destination``, reporting every action.

    Files found in a folder keep their place below it (``photos/a/x.jpg`` goes
    to ``DEST/a/x.jpg``), so same-named files from different folders do not
    need renaming. A name already taken, on disk or earlier in this run (which
    is what makes a dry run hand out the names the real run will), gets
    ``-1``, ``-2``, ... instead of being overwritten.
    """
    verb = {"move": "moved", "copy": "copied", "link": "linked"}[action]
    given: set[Path] = set()
    for source in sources:
        folder = mirrored(source, folders, destination)
        try:
            target = transfer(source, folder, action, dry_run=dry_run, taken=given)
        except EdgegradError as exc:
            report.failure(source, str(exc))
            continue
        given.add(target)
        click.echo(f"{'would have ' if dry_run else ''}{verb} {source} -> {target}", err=True)


def _order(rows: list[Row], sharpness: dict[int, float], sort: str, best: int | None) -> list[Row]:
    """Sharpest first (or in path order); failures last; ``best`` keeps the N sharpest."""
    ranked = sorted((r for r in rows if id(r) in sharpness), key=lambda r: -sharpness[id(r)])
    failures = [r for r in rows if id(r) not in sharpness]
    if best is not None:
        ranked, failures = ranked[:best], []
    if sort == "name":
        kept = {id(r) for r in ranked} | {id(r) for r in failures}
        return [r for r in rows if id(r) in kept]
    return ranked + failures


def render_focus_map(
    gray: npt.NDArray[Any], scores: npt.NDArray[np.float64], tile: int, method: str
) -> npt.NDArray[np.uint8]:
    """Overlay per-tile scores on the gray image as a colour map with a labelled scale bar.

    Each pixel takes the colour of the tile :func:`edgegrad.sharpness_map`
    scored it in (the last row and column of tiles absorb the remainder).
    Colours follow ``log(1 + s - min)`` of the sharpness, since scores span
    orders of magnitude between flat and detailed regions.
    """
    base = np.clip(np.rint(metrics.luma(gray)), 0, 255).astype(np.uint8)
    height, width = base.shape
    sharp = scores if metrics.SHARPER_IS_HIGHER[method] else -scores
    lo, hi = float(sharp.min()), float(sharp.max())
    level = np.log1p(sharp - lo) / (math.log1p(hi - lo) or 1.0)
    rows = np.minimum(np.arange(height) // tile, scores.shape[0] - 1)
    cols = np.minimum(np.arange(width) // tile, scores.shape[1] - 1)
    tiles = np.asarray(level[np.ix_(rows, cols)] * 255, np.uint8)
    colours = cv2.applyColorMap(tiles, cv2.COLORMAP_INFERNO)
    overlay = cv2.addWeighted(cv2.cvtColor(base, cv2.COLOR_GRAY2BGR), 0.45, colours, 0.55, 0.0)
    return np.hstack([overlay, _scale_bar(height, lo, hi, method)])


def _scale_bar(height: int, lo: float, hi: float, method: str) -> npt.NDArray[np.uint8]:
    bar_width, label_width = 24, 96
    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(bar_width, axis=1)
    bar = cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO)
    panel = np.full((height, bar_width + label_width, 3), 255, np.uint8)
    panel[:, :bar_width] = bar
    sign = 1.0 if metrics.SHARPER_IS_HIGHER[method] else -1.0
    font, size, ink = cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0)
    for text, y in ((f"{sign * hi:.4g} sharp", 14), (f"{sign * lo:.4g} blurry", height - 6)):
        cv2.putText(panel, text, (bar_width + 4, y), font, size, ink, 1, cv2.LINE_AA)
    cv2.putText(
        panel, f"{method} (log)", (bar_width + 4, height // 2), font, size, ink, 1, cv2.LINE_AA
    )
    return panel


@click.command("focus-map")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output image. Default: IMAGE.focus-map.png next to the input.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=8),
    default=64,
    show_default=True,
    help="Tile side in pixels; the last row and column of tiles take the remainder.",
)
@click.option(
    "-m", "--method", type=click.Choice(list(metrics.METHODS)), default="lapv", show_default=True
)
@overwrite_option
@max_pixels_option
@debug_option
def focus_map_cmd(
    image: Path,
    output: Path | None,
    tile: int,
    method: str,
    overwrite: bool,
    max_pixels: int | None,
) -> None:
    """Draw a per-tile sharpness heat map over IMAGE, with a scale bar."""
    target = output or image.with_name(f"{image.stem}.focus-map.png")
    if target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
        raise click.BadParameter(
            f"cannot write {target.suffix or 'extension-less'!r} images; use .png, .jpg or .tif",
            param_hint="'-o'",
        )
    if target.exists() and not overwrite:
        raise click.BadParameter(
            f"{target} exists; pass --overwrite to replace it", param_hint="'-o'"
        )
    # Read as gray, what both the scores and the overlay use (a JPEG's own luma).
    loaded = read_image_checked(image, mode="gray", max_pixels=max_pixels)
    scores = metrics.sharpness_map(loaded.array, tile=tile, method=method)
    picture = render_focus_map(loaded.array, scores, tile, method)
    written = write_image(target, picture, overwrite=overwrite, protected=(image,))
    click.echo(f"wrote {written}", err=True)
