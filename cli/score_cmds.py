"""``edgegrad blur-score`` and ``edgegrad focus-map``: sharpness for people and scripts.

``blur-score`` scores files and folders with one focus measure, renders a
table (or CSV/JSONL/JSON), judges images blurry by an absolute, percentile or
sigma threshold, optionally moves/copies/links the blurry ones, and exits 4
when ``--fail-under`` trips (the autofocus check).

CSV and JSONL are streamed: each record is written (and flushed) as its image
finishes, in input order, unless an option needs every score first (``--sort
score``, ``--best``, ``--percentile``, ``--sigma``). Written to ``-o FILE``,
such a log can be continued with ``--resume`` after the run was stopped.
A streamed run reads its inputs lazily (:class:`_Inputs`), so its memory
does not grow with them, but for 8 bytes a name to tell the repeated lines
of ``--files-from`` (:class:`edgegrad.io.Seen`) and the paths of a resumed log.

Everything that depends on the focus measure (its choices, help, direction,
display digits) comes from :data:`edgegrad.metrics.METHODS`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import os
import sys
from collections.abc import Callable, Container, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal, get_args

import click
import numpy as np

from edgegrad.batch import Record, iter_batch
from edgegrad.cluster import DaskExecutor, connect
from edgegrad.display import COLORMAPS, DEFAULT_COLORMAP, focus_scale, render_focus_map
from edgegrad.errors import EdgegradError, ImageScoreError
from edgegrad.io import (
    TRANSFER_ACTIONS,
    URL,
    Location,
    Seen,
    TransferAction,
    is_video,
    open_output,
    open_record_log,
    read_image_checked,
    transfer,
    url_exists,
    writable_extensions,
    write_image,
    write_text,
)
from edgegrad.jobs import (
    FOCUS_MAP_TAG,
    FileScore,
    FrameScore,
    mirrored,
    score_file,
    score_frames,
)
from edgegrad.metrics import METHODS, FocusMeasure, sharpness_map

from .gallery import Gallery
from .options import (
    Finite,
    LocationType,
    Region,
    Walk,
    batch_options,
    debug_option,
    files_from_option,
    inputs_argument,
    iter_walk,
    listed_inputs,
    max_pixels_option,
    method_option,
    overwrite_option,
    region_options,
    require_found,
    scheduler_option,
)
from .parquet import parquet_output, parquet_support
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
    SMALL_BATCH,
    STDOUT,
    Fatal,
    Report,
    check_results_writable,
    pool_plan,
    progress,
    say,
    write_results,
)

Sort = Literal["score", "name"]
SORTS: tuple[Sort, ...] = get_args(Sort)


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
@inputs_argument
@files_from_option
@method_option
@region_options
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
    help="Output format [default: from -o's extension (.csv, .jsonl, .json, .parquet), else "
    "table]. CSV, JSONL and Parquet records are written as images finish, unless --sort "
    "score, --best, --percentile or --sigma needs every score first. Parquet (typed "
    'columns, in row groups) needs -o FILE and pip install "edgegrad[parquet]".',
)
@click.option(
    "-o",
    "--output",
    type=LocationType(dir_okay=False, output=True),
    help="Write to FILE instead of stdout: record by record for streamed CSV/JSONL, "
    "else atomically at the end. FILE may be a URL (s3://, gs://, az://): the output is "
    "uploaded in one piece when the run ends.",
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
@click.option(
    "--fps",
    type=Finite(0, min_open=True),
    metavar="F",
    help="Videos: score at most F frames a second (the first frame at or after each "
    "1/F s) [default: every frame].",
)
@click.option(
    "--frame-step",
    type=click.IntRange(min=1),
    metavar="N",
    help="Videos: score every N-th decoded frame (frames 0, N, 2N, ...).",
)
@click.option(
    "--report",
    "report_page",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.html",
    help="Also write an HTML report to look at, next to any other output: thumbnails "
    "sharpest first with blurry badges, a histogram with the cut, filters, the failures. "
    "Its pictures go to the folder PATH_files beside it; it opens offline.",
)
@click.option(
    "--report-maps",
    is_flag=True,
    help="Add each image's per-tile focus map, on the method's fixed scale, to --report "
    "(shown on a click). Costs several times the scoring itself.",
)
@scheduler_option
@batch_options
@click.pass_context
def blur_score_cmd(
    ctx: click.Context,
    paths: tuple[Location, ...],
    files_from: IO[bytes] | None,
    walk: Walk,
    method: str,
    roi: Region | None,
    center: float | None,
    working_size: int | None,
    fmt: Format | None,
    output: Location | None,
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
    fps: float | None,
    frame_step: int | None,
    report_page: Path | None,
    report_maps: bool,
    scheduler: str | None,
    overwrite: bool,
    max_pixels: int | None,
    jobs: int | None,
    verbose: bool,
) -> None:
    """Score sharpness of images, videos and folders; rank, flag and sort out blurry ones.

    A video (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, told by content) gives one
    record per frame, with its frame (0-based) and time (seconds); a still
    image's are empty. Reading video needs pip install "edgegrad[video]".

    \b
    Examples:
      edgegrad blur-score sample_images/
      edgegrad blur-score capture.png --fail-under 150
      edgegrad blur-score photos/ --percentile 10 --move-to blurry/ --dry-run
      edgegrad blur-score frames/ --format csv -o scores.csv
      edgegrad blur-score archive/ -o scores.jsonl --resume
      edgegrad blur-score clip.mp4 --fps 2 --best 10
      edgegrad blur-score photos/ --percentile 10 --report culling.html
      edgegrad blur-score s3://bucket/photos/ -o scores.parquet
      find /data -name '*.jpg' | edgegrad blur-score --files-from - -o scores.jsonl
    """
    if not paths and files_from is None:
        raise click.UsageError("give PATHS to score, or --files-from FILE (- for stdin)")
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
    if fps is not None and frame_step is not None:
        raise click.UsageError("give --fps or --frame-step, not both: both sample a video's frames")
    if report_maps and report_page is None:
        raise click.UsageError("--report-maps needs --report PATH.html")
    if report_page is not None and resume:
        raise click.UsageError(
            "--report cannot be combined with --resume: the images recorded by the earlier "
            "run have no thumbnails; run again without --resume to get a report of them all"
        )
    if output == STDOUT:
        output = None
    fmt = fmt or format_for(output)
    if fmt == "parquet":
        problem = parquet_support()
        if problem is not None:
            raise click.UsageError(problem)
        if output is None:
            raise click.UsageError("Parquet is binary: give -o FILE.parquet (or a URL)")
    if output is None:
        check_results_writable()
    whole_run = [
        *(["--sort score"] if sort == "score" else []),
        *(["--best"] if best is not None else []),
        *cut.relative,
    ]
    if resume:
        _check_resume(output, fmt, overwrite, whole_run, acting=bool(actions))
    streamed = (fmt in STREAMED or fmt == "parquet") and not whole_run
    measure = METHODS[method]
    gallery = (
        None
        if report_page is None
        else Gallery(report_page, method=method, overwrite=overwrite, maps=report_maps)
    )
    report = Report(verb="scored", verbose=verbose, blurry=0 if cut.given else None)
    exists = url_exists(output) if isinstance(output, URL) else output and output.is_file()
    if output is not None and exists and not overwrite and not resume:
        resumable = streamed and fmt in STREAMED and isinstance(output, Path)
        hint = " (or --resume to continue it)" if resumable else ""
        raise click.BadParameter(
            f"{output} exists; pass --overwrite to replace it{hint}", param_hint="'-o'"
        )
    verdicts = _Verdicts(measure, cut, report, keep_blurry=bool(actions))
    # An absolute threshold judges at once, earlier records of a resumed log too.
    verdicts.cut = blurry_cut([], measure, cut)
    # A log that cannot be resumed is refused before the walk, which may be long.
    logged = (
        _read_log(output, fmt, method, None, report)
        if isinstance(output, Path) and resume
        else set()
    )
    away = [action.destination for action in actions]
    if gallery is not None:
        away.append(gallery.assets)
    # Before the walk too: a scheduler that cannot be reached fails at once.
    cluster = None if scheduler is None else ctx.with_resource(connect(scheduler, workers=jobs))
    if actions and any(isinstance(item, URL) for item in paths):
        raise click.UsageError(_LOCAL_ONLY)
    source = _Inputs(paths, files_from, walk, away, acting=bool(actions), output=output)
    # Images and videos' frames are read and scored alike.
    scoring: dict[str, Any] = dict(
        method=method,
        roi=roi,
        center=center,
        working_size=working_size,
        max_pixels=max_pixels,
        allow_partial=allow_partial,
    )
    job = functools.partial(
        score_file,
        **scoring,
        thumbnail_size=None if gallery is None else gallery.thumbnail_size,
        map_tile=None if gallery is None else gallery.map_tile,
    )
    notes = _Notes(report, csv=fmt == "csv", working_size=working_size)
    frames = functools.partial(score_frames, **scoring, step=frame_step or 1, fps=fps)
    if streamed:
        # Counted first where the inputs can be read twice, for the bar's total
        # (recorded inputs left out, as the log stood before the lock).
        total = source.count(logged) if source.countable else None
        logged.clear()  # read again, under the log's lock
        inputs = source.read(report)
        # A few inputs read ahead: a run with none fails before its output exists,
        # and a short run is planned by its true length.
        head = list(itertools.islice(inputs, SMALL_BATCH))
        whole = len(head) < SMALL_BATCH
        with contextlib.ExitStack() as stack:
            write = stack.enter_context(
                _stream(
                    output,
                    fmt,
                    report,
                    resume=resume,
                    overwrite=overwrite,
                    protected=source.protected(),
                )
            )
            # Read again under the log's lock: a run that ended meanwhile may have added to it.
            places: dict[str, _Place] = {}
            recorded = (
                _read_log(output, fmt, method, verdicts, report, places)
                if isinstance(output, Path) and resume
                else set()
            )
            todo = _Unrecorded(recorded, output, report)
            if total is None and whole:
                total = sum(str(item) not in recorded for item in head)
            clips = _Clips(frames, report, places, method=method)
            estimate = _LONG_RUN if total is None else total
            workers, chunksize = _plan(jobs, estimate, cluster)
            guarded = source.guard(itertools.chain(head, inputs), output)
            # Nothing runs until the first record is asked for; closing cancels the rest.
            records = stack.enter_context(
                contextlib.closing(
                    clips.mixed(
                        todo.filter(guarded),
                        job,
                        workers=workers,
                        chunksize=chunksize,
                        executor=cluster,
                    )
                )
            )
            # Records shown on the terminal show the progress; a bar would garble them.
            on_terminal = output is None and sys.stdout is not None and sys.stdout.isatty()
            bar = stack.enter_context(progress(total, "scoring", hidden=on_terminal, report=report))
            for record in records:
                if isinstance(record, _ClipDone):
                    bar.update(1)
                    continue
                if isinstance(record, Row):  # a video's frame, or its failure
                    verdicts.add(record)
                    notes.look_at(record)
                    write(record)
                    continue
                if gallery is not None:
                    record = gallery.take(record)
                row = _row(record, method, report)
                verdicts.add(row)
                if gallery is not None:
                    gallery.add(row)
                notes.look_at(row)
                write(row)
                bar.update(1)
        todo.finish()
    else:
        everything = list(source.read(report))
        local_inputs = [item for item in everything if isinstance(item, Path)]
        clips = _Clips(frames, report, {}, method=method)
        videos = {path for path in local_inputs if is_video(path)}
        workers, chunksize = _plan(jobs, len(everything) - len(videos), cluster)
        rows: list[Row] = []
        with progress(len(everything), "scoring") as bar:
            running = clips.mixed(
                everything,
                job,
                workers=workers,
                chunksize=chunksize,
                executor=cluster,
                videos=videos,
            )
            with contextlib.closing(running):
                for record in running:
                    if isinstance(record, _ClipDone):
                        bar.update(1)
                    elif isinstance(record, Row):  # a video's frame, or its failure
                        rows.append(record)
                    else:
                        # Each record's pictures go to the report's folder as it arrives.
                        taken = record if gallery is None else gallery.take(record)
                        rows.append(_row(taken, method, report))
                        bar.update(1)
        for row in rows:
            notes.look_at(row)
        sharpness = {id(r): measure.sharpness(r.score) for r in rows if r.score is not None}
        verdicts.cut = blurry_cut(list(sharpness.values()), measure, cut)
        for row in rows:
            verdicts.add(row)
            if gallery is not None and row.path not in clips.names:
                gallery.add(row)
        # A ranking (--best) is listed sharpest first unless asked otherwise.
        order = sort or ("name" if fmt in STREAMED and best is None else "score")
        ordered = _order(rows, sharpness, order, best)
        if fmt == "parquet" and output is not None:
            with parquet_output(output, overwrite=overwrite, protected=local_inputs) as add:
                for row in ordered:
                    add(row)
        elif output is None:
            write_results(render(ordered, fmt))
        elif isinstance(output, URL):
            with open_output(output, overwrite=overwrite) as file:
                file.write(render(ordered, fmt).encode("utf-8", "surrogateescape"))
        else:
            write_text(output, render(ordered, fmt), overwrite=overwrite, protected=local_inputs)
    notes.finish()
    if gallery is not None:
        given = [
            f"{name} {value:g}"
            for name, value in (
                ("--threshold", threshold),
                ("--percentile", percentile),
                ("--sigma", sigma),
            )
            if value is not None
        ]
        cut_label = given[0] if given else ""
        mine = source.protected() if streamed else local_inputs
        gallery.write(ctx, report, cut=verdicts.cut, cut_label=cut_label, protected=mine)
    for action in actions:
        folders = [p for p in paths if isinstance(p, Path) and p.is_dir()]
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
    last_small: str | None = None

    def look_at(self, row: Row) -> None:
        """Note what ``row`` needs said (a video's frames count as one input)."""
        if self.csv and formula_like(row):
            self.formulas += 1
            self.first_formula = self.first_formula or row.path
        size = self.working_size
        later_frame = row.frame is not None and row.path == self.last_small
        if size is None or row.width is None or row.height is None or later_frame:
            return
        if row.width * row.height < size:
            self.small += 1
            self.last_small = row.path
            self.first_small = self.first_small or f"{row.path}, {row.width}x{row.height}"

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
    output: Location | None, fmt: Format, overwrite: bool, whole_run: list[str], *, acting: bool
) -> None:
    """Refuse ``--resume`` where the run could not simply be continued."""
    if fmt == "parquet":
        raise click.UsageError(
            "--resume cannot continue a Parquet file: one is written whole at the end of its "
            "run (a stopped run leaves none to continue) and cannot be appended to; resume a "
            "CSV or JSONL log (-o scores.jsonl --resume) and convert it when the run is done"
        )
    if isinstance(output, URL):
        raise click.UsageError(
            f"--resume cannot continue {output}: a store cannot append to an object, and the "
            "output is uploaded only when the run ends; write the log to a local file "
            "(-o scores.jsonl --resume) and copy it to the store when the run is done"
        )
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
            if self.keep_blurry and row.frame is None:  # a frame is no file to move
                self.to_act.append(Path(row.path))
        floor = self.options.fail_under
        if floor is not None and sharpness < self.measure.sharpness(floor):
            side = self.measure.blurrier_side
            self.report.fell_under(f"fail-under: {row.path} scores {side} {floor:g}")


