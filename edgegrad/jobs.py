"""Per-input jobs for :mod:`edgegrad.batch`: a path in, a small picklable result out.

A job takes a path, never an open file or an array, and returns plain numbers,
strings or paths, so it can run on any executor: a local process pool today,
a cluster's workers later.

* :func:`score_file` reads an image and scores its focus (``blur-score``).
* :func:`score_frames` decodes a video and scores each frame, yielding one
  result per frame as it is decoded (``blur-score VIDEO``).
* :func:`extract_frames` decodes a video once, scores every frame and writes
  the frames a :class:`FrameRule` chooses (``edgegrad frames``).
* :func:`filter_file` reads an image, filters it and writes the result
  (``sobel``, ``scharr``, ``laplacian``, ``directional``), named by
  :meth:`FilterSpec.tag` and placed by :class:`Placement`.

The naming scheme of outputs is defined here once, both ways: a filter's
:meth:`FilterSpec.tag` builds ``photo.sobel-a45-k5.png``, and
:func:`is_output_name` recognises such names, so that a folder walk never
takes an earlier run's outputs for inputs.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, get_args

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad import edges, filters, metrics, select
from edgegrad._validate import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_optional_int,
    check_real,
)
from edgegrad.display import display_response, encode_image, focus_tiles, thumbnail
from edgegrad.errors import FileReadError, ImageScoreError, OutputExistsError
from edgegrad.io import (
    URL,
    FrameFolder,
    VideoFrame,
    open_video,
    read_image,
    read_image_checked,
    write_image,
)
from edgegrad.kernels import DERIVATIVE_KINDS, DerivativeKind

__all__ = [
    "DISPLAYS",
    "FOCUS_MAP_TAG",
    "HOLD_BYTES",
    "ChosenFrame",
    "FileScore",
    "FilterSpec",
    "FrameRule",
    "FrameScore",
    "FramesWritten",
    "Placement",
    "extract_frames",
    "filter_file",
    "is_output_name",
    "mirrored",
    "score_file",
    "score_frames",
]

FilterOp: TypeAlias = Literal["sobel", "scharr", "laplacian", "directional", "canny"]
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
# canny adds its thresholds (l, h), band tolerance (t), switches and kernel name:
# photo.canny-l50-h150-a45-t10.png
_TAG_PARAMETERS: Final = {
    "a": _NUMBER,
    "k": "[0-9]+",
    "s": _NUMBER,
    "l": _NUMBER,
    "h": _NUMBER,
    "t": _NUMBER,
}
_TAG_SWITCHES: Final = ("n", "color", "q", "d", "l1norm")
_TAG_FLAGS: Final = (*_TAG_SWITCHES, *DISPLAYS, *DERIVATIVE_KINDS)
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
    thumbnail : bytes or None
        With ``thumbnail_size``: a gray JPEG of the image scored
        (:func:`edgegrad.display.thumbnail`), else None.
    focus_map : bytes or None
        With ``map_tile`` as well: a PNG of the per-tile focus map on the
        method's fixed scale, the thumbnail's size (:func:`edgegrad.display.focus_tiles`);
        None if not asked for or if the image cannot be mapped.
    """

    score: float
    width: int
    height: int
    warning: str | None
    thumbnail: bytes | None = None
    focus_map: bytes | None = None


