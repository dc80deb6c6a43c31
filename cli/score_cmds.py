"""``edgegrad blur-score`` and ``edgegrad focus-map``: sharpness for people and scripts.

``blur-score`` scores files and folders with one focus measure, renders a
table (or CSV/JSONL/JSON), judges images blurry by an absolute, percentile or
sigma threshold, optionally moves/copies/links the blurry ones, and exits 4
when ``--fail-under`` trips (the autofocus check).

CSV and JSONL are streamed: each record is written (and flushed) as its image
finishes, in input order, unless an option needs every score first (``--sort
score``, ``--best``, ``--percentile``, ``--sigma``). Written to ``-o FILE``,
such a log can be continued with ``--resume`` after the run was stopped.

Everything that depends on the focus measure (its choices, help, direction,
display digits) comes from :data:`edgegrad.metrics.METHODS`.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import click
import numpy as np

from edgegrad.batch import Record, iter_batch, run_batch
from edgegrad.display import render_focus_map
from edgegrad.errors import EdgegradError, ImageScoreError
from edgegrad.io import (
    TRANSFER_ACTIONS,
    TransferAction,
    open_record_log,
    read_image_checked,
    transfer,
    writable_extensions,
    write_image,
    write_text,
)
from edgegrad.jobs import FOCUS_MAP_TAG, FileScore, mirrored, score_file
from edgegrad.metrics import METHODS, FocusMeasure, sharpness_map

from .options import (
    Finite,
    Walk,
    batch_options,
    debug_option,
    max_pixels_option,
    overwrite_option,
    paths_argument,
    walk_inputs,
)
from .records import (
    FORMATS,
    STREAMED,
    Format,
    Row,
    earlier_rows,
    format_for,
    formula_like,
    header_line,
    record_line,
    render,
)
from .report import (
    STDOUT,
    Report,
    check_results_writable,
    pool_plan,
    progress,
    say,
    write_results,
)

Sort = Literal["score", "name"]
SORTS: tuple[Sort, ...] = get_args(Sort)
Region = tuple[int, int, int, int]


def _parse_roi(ctx: click.Context, param: click.Parameter, value: str | None) -> Region | None:
    if value is None:
        return None
    try:
        parts = tuple(int(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0 or min(parts[:2]) < 0:
        raise click.BadParameter(f"expected x,y,w,h in pixels with w, h > 0; got {value!r}")
    x, y, w, h = parts
    return x, y, w, h


def _method_help() -> str:
    """``--method``'s help, from the registry: each name with its direction."""
    groups: dict[str, list[str]] = {}
    for measure in METHODS.values():
        groups.setdefault(measure.direction, []).append(measure.name)
    return "; ".join(f"{', '.join(names)}: {direction}" for direction, names in groups.items())


method_option = click.option(
    "-m",
    "--method",
    type=click.Choice(list(METHODS)),
    default="lapv",
    show_default=True,
    help=_method_help() + ".",
)


@dataclass(frozen=True)
class Cut:
    """How a run judges images blurry: at most one of the three, and ``--fail-under``."""

    threshold: float | None
    percentile: float | None
    sigma: float | None
    fail_under: float | None

    @property
    def count(self) -> int:
        """How many of ``--threshold``, ``--percentile`` and ``--sigma`` were given."""
        return sum(value is not None for value in (self.threshold, self.percentile, self.sigma))

    @property
    def given(self) -> bool:
        """Whether a blurry cut was asked for."""
        return self.count > 0

    @property
    def relative(self) -> list[str]:
        """The cuts given that depend on every score of the run."""
        named = {"--percentile": self.percentile, "--sigma": self.sigma}
        return [name for name, value in named.items() if value is not None]


def blurry_cut(keys: Sequence[float], measure: FocusMeasure, cut: Cut) -> float | None:
    """Return the sharpness key below which an image is blurry, or None."""
    if cut.threshold is not None:
        return measure.sharpness(cut.threshold)
    if not keys:
        return None
    if cut.percentile is not None:
        return float(np.percentile(keys, cut.percentile))
    if cut.sigma is not None:
        return float(np.mean(keys) - cut.sigma * np.std(keys))
    return None