@contextlib.contextmanager
def _stream(
    output: Location | None,
    fmt: Format,
    report: Report,
    *,
    resume: bool,
    overwrite: bool,
    protected: Iterable[Path],
) -> Iterator[Callable[[Row], None]]:
    """Yield a function that writes one record to stdout or ``output`` at once.

    The CSV header goes first, unless a resumed file already holds lines.
    Parquet goes to a table published when the run ends, as does a log at a
    URL (uploaded in one piece): neither can be appended to in place.
    """
    if fmt == "parquet" and output is not None:
        with parquet_output(output, overwrite=overwrite, protected=protected) as add:
            yield add
        return
    first = header_line(fmt)
    if output is None:
        write_results(first)
        yield lambda row: write_results(record_line(row, fmt))
        return
    if isinstance(output, URL):
        with open_output(output, overwrite=overwrite) as file:
            file.write(first.encode("utf-8"))

            def put(row: Row) -> None:
                file.write(record_line(row, fmt).encode("utf-8", "surrogateescape"))

            yield put
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
        yield lambda row: log.write_line(record_line(row, fmt))


def _count(number: int, noun: str) -> str:
    """``1 input``, ``2 inputs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _read_log(
    path: Path,
    fmt: Format,
    method: str,
    verdicts: _Verdicts | None,
    report: Report,
    places: dict[str, _Place] | None = None,
) -> set[str]:
    """The paths recorded in the log a run resumes, each record counted toward the exit code.

    A log of another method or format is refused. Without ``verdicts`` it is
    only checked. With them, records of failures are counted and listed
    again, and scores are judged again (``--threshold``, ``--fail-under``), so
    the summary and the exit code cover the whole log. A path recorded more
    than once (two runs that wrote one log at once, before logs were locked)
    counts once, and the run says so. A last line cut short is left out: the
    log drops it.

    A video's frame records do not make its path recorded: ``places`` gets
    the last frame recorded of each video, where its reading resumes. A
    video's failure (a record without a frame) is recorded like an image's.
    """
    recorded: set[str] = set()
    repeated: list[str] = []
    frames_seen: set[tuple[str, int]] = set()
    places = {} if places is None else places
    for number, row in earlier_rows(path, fmt):
        if row.method != method:
            raise click.UsageError(
                f"cannot resume {path}: line {number} holds a {row.method} score and this run "
                f"scores with {method}; scores of different methods do not compare "
                f"(give -m {row.method}, or another -o FILE)"
            )
        if row.frame is not None and row.time is not None:
            if (row.path, row.frame) in frames_seen:
                repeated.append(f"{row.path} frame {row.frame}")
                continue
            frames_seen.add((row.path, row.frame))
            place = places.setdefault(row.path, _Place(row.frame, row.time, 0))
            place.records += 1
            if row.frame > place.frame:
                place.frame, place.time = row.frame, row.time
        elif row.path in recorded:
            repeated.append(row.path)
            continue
        else:
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


_LOCAL_ONLY: Final = "--move-to/--copy-to/--link-to act on local files only; some inputs are URLs"
#: The length a run is planned for when its inputs cannot be counted first (a
#: list on a pipe): long enough for the largest chunks.
_LONG_RUN: Final = 1 << 30


@dataclass
class _Inputs:
    """A run's inputs: what PATHS name or hold, then what ``--files-from`` lists.

    They are read lazily and in order (:meth:`read`), so a run over millions of
    them holds none but those in flight. Each input is checked as it comes:
    a URL with ``--move-to``/``--copy-to``/``--link-to`` (``acting``) is a
    usage error, and so is the output URL among the inputs. Inputs that can
    be read twice (local PATHS, and a list in a regular file) are
    :attr:`countable`: they are counted first, for the progress bar, and read
    again to check that an existing output is none of them.
    """

    paths: Sequence[Location]
    files_from: IO[bytes] | None
    walk: Walk
    away: Sequence[Path]
    acting: bool
    output: Location | None

    @property
    def countable(self) -> bool:
        """Whether the inputs can be read again: no URL folder to list twice, no pipe."""
        if any(isinstance(item, URL) for item in self.paths):
            return False
        return self.files_from is None or self._list_file() is not None

    def read(self, report: Report) -> Iterator[Location]:
        """The inputs, one at a time, telling ``report`` of what is skipped or failed.

        Raises
        ------
        Fatal
            Once the inputs are over, if there were none to look at.
        """
        return self._read(report, self.files_from)

    def count(self, recorded: set[str]) -> int:
        """How many inputs there are, leaving out those in ``recorded`` (a first pass).

        The checks of :meth:`read` apply, so a usage error comes before any output.
        """
        return sum(str(item) not in recorded for item in self._reread())

    def protected(self) -> Iterator[Path]:
        """The local inputs, read again lazily, for an output to be none of them.

        Only read if the output exists. A list on a pipe cannot be read again:
        :meth:`guard` checks its entries as they come instead.
        """
        for item in self._reread():
            if isinstance(item, Path):
                yield item

    def _reread(self) -> Iterator[Location]:
        """The inputs read again, quietly (a ``--files-from`` file opened anew).

        Nothing is said and nothing raised: a :class:`Fatal` ends the reading,
        since the run's own reading says it.
        """
        name = self._list_file()
        with contextlib.ExitStack() as stack:
            listing = None if name is None else stack.enter_context(open(name, "rb"))
            try:
                yield from self._read(Report(), listing)
            except Fatal:
                return

    def guard(self, inputs: Iterable[Location], output: Location | None) -> Iterator[Location]:
        """``inputs``, refusing a local one that is the local ``output`` of a run over a pipe.

        Where the inputs were read again to protect the output (they are
        :attr:`countable`), this only passes them on.

        Raises
        ------
        Fatal
            At an input that is the output file, under any name.
        """
        if self.countable or not isinstance(output, Path):
            yield from inputs
            return
        try:
            target = os.stat(output)
        except OSError:  # a Parquet table appears only at the end: nothing to read yet
            yield from inputs
            return
        for item in inputs:
            if isinstance(item, Path):
                with contextlib.suppress(OSError):
                    other = os.stat(item)
                    if (other.st_dev, other.st_ino) == (target.st_dev, target.st_ino):
                        raise Fatal(f"{item} is this run's output {output}; refusing to read it")
            yield item

    def _list_file(self) -> str | None:
        """The name of the ``--files-from`` file when it is a regular file, else None."""
        name = getattr(self.files_from, "name", None)
        if not isinstance(name, str) or name in ("-", "<stdin>") or not os.path.isfile(name):
            return None
        return name

    def _read(self, report: Report, listing: IO[bytes] | None) -> Iterator[Location]:
        found = False
        seen = None if listing is None else Seen()
        try:
            for item in iter_walk(self.paths, self.walk, report, away_from=self.away):
                if seen is not None:
                    seen.add(str(item))
                found = True
                yield self._checked(item)
        except Fatal:
            if listing is None:
                raise
        if listing is None or seen is None:
            return
        for item in listed_inputs(listing, report, seen=seen):
            found = True
            yield self._checked(item)
        require_found(found, report, "the given paths or the --files-from list")

    def _checked(self, item: Location) -> Location:
        if isinstance(item, URL):
            if self.acting:
                raise click.UsageError(_LOCAL_ONLY)
            if isinstance(self.output, URL) and str(item) == str(self.output):
                raise click.BadParameter(
                    f"{self.output} is an input of this run; refusing to write onto it",
                    param_hint="'-o'",
                )
        return item


class _Unrecorded:
    """Leaves out the inputs a resumed log holds, counting them as recorded.

    The log's paths (``recorded``) are held as a set for the run: memory in
    proportion to the log, not to the inputs.
    """

    def __init__(self, recorded: set[str], log: Location | None, report: Report) -> None:
        self.recorded = recorded
        self.log = log
        self.report = report
        self.matched = 0

    def filter(self, inputs: Iterable[Location]) -> Iterator[Location]:
        """The inputs not in the log, in order."""
        recorded = self.recorded
        for item in inputs:
            if recorded and str(item) in recorded:
                self.matched += 1
                self.report.recorded += 1
                continue
            yield item

    def finish(self) -> None:
        """Say how many of the log's records matched no input of this run."""
        if len(self.recorded) > self.matched:
            self.report.say(
                f"resume: {len(self.recorded) - self.matched} records in {self.log} match no "
                "input of this run (paths are matched as written: give the paths the first "
                "run was given)"
            )


