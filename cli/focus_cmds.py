"""``edgegrad focus-sweep``: the best focus position of an autofocus sweep.

The inputs are captures of one scene at several focus positions: images (in
the natural order of their names, or at positions read from a CSV file or
from their names), or one video whose frame indices or times are the
positions. Each is scored with one focus measure (through the batch, as
``blur-score`` does), and :func:`edgegrad.focus.fit_peak` finds the peak of
the curve. The answer is the sharpest capture and the fitted peak, with its
standard error, as a table for people or as JSON; ``--plot`` draws the curve.

Exit codes: 0 a trusted peak; 3 some inputs failed (the fit used the rest);
5 no trustworthy peak (not bracketed, a flat curve or a poor fit): the
message says why and which way to extend the sweep, and ``peak`` is null.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import click

from edgegrad.batch import run_batch
from edgegrad.display import render_focus_curve
from edgegrad.errors import EdgegradError
from edgegrad.focus import MODELS, FocusPeak, Model, fit_peak
from edgegrad.io import is_video, iter_frames, writable_extensions, write_image
from edgegrad.jobs import score_file
from edgegrad.metrics import METHODS, blur_score

from .options import (
    Region,
    Walk,
    batch_options,
    method_option,
    region_options,
    walk_inputs,
)
from .report import Report, check_results_writable, pool_plan, progress, say, write_results

#: Exit code when the sweep gives no trustworthy peak.
EXIT_NO_PEAK = 5

SweepFormat = Literal["table", "json"]
SWEEP_FORMATS: tuple[SweepFormat, ...] = get_args(SweepFormat)


@dataclass(frozen=True)
class Point:
    """One scored capture of the sweep."""

    path: str
    position: float
    score: float
    frame: int | None = None
    time: float | None = None


def natural_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a file name in natural order: ``focus_2`` before ``focus_10``.

    Examples
    --------
    >>> names = ["z10.png", "z9.png", "Z2.png", "z2b.png"]
    >>> sorted(names, key=lambda n: natural_key(Path(n)))
    ['Z2.png', 'z2b.png', 'z9.png', 'z10.png']
    """
    parts = re.split(r"(\d+)", path.name.casefold())
    return (*tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p), (1, str(path)))


def _read_positions(csv_path: Path, inputs: Sequence[Path]) -> dict[Path, float]:
    """Each input's position from a CSV file with columns ``path`` and ``position``.

    A path in the file matches an input as written, or as the same file,
    relative to the current folder or to the CSV file's folder.
    """
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise click.BadParameter(
            f"cannot read {csv_path}: {error}", param_hint="'--positions'"
        ) from None
    if not rows or not {"path", "position"} <= set(rows[0]):
        raise click.BadParameter(
            f"{csv_path} must have a header with columns path,position",
            param_hint="'--positions'",
        )
    by_file: dict[Path, float] = {}
    for number, row in enumerate(rows, 2):
        try:
            position = float(row["position"] or "")
        except ValueError:
            position = math.nan
        if not math.isfinite(position):
            raise click.BadParameter(
                f"{csv_path}, line {number}: position {row['position']!r} is not a finite number",
                param_hint="'--positions'",
            )
        name = Path(row["path"] or "")
        for candidate in (name, csv_path.parent / name):
            by_file[candidate.resolve()] = position
    found: dict[Path, float] = {}
    missing = []
    for path in inputs:
        key = path.resolve()
        if key in by_file:
            found[path] = by_file[key]
        else:
            missing.append(path)
    if missing:
        raise click.BadParameter(
            f"{csv_path} gives no position for {len(missing)} inputs (first: {missing[0]})",
            param_hint="'--positions'",
        )
    return found


