"""``edgegrad frames``: write the sharp frames of videos, for photogrammetry and NeRF datasets.

Each video is decoded once (:func:`edgegrad.jobs.extract_frames`): every
frame's luma is scored, and the frames a rule chooses are written in colour,
losslessly, as PNG under ``DIR/<video stem>/`` with a ``frames.csv`` listing
them. The rules are the pure functions of :mod:`edgegrad.select`.
"""

from __future__ import annotations

from pathlib import Path

import click

from edgegrad.errors import EdgegradError
from edgegrad.io import FRAMES_TABLE, VIDEO_INSTALL, FrameFolder, is_video, video_support
from edgegrad.jobs import FrameRule, FramesWritten, extract_frames, mirrored
from edgegrad.metrics import METHODS

from .options import (
    Finite,
    Region,
    Walk,
    debug_option,
    max_pixels_option,
    method_option,
    overwrite_option,
    paths_argument,
    region_options,
    verbose_option,
    walk_inputs,
    walk_options,
)
from .report import Fatal, Report


@click.command("frames")
@paths_argument
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Each video's frames go to DIR/<video stem>/ (below DIR as the video is below a "
    "folder given), with frames.csv: frame, time, score, file.",
)
@click.option(
    "--every",
    type=Finite(0, min_open=True),
    metavar="SECONDS",
    help="The sharpest frame of each window of SECONDS (0-SECONDS, SECONDS-2·SECONDS, ...).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    metavar="N",
    help="The sharpest frame of each of N equal windows over the clip (about N frames).",
)
@click.option(
    "--best",
    type=click.IntRange(min=1),
    metavar="N",
    help="The N sharpest frames, no two closer than --min-gap.",
)
@click.option(
    "--min-gap",
    type=Finite(min=0),
    metavar="SECONDS",
    help="With --best: chosen frames are at least SECONDS apart [default: 0].",
)
@method_option
@region_options
@click.option(
    "--working-size",
    type=click.IntRange(min=16),
    metavar="PIXELS",
    help="Resample to this many pixels before scoring (as blur-score does).",
)
@click.option(
    "--threshold",
    type=Finite(),
    help="Leave out windows whose sharpest frame is still less sharp than this score "
    "(with --best: frames less sharp than it); the run says how many.",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Read on past damaged video data (the frames concerned may be garbled) instead of "
    "stopping at it.",
)
@overwrite_option
@max_pixels_option
@walk_options
@verbose_option
@debug_option
@click.pass_context
def frames_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    walk: Walk,
    output: Path,
    every: float | None,
    count: int | None,
    best: int | None,
    min_gap: float | None,
    method: str,
    roi: Region | None,
    center: float | None,
    working_size: int | None,
    threshold: float | None,
    allow_partial: bool,
    overwrite: bool,
    max_pixels: int | None,
    verbose: bool,
) -> None:
    """Write the sharpest frames of videos as PNG, for photogrammetry, NeRF or splatting.

    Give exactly one of --every, --count or --best. Each video is decoded
    once; frames are scored on their luma and the chosen ones are written in
    colour, full range, as a player shows them: DIR/<video stem>/frame_<index>.png,
    listed in DIR/<video stem>/frames.csv. An earlier run's frames are never
    replaced without --overwrite (which also removes those not chosen again).

    \b
    Examples:
      edgegrad frames drone.mp4 --every 0.5 -o frames/
      edgegrad frames walk.mov --count 200 --threshold 50 -o dataset/
      edgegrad frames footage/ --best 100 --min-gap 1 -o picks/
    """
    rules = {"--every": every, "--count": count, "--best": best}
    chosen = [name for name, value in rules.items() if value is not None]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --every SECONDS, --count N, --best N"
            + (f"; got {', '.join(chosen)}" if chosen else "")
        )
    if min_gap is not None and best is None:
        raise click.UsageError("--min-gap goes with --best N")
    if roi is not None and center is not None:
        raise click.UsageError("give --roi or --center, not both")
    if not video_support():
        raise Fatal(
            f"edgegrad frames reads videos with PyAV, which is not installed: {VIDEO_INSTALL}"
        )
    rule = FrameRule(every=every, count=count, best=best, min_gap=min_gap or 0.0)
    report = Report(verb="extracted", verbose=verbose)
    inputs = walk_inputs(paths, walk, report, away_from=[output])
    named = {path for path in paths if not path.is_dir()}
    videos = []
    for path in inputs:
        if is_video(path):
            videos.append(path)
        elif path in named:
            report.failure(path, "is not a video (MP4/MOV, Matroska/WebM, AVI or MPEG-TS)")
        else:
            report.pass_over(path, "not a video by its content")
    if not videos and not report.failed:
        raise Fatal("no videos found in the given paths")
    folders = [path for path in paths if path.is_dir()]
    taken: dict[Path, Path] = {}
    for video in videos:
        target = mirrored(video, folders, output) / video.stem
        if target in taken:
            report.failure(
                video, f"its frames would go to {target}, as those of {taken[target]} do; "
                "rename one of them, or run them with different -o folders",
            )  # fmt: skip
            continue
        taken[target] = video
        earlier = FrameFolder(target).earlier()
        if earlier and not overwrite:
            report.failure(
                video, f"{target} holds frames of an earlier run ({earlier[0].name}, ...); "
                "pass --overwrite to replace them",
            )  # fmt: skip
            continue
        try:
            done = extract_frames(
                video,
                target,
                rule=rule,
                method=method,
                roi=roi,
                center=center,
                working_size=working_size,
                threshold=threshold,
                max_pixels=max_pixels,
                allow_partial=allow_partial,
                overwrite=overwrite,
            )
        except EdgegradError as error:
            report.failure(video, str(error))
            continue
        _tell(report, video, done, rule, threshold, method)
    ctx.exit(report.finish())


def _tell(
    report: Report,
    video: Path,
    done: FramesWritten,
    rule: FrameRule,
    threshold: float | None,
    method: str,
) -> None:
    """Say what was written for one video; a video cut short by damage is a failure."""
    frames = f"{len(done.chosen)} frame{'' if len(done.chosen) == 1 else 's'}"
    how = (
        f"the sharpest of each of {done.windows} windows of {done.seconds:g} s"
        if done.seconds is not None
        else f"the {rule.best} sharpest {rule.min_gap:g} s apart or more"
    )
    line = f"{video}: {frames} to {done.folder}/ ({how}; {done.decoded} frames scored)"
    report.say(line)
    if threshold is not None and done.blurry:
        side = f"{METHODS[method].blurrier_side} {threshold:g} (--threshold)"
        what = (
            f"windows left out, their sharpest frame scoring {side}"
            if done.seconds is not None
            else f"frames left out as scoring {side}"
        )
        report.say(f"{video}: {done.blurry} {what}")
    if rule.best is not None and len(done.chosen) < rule.best:
        report.say(
            f"{video}: only {len(done.chosen)} of the {rule.best} frames asked for could be "
            "chosen (too few frames far enough apart, or sharp enough)"
        )
    if done.removed:
        report.say(f"{video}: removed {done.removed} frames of the earlier run (--overwrite)")
    if done.warning is not None:
        report.say(f"warning: {video}: {done.warning}")
    if done.error is not None:
        report.failure(
            video, f"{done.error}; {frames} chosen among those were written, with {FRAMES_TABLE}"
        )
    else:
        report.success()