@dataclass(frozen=True)
class Action:
    """``--move-to``, ``--copy-to`` or ``--link-to`` a folder, maybe only as a dry run."""

    kind: TransferAction
    destination: Path
    dry_run: bool


@click.command("blur-score")
@paths_argument
@method_option
@click.option("--roi", callback=_parse_roi, metavar="X,Y,W,H", help="Score only this region.")
@click.option(
    "--center",
    type=Finite(0, 1, min_open=True),
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
    type=click.Choice(SORTS),
    default=None,
    help="score: sharpest first; name: the order files were given and walked in "
    "[default: score for the table, JSON and --best, name for CSV and JSONL].",
)
@click.option("--best", type=click.IntRange(min=1), metavar="N", help="List only the N sharpest.")
@click.option("--threshold", type=Finite(), help="Blurry when less sharp than this score.")
@click.option(
    "--percentile",
    type=Finite(0, 100),
    help="Blurry when below the P-th percentile of this run (the least sharp P%).",
)
@click.option(
    "--sigma",
    type=Finite(min=0),
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
    type=Finite(),
    metavar="T",
    help="Exit 4 when any image is less sharp than T (autofocus check).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Score truncated or corrupt files that still decode (missing rows come out grey), "
    "with a warning in the record, instead of reporting them as failed.",
)
@batch_options
@click.pass_context
def blur_score_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    walk: Walk,
    method: str,
    roi: Region | None,
    center: float | None,
    working_size: int | None,
    fmt: Format | None,
    output: Path | None,
    resume: bool,
    sort: Sort | None,
    best: int | None,
    threshold: float | None,
    percentile: float | None,
    sigma: float | None,
    move_to: Path | None,
    copy_to: Path | None,
    link_to: Path | None,
    dry_run: bool,
    fail_under: float | None,
    allow_partial: bool,
    overwrite: bool,
    max_pixels: int | None,
    jobs: int | None,
    verbose: bool,
) -> None:
    """Score sharpness of images and folders; rank, flag and sort out blurry ones.

    \b
    Examples:
      edgegrad blur-score sample_images/
      edgegrad blur-score capture.png --fail-under 150
      edgegrad blur-score photos/ --percentile 10 --move-to blurry/ --dry-run
      edgegrad blur-score frames/ --format csv -o scores.csv
      edgegrad blur-score archive/ -o scores.jsonl --resume
    """
    cut = Cut(threshold, percentile, sigma, fail_under)
    if cut.count > 1:
        raise click.UsageError("give at most one of --threshold, --percentile, --sigma")
    destinations = zip(TRANSFER_ACTIONS, (move_to, copy_to, link_to), strict=True)
    actions = [Action(kind, dest, dry_run) for kind, dest in destinations if dest is not None]
    if len(actions) > 1:
        raise click.UsageError("give at most one of --move-to, --copy-to, --link-to")
    if actions and not cut.given:
        raise click.UsageError(
            "--move-to/--copy-to/--link-to need --threshold, --percentile or --sigma"
        )
    if dry_run and not actions:
        raise click.UsageError(
            "--dry-run has nothing to do without --move-to, --copy-to or --link-to"
        )
    if roi is not None and center is not None:
        raise click.UsageError("give --roi or --center, not both")
    if output == STDOUT:
        output = None
    fmt = fmt or format_for(output)
    if output is None:
        check_results_writable()
    whole_run = [
        *(["--sort score"] if sort == "score" else []),
        *(["--best"] if best is not None else []),
        *cut.relative,
    ]
    if resume:
        _check_resume(output, fmt, overwrite, whole_run, acting=bool(actions))
    streamed = fmt in STREAMED and not whole_run
    measure = METHODS[method]
    report = Report(verb="scored", verbose=verbose, blurry=0 if cut.given else None)
    if output is not None and output.is_file() and not overwrite and not resume:
        hint = " (or --resume to continue it)" if streamed else ""
        raise click.BadParameter(
            f"{output} exists; pass --overwrite to replace it{hint}", param_hint="'-o'"
        )
    verdicts = _Verdicts(measure, cut, report, keep_blurry=bool(actions))
    # An absolute threshold judges at once, earlier records of a resumed log too.
    verdicts.cut = blurry_cut([], measure, cut)
    # A log that cannot be resumed is refused before the walk, which may be long.
    if output is not None and resume:
        _read_log(output, fmt, method, None, report)
    away = [action.destination for action in actions]
    inputs = walk_inputs(paths, walk, report, away_from=away)
    job = functools.partial(
        score_file,
        method=method,
        roi=roi,
        center=center,
        working_size=working_size,
        max_pixels=max_pixels,
        allow_partial=allow_partial,
    )
    notes = _Notes(report, csv=fmt == "csv", working_size=working_size)
    if streamed:
        with contextlib.ExitStack() as stack:
            write = stack.enter_context(
                _stream(output, fmt, report, resume=resume, overwrite=overwrite, protected=inputs)
            )
            # Read again under the log's lock: a run that ended meanwhile may have added to it.
            recorded = (
                _read_log(output, fmt, method, verdicts, report) if output and resume else set()
            )
            todo = _not_recorded(inputs, recorded, output, report)
            workers, chunksize = pool_plan(jobs, len(todo))
            # Nothing runs until the first record is asked for; closing cancels the rest.
            records = stack.enter_context(
                contextlib.closing(iter_batch(job, todo, workers=workers, chunksize=chunksize))
            )
            # Records shown on the terminal show the progress; a bar would garble them.
            on_terminal = output is None and sys.stdout is not None and sys.stdout.isatty()
            bar = stack.enter_context(
                progress(len(todo), "scoring", hidden=on_terminal, report=report)
            )
            for record in records:
                row = _row(record, method, report)
                verdicts.add(row)
                notes.look_at(row, record)
                write(record_line(row, fmt))
                bar.update(1)
    else:
        workers, chunksize = pool_plan(jobs, len(inputs))
        with progress(len(inputs), "scoring") as bar:
            batch = run_batch(
                job, inputs, workers=workers, chunksize=chunksize, on_result=lambda _: bar.update(1)
            )
        rows = [_row(record, method, report) for record in batch]
        for row, record in zip(rows, batch, strict=True):
            notes.look_at(row, record)
        sharpness = {id(r): measure.sharpness(r.score) for r in rows if r.score is not None}
        verdicts.cut = blurry_cut(list(sharpness.values()), measure, cut)
        for row in rows:
            verdicts.add(row)
        # A ranking (--best) is listed sharpest first unless asked otherwise.
        order = sort or ("name" if fmt in STREAMED and best is None else "score")
        text = render(_order(rows, sharpness, order, best), fmt)
        if output is None:
            write_results(text)
        else:
            write_text(output, text, overwrite=overwrite, protected=inputs)
    notes.finish()
    for action in actions:
        folders = [p for p in paths if p.is_dir()]
        _act(verdicts.to_act, action, folders=folders, report=report)
    ctx.exit(report.finish())


