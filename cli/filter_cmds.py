"""``edgegrad sobel|scharr|laplacian|directional``: filter images and folders.

Each input becomes one output, written next to it with a suffix naming the
operation (``photo.sobel-a45.png``) or under ``-o DIR`` (mirroring the input's
subfolders). Outputs are written atomically, never onto an input, and an
existing output is skipped unless ``--overwrite`` is given, so a rerun resumes.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import click

from edgegrad.batch import Record, run_batch
from edgegrad.errors import OutputExistsError
from edgegrad.io import writable_extensions
from edgegrad.jobs import DISPLAYS, Display, FilterSpec, Placement, filter_file
from edgegrad.kernels import DERIVATIVE_KINDS, DerivativeKind, directional_kernel

from .options import F, Finite, Walk, batch_options, compose, paths_argument, walk_inputs
from .report import Report, pool_plan, progress


@dataclass(frozen=True)
class Run:
    """What every filter command takes besides its filter: inputs, outputs, walking."""

    paths: tuple[Path, ...]
    output: Path | None
    overwrite: bool
    max_pixels: int | None
    walk: Walk
    jobs: int | None
    verbose: bool


def _placement(paths: Sequence[Path], output: Path | None, spec: FilterSpec) -> Placement:
    """Decide where outputs go.

    ``-o`` names a folder when it is one or has no extension, else a file,
    which needs exactly one input file.
    """
    folders = tuple(p for p in paths if p.is_dir())
    extension = ".npy" if spec.display_mode == "raw" else ".png"
    if output is None or output.is_dir() or not output.suffix:
        return Placement(spec.tag(), extension, folder=output, roots=folders)
    known = writable_extensions()
    if output.suffix.lower() not in known:
        raise click.BadParameter(
            f"cannot write {output.suffix!r} files; use one of {', '.join(known)}, "
            "or a folder name without an extension",
            param_hint="'-o'",
        )
    if len(paths) != 1 or folders:
        raise click.BadParameter(
            "a file name needs exactly one input file; give a folder to write many outputs",
            param_hint="'-o'",
        )
    channels = 3 if spec.color else 1
    if spec.display_mode == "raw":
        holds, what = writable_extensions("float32", channels), "--display raw writes float32"
    else:
        holds = writable_extensions("uint8", channels)
        what = f"8-bit {'colour' if spec.color else 'gray'} images go to"
    if output.suffix.lower() not in holds:
        raise click.BadParameter(f"{what}: {', '.join(holds)}", param_hint="'-o'")
    return Placement(spec.tag(), extension, file=output)


def run_filter(ctx: click.Context, spec: FilterSpec, run: Run) -> None:
    """Plan, run and report one filter command; exits with the report's code."""
    report = Report(verb="written", verbose=run.verbose)
    placement = _placement(run.paths, run.output, spec)
    named = placement.file
    if named is not None and os.path.lexists(named) and not run.overwrite:
        # One output asked for by name: skipping it would write nothing and succeed.
        raise click.BadParameter(
            f"{named} exists; pass --overwrite to replace it", param_hint="'-o'"
        )
    away = [placement.folder] if placement.folder is not None else []
    sources = walk_inputs(run.paths, run.walk, report, away_from=away)
    inputs = {_identity(source) for source in sources}
    claimed: set[Path] = set()
    todo: list[Path] = []
    for source in sources:
        target = placement.target(source)
        if target in claimed:
            report.failure(source, f"output {target} is also the output of another input")
            continue
        claimed.add(target)
        if target.exists() and _identity(target) in inputs:
            report.failure(source, f"output {target} is an input of this run; not overwritten")
        elif target.exists() and not run.overwrite:
            report.skip(source, f"output {target} exists (use --overwrite to replace it)")
        else:
            todo.append(source)
    job = functools.partial(
        filter_planned,
        placement=placement,
        spec=spec,
        overwrite=run.overwrite,
        max_pixels=run.max_pixels,
    )
    with progress(len(todo), "filtering", report=report) as bar:

        def advance(record: Record[Path]) -> None:
            if record.error is None:
                report.success()
            else:
                report.failure(record.path, record.error)
            bar.update(1)

        workers, chunksize = pool_plan(run.jobs, len(todo))
        run_batch(job, todo, workers=workers, chunksize=chunksize, on_result=advance)
    ctx.exit(report.finish())