def _regex_positions(pattern: str, inputs: Sequence[Path]) -> dict[Path, float]:
    """Each input's position, the number that ``pattern`` finds in its file name."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise click.BadParameter(f"{pattern!r}: {error}", param_hint="'--position-regex'") from None
    found: dict[Path, float] = {}
    for path in inputs:
        match = regex.search(path.name)
        text = None
        if match is not None:
            text = match.group("position") if "position" in regex.groupindex else None
            text = text or (match.group(1) if regex.groups else match.group(0))
        try:
            found[path] = float(text) if text is not None else math.nan
        except ValueError:
            found[path] = math.nan
        if not math.isfinite(found[path]):
            raise click.BadParameter(
                f"{path.name}: no number found by {pattern!r} (its first group, or the "
                "group named 'position', or the whole match, must be a number)",
                param_hint="'--position-regex'",
            )
    return found


@click.command("focus-sweep")
@click.argument(
    "inputs",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=Path),
)
@click.option(
    "--positions",
    "positions_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE.csv",
    help="Focus position of each image, from a CSV file with columns path,position.",
)
@click.option(
    "--position-regex",
    metavar="REGEX",
    help="Read each image's position from its file name: the first group of REGEX "
    r"(or the group named 'position'), e.g. 'z(-?\d+(?:\.\d+)?)'.",
)
@click.option(
    "--time",
    "by_time",
    is_flag=True,
    help="For a video: the positions are the frames' times in seconds, not their indices.",
)
@click.option(
    "--step",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="For a video: score every STEP-th frame.",
)
@method_option
@region_options
@click.option(
    "--model",
    type=click.Choice(MODELS),
    default="auto",
    show_default=True,
    help="The curve model; auto chooses by the residuals.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="CURVE.png",
    help="Draw the curve, the fitted model, the peak and its 95 % band here.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SWEEP_FORMATS),
    default="table",
    show_default=True,
    help="table for people, json for machines (on stdout).",
)
@batch_options
@click.pass_context
def focus_sweep_cmd(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    positions_csv: Path | None,
    position_regex: str | None,
    by_time: bool,
    step: int,
    method: str,
    roi: Region | None,
    center: float | None,
    model: Model,
    plot: Path | None,
    fmt: SweepFormat,
    overwrite: bool,
    max_pixels: int | None,
    walk: Walk,
    jobs: int | None,
    verbose: bool,
) -> None:
    """Find the best focus position of a sweep: the peak of the focus curve.

    INPUTS are captures of one scene at several focus positions: images, in
    the natural order of their names (positions 0, 1, 2, ...) unless
    --positions or --position-regex gives them; or one video, whose frame
    indices (or, with --time, times in seconds) are the positions.

    Exits 5, naming the reason and which way to extend the sweep, when the
    sweep does not bracket the peak or the fit is not trustworthy.

    \b
    Examples:
      edgegrad focus-sweep sample_images/focus_sweep/
      edgegrad focus-sweep shots/*.png --positions z.csv --plot curve.png
      edgegrad focus-sweep stack/ --position-regex 'z(-?\\d+(?:\\.\\d+)?)um' -m teng
      edgegrad focus-sweep ring-turn.mp4 --time --format json
    """
    if positions_csv is not None and position_regex is not None:
        raise click.UsageError("give --positions or --position-regex, not both")
    if roi is not None and center is not None:
        raise click.UsageError("give --roi or --center, not both")
    if plot is not None:
        _check_plot(plot, overwrite)
    check_results_writable()
    report = Report(verb="scored", verbose=verbose)
    files = walk_inputs(inputs, walk, report)
    videos = [path for path in files if is_video(path)]
    if videos:
        if len(files) > 1:
            raise click.UsageError(
                f"give one video, or images only; got {len(videos)} videos among "
                f"{len(files)} inputs (first video: {videos[0]})"
            )
        if positions_csv is not None or position_regex is not None:
            raise click.UsageError(
                "--positions and --position-regex are for images; a video's positions "
                "are its frames (or, with --time, their times)"
            )
        points = _score_video(videos[0], method, roi, center, step, by_time, max_pixels, report)
        label = "time (s)" if by_time else "frame index"
    else:
        if by_time or step != 1:
            given = "--time" if by_time else "--step"
            raise click.UsageError(f"{given} is for a video input")
        points, label = _score_images(
            files, positions_csv, position_regex, method, roi, center, max_pixels, jobs, report
        )
    measure = METHODS[method]
    peak = None
    if len(points) >= 3:
        peak = fit_peak(
            [p.position for p in points],
            [p.score for p in points],
            higher_is_sharper=measure.sharper_is_higher,
            model=model,
        )
    answer = _answer(points, peak, method)
    write_results(json.dumps(answer, indent=2) + "\n" if fmt == "json" else _table(answer, label))
    if plot is not None and peak is not None:
        picture = render_focus_curve(
            [p.position for p in points],
            [p.score for p in points],
            peak,
            method=method,
            position_label=label,
        )
        try:
            written = write_image(plot, picture, overwrite=overwrite, protected=files)
        except EdgegradError as error:
            report.failure(plot, str(error))
        else:
            say(f"wrote {written}")
    code = report.finish()
    if peak is None or not peak.trusted:
        reason = (
            peak.reason
            if peak is not None
            else f"too few captures scored: {len(points)}, a focus curve needs at least 3"
        )
        say(f"no trustworthy peak: {reason}")
        code = EXIT_NO_PEAK
    ctx.exit(code)


def _check_plot(plot: Path, overwrite: bool) -> None:
    colour = writable_extensions("uint8", channels=3)
    if plot.suffix.lower() not in colour:
        raise click.BadParameter(
            f"cannot write {plot.suffix or 'extension-less'!r} images; use one of "
            f"{', '.join(colour)}",
            param_hint="'--plot'",
        )
    if plot.exists() and not overwrite:
        raise click.BadParameter(
            f"{plot} exists; pass --overwrite to replace it", param_hint="'--plot'"
        )


def _score_images(
    files: list[Path],
    positions_csv: Path | None,
    position_regex: str | None,
    method: str,
    roi: Region | None,
    center: float | None,
    max_pixels: int | None,
    jobs: int | None,
    report: Report,
) -> tuple[list[Point], str]:
    """Score the images through the batch, in position order; failures go to ``report``."""
    if positions_csv is not None:
        positions = _read_positions(positions_csv, files)
        label = f"position (from {positions_csv.name})"
    elif position_regex is not None:
        positions = _regex_positions(position_regex, files)
        label = "position (from the file names)"
    else:
        ordered = sorted(files, key=natural_key)
        positions = {path: float(index) for index, path in enumerate(ordered)}
        label = "position (step: file in natural name order)"
    files = sorted(files, key=lambda path: (positions[path], natural_key(path)))
    job = functools.partial(
        score_file, method=method, roi=roi, center=center, max_pixels=max_pixels
    )
    workers, chunksize = pool_plan(jobs, len(files))
    with progress(len(files), "scoring", report=report) as bar:
        records = run_batch(
            job, files, workers=workers, chunksize=chunksize, on_result=lambda _: bar.update(1)
        )
    points = []
    for record in records:
        if record.result is None:
            report.failure(record.path, record.error or "unknown error")
            continue
        report.success()
        assert isinstance(record.path, Path)  # focus-sweep reads local files only
        points.append(Point(str(record.path), positions[record.path], record.result.score))
    return points, label


def _score_video(
    video: Path,
    method: str,
    roi: Region | None,
    center: float | None,
    step: int,
    by_time: bool,
    max_pixels: int | None,
    report: Report,
) -> list[Point]:
    """Score the frames of one video; damage ends the reading and counts as a failure."""
    points = []
    try:
        for index, time, frame in iter_frames(video, step=step, mode="gray", max_pixels=max_pixels):
            try:
                score = blur_score(frame, method, roi=roi, center=center)
            except ValueError as error:
                report.failure(f"{video} frame {index}", f"cannot be scored: {error}")
                continue
            report.success()
            position = time if by_time else float(index)
            points.append(Point(str(video), position, score, frame=index, time=time))
    except EdgegradError as error:
        report.failure(video, str(error))
    return points


def _answer(points: list[Point], peak: FocusPeak | None, method: str) -> dict[str, Any]:
    """The JSON document: best capture, fitted peak (or null), bracketed, points."""
    measure = METHODS[method]
    best: dict[str, Any] | None = None
    fitted: dict[str, Any] | None = None
    if peak is not None:
        sharpest = points[peak.best]
        best = {"path": sharpest.path, "position": sharpest.position, "score": sharpest.score}
        if sharpest.frame is not None:
            best |= {"frame": sharpest.frame, "time": sharpest.time}
        if peak.trusted:
            fitted = {
                "position": peak.position,
                "stderr": peak.stderr,
                "model": peak.model,
                "r2": peak.r2,
                "interval95": list(peak.interval() or ()),
            }
    elif points:
        sharpest = max(points, key=lambda p: measure.sharpness(p.score))
        best = {"path": sharpest.path, "position": sharpest.position, "score": sharpest.score}
    listed = []
    for i, p in enumerate(points):
        entry: dict[str, Any] = {"path": p.path, "position": p.position, "score": p.score}
        if p.frame is not None:
            entry |= {"frame": p.frame, "time": p.time}
        entry["used"] = bool(peak.used[i]) if peak is not None else False
        listed.append(entry)
    return {
        "method": method,
        "best": best,
        "peak": fitted,
        "bracketed": bool(peak is not None and peak.bracketed),
        "extend": peak.extend if peak is not None else None,
        "reason": (peak.reason if peak is not None else "too few captures scored"),
        "points": listed,
    }


def _table(answer: dict[str, Any], label: str) -> str:
    """The answer for people: the points in position order, then the best and the peak."""
    measure = METHODS[answer["method"]]
    rows = [["", label.split(" (")[0], "score", "path"]]
    best = answer["best"]
    for point in answer["points"]:
        mark = "*" if best is not None and point == {**point, **best} else ""
        mark = mark or ("" if point["used"] else "x")
        name = point["path"] + (f" frame {point['frame']}" if "frame" in point else "")
        rows.append([mark, f"{point['position']:g}", measure.format(point["score"]), name])
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    lines = [
        "  ".join(
            cell.rjust(w) if c in (1, 2) else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.append("")
    lines.append(f"method:    {measure.name} ({measure.direction}; {measure.units})")
    lines.append(f"positions: {label}")
    if best is not None:
        lines.append(
            f"best:      {best['path']} at {best['position']:g} "
            f"(score {measure.format(best['score'])}), marked *"
        )
    peak = answer["peak"]
    if peak is not None:
        low, high = peak["interval95"]
        lines.append(
            f"peak:      {peak['position']:.3f} ± {peak['stderr']:.3f} (standard error; "
            f"95 % interval {low:.3f} to {high:.3f}), {peak['model']} fit, R² {peak['r2']:.4f}"
        )
    else:
        lines.append(f"peak:      none: {answer['reason']}")
    lines.append(f"bracketed: {'yes' if answer['bracketed'] else 'no'}")
    if any(not point["used"] for point in answer["points"]) and peak is not None:
        lines.append("x:         not used by the fit (a bumped capture, or outside a log-parabola)")
    return "\n".join(lines) + "\n"