@dataclass
class _Notes:
    """What a run says once, at its end, about the records it wrote.

    * CSV cells that begin like a spreadsheet formula (they are written
      exactly; a spreadsheet should import the columns as text);
    * inputs smaller than ``--working-size``, which are not upscaled but get
      the pre-blur of the working size, so they score lower than they would
      without it.
    """

    report: Report
    csv: bool
    working_size: int | None
    formulas: int = 0
    first_formula: str | None = None
    small: int = 0
    first_small: str | None = None

    def look_at(self, row: Row, record: Record[FileScore]) -> None:
        """Note what ``row`` (made from ``record``) needs said."""
        if self.csv and formula_like(row):
            self.formulas += 1
            self.first_formula = self.first_formula or row.path
        result = record.result
        size = self.working_size
        if size is not None and result is not None and result.width * result.height < size:
            self.small += 1
            self.first_small = self.first_small or f"{row.path}, {result.width}x{result.height}"

    def finish(self) -> None:
        """Say what was noted."""
        if self.formulas:
            self.report.say(
                f"note: a cell begins with =, +, - or @ in "
                f"{_count(self.formulas, 'CSV record')} (first: {self.first_formula}); cells "
                "are written exactly, and a spreadsheet may read such cells as formulas: "
                "import the file with its columns as text"
            )
        if self.small:
            self.report.say(
                f"warning: --working-size {self.working_size} is larger than "
                f"{_count(self.small, 'input')} (first: {self.first_small}), which are not "
                "upscaled but get its pre-blur, so they score lower than without it"
            )


