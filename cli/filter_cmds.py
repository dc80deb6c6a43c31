"""``edgegrad sobel|scharr|laplacian|directional``: filter images and folders.

Each input becomes one output, written next to it with a suffix naming the
operation (``photo.sobel-a45.png``) or under ``-o DIR`` (mirroring the input's
subfolders). Outputs are written atomically, never onto an input, and an
existing output is skipped unless ``--overwrite`` is given, so a rerun resumes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy.typing as npt

from edgegrad import filters
from edgegrad._arrays import EIGHT_BIT_SCALE
from edgegrad.batch import Record, run_batch
from edgegrad.io import read_image, write_image
from edgegrad.kernels import directional_kernel

from .options import (
    max_pixels_option,
    mirrored,
    overwrite_option,
    paths_argument,
    walk_inputs,
    walk_options,
)
from .report import Report, pool_plan, progress

DISPLAYS = ("abs", "signed", "normalize", "raw")
RAW_EXTENSIONS = (".npy", ".tif", ".tiff")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy")


@dataclass(frozen=True)
class FilterSpec:
    """One filter operation, picklable so it can run in worker processes."""

    op: str
    angle: float | None = None
    ksize: int | None = None
    kernel: str = "sobel"
    sigma: float = 1.0
    normalize: bool = False
    display: str | None = None
    color: bool = False

    @property
    def signed(self) -> bool:
        """True unless the result is a gradient magnitude."""
        return self.op == "laplacian" or self.angle is not None

    @property
    def display_mode(self) -> str:
        """The display mapping: as asked, else ``signed`` or ``abs`` for magnitudes."""
        if self.display is not None:
            return self.display
        return "signed" if self.signed else "abs"

    def suffix(self) -> str:
        """Name the operation, e.g. ``sobel-a45-k5`` or ``gaussian-a30-s2-raw``."""
        name = self.kernel if self.op == "directional" else self.op
        parts = [name]
        if self.angle is not None:
            parts.append(f"a{self.angle:g}")
        default_ksize = 1 if self.op == "laplacian" else 3
        if self.ksize is not None and self.ksize != default_ksize:
            parts.append(f"k{self.ksize}")
        if self.kernel == "gaussian":
            parts.append(f"s{self.sigma:g}")
        if self.normalize:
            parts.append("n")
        if self.color:
            parts.append("color")
        if self.display is not None and self.display != ("signed" if self.signed else "abs"):
            parts.append(self.display)
        return "-".join(parts)

    def apply(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Run the filter and map it for display (or return it raw)."""
        if self.op == "laplacian":
            response = filters.laplacian(image, ksize=self.ksize or 1, normalize=self.normalize)
        elif self.op == "directional" and self.angle is not None:
            response = filters.directional(
                image,
                self.angle,
                kernel=self.kernel,  # type: ignore[arg-type]
                ksize=self.ksize,
                sigma=self.sigma,
                normalize=self.normalize,
            )
        elif self.op == "scharr":
            response = filters.scharr(image, self.angle, normalize=self.normalize)
        else:
            response = filters.sobel(
                image, self.angle, ksize=self.ksize or 3, normalize=self.normalize
            )
        if self.display_mode == "raw":
            return response
        # Show 16-bit and float images on the 8-bit scale, as 8-bit ones look.
        scale = EIGHT_BIT_SCALE[image.dtype] if self.display_mode == "abs" else None
        return filters.to_uint8(response, self.display_mode, scale=scale)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Placement:
    """Where each input's output goes; small, so it pickles cheaply to workers.

    Outputs go to ``file`` (one input), under ``folder`` mirroring the input's
    position below the walked ``roots``, or next to the input.
    """

    tag: str
    extension: str
    file: Path | None = None
    folder: Path | None = None
    roots: tuple[Path, ...] = ()

    def target(self, source: Path) -> Path:
        """Return the output path for ``source``."""
        if self.file is not None:
            return self.file
        name = f"{source.stem}.{self.tag}{self.extension}"
        if self.folder is None:
            return source.with_name(name)
        return mirrored(source, self.roots, self.folder) / name


def filter_file(
    source: Path,
    *,
    placement: Placement,
    spec: FilterSpec,
    overwrite: bool,
    max_pixels: int | None,
) -> Path:
    """Read ``source``, filter it and write its output atomically (one batch job)."""
    image = read_image(source, mode="color" if spec.color else "gray", max_pixels=max_pixels)
    target = placement.target(source)
    return write_image(target, spec.apply(image), overwrite=overwrite, protected=(source,))