def filter_planned(
    source: Path,
    *,
    placement: Placement,
    spec: FilterSpec,
    overwrite: bool,
    max_pixels: int | None,
) -> Path:
    """:func:`edgegrad.jobs.filter_file` on an input whose output was absent when planned.

    Without ``overwrite``, an output that exists by now was written since
    the plan, in this run, by a worker that died later in the same chunk
    (its inputs are then run again one by one): it is complete, since
    outputs are written atomically, and counts as written, as a rerun would
    skip it. An output that is the input itself still fails (with
    ``overwrite``, the only case in which ``filter_file`` finds one existing).
    """
    try:
        return filter_file(
            source, placement=placement, spec=spec, overwrite=overwrite, max_pixels=max_pixels
        )
    except OutputExistsError:
        target = placement.target(source)
        if not target.is_file() or os.path.samefile(target, source):
            raise
        return target


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _finite_angle(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number of degrees; got {value}")
    return value


angle_option = click.option(
    "--angle",
    type=float,
    default=None,
    callback=_finite_angle,
    metavar="DEG",
    help="Signed derivative along DEG (counter-clockwise from +x; 90 = up). "
    "Omit for the gradient magnitude.",
)


def _ksize_option(default: Literal["1", "3"], help_text: str) -> Callable[[F], F]:
    return click.option(
        "--ksize",
        type=click.Choice(["1", "3", "5", "7"]),
        default=default,
        show_default=True,
        help=help_text,
    )


_common = compose(
    paths_argument,
    click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        default=None,
        help="Output file (one input) or folder (mirrors input subfolders). "
        "Default: next to each input.",
    ),
    click.option(
        "--normalize",
        is_flag=True,
        help="Divide by the kernel's gain so a unit ramp gives 1.",
    ),
    click.option(
        "--display",
        type=click.Choice(DISPLAYS),
        default=None,
        help="How responses become pixels: abs, signed (0 → mid-grey), normalize "
        "(min–max), or raw float (.npy, or float32 .tif by -o extension). "
        "Default: signed, or abs for a gradient magnitude.",
    ),
    click.option(
        "--color",
        is_flag=True,
        help="Filter each BGR channel instead of the gray image.",
    ),
    batch_options,
    click.pass_context,
)
"""The options every filter command shares."""


def filter_command(name: str) -> Callable[[Callable[..., FilterSpec]], click.Command]:
    """Make a filter command from a function that builds its :class:`FilterSpec`.

    The function takes the command's own options and returns the filter;
    every filter command shares the rest (inputs, ``-o``, display, walking,
    jobs), which are applied here.
    """

    def decorate(build: Callable[..., FilterSpec]) -> click.Command:
        @functools.wraps(build, updated=())
        def command(
            ctx: click.Context,
            *,
            paths: tuple[Path, ...],
            walk: Walk,
            output: Path | None,
            normalize: bool,
            display: Display | None,
            color: bool,
            overwrite: bool,
            max_pixels: int | None,
            jobs: int | None,
            verbose: bool,
            **options: Any,
        ) -> None:
            spec = replace(build(**options), normalize=normalize, display=display, color=color)
            run = Run(paths, output, overwrite, max_pixels, walk, jobs, verbose)
            run_filter(ctx, spec, run)

        shared = _common(command)
        # The command's own options are listed first in --help.
        shared.__click_params__.extend(getattr(build, "__click_params__", []))  # type: ignore[attr-defined]
        return click.command(name)(shared)

    return decorate


@filter_command("sobel")
@angle_option
@_ksize_option("3", "Aperture, as in cv2.Sobel (1: the 3-tap difference, no smoothing).")
def sobel_cmd(angle: float | None, ksize: str) -> FilterSpec:
    """Sobel gradient magnitude, or the signed derivative along --angle."""
    return FilterSpec("sobel", angle=angle, ksize=int(ksize))


@filter_command("scharr")
@angle_option
def scharr_cmd(angle: float | None) -> FilterSpec:
    """Scharr gradient magnitude, or the signed derivative along --angle."""
    return FilterSpec("scharr", angle=angle)


@filter_command("laplacian")
@_ksize_option("1", "Aperture, as in cv2.Laplacian (1: the 4-neighbour cross).")
def laplacian_cmd(ksize: str) -> FilterSpec:
    """Signed Laplacian (as cv2.Laplacian, without saturation)."""
    return FilterSpec("laplacian", ksize=int(ksize))


@filter_command("directional")
@click.option(
    "--angle",
    type=float,
    required=True,
    callback=_finite_angle,
    metavar="DEG",
    help="Direction in degrees, counter-clockwise from +x (90 = up).",
)
@click.option(
    "--kernel",
    type=click.Choice(DERIVATIVE_KINDS),
    default="sobel",
    show_default=True,
)
@click.option(
    "--ksize",
    type=click.IntRange(min=1),
    default=None,
    help="Aperture: sobel 1/3/5/7 (default 3), scharr 3, gaussian odd >= 3 (default from --sigma).",
)
@click.option(
    "--sigma",
    type=Finite(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Gaussian standard deviation in pixels (--kernel gaussian).",
)
def directional_cmd(
    angle: float, kernel: DerivativeKind, ksize: int | None, sigma: float
) -> FilterSpec:
    """Signed derivative along --angle with any kernel, in one filter pass."""
    try:
        directional_kernel(angle, kind=kernel, ksize=ksize, sigma=sigma)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return FilterSpec("directional", angle=angle, ksize=ksize, kernel=kernel, sigma=sigma)