def score_file(
    path: Path | URL,
    *,
    method: str = "lapv",
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
    max_pixels: int | None = None,
    allow_partial: bool = False,
    thumbnail_size: int | None = None,
    map_tile: int | None = None,
) -> FileScore:
    """Read one image and score its focus with :func:`edgegrad.blur_score`.

    Parameters
    ----------
    path : pathlib.Path or URL
        The image file; a URL is read here, through fsspec, on whichever
        worker runs the job.
    method, roi, center, working_size
        As for :func:`edgegrad.blur_score`.
    max_pixels, allow_partial
        As for :func:`edgegrad.io.read_image_checked`.
    thumbnail_size : int, optional
        Also return a thumbnail this long on its long side, made from the
        array that was scored (for an HTML report): nothing is decoded twice.
    map_tile : int, optional
        With ``thumbnail_size``, also return the focus map of
        :func:`edgegrad.sharpness_map` with this tile side, at the
        thumbnail's size. It costs several times the score itself
        (``benchmarks/README.md``). It maps the array read: with
        ``working_size``, a JPEG decoded at reduced scale is mapped at that
        scale, whose tiles score higher than at full size.

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
    The image is read in ``"gray"`` mode, which is what every measure scores,
    so thumbnails are gray too.
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
    thumbnail_size = check_optional_int(thumbnail_size, "thumbnail_size", minimum=8)
    map_tile = check_optional_int(map_tile, "map_tile", minimum=metrics.MIN_TILE)
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
        raise ImageScoreError(str(path), f"cannot be scored: {error}") from None
    if thumbnail_size is None:
        return FileScore(score, loaded.width, loaded.height, loaded.warning)
    thumb, focus = _previews(loaded.array, method, thumbnail_size, map_tile)
    return FileScore(score, loaded.width, loaded.height, loaded.warning, thumb, focus)


# JPEG quality of report thumbnails: 4-6 KB for a detailed 256 px gray image.
_THUMBNAIL_QUALITY: Final = 80


def _previews(
    image: npt.NDArray[Any], method: str, size: int, tile: int | None
) -> tuple[bytes, bytes | None]:
    """The encoded thumbnail of ``image``, and its focus map if ``tile`` is given."""
    small = thumbnail(image, size)
    encoded = encode_image(small, ".jpg", quality=_THUMBNAIL_QUALITY)
    if tile is None:
        return encoded, None
    try:
        scores = metrics.sharpness_map(image, tile=tile, method=method)
    except ValueError:
        return encoded, None  # smaller than the method needs: scored, but not mapped
    colours = focus_tiles(scores, image.shape, tile, method, size=small.shape)
    return encoded, encode_image(colours, ".png")


@dataclass(frozen=True)
class FilterSpec:
    """One filter operation and how its result is shown, picklable for worker processes.

    Attributes
    ----------
    op : {"sobel", "scharr", "laplacian", "directional", "canny"}
        The filter; ``"sobel"`` and ``"scharr"`` give the gradient magnitude
        unless ``angle`` is set; ``"canny"`` gives the edge map of
        :func:`edgegrad.canny` as 0/255, with ``angle`` its orientation band.
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
        Filter each BGR channel instead of the gray image (``"canny"``: take,
        at each pixel, the channel with the largest gradient).
    low, high : float
        ``"canny"``'s thresholds (quantiles with ``quantiles``).
    smooth : float or None
        ``"canny"``: Gaussian smoothing before a Sobel or Scharr derivative.
    tolerance : float or None
        ``"canny"``: half-width of the orientation band around ``angle``.
    directed, quantiles, l2 : bool
        ``"canny"``: a directed band, quantile thresholds, the L2 magnitude.
    """

    op: FilterOp
    angle: float | None = None
    ksize: int | None = None
    kernel: DerivativeKind = "sobel"
    sigma: float = 1.0
    normalize: bool = False
    display: Display | None = None
    color: bool = False
    low: float = 0.0
    high: float = 0.0
    smooth: float | None = None
    tolerance: float | None = None
    directed: bool = False
    quantiles: bool = False
    l2: bool = True

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
        if self.op == "canny":
            if self.normalize or self.display not in (None, "abs"):
                raise ValueError("op='canny' writes its edge map as 0/255: no normalize or display")
            self.apply(np.zeros((3, 3), np.uint8))  # checks the thresholds and the band

    @property
    def signed(self) -> bool:
        """True unless the result is a gradient magnitude."""
        return self.op == "laplacian" or (self.angle is not None and self.op != "canny")

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
        >>> FilterSpec("canny", low=50, high=150, angle=45, tolerance=10).tag()
        'canny-l50-h150-a45-t10'
        """
        parts: list[str] = [self.kernel if self.op == "directional" else self.op]
        default_ksize = 1 if self.op == "laplacian" else 3
        values = {
            "a": None if self.angle is None else f"{self.angle:g}",
            "k": None if self.ksize in (None, default_ksize) else str(self.ksize),
            "s": f"{self.sigma:g}" if self.kernel == "gaussian" else None,
            "l": None,
            "h": None,
            "t": None,
        }
        canny = self.op == "canny"
        if canny:
            values["l"], values["h"] = f"{self.low:g}", f"{self.high:g}"
            if self.angle is not None:
                values["t"] = f"{22.5 if self.tolerance is None else self.tolerance:g}"
            if self.kernel != "gaussian" and self.smooth is not None:
                values["s"] = f"{self.smooth:g}"
        order = ("l", "h", *_TAG_PARAMETERS) if canny else tuple(_TAG_PARAMETERS)
        parts += [f"{key}{values[key]}" for key in dict.fromkeys(order) if values[key] is not None]
        flags = (self.normalize, self.color, self.quantiles, self.directed, not self.l2)
        switches = dict(zip(_TAG_SWITCHES, flags, strict=True))
        parts += [name for name, on in switches.items() if on]
        if canny and self.kernel != "sobel":
            parts.append(self.kernel)
        if self.display_mode != self.default_display:
            parts.append(self.display_mode)
        return "-".join(parts)

    def apply(self, image: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Run the filter and map it for display (or return it raw)."""
        response: npt.NDArray[Any]
        if self.op == "canny":
            mapped = edges.canny(
                image,
                self.low,
                self.high,
                kernel=self.kernel,
                ksize=self.ksize,
                sigma=self.sigma if self.kernel == "gaussian" else self.smooth,
                l2=self.l2,
                angle=self.angle,
                tolerance=self.tolerance,
                directed=self.directed,
                use_quantiles=self.quantiles,
            )
            pixels: npt.NDArray[np.uint8] = mapped.astype(np.uint8) * np.uint8(255)
            return pixels
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


# --- videos ---------------------------------------------------------------------------

#: Decoded frames that :func:`extract_frames` keeps in memory while it may still
#: choose them; beyond this, the oldest are written out early (and removed if
#: they are not chosen after all).
HOLD_BYTES: Final = 256 * 1024 * 1024


@contextlib.contextmanager
def _one_opencv_thread() -> Iterator[None]:
    """OpenCV on one thread while a video is scored; its thread count is put back after.

    The decoder's threads already keep every core busy, and OpenCV's own
    threads, fighting them, made each frame's score 2 to 3 times slower
    (``benchmarks/README.md``).
    """
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


@dataclass(frozen=True)
class FrameScore:
    """What :func:`score_frames` found for one frame of a video.

    Attributes
    ----------
    frame : int
        0-based index among every decoded frame.
    time : float
        Seconds from the start of the stream, from its timestamps.
    score : float
        The focus score, in the units of its method.
    width, height : int
        Frame size as shown.
    warning : str or None
        With ``allow_partial=True``, the damage found in the stream so far.
    """

    frame: int
    time: float
    score: float
    width: int
    height: int
    warning: str | None


def _check_region(
    method: str, center: float | None, working_size: int | None
) -> tuple[float | None, int | None]:
    check_choice(method, "method", tuple(metrics.METHODS))
    working_size = check_optional_int(working_size, "working_size", minimum=1)
    return (None if center is None else check_fraction(center, "center")), working_size


def _frame_score(
    path: Path,
    frame: VideoFrame,
    method: str,
    roi: Sequence[int] | None,
    center: float | None,
    working_size: int | None,
) -> float:
    """Score one frame's luma.

    As stored: every measure gives the same score for a picture turned by a
    right angle, so only a region (``roi``) of the picture as shown needs it
    turned first.
    """
    image = frame.luma if roi is None else frame.gray()
    try:
        return metrics.blur_score(image, method, roi=roi, center=center, working_size=working_size)
    except ValueError as error:
        raise ImageScoreError(path, f"frame {frame.index} cannot be scored: {error}") from None


def score_frames(
    path: Path,
    *,
    method: str = "lapv",
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
    max_pixels: int | None = None,
    allow_partial: bool = False,
    step: int = 1,
    fps: float | None = None,
    after: tuple[int, float] | None = None,
) -> Iterator[FrameScore]:
    """Decode a video once and score the focus of its frames, one by one, in order.

    The video-input counterpart of :func:`score_file`: a clip yields one
    result per frame, as each is decoded, so that a caller can write each
    record as it comes (``blur-score VIDEO``) and lose only the frames in
    flight when stopped.

    Parameters
    ----------
    path : pathlib.Path
        The video file.
    method, roi, center, working_size
        As for :func:`edgegrad.blur_score`; ``roi`` is in the frame as shown.
    max_pixels, allow_partial
        As for :func:`edgegrad.io.open_video`.
    step, fps, after
        Which frames, as for :meth:`edgegrad.io.VideoReader.frames`.

    Yields
    ------
    FrameScore

    Raises
    ------
    FileReadError, ImageTooLargeError
        If the video cannot be read; on damage, after the frames before it.
    ImageScoreError
        If a frame or region is too small for the method.

    Notes
    -----
    The luma plane is scored as decoded, with no colour conversion
    (:mod:`edgegrad.io._video` has the rules, the limited-range factor among
    them); the arguments are checked at the call, the file is opened when the
    first result is asked for. While the frames are scored OpenCV runs on one
    thread (its thread count is put back when the generator ends), leaving
    the cores to the decoder's threads.
    """
    center, working_size = _check_region(method, center, working_size)

    def scores() -> Iterator[FrameScore]:
        with (
            _one_opencv_thread(),
            open_video(path, max_pixels=max_pixels, allow_partial=allow_partial) as video,
        ):
            for frame in video.frames(step=step, fps=fps, after=after):
                score = _frame_score(path, frame, method, roi, center, working_size)
                yield FrameScore(
                    frame.index, frame.time, score, frame.width, frame.height, frame.warning
                )

    return scores()


@dataclass(frozen=True)
class FrameRule:
    """How :func:`extract_frames` chooses frames: exactly one of ``every``, ``count``, ``best``.

    Attributes
    ----------
    every : float or None
        Seconds: the sharpest frame of each window of this length
        (:func:`edgegrad.select.sharpest_per_window`).
    count : int or None
        About this many windows over the clip: windows of its duration / count.
    best : int or None
        The ``best`` sharpest frames, no two closer than ``min_gap``
        (:func:`edgegrad.select.sharpest_spaced`).
    min_gap : float
        Seconds, with ``best`` (default 0).
    """

    every: float | None = None
    count: int | None = None
    best: int | None = None
    min_gap: float = 0.0

    def __post_init__(self) -> None:
        given = [name for name in ("every", "count", "best") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of every, count, best; got {given or 'none'}")
        if self.every is not None:
            check_real(self.every, "every", positive=True)
        check_optional_int(self.count, "count", minimum=1)
        check_optional_int(self.best, "best", minimum=1)
        gap = check_real(self.min_gap, "min_gap")
        if gap < 0 or (gap and self.best is None):
            raise ValueError(f"min_gap must be at least 0, and only with best; got {gap!r}")


@dataclass(frozen=True)
class ChosenFrame:
    """One frame :func:`extract_frames` wrote: its index, time, score and file name."""

    frame: int
    time: float
    score: float
    file: str


@dataclass(frozen=True)
class FramesWritten:
    """What :func:`extract_frames` did for one video.

    Attributes
    ----------
    folder : pathlib.Path
        Where the frames and ``frames.csv`` are.
    chosen : tuple of ChosenFrame
        The frames written, in time order.
    decoded : int
        Frames decoded (and scored).
    windows : int
        Windows that held frames (``every``/``count``), else 0.
    seconds : float or None
        The window length used (``every``/``count``), else None.
    blurry : int
        Windows whose best frame, or (``best``) frames, were less sharp than the
        threshold and so not written.
    removed : int
        Earlier frames removed from the folder (with ``overwrite``).
    error : str or None
        The damage that ended decoding early (frames were chosen from those
        before it), else None.
    warning : str or None
        With ``allow_partial``, the damage read past, else None.
    """

    folder: Path
    chosen: tuple[ChosenFrame, ...]
    decoded: int
    windows: int
    seconds: float | None
    blurry: int
    removed: int
    error: str | None
    warning: str | None


class _Held:
    """The decoded frames :func:`extract_frames` may still write, by position.

    In memory up to ``budget`` bytes; beyond it the oldest are written to
    their final file at once, and removed again if dropped.
    """

    def __init__(self, out: FrameFolder, budget: int) -> None:
        self.out = out
        self.budget = budget
        self.frames: dict[int, VideoFrame] = {}
        self.bytes = 0
        self.spilled: dict[int, tuple[int, str]] = {}
        self.peak = 0

    def keep(self, position: int, frame: VideoFrame) -> None:
        self.frames[position] = frame
        self.bytes += frame.nbytes
        while self.bytes > self.budget and len(self.frames) > 1:
            oldest = min(self.frames)
            self.spilled[oldest] = (self.frames[oldest].index, self._write(oldest))
        self.peak = max(self.peak, len(self.frames) + len(self.spilled))

    def _write(self, position: int) -> str:
        frame = self.frames.pop(position)
        self.bytes -= frame.nbytes
        return self.out.write(frame.index, frame.color())

    def write(self, position: int) -> str:
        """Write a chosen frame (if it is not written yet); return its file name."""
        if position in self.spilled:
            return self.spilled.pop(position)[1]
        return self._write(position)

    def drop(self, position: int) -> None:
        """Let go of a frame that will not be chosen (removing it if it was written)."""
        frame = self.frames.pop(position, None)
        if frame is not None:
            self.bytes -= frame.nbytes
        spilled = self.spilled.pop(position, None)
        if spilled is not None:
            self.out.remove(spilled[0])


def extract_frames(
    path: Path,
    folder: Path,
    *,
    rule: FrameRule,
    method: str = "lapv",
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
    threshold: float | None = None,
    max_pixels: int | None = None,
    allow_partial: bool = False,
    overwrite: bool = False,
    hold_bytes: int = HOLD_BYTES,
) -> FramesWritten:
    """Decode a video once, score every frame, and write the chosen ones as PNG.

    Scoring and writing share the decode: the luma of each frame is scored as
    it comes, and only the frames that may still be chosen keep their
    decoded pixels, which become colour (full range, as a player shows them)
    only when written. ``folder`` gets ``frame_<index>.png`` for each chosen
    frame and ``frames.csv`` (``frame,time,score,file``, in time order).

    Parameters
    ----------
    path : pathlib.Path
        The video file.
    folder : pathlib.Path
        Where the frames go (created if needed).
    rule : FrameRule
        How frames are chosen.
    method, roi, center, working_size
        As for :func:`score_frames`.
    threshold : float, optional
        A score in the method's units: windows whose best frame is less sharp,
        and (``rule.best``) frames less sharp, are not written.
    max_pixels, allow_partial
        As for :func:`edgegrad.io.open_video`.
    overwrite : bool, optional
        Replace what an earlier run wrote in ``folder``, and remove its frames
        that this run did not choose. Without it, a folder holding earlier
        frames or a ``frames.csv`` is refused before anything is decoded.
    hold_bytes : int, optional
        Decoded frames kept in memory at most (default :data:`HOLD_BYTES`);
        the oldest candidates beyond it are written early.

    Returns
    -------
    FramesWritten

    Raises
    ------
    OutputExistsError
        If ``folder`` holds an earlier run's frames and ``overwrite`` is false.
    FileReadError, ImageTooLargeError
        If the video cannot be opened; ``rule.count`` on a video that does not
        declare its duration. Damage after the first frames is not raised: it
        ends decoding, the frames before it are chosen from, and it is
        returned as :attr:`FramesWritten.error`.
    ImageScoreError, ImageWriteError
        If a frame cannot be scored, or a file cannot be written.
    """
    if not isinstance(rule, FrameRule):
        raise TypeError(f"rule must be a FrameRule; got {type(rule).__name__}")
    center, working_size = _check_region(method, center, working_size)
    measure = metrics.METHODS[method]
    floor = None if threshold is None else measure.sharpness(check_real(threshold, "threshold"))
    hold_bytes = check_int(hold_bytes, "hold_bytes", minimum=1)
    out = FrameFolder(folder, overwrite=check_bool(overwrite, "overwrite"), protected=(path,))
    earlier = out.earlier()
    if earlier and not overwrite:
        raise OutputExistsError(
            earlier[0], "exists, from an earlier run (pass overwrite=True to replace those frames)"
        )
    with (
        _one_opencv_thread(),
        open_video(path, max_pixels=max_pixels, allow_partial=allow_partial) as video,
    ):
        seconds = rule.every
        if rule.count is not None:
            if not video.info.duration:
                raise FileReadError(
                    path, "does not declare its duration, which count needs (give every instead)"
                )
            seconds = select.window_seconds(video.info.duration, rule.count)
        run = _Extraction(out, hold_bytes, floor, seconds, rule)
        error: str | None = None
        try:
            for frame in video.frames():
                score = _frame_score(path, frame, method, roi, center, working_size)
                run.add(frame, score, measure.sharpness(score))
        except FileReadError as damage:
            if run.decoded == 0:
                raise
            error = str(damage)
        chosen = run.finish()
    table = "frame,time,score,file\n" + "".join(
        f"{c.frame},{c.time!r},{c.score!r},{c.file}\n" for c in chosen
    )
    out.write_table(table)
    return FramesWritten(
        folder=out.folder,
        chosen=tuple(chosen),
        decoded=run.decoded,
        windows=run.windows,
        seconds=seconds,
        blurry=run.blurry,
        removed=len(out.tidy()),
        error=error,
        warning=run.warning,
    )


class _Extraction:
    """One :func:`extract_frames` run's state: the rule's picker and the held frames."""

    def __init__(
        self,
        out: FrameFolder,
        hold_bytes: int,
        floor: float | None,
        seconds: float | None,
        rule: FrameRule,
    ) -> None:
        self.held = _Held(out, hold_bytes)
        self.floor = floor
        self.windows = self.blurry = self.decoded = 0
        self.warning: str | None = None
        self.found: list[tuple[int, float, float, float]] = []  # frame, time, score, key
        self.chosen: list[ChosenFrame] = []
        self.picker = None if seconds is None else select.WindowPicker(seconds)
        self.spaced = (
            select.SpacedCandidates(rule.best, rule.min_gap) if rule.best is not None else None
        )
        self.last_time = -math.inf

    def add(self, frame: VideoFrame, score: float, key: float) -> None:
        self.decoded += 1
        self.warning = self.warning or frame.warning
        # The rules take times that never go back; a stream's may.
        time = max(frame.time, self.last_time)
        self.last_time = time
        if self.picker is not None:
            position = len(self.found)
            self.found.append((frame.index, frame.time, score, key))
            previous = self.picker.best
            closed = self.picker.add(position, time, key)
            for pick in closed:
                self._close_window(pick)
            if previous is not None and previous not in closed and self.picker.best != previous:
                self.held.drop(previous)
            if self.picker.best == position:
                self.held.keep(position, frame)
            return
        assert self.spaced is not None
        if self.floor is not None and key < self.floor:
            self.blurry += 1
            return
        position = len(self.found)
        self.found.append((frame.index, frame.time, score, key))
        dropped = self.spaced.add(position, time, key)
        if position not in dropped:
            self.held.keep(position, frame)
        for other in dropped:
            self.held.drop(other)

    def _close_window(self, position: int) -> None:
        self.windows += 1
        if self.floor is not None and self.found[position][3] < self.floor:
            self.blurry += 1
            self.held.drop(position)
            return
        self._write(position)

    def _write(self, position: int) -> None:
        index, time, score, _ = self.found[position]
        self.chosen.append(ChosenFrame(index, time, score, self.held.write(position)))

    def finish(self) -> list[ChosenFrame]:
        if self.picker is not None:
            for pick in self.picker.finish():
                self._close_window(pick)
            return self.chosen
        assert self.spaced is not None
        for position in self.spaced.finish():
            self.held.drop(position)
        for position in self.spaced.choose():
            self._write(position)
        return self.chosen