@dataclass
class _Place:
    """Where a resumed video's reading goes on: after its last recorded frame."""

    frame: int
    time: float
    records: int


class _ClipDone:
    """Follows the rows of one video in :meth:`_Clips.mixed`: that input is done."""


_CLIP_DONE: Final = _ClipDone()


class _Clips:
    """The videos among a run's inputs, and their frames' rows, in input order.

    Images go to the batch's pool (one record each); each video is decoded
    here, in this process, with the decoder's own threads, and gives one row
    per frame as it is decoded, so a streamed log has every frame scored so
    far when the run stops. A resumed video goes on after its last recorded
    frame (``places``). ``names`` gathers the videos met.
    """

    def __init__(
        self,
        frames: Callable[..., Iterator[FrameScore]],
        report: Report,
        places: dict[str, _Place],
        *,
        method: str,
    ) -> None:
        self.method = method
        self.names: set[str] = set()
        self.frames = frames
        self.report = report
        self.places = places

    def mixed(
        self,
        inputs: Iterable[Location],
        job: Callable[[Location], FileScore],
        *,
        workers: int | None,
        chunksize: int,
        executor: DaskExecutor | None = None,
        videos: Container[Location] | None = None,
    ) -> Generator[Record[FileScore] | Row | _ClipDone, None, None]:
        """Records of images, rows of videos' frames and :data:`_CLIP_DONE`, in input order.

        ``inputs`` are read as the batch asks for images; each is sniffed
        (:func:`edgegrad.io.is_video`) unless ``videos`` tells. ``ahead``
        holds, in order, the inputs read and not yet given out, each with
        whether it is a video: the batch's window of images, and the videos
        among and just after them.
        """
        ahead: collections.deque[tuple[Location, Path | None]] = collections.deque()

        def images() -> Iterator[Location]:
            for item in inputs:
                # A video at a URL is not looked for: its bytes are not read here.
                local = item if isinstance(item, Path) else None
                sniffed = local is not None and (
                    is_video(local) if videos is None else local in videos
                )
                ahead.append((item, local if sniffed else None))
                if not sniffed:
                    yield item

        def clips() -> Iterator[Row | _ClipDone]:
            while ahead and (path := ahead[0][1]) is not None:
                ahead.popleft()
                yield from self._rows(path)
                yield _CLIP_DONE

        batch = iter_batch(job, images(), workers=workers, executor=executor, chunksize=chunksize)
        with contextlib.closing(batch):
            for record in batch:
                yield from clips()  # those before this image
                ahead.popleft()
                yield record
                yield from clips()  # those after it, already read
        yield from clips()

    def _rows(self, path: Path) -> Iterator[Row]:
        self.names.add(str(path))
        place = self.places.get(str(path))
        if place is not None:
            self.report.recorded += place.records
        after = None if place is None else (place.frame, place.time)
        method = self.method
        try:
            for found in self.frames(path, after=after):
                self.report.success()
                yield Row(
                    str(path), found.score, method, found.width, found.height, None,
                    found.warning, None, found.frame, found.time,
                )  # fmt: skip
        except EdgegradError as error:
            self.report.failure(path, str(error))
            yield Row(str(path), None, method, None, None, None, None, str(error))