def _check_resume(
    output: Path | None, fmt: Format, overwrite: bool, whole_run: list[str], *, acting: bool
) -> None:
    """Refuse ``--resume`` where the run could not simply be continued."""
    if output is None or fmt not in STREAMED:
        raise click.UsageError(
            "--resume needs -o FILE in CSV or JSONL (a .csv or .jsonl name, or --format "
            "csv|jsonl): it continues the records written there"
        )
    if overwrite:
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

    ``add`` judges each row against ``cut`` (set it first) when a blurry cut
    was asked for, counting the blurry ones in the report, and tells the
    report of rows less sharp than ``--fail-under``.
    """

    measure: FocusMeasure
    options: Cut
    report: Report
    keep_blurry: bool
    cut: float | None = None
    to_act: list[Path] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Set ``row.blurry`` (when judging) and note the row where the run's end needs it."""
        if row.score is None:
            return
        sharpness = self.measure.sharpness(row.score)
        if self.options.given:
            row.blurry = self.cut is not None and sharpness < self.cut
        if row.blurry and self.report.blurry is not None:
            self.report.blurry += 1
            if self.keep_blurry:
                self.to_act.append(Path(row.path))
        floor = self.options.fail_under
        if floor is not None and sharpness < self.measure.sharpness(floor):
            side = self.measure.blurrier_side
            self.report.fell_under(f"fail-under: {row.path} scores {side} {floor:g}")


@contextlib.contextmanager
def _stream(
    output: Path | None,
    fmt: Format,
    report: Report,
    *,
    resume: bool,
    overwrite: bool,
    protected: Sequence[Path],
) -> Iterator[Callable[[str], None]]:
    """Yield a function that writes one line to stdout or ``output`` at once.

    The CSV header goes first, unless a resumed file already holds lines.
    """
    first = header_line(fmt)
    if output is None:
        write_results(first)
        yield write_results
        return
    with open_record_log(output, overwrite=overwrite, protected=protected, resume=resume) as log:
        if log.dropped:
            redo = "its image is scored again" if log.kept else "the log starts again"
            report.say(
                f"resume: dropped the incomplete last line of {output} ({log.dropped} bytes, "
                f"cut short when the earlier run stopped); {redo}"
            )
        if first and not log.kept:
            log.write_line(first)
        yield log.write_line


