"""Per-input jobs for :mod:`edgegrad.batch`: a path in, a small picklable result out.

A job takes a path, never an open file or an array, and returns plain numbers,
strings or paths, so it can run on any executor: a local process pool today,
a cluster's workers later.

* :func:`score_file` reads an image and scores its focus (``blur-score``).
* :func:`filter_file` reads an image, filters it and writes the result
  (``sobel``, ``scharr``, ``laplacian``, ``directional``), named by
  :meth:`FilterSpec.tag` and placed by :class:`Placement`.

The naming scheme of outputs is defined here once, both ways: a filter's
:meth:`FilterSpec.tag` builds ``photo.sobel-a45-k5.png``, and
:func:`is_output_name` recognises such names, so that a folder walk never
takes an earlier run's outputs for inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, get_args

import numpy.typing as npt

from edgegrad import filters, metrics
from edgegrad._validate import (
    check_bool,
    check_choice,
    check_fraction,
    check_optional_int,
    check_real,
)
from edgegrad.display import display_response
from edgegrad.errors import ImageScoreError
from edgegrad.io import read_image, read_image_checked, write_image
from edgegrad.kernels import DERIVATIVE_KINDS, DerivativeKind

__all__ = [
    "DISPLAYS",
    "FOCUS_MAP_TAG",
    "FileScore",
    "FilterSpec",
    "Placement",
    "filter_file",
    "is_output_name",
    "mirrored",
    "score_file",
]

FilterOp: TypeAlias = Literal["sobel", "scharr", "laplacian", "directional"]
Display: TypeAlias = Literal["abs", "signed", "normalize", "raw"]

#: How a filter response may be written: a display mode of :func:`edgegrad.to_uint8`,
#: or ``"raw"`` float (``.npy``, or float32 TIFF).
DISPLAYS: Final[tuple[Display, ...]] = get_args(Display)
#: The tag of ``focus-map`` outputs: ``photo.focus-map.png``.
FOCUS_MAP_TAG: Final = "focus-map"

# The output-name grammar, used both to build and to recognise names: a tag is
# an operation name, then parameters (a letter and a number) and flags, joined
# by "-", before the extension: photo.sobel-a-30-k5-n-color-raw.npy
# Directional filters are named after their kernel.
_TAG_OPERATIONS: Final = tuple(
    dict.fromkeys(op for op in (*get_args(FilterOp), *DERIVATIVE_KINDS) if op != "directional")
)
_NUMBER: Final = r"-?[0-9.e+-]+"
_TAG_PARAMETERS: Final = {"a": _NUMBER, "k": "[0-9]+", "s": _NUMBER}
_TAG_SWITCHES: Final = ("n", "color")
_TAG_FLAGS: Final = (*_TAG_SWITCHES, *DISPLAYS)
_OUTPUT_EXTENSIONS: Final = (".png", ".npy", ".tif", ".tiff")
_OUTPUT_NAME: Final = re.compile(
    r"\.(?:(?:{ops})(?:-(?:{params}|{flags}))*\.(?:{exts})|{focus}\.png)$".format(
        ops="|".join(_TAG_OPERATIONS),
        params="|".join(f"{key}{value}" for key, value in _TAG_PARAMETERS.items()),
        flags="|".join(_TAG_FLAGS),
        exts="|".join(ext.lstrip(".") for ext in _OUTPUT_EXTENSIONS),
        focus=FOCUS_MAP_TAG,
    ),
    re.IGNORECASE,
)


def is_output_name(name: str) -> bool:
    """Whether a file name is one edgegrad gives its outputs.

    Examples
    --------
    >>> is_output_name("photo.sobel-a45-k5.png"), is_output_name("photo.focus-map.png")
    (True, True)
    >>> is_output_name("team.sobel.jpg"), is_output_name("photo.png")
    (False, False)
    """
    return _OUTPUT_NAME.search(name) is not None


@dataclass(frozen=True)
class FileScore:
    """What :func:`score_file` found for one image.

    Attributes
    ----------
    score : float
        The focus score, in the units of its method.
    width, height : int
        Size of the image, after EXIF orientation.
    warning : str or None
        The integrity problem tolerated with ``allow_partial=True``, else None.
    """

    score: float
    width: int
    height: int
    warning: str | None


def score_file(
    path: Path,
    *,
    method: str = "lapv",
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
    max_pixels: int | None = None,
    allow_partial: bool = False,
) -> FileScore:
    """Read one image and score its focus with :func:`edgegrad.blur_score`.

    Parameters
    ----------
    path : pathlib.Path
        The image file.
    method, roi, center, working_size
        As for :func:`edgegrad.blur_score`.
    max_pixels, allow_partial
        As for :func:`edgegrad.io.read_image_checked`.

    Returns
    -------
    FileScore

    Raises
    ------
    ImageReadError, ImageTooLargeError
        If the file cannot be read safely.
    ValueError
        If the image or region is too small for the method.

    Notes
    -----
    The image is read in ``"gray"`` mode, which is what every measure scores.
    A JPEG is decoded straight to its own luma channel, which skips chroma
    upsampling and colour conversion (``benchmarks/README.md`` has the
    timings). Its score can therefore differ from that of
    ``cv2.cvtColor(colour, COLOR_BGR2GRAY)``, by up to 2 % on the benchmark
    corpus. Other formats give exactly that conversion. The score is always
    that of :func:`edgegrad.blur_score` on the array read.

    With ``working_size`` (and no ``roi``), a JPEG is decoded at 1/2, 1/4 or
    1/8 scale when that still leaves ``working_size /
    FAITHFUL_WORKING_FRACTION`` pixels in the scored region (see
    :data:`edgegrad.metrics.FAITHFUL_WORKING_FRACTION`). libjpeg's scaled
    inverse DCT is not exactly the pixel-area average that the resampling
    model assumes. On one scene rendered at 0.75 to 12 MP and saved as JPEG,
    the results were:

    * each score moved by at most 0.5 % against a full decode at 300 000
      working pixels;
    * at 30 000 working pixels, scores moved by up to 4 %;
    * at every size, the largest score over the smallest across the four
      resolutions stayed below 1.025 (``tests/test_jobs.py`` holds it below
      1.03), against 1.01 for :func:`edgegrad.blur_score` on full decodes.
    """
    check_choice(method, "method", tuple(metrics.METHODS))
    working_size = check_optional_int(working_size, "working_size", minimum=1)
    if center is not None:
        center = check_fraction(center, "center")
    reduce_to = None
    if working_size is not None and roi is None:
        fraction = metrics.FAITHFUL_WORKING_FRACTION * (1.0 if center is None else center**2)
        reduce_to = math.ceil(working_size / fraction)
    loaded = read_image_checked(
        path, mode="gray", max_pixels=max_pixels, allow_partial=allow_partial, reduce_to=reduce_to
    )
    try:
        score = metrics.blur_score(
            loaded.array, method, roi=roi, center=center, working_size=working_size
        )
    except ValueError as error:
        # The arguments were checked above; what is left is this image's size.
        raise ImageScoreError(path, f"cannot be scored: {error}") from None
    return FileScore(score, loaded.width, loaded.height, loaded.warning)


@dataclass(frozen=True)
class FilterSpec:
    """One filter operation and how its result is shown, picklable for worker processes.

    Attributes
    ----------
    op : {"sobel", "scharr", "laplacian", "directional"}
        The filter; ``"sobel"`` and ``"scharr"`` give the gradient magnitude
        unless ``angle`` is set.
    angle : float or None
        Degrees, counter-clockwise from +x, for a signed derivative.
    ksize : int or None
        Aperture; ``None`` for the filter's default.
    kernel : {"sobel", "scharr", "gaussian"}
        Derivative kernel of ``"directional"``.
    sigma : float
        Gaussian standard deviation of ``kernel="gaussian"``.
    normalize : bool
        Divide by the kernel's ramp gain.
    display : {"abs", "signed", "normalize", "raw"} or None
        How the response becomes pixels; ``None`` for ``"signed"``, or
        ``"abs"`` for a gradient magnitude.
    color : bool
        Filter each BGR channel instead of the gray image.
    """

    op: FilterOp
    angle: float | None = None
    ksize: int | None = None
    kernel: DerivativeKind = "sobel"
    sigma: float = 1.0
    normalize: bool = False
    display: Display | None = None
    color: bool = False

    def __post_init__(self) -> None:
        check_choice(self.op, "op", get_args(FilterOp))
        check_choice(self.kernel, "kernel", DERIVATIVE_KINDS)
        if self.display is not None:
            check_choice(self.display, "display", DISPLAYS)
        if self.angle is not None:
            check_real(self.angle, "angle")
        check_optional_int(self.ksize, "ksize", minimum=1)
        check_real(self.sigma, "sigma", positive=True)
        check_bool(self.normalize, "normalize")
        check_bool(self.color, "color")
        if self.op == "directional" and self.angle is None:
            raise ValueError("angle is required for op='directional'")

    @property
    def signed(self) -> bool:
        """True unless the result is a gradient magnitude."""
        return self.op == "laplacian" or self.angle is not None

    @property
    def default_display(self) -> Display:
        """``signed``, or ``abs`` for a gradient magnitude."""
        return "signed" if self.signed else "abs"

    @property
    def display_mode(self) -> Display:
        """The display mapping: as asked, else :attr:`default_display`."""
        return self.default_display if self.display is None else self.display

    def tag(self) -> str:
        """Name the operation, e.g. ``sobel-a45-k5`` or ``gaussian-a30-s2-raw``.

        Examples
        --------
        >>> FilterSpec("sobel", angle=-30, ksize=5).tag()
        'sobel-a-30-k5'
        >>> FilterSpec("directional", angle=22.5, kernel="gaussian", sigma=2).tag()
        'gaussian-a22.5-s2'
        """
        parts: list[str] = [self.kernel if self.op == "directional" else self.op]
        default_ksize = 1 if self.op == "laplacian" else 3
        values = {
            "a": None if self.angle is None else f"{self.angle:g}",
            "k": None if self.ksize in (None, default_ksize) else str(self.ksize),
            "s": f"{self.sigma:g}" if self.kernel == "gaussian" else None,
        }
        parts += [f"{key}{values[key]}" for key in _TAG_PARAMETERS if values[key] is not None]
        switches = dict(zip(_TAG_SWITCHES, (self.normalize, self.color), strict=True))
        parts += [name for name, on in switches.items() if on]
        if self.display_mode != self.default_display:
            parts.append(self.display_mode)
        return "-".join(parts)

    def apply(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Run the filter and map it for display (or return it raw)."""
        response: npt.NDArray[Any]
        if self.op == "laplacian":
            response = filters.laplacian(image, ksize=self.ksize or 1, normalize=self.normalize)
        elif self.op == "directional" and self.angle is not None:  # always, by __post_init__
            response = filters.directional(
                image,
                self.angle,
                kernel=self.kernel,
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
        mode = self.display_mode
        if mode == "raw":
            return response
        return display_response(response, mode, source_dtype=image.dtype)


def mirrored(source: Path, folders: Sequence[Path], destination: Path) -> Path:
    """The folder under ``destination`` where ``source`` keeps its place.

    A file found below one of the walked ``folders`` keeps its path relative to
    it (``photos/a/x.jpg`` -> ``DEST/a``); a file named directly goes to
    ``destination`` itself.

    Examples
    --------
    >>> mirrored(Path("photos/a/x.jpg"), [Path("photos")], Path("out")).as_posix()
    'out/a'
    >>> mirrored(Path("y.jpg"), [Path("photos")], Path("out")).as_posix()
    'out'
    """
    root = next((f for f in folders if source.is_relative_to(f)), source.parent)
    return destination / source.parent.relative_to(root)


@dataclass(frozen=True)
class Placement:
    """Where each input's output goes; small, so it pickles cheaply to workers.

    Outputs go to ``file`` (one input), under ``folder`` mirroring the input's
    position below the walked ``roots``, or next to the input, named
    ``<stem>.<tag><extension>``.
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
    overwrite: bool = False,
    max_pixels: int | None = None,
) -> Path:
    """Read ``source``, filter it and write its output atomically.

    Parameters
    ----------
    source : pathlib.Path
        The image file.
    placement : Placement
        Where the output goes.
    spec : FilterSpec
        The filter and its display.
    overwrite : bool, optional
        Replace an existing output (never the input itself).
    max_pixels : int, optional
        As for :func:`edgegrad.io.read_image`.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ImageReadError, ImageTooLargeError
        If ``source`` cannot be read safely.
    ImageWriteError, OutputExistsError
        If the output cannot be written.
    """
    image = read_image(source, mode="color" if spec.color else "gray", max_pixels=max_pixels)
    target = placement.target(source)
    return write_image(target, spec.apply(image), overwrite=overwrite, protected=(source,))