def _placement(paths: Sequence[Path], output: Path | None, spec: FilterSpec) -> Placement:
    """Decide where outputs go.

    ``-o`` names a folder when it is one or has no extension, else a file,
    which needs exactly one input file.
    """
    folders = tuple(p for p in paths if p.is_dir())
    extension = ".npy" if spec.display_mode == "raw" else ".png"
    if output is None or output.is_dir() or not output.suffix:
        return Placement(spec.suffix(), extension, folder=output, roots=folders)
    if output.suffix.lower() not in IMAGE_EXTENSIONS:
        raise click.BadParameter(
            f"cannot write {output.suffix!r} files; use one of {', '.join(IMAGE_EXTENSIONS)}, "
            "or a folder name without an extension",
            param_hint="'-o'",
        )
    if len(paths) != 1 or folders:
        raise click.BadParameter(
            "a file name needs exactly one input file; give a folder to write many outputs",
            param_hint="'-o'",
        )
    if spec.display_mode == "raw" and output.suffix.lower() not in RAW_EXTENSIONS:
        raise click.BadParameter(
            "--display raw writes .npy or float32 .tif/.tiff", param_hint="'-o'"
        )
    return Placement(spec.suffix(), extension, file=output)


def run_filter(spec: FilterSpec, kw: dict[str, Any]) -> None:
    """Plan, run and report one filter command; exits with the report's code."""
    paths: Sequence[Path] = kw["paths"]
    overwrite: bool = kw["overwrite"]
    report = Report(verb="written", verbose=kw["verbose"])
    placement = _placement(paths, kw["output"], spec)
    away = [placement.folder] if placement.folder is not None else []
    sources = walk_inputs(paths, kw, report, away_from=away)
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
        elif target.exists() and not overwrite:
            report.skip(source, f"output {target} exists (use --overwrite to replace it)")
        else:
            todo.append(source)
    job = functools.partial(
        filter_file,
        placement=placement,
        spec=spec,
        overwrite=overwrite,
        max_pixels=kw["max_pixels"],
    )
    with progress(len(todo), "filtering", report=report) as bar:

        def advance(record: Record[Path]) -> None:
            if record.error is None:
                report.success()
            else:
                report.failure(record.path, record.error)
            bar.update(1)

        workers, chunksize = pool_plan(kw["workers"], len(todo))
        run_batch(job, todo, workers=workers, chunksize=chunksize, on_result=advance)
    click.echo(report.summary(), err=True)
    raise SystemExit(report.exit_code)


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _common(func: Any) -> Any:
    decorators = [
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
        overwrite_option,
        max_pixels_option,
        walk_options,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


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


@click.command("sobel")
@angle_option
@click.option(
    "--ksize",
    type=click.Choice(["1", "3", "5", "7"]),
    default="3",
    show_default=True,
    help="Aperture, as in cv2.Sobel (1: the 3-tap difference, no smoothing).",
)
@_common
def sobel_cmd(angle: float | None, ksize: str, **kw: Any) -> None:
    """Sobel gradient magnitude, or the signed derivative along --angle."""
    spec = FilterSpec("sobel", angle=angle, ksize=int(ksize), **_spec_kw(kw))
    run_filter(spec, kw)


@click.command("scharr")
@angle_option
@_common
def scharr_cmd(angle: float | None, **kw: Any) -> None:
    """Scharr gradient magnitude, or the signed derivative along --angle."""
    spec = FilterSpec("scharr", angle=angle, **_spec_kw(kw))
    run_filter(spec, kw)


@click.command("laplacian")
@click.option(
    "--ksize",
    type=click.Choice(["1", "3", "5", "7"]),
    default="1",
    show_default=True,
    help="Aperture, as in cv2.Laplacian (1: the 4-neighbour cross).",
)
@_common
def laplacian_cmd(ksize: str, **kw: Any) -> None:
    """Signed Laplacian (as cv2.Laplacian, without saturation)."""
    spec = FilterSpec("laplacian", ksize=int(ksize), **_spec_kw(kw))
    run_filter(spec, kw)


@click.command("directional")
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
    type=click.Choice(["sobel", "scharr", "gaussian"]),
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
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Gaussian standard deviation in pixels (--kernel gaussian).",
)
@_common
def directional_cmd(angle: float, kernel: str, ksize: int | None, sigma: float, **kw: Any) -> None:
    """Signed derivative along --angle with any kernel, in one filter pass."""
    try:
        directional_kernel(angle, kind=kernel, ksize=ksize, sigma=sigma)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    spec = FilterSpec(
        "directional", angle=angle, ksize=ksize, kernel=kernel, sigma=sigma, **_spec_kw(kw)
    )
    run_filter(spec, kw)


def _spec_kw(kw: dict[str, Any]) -> dict[str, Any]:
    return {"normalize": kw["normalize"], "display": kw["display"], "color": kw["color"]}