def _count(number: int, noun: str) -> str:
    """``1 input``, ``2 inputs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _read_log(
    path: Path, fmt: Format, method: str, verdicts: _Verdicts | None, report: Report
) -> set[str]:
    """The paths recorded in the log a run resumes, each record counted toward the exit code.

    A log of another method or format is refused. Without ``verdicts`` it is
    only checked. With them, records of failures are counted and listed
    again, and scores are judged again (``--threshold``, ``--fail-under``), so
    the summary and the exit code cover the whole log. A path recorded more
    than once (two runs that wrote one log at once, before logs were locked)
    counts once, and the run says so. A last line cut short is left out: the
    log drops it.
    """
    recorded: set[str] = set()
    repeated: list[str] = []
    for number, row in earlier_rows(path, fmt):
        if row.method != method:
            raise click.UsageError(
                f"cannot resume {path}: line {number} holds a {row.method} score and this run "
                f"scores with {method}; scores of different methods do not compare "
                f"(give -m {row.method}, or another -o FILE)"
            )
        if row.path in recorded:
            repeated.append(row.path)
            continue
        recorded.add(row.path)
        if verdicts is None:
            continue
        if row.error is not None:
            report.recorded_failure(row.path, row.error)
        verdicts.add(row)
    if repeated and verdicts is not None:
        report.say(
            f"resume: {len(repeated)} records in {path} repeat an input recorded before "
            f"(first: {repeated[0]}); each input is counted once"
        )
    return recorded


def _not_recorded(
    inputs: list[Path], recorded: set[str], log: Path | None, report: Report
) -> list[Path]:
    """The inputs a resumed log does not hold yet; the others are counted as recorded."""
    todo = [path for path in inputs if str(path) not in recorded]
    report.recorded = len(inputs) - len(todo)
    if len(recorded) > report.recorded:
        report.say(
            f"resume: {len(recorded) - report.recorded} records in {log} match no input of "
            "this run (paths are matched as written: give the paths the first run was given)"
        )
    return todo


def _row(record: Record[FileScore], method: str, report: Report) -> Row:
    """Turn one batch record into an output row, counting it in ``report``."""
    if record.result is None:
        message = record.error or "unknown error"
        report.failure(record.path, message)
        return Row(str(record.path), None, method, None, None, None, None, message)
    report.success()
    r = record.result
    return Row(str(record.path), r.score, method, r.width, r.height, None, r.warning, None)


def _act(sources: list[Path], action: Action, *, folders: Sequence[Path], report: Report) -> None:
    """Move, copy or link each source under the action's folder, reporting every action.

    Files found in a folder keep their place below it (``photos/a/x.jpg`` goes
    to ``DEST/a/x.jpg``), so same-named files from different folders do not
    need renaming. A name already taken, on disk or earlier in this run (which
    is what makes a dry run hand out the names the real run will), gets
    ``-1``, ``-2``, ... instead of being overwritten.
    """
    verb = {"move": "moved", "copy": "copied", "link": "linked"}[action.kind]
    given: set[Path] = set()
    for source in sources:
        folder = mirrored(source, folders, action.destination)
        try:
            target = transfer(source, folder, action.kind, dry_run=action.dry_run, taken=given)
        except EdgegradError as exc:
            report.failure(source, str(exc))
            continue
        given.add(target)
        report.say(f"{'would have ' if action.dry_run else ''}{verb} {source} -> {target}")


def _order(rows: list[Row], sharpness: dict[int, float], sort: Sort, best: int | None) -> list[Row]:
    """Sharpest first (or in path order); failures last; ``best`` keeps the N sharpest."""
    ranked = sorted((r for r in rows if id(r) in sharpness), key=lambda r: -sharpness[id(r)])
    failures = [r for r in rows if id(r) not in sharpness]
    if best is not None:
        ranked, failures = ranked[:best], []
    if sort == "name":
        kept = {id(r) for r in ranked} | {id(r) for r in failures}
        return [r for r in rows if id(r) in kept]
    return ranked + failures


@click.command("focus-map")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Output image. Default: IMAGE.{FOCUS_MAP_TAG}.png next to the input.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=8),
    default=64,
    show_default=True,
    help="Tile side in pixels; the last row and column of tiles take the remainder.",
)
@method_option
@overwrite_option
@max_pixels_option
@debug_option
@click.pass_context
def focus_map_cmd(
    ctx: click.Context,
    image: Path,
    output: Path | None,
    tile: int,
    method: str,
    overwrite: bool,
    max_pixels: int | None,
) -> None:
    """Draw a per-tile sharpness heat map over IMAGE, with a scale bar."""
    target = output or image.with_name(f"{image.stem}.{FOCUS_MAP_TAG}.png")
    colour = writable_extensions("uint8", channels=3)
    if target.suffix.lower() not in colour:
        raise click.BadParameter(
            f"cannot write {target.suffix or 'extension-less'!r} images; use one of "
            f"{', '.join(colour)}",
            param_hint="'-o'",
        )
    if target.exists() and not overwrite:
        raise click.BadParameter(
            f"{target} exists; pass --overwrite to replace it", param_hint="'-o'"
        )
    # Its one input failing is exit 3, as for every command over inputs.
    report = Report(verb="written")
    try:
        # Read as gray, what both the scores and the overlay use (a JPEG's own luma).
        loaded = read_image_checked(image, mode="gray", max_pixels=max_pixels)
        try:
            scores = sharpness_map(loaded.array, tile=tile, method=method)
        except ValueError as error:
            raise ImageScoreError(image, f"cannot be mapped: {error}") from None
        picture = render_focus_map(loaded.array, scores, tile, method)
        written = write_image(target, picture, overwrite=overwrite, protected=(image,))
    except EdgegradError as error:
        report.failure(image, str(error))
    else:
        report.success()
        say(f"wrote {written}")
    ctx.exit(report.finish())
