"""``edgegrad canny``: Canny edge maps of images and folders, written as 0/255 PNGs.

It shares inputs, outputs, walking and workers with the filter commands
(:func:`cli.filter_cmds.run_filter`): each input ``photo.jpg`` gets
``photo.canny-l50-h150.png`` beside it, or under ``-o DIR``; nothing is
written onto an input or over an existing output without ``--overwrite``.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from edgegrad.jobs import FilterSpec
from edgegrad.kernels import DERIVATIVE_KINDS, DerivativeKind

from .filter_cmds import Run, run_filter
from .options import Finite, Walk, batch_options, paths_argument


def _finite_angle(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number of degrees; got {value}")
    return value


@click.command("canny")
@paths_argument
@click.option(
    "--low",
    type=Finite(min=0),
    required=True,
    metavar="L",
    help="Low hysteresis threshold: gradient magnitude with raw kernel weights on the "
    "8-bit scale (as cv2.Canny on uint8; uint16 ÷ 257, float × 255).",
)
@click.option(
    "--high",
    type=Finite(min=0),
    required=True,
    metavar="H",
    help="High threshold: edges start above it and continue above --low.",
)
@click.option(
    "--quantiles",
    is_flag=True,
    help="Read --low and --high as quantiles in [0, 1] of the image's gradient magnitude.",
)
@click.option(
    "--kernel",
    type=click.Choice(DERIVATIVE_KINDS),
    default="sobel",
    show_default=True,
    help="Derivative kernel.",
)
@click.option(
    "--ksize",
    type=click.IntRange(min=1),
    default=None,
    help="Aperture: sobel 1/3/5/7 (default 3), scharr 3, gaussian odd >= 3.",
)
@click.option(
    "--sigma",
    type=Finite(min=0, min_open=True),
    default=None,
    help="Gaussian smoothing in pixels before a sobel/scharr derivative (default none, "
    "as cv2.Canny); the derivative-of-Gaussian scale for --kernel gaussian (default 1).",
)
@click.option("--l1", is_flag=True, help="Magnitude |gx| + |gy| instead of sqrt(gx² + gy²).")
@click.option(
    "--angle",
    type=float,
    default=None,
    callback=_finite_angle,
    metavar="DEG",
    help="Keep only edges whose gradient orientation lies within DEG ± --tolerance "
    "(counter-clockwise from +x; 90 = up; DEG and DEG + 180 alike unless --directed).",
)
@click.option(
    "--tolerance",
    type=Finite(min=0, max=180),
    default=None,
    metavar="DEG",
    help="Half-width of the --angle band [default: 22.5].",
)
@click.option(
    "--directed",
    is_flag=True,
    help="With --angle: only gradients pointing into the band (intensity rising towards DEG).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file (one input) or folder (mirrors input subfolders). "
    "Default: next to each input.",
)
@click.option(
    "--color",
    is_flag=True,
    help="Use the colour channels (at each pixel the one with the largest gradient, as "
    "cv2.Canny) instead of the gray image.",
)
@batch_options
@click.pass_context
def canny_cmd(
    ctx: click.Context,
    *,
    paths: tuple[Path, ...],
    walk: Walk,
    low: float,
    high: float,
    quantiles: bool,
    kernel: DerivativeKind,
    ksize: int | None,
    sigma: float | None,
    l1: bool,
    angle: float | None,
    tolerance: float | None,
    directed: bool,
    output: Path | None,
    color: bool,
    overwrite: bool,
    max_pixels: int | None,
    jobs: int | None,
    verbose: bool,
) -> None:
    """Canny edge maps (0/255 PNG): non-maximum suppression and hysteresis.

    \b
    Examples:
      edgegrad canny photo.jpg --low 50 --high 150        # photo.canny-l50-h150.png
      edgegrad canny scans/ --low 0.8 --high 0.95 --quantiles -o edges/
      edgegrad canny photo.jpg --low 50 --high 150 --angle 45 --tolerance 15
    """
    if tolerance is not None and angle is None:
        raise click.UsageError("--tolerance selects a band around --angle; give --angle too")
    if directed and angle is None:
        raise click.UsageError("--directed applies to an --angle band; give --angle too")
    try:
        spec = FilterSpec(
            "canny",
            angle=angle,
            ksize=ksize,
            kernel=kernel,
            sigma=1.0 if sigma is None or kernel != "gaussian" else sigma,
            color=color,
            low=low,
            high=high,
            smooth=sigma if kernel != "gaussian" else None,
            tolerance=tolerance,
            directed=directed,
            quantiles=quantiles,
            l2=not l1,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    run_filter(ctx, spec, Run(paths, output, overwrite, max_pixels, walk, jobs, verbose))