def _plan(jobs: int | None, images: int, cluster: DaskExecutor | None) -> tuple[int | None, int]:
    """``(workers, chunksize)`` for the images of a run: the local pool's, or the cluster's."""
    if cluster is None:
        return pool_plan(jobs, images)
    return cluster.threads, cluster.chunksize(images)


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
@click.option(
    "--vmin",
    type=Finite(),
    help="Score at the colour scale's low end [default: the method's own, the same for "
    "every image, e.g. 1 for lapv; log scale for lapv, teng, lapm, glvn].",
)
@click.option(
    "--vmax",
    type=Finite(),
    help="Score at the colour scale's high end [default: the method's own, e.g. 10000 for "
    "lapv]. Tiles beyond the scale take the colour of its nearer end.",
)
@click.option(
    "--colormap",
    type=click.Choice(list(COLORMAPS)),
    default=DEFAULT_COLORMAP,
    show_default=True,
    help="Colour map; viridis and cividis are readable with colour blindness.",
)
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
    vmin: float | None,
    vmax: float | None,
    colormap: str,
    overwrite: bool,
    max_pixels: int | None,
) -> None:
    """Draw a per-tile sharpness heat map over IMAGE, with a legend.

    The colour scale is fixed per method (or by --vmin/--vmax), so the maps
    of different images compare: a blurry capture looks dark all over.
    """
    try:
        focus_scale(method, vmin=vmin, vmax=vmax)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
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
        picture = render_focus_map(
            loaded.array, scores, tile, method, vmin=vmin, vmax=vmax, colormap=colormap
        )
        written = write_image(target, picture, overwrite=overwrite, protected=(image,))
    except EdgegradError as error:
        report.failure(image, str(error))
    else:
        report.success()
        say(f"wrote {written}")
    ctx.exit(report.finish())
