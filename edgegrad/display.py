"""Display: the only place where responses and scores become pixels.

Filters and measures return numbers with their sign and units; this module
turns them into images for people: :func:`to_uint8` for filter responses,
:func:`render_focus_map` for per-tile focus scores drawn over the image on a
fixed colour scale (:func:`focus_scale`) with a legend sized to the image,
and :func:`thumbnail`, :func:`focus_tiles`, :func:`focus_legend` and
:func:`encode_image` for the pictures of an HTML report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, get_args

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._pixels import EIGHT_BIT_SCALE, SUPPORTED_DTYPES, to_gray
from edgegrad._validate import (
    check_array,
    check_choice,
    check_dtype,
    check_image,
    check_int,
    check_real,
)

__all__ = [
    "COLORMAPS",
    "DEFAULT_COLORMAP",
    "DISPLAY_MODES",
    "DisplayMode",
    "FocusScale",
    "colorize",
    "display_response",
    "encode_image",
    "focus_legend",
    "focus_scale",
    "focus_tiles",
    "render_focus_curve",
    "render_focus_map",
    "thumbnail",
    "to_uint8",
]

DisplayMode: TypeAlias = Literal["abs", "signed", "normalize"]
DISPLAY_MODES: Final[tuple[DisplayMode, ...]] = get_args(DisplayMode)

#: OpenCV colour maps by name.
COLORMAPS: Final[dict[str, int]] = {
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "cividis": cv2.COLORMAP_CIVIDIS,
}
#: The colour map of focus maps: perceptually uniform, readable by colour-blind people.
DEFAULT_COLORMAP: Final = "viridis"

# Share of the colour map in the focus-map overlay (the rest is the gray image).
#: Colour (BGR) of a tile without a score: neutral grey, on no colour map.
_UNSCORED: Final = (128, 128, 128)
_OVERLAY_WEIGHT: Final = 0.55
# The legend at heights up to _LEGEND_HEIGHT; taller ones grow in proportion.
_BAR_WIDTH: Final = 24
_LABEL_WIDTH: Final = 96
_FONT_SCALE: Final = 0.4
_LEGEND_HEIGHT: Final = 480
_PNG_LEVEL: Final = 6


def to_uint8(
    response: npt.NDArray[Any],
    mode: DisplayMode = "abs",
    *,
    scale: float | None = None,
) -> npt.NDArray[np.uint8]:
    """Map a signed filter response to displayable uint8 pixels.

    This is the only place where responses become pixels; filters never clip.

    Parameters
    ----------
    response : ndarray
        Any supported dtype, usually a filter's float output.
    mode : {"abs", "signed", "normalize"}
        * ``"abs"``: ``|response| · scale`` saturated to [0, 255]
          (:func:`cv2.convertScaleAbs` semantics; ``scale`` defaults to 1).
        * ``"signed"``: ``128 + response · scale``, rounded and saturated, so
          zero is mid-grey, rising edges are light and falling edges dark.
          ``scale`` defaults to ``127 / max|response|`` (1 for an all-zero
          response), which keeps the sign symmetric and uses the full range.
        * ``"normalize"``: min–max stretched to [0, 255] (all 0 when constant).
    scale : float, optional
        Multiplier for ``"abs"`` and ``"signed"``; not used by ``"normalize"``.

    Returns
    -------
    ndarray of uint8, same shape as ``response``.

    Examples
    --------
    >>> r = np.array([[-1020.0, 0.0, 510.0]], np.float32)
    >>> to_uint8(r, "abs").tolist(), to_uint8(r, "signed").tolist()
    ([[255, 0, 255]], [[1, 128, 192]])
    >>> to_uint8(r, "normalize").tolist()
    [[0, 170, 255]]
    """
    src = check_image(response, "response")
    check_choice(mode, "mode", DISPLAY_MODES)
    if scale is not None:
        scale = check_real(scale, "scale")
    if mode == "normalize":
        if scale is not None:
            raise ValueError("scale is not used with mode='normalize'; leave it unset")
        stretched = cv2.normalize(src, np.empty_like(src, np.uint8), 0, 255, cv2.NORM_MINMAX)
        return np.asarray(stretched, dtype=np.uint8)
    if mode == "abs":
        magnitude = cv2.convertScaleAbs(src, alpha=1.0 if scale is None else float(scale))
        return np.asarray(magnitude, dtype=np.uint8)
    if scale is None:
        peak = float(np.abs(src).max())
        scale = 127.0 / peak if peak > 0 else 1.0
    signed = np.rint(128.0 + src.astype(np.float64) * scale)
    return np.clip(signed, 0, 255).astype(np.uint8)


def display_response(
    response: npt.NDArray[Any], mode: DisplayMode, *, source_dtype: npt.DTypeLike
) -> npt.NDArray[np.uint8]:
    """Pixels for a filter response of an image of ``source_dtype``.

    As :func:`to_uint8`, except that ``"abs"`` puts the response on the 8-bit
    scale of the source (÷257 for uint16, ×255 for float in [0, 1]), so the
    edge map of a 16-bit or float image looks like that of its 8-bit version.
    ``"signed"`` and ``"normalize"`` scale to the response itself already.

    Examples
    --------
    >>> r = np.array([[-65535.0, 0.0, 257.0]], np.float32)
    >>> display_response(r, "abs", source_dtype=np.uint16).tolist()
    [[255, 0, 1]]
    """
    dtype = check_dtype(source_dtype, "source_dtype", SUPPORTED_DTYPES)
    scale = EIGHT_BIT_SCALE[dtype] if mode == "abs" else None
    return to_uint8(response, mode, scale=scale)


def colorize(levels: npt.NDArray[np.uint8], colormap: str = "inferno") -> npt.NDArray[np.uint8]:
    """BGR colours for uint8 levels (0 is the map's low end, 255 its high end).

    Examples
    --------
    >>> colorize(np.array([[0, 255]], np.uint8)).shape
    (1, 2, 3)
    """
    check_choice(colormap, "colormap", tuple(COLORMAPS))
    levels = check_array(levels, "levels")
    if levels.dtype != np.uint8:
        raise TypeError(f"levels must be uint8; got dtype {levels.dtype}")
    return np.asarray(cv2.applyColorMap(levels, COLORMAPS[colormap]), dtype=np.uint8)


@dataclass(frozen=True)
class FocusScale:
    """The fixed colour scale of focus maps: which score each end of the colour map shows.

    Made by :func:`focus_scale`. Every image mapped with one scale gets the
    same colour for the same score, so maps of a run can be compared side by
    side, and with a report's maps.

    Attributes
    ----------
    method : str
        The measure, a name in :data:`edgegrad.metrics.METHODS`.
    low, high : float
        The scores at the ends of the scale, ``low < high``; tiles beyond are
        drawn at the nearer end.
    log : bool
        Whether colours follow ``log(score)`` rather than the score.
    sharper_is_higher : bool
        The measure's direction: the sharp end of the colour map (its bright
        end) is at ``high`` if true, at ``low`` otherwise.
    """

    method: str
    low: float
    high: float
    log: bool
    sharper_is_higher: bool

    def levels(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Position of each score on the scale, in [0, 1]: 0 is the blurry end, 1 the sharp one."""
        values = np.asarray(scores, dtype=np.float64)
        if self.log:
            values = np.log10(np.maximum(values, self.low))
            low, high = math.log10(self.low), math.log10(self.high)
        else:
            low, high = self.low, self.high
        level = np.clip((values - low) / (high - low), 0.0, 1.0)
        return level if self.sharper_is_higher else 1.0 - level

    def ticks(self) -> list[float]:
        """Scores worth a labelled tick: each power of ten (log), else quarters; ends included."""
        if self.log:
            first = math.ceil(math.log10(self.low) - 1e-9)
            last = math.floor(math.log10(self.high) + 1e-9)
            inner = [10.0**k for k in range(first, last + 1)]
        else:
            inner = [self.low + (self.high - self.low) * q for q in (0.25, 0.5, 0.75)]
        close = 1e-6 * (self.high - self.low)
        middle = [v for v in inner if v - self.low > close and self.high - v > close]
        return [self.low, *middle, self.high]

    @property
    def title(self) -> str:
        """The legend's title: the method, and ``(log)`` for a log scale."""
        return f"{self.method} (log)" if self.log else self.method


def focus_scale(method: str, *, vmin: float | None = None, vmax: float | None = None) -> FocusScale:
    """The colour scale of a focus map of ``method``: its registry default, or ``vmin``/``vmax``.

    Parameters
    ----------
    method : str
        The measure, a name in :data:`edgegrad.metrics.METHODS`.
    vmin, vmax : float, optional
        Scores at the low and high end of the scale, in the method's units;
        each defaults to the method's ``map_range`` entry
        (:class:`edgegrad.metrics.FocusMeasure`). For a measure where higher
        is blurrier, ``vmin`` is the sharp end.

    Returns
    -------
    FocusScale

    Raises
    ------
    ValueError
        If the range is empty (``vmin >= vmax``), not finite, or, on a log
        scale, does not start above 0.

    Examples
    --------
    >>> s = focus_scale("lapv")
    >>> (s.low, s.high, s.log), s.levels(np.array([1.0, 100.0, 1e6])).tolist()
    ((1.0, 10000.0, True), [0.0, 0.5, 1.0])
    >>> focus_scale("blur-effect").levels(np.array([0.25])).tolist()  # higher is blurrier
    [0.75]
    """
    from edgegrad.metrics import METHODS

    measure = METHODS[check_choice(method, "method", tuple(METHODS))]
    low = float(measure.map_range[0]) if vmin is None else check_real(vmin, "vmin")
    high = float(measure.map_range[1]) if vmax is None else check_real(vmax, "vmax")
    if low >= high:
        raise ValueError(f"vmin must be below vmax; got vmin={low:g}, vmax={high:g}")
    if measure.map_log and low <= 0:
        raise ValueError(
            f"vmin must be above 0: the {method} map has a log scale; got vmin={low:g}"
        )
    return FocusScale(method, low, high, measure.map_log, measure.sharper_is_higher)


def render_focus_map(
    image: npt.NDArray[Any],
    scores: npt.NDArray[np.float64],
    tile: int,
    method: str,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    colormap: str = DEFAULT_COLORMAP,
) -> npt.NDArray[np.uint8]:
    """Overlay per-tile scores on the gray image on a fixed colour scale, with a legend.

    Parameters
    ----------
    image : ndarray
        The image that was scored (any supported dtype; colour is shown as
        its luma).
    scores : ndarray of float64
        :func:`edgegrad.sharpness_map` of ``image`` with this ``tile`` and
        ``method``.
    tile : int
        The tile side the scores were made with.
    method : str
        The measure, a name in :data:`edgegrad.metrics.METHODS`.
    vmin, vmax : float, optional
        The colour scale's ends, as for :func:`focus_scale`; by default the
        method's own, the same for every image.
    colormap : str, optional
        A name in :data:`COLORMAPS`; ``viridis`` by default, readable with
        the common forms of colour blindness and in gray print.

    Returns
    -------
    ndarray of uint8
        BGR, as tall as ``image`` and wider by the legend.

    Notes
    -----
    Each pixel takes the colour of the tile that scored it (the last row and
    column of tiles absorb the remainder, as in ``sharpness_map``). The
    colour scale is fixed: it depends on the method (or ``vmin`` and
    ``vmax``), never on the image, so a blurry capture looks dark however
    its tiles compare with each other, and maps of different images compare.
    The bright end is the sharp one, whatever the method's direction. Tiles
    beyond the scale take the colour of its nearer end. The legend is sized
    to the image (its text is about 1/50 of the image's height, and never
    smaller than at 480 pixels), its ticks are labelled with scores, and a
    black bar beside it spans this image's tiles, from the blurriest to the
    sharpest.

    Examples
    --------
    >>> img = np.zeros((100, 130), np.uint8)
    >>> img[:, 30:35] = 255
    >>> from edgegrad.metrics import sharpness_map
    >>> render_focus_map(img, sharpness_map(img, tile=64), 64, "lapv").shape
    (100, 250, 3)
    """
    from edgegrad.metrics import luma

    scale = focus_scale(method, vmin=vmin, vmax=vmax)
    check_choice(colormap, "colormap", tuple(COLORMAPS))
    base = np.clip(np.rint(luma(image)), 0, 255).astype(np.uint8)
    height = base.shape[0]
    scores = _check_tile_scores(scores, base.shape, tile, method)
    colours = focus_tiles(scores, base.shape, tile, method, vmin=vmin, vmax=vmax, colormap=colormap)
    overlay = cv2.addWeighted(
        cv2.cvtColor(base, cv2.COLOR_GRAY2BGR), 1 - _OVERLAY_WEIGHT, colours, _OVERLAY_WEIGHT, 0.0
    )
    levels = scale.levels(scores)
    scored = levels[~np.isnan(levels)]  # NaN: a tile the measure cannot score (edge-blur)
    span = (float(scored.min()), float(scored.max())) if scored.size else None
    legend = _legend(height, scale, colormap, span)
    return np.hstack([overlay, legend])


def focus_tiles(
    scores: npt.NDArray[np.float64],
    shape: tuple[int, ...],
    tile: int,
    method: str,
    *,
    size: tuple[int, int] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    colormap: str = DEFAULT_COLORMAP,
) -> npt.NDArray[np.uint8]:
    """The colours of a focus map alone, on the fixed scale, at the image's size or ``size``.

    Parameters
    ----------
    scores : ndarray of float64
        :func:`edgegrad.sharpness_map` of an image of ``shape`` with ``tile``.
    shape : tuple of int
        The scored image's shape (height and width first).
    tile : int
        The tile side the scores were made with.
    method, vmin, vmax, colormap
        As for :func:`render_focus_map`.
    size : tuple of int, optional
        ``(height, width)`` of the result, for example a :func:`thumbnail`'s
        shape; each of its pixels takes the colour of the tile under its
        centre in the scored image. Default: ``shape[:2]``.

    Returns
    -------
    ndarray of uint8
        BGR, ``size`` or ``shape[:2]``.

    Examples
    --------
    >>> scores = np.array([[1.0, 1e4]])
    >>> tiles = focus_tiles(scores, (64, 128), 64, "lapv", size=(2, 4))
    >>> tiles.shape, bool(tiles[0, 3].sum() > tiles[0, 0].sum())
    ((2, 4, 3), True)
    """
    from edgegrad.metrics import tile_labels

    scale = focus_scale(method, vmin=vmin, vmax=vmax)
    check_choice(colormap, "colormap", tuple(COLORMAPS))
    scores = _check_tile_scores(scores, shape, tile, method)
    rows, cols = tile_labels(shape, tile)
    if size is not None:
        height = check_int(size[0], "size[0]", minimum=1)
        width = check_int(size[1], "size[1]", minimum=1)
        rows = rows[_centres(height, rows.size)]
        cols = cols[_centres(width, cols.size)]
    levels = scale.levels(scores)
    unscored = np.isnan(levels)
    pixels = np.rint(np.where(unscored, 0.0, levels) * 255).astype(np.uint8)
    colours = colorize(np.ascontiguousarray(pixels[np.ix_(rows, cols)]), colormap)
    colours[unscored[np.ix_(rows, cols)]] = _UNSCORED
    return colours


def focus_legend(
    height: int,
    method: str,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    colormap: str = DEFAULT_COLORMAP,
) -> npt.NDArray[np.uint8]:
    """The legend of :func:`render_focus_map` alone, for maps shown elsewhere (a report).

    Parameters
    ----------
    height : int
        Its height in pixels, at least 32; text and bar grow with it.
    method, vmin, vmax, colormap
        As for :func:`render_focus_map`.

    Returns
    -------
    ndarray of uint8
        BGR, ``height`` tall, white behind the labels.

    Examples
    --------
    >>> focus_legend(64, "lapv").shape
    (64, 120, 3)
    """
    scale = focus_scale(method, vmin=vmin, vmax=vmax)
    check_choice(colormap, "colormap", tuple(COLORMAPS))
    return _legend(check_int(height, "height", minimum=32), scale, colormap, None)


def thumbnail(image: npt.NDArray[Any], size: int = 256) -> npt.NDArray[np.uint8]:
    """A small gray picture of an image, for people to recognise it: its long side ``size``.

    Parameters
    ----------
    image : ndarray
        Any supported dtype; colour becomes its luma, on the 8-bit scale.
    size : int, optional
        Pixels along the long side, at least 8 (default 256). An image
        already smaller is not enlarged.

    Returns
    -------
    ndarray of uint8
        ``(h, w)``, the image's aspect kept to a pixel.

    Notes
    -----
    Made for thousands of images in a batch, from the array that was
    scored: an area average by the whole factor ``k = long side // size``
    first (OpenCV's fast integer path, a few ms for 12 MP; it leaves out
    the last ``k - 1`` rows and columns at most, under 0.4 % of the long
    side), then an area average to the exact size.

    Examples
    --------
    >>> thumbnail(np.zeros((3000, 4000), np.uint16)).shape
    (192, 256)
    >>> thumbnail(np.zeros((10, 20), np.uint8)).shape
    (10, 20)
    """
    size = check_int(size, "size", minimum=8)
    gray = to_gray(check_image(image))
    height, width = gray.shape
    factor = max(1, max(height, width) // size)
    if factor > 1:
        cropped = gray[: height // factor * factor, : width // factor * factor]
        gray = cv2.resize(
            cropped, (width // factor, height // factor), interpolation=cv2.INTER_AREA
        )
    longest = max(height, width)
    wanted = (max(1, round(width * size / longest)), max(1, round(height * size / longest)))
    if longest > size and gray.shape[::-1] != wanted:
        gray = cv2.resize(gray, wanted, interpolation=cv2.INTER_AREA)
    small = np.asarray(gray)
    if small.dtype == np.uint8:
        return np.asarray(small, dtype=np.uint8)
    scaled = small.astype(np.float32) * np.float32(EIGHT_BIT_SCALE[small.dtype])
    return np.asarray(np.clip(np.rint(scaled), 0, 255), dtype=np.uint8)


def encode_image(
    pixels: npt.NDArray[np.uint8], extension: Literal[".jpg", ".png"], *, quality: int = 80
) -> bytes:
    """Encode display pixels (gray or BGR uint8) in memory, for a report or a worker's result.

    Parameters
    ----------
    pixels : ndarray of uint8
        ``(H, W)`` or ``(H, W, 3)``.
    extension : {".jpg", ".png"}
        The format.
    quality : int, optional
        JPEG quality, 1 to 100 (default 80). PNG is written at zlib level 6.

    Returns
    -------
    bytes

    Examples
    --------
    >>> encode_image(np.zeros((8, 8), np.uint8), ".png")[:4]
    b'\\x89PNG'
    """
    check_choice(extension, "extension", (".jpg", ".png"))
    quality = check_int(quality, "quality", allowed=range(1, 101), words="an integer from 1 to 100")
    pixels = check_array(pixels, "pixels")
    if pixels.dtype != np.uint8:
        raise TypeError(f"pixels must be uint8; got dtype {pixels.dtype}")
    if extension == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    else:
        # OpenCV's default PNG settings favour speed: a focus map's flat tiles come out
        # 5 times larger than with zlib's level 6, which costs about 1 ms more.
        params = [cv2.IMWRITE_PNG_COMPRESSION, _PNG_LEVEL]
    ok, encoded = cv2.imencode(extension, np.ascontiguousarray(pixels), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode pixels of shape {pixels.shape} as {extension}")
    return bytes(encoded.tobytes())


def _check_tile_scores(
    scores: npt.NDArray[np.float64], shape: tuple[int, ...], tile: int, method: str
) -> npt.NDArray[np.float64]:
    """``scores`` as float64 if it has the tile grid's shape for an image of ``shape``."""
    from edgegrad.metrics import METHODS, tile_labels

    rows, cols = tile_labels(shape, tile)
    grid = (int(rows[-1]) + 1, int(cols[-1]) + 1)
    # NaN marks a tile without a score, for a measure whose flat score is NaN
    # (edge-blur: a tile without reliable edges); other measures have none.
    checked = check_array(scores, "scores")
    if math.isnan(METHODS[method].flat_score) and checked.dtype.kind == "f":
        scored = np.nan_to_num(checked, nan=0.0, posinf=np.inf, neginf=-np.inf)
        check_array(scored, "scores", finite=True)
    else:
        checked = check_array(checked, "scores", finite=True)
    if checked.shape != grid:
        height, width = shape[:2]
        raise ValueError(
            f"scores must have the shape of the tile grid, {grid} for a {width}x{height} "
            f"image and tile={tile} (what sharpness_map returns); got {checked.shape}"
        )
    return np.asarray(checked, dtype=np.float64)


def _centres(count: int, source: int) -> npt.NDArray[np.intp]:
    """For each of ``count`` output pixels, the source pixel under its centre."""
    centres = ((np.arange(count) + 0.5) * (source / count)).astype(np.intp)
    return np.minimum(centres, source - 1)


def _tick_label(value: float) -> str:
    """A short label: ``1e4`` for large powers of ten, else up to four significant digits."""
    if value >= 1e4 and math.log10(value).is_integer():
        return f"1e{round(math.log10(value))}"
    return f"{value:.4g}"


def _legend(
    height: int, scale: FocusScale, colormap: str, span: tuple[float, float] | None
) -> npt.NDArray[np.uint8]:
    """A colour bar, sharp at the top, with labelled ticks and a title, sized to ``height``.

    ``span``, levels in [0, 1], is drawn as a black bar beside the colour bar.
    """
    grow = max(1.0, height / _LEGEND_HEIGHT)
    font, size = cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE * grow
    thickness = max(1, round(grow))
    (_, text_height), descent = cv2.getTextSize("0", font, size, thickness)
    bar_width = round(_BAR_WIDTH * grow)
    gap = round(4 * grow)
    title_band = round(1.8 * text_height) + 2
    top, bottom = title_band, height - 1 - max(1, round(text_height / 2) + descent)
    ticks = scale.ticks()
    labels = [_tick_label(v) for v in ticks]
    sharp_end = len(ticks) - 1 if scale.sharper_is_higher else 0
    blurry_end = len(ticks) - 1 - sharp_end
    labels[sharp_end] += " sharp"
    labels[blurry_end] += " blurry"
    text_widths = [cv2.getTextSize(t, font, size, thickness)[0][0] for t in labels]
    title_width = cv2.getTextSize(scale.title, font, size, thickness)[0][0]
    label_width = max(
        round(_LABEL_WIDTH * grow), 2 * gap + max(text_widths), title_width + gap - bar_width
    )
    panel = np.full((height, bar_width + label_width, 3), 255, np.uint8)
    ramp = np.linspace(255, 0, max(1, bottom - top + 1)).astype(np.uint8)[:, None]
    panel[top : bottom + 1, :bar_width] = colorize(ramp.repeat(bar_width, axis=1), colormap)
    ink = (0, 0, 0)
    cv2.putText(
        panel,
        scale.title,
        (gap, top - round(0.6 * text_height)),
        font,
        size,
        ink,
        thickness,
        cv2.LINE_AA,
    )

    def y_of(level: float) -> int:
        return round(bottom - level * (bottom - top))

    placed: list[int] = []
    order = [sharp_end, blurry_end, *(i for i in range(len(ticks)) if i not in (0, len(ticks) - 1))]
    for index in order:
        level = float(scale.levels(np.array([ticks[index]]))[0])
        y = y_of(level)
        if any(abs(y - other) < 1.4 * text_height for other in placed):
            continue
        placed.append(y)
        cv2.line(panel, (bar_width, y), (bar_width + gap, y), ink, thickness)
        baseline_y = min(max(y + text_height // 2, top + text_height), height - 1 - descent)
        cv2.putText(
            panel,
            labels[index],
            (bar_width + 2 * gap, baseline_y),
            font,
            size,
            ink,
            thickness,
            cv2.LINE_AA,
        )
    if span is not None:
        x0, x1 = bar_width + 1, bar_width + max(2, gap // 2)
        panel[y_of(span[1]) : y_of(span[0]) + 1, x0 : x1 + 1] = 0
    return panel


# --- focus curves -------------------------------------------------------------------

_CURVE_SIZE: Final = (860, 520)
_CURVE_MARGINS: Final = (92, 24, 64, 70)  # left, right, top, bottom
_CURVE_INK: Final = (40, 40, 40)
_CURVE_GRID: Final = (225, 225, 225)
_CURVE_POINT: Final = (160, 90, 20)
_CURVE_LEFT_OUT: Final = (40, 40, 200)
_CURVE_MODEL: Final = (30, 140, 230)
_CURVE_PEAK: Final = (40, 160, 40)
_CURVE_BAND: Final = (200, 235, 200)


def render_focus_curve(
    positions: Any,
    scores: Any,
    peak: Any,
    *,
    method: str,
    position_label: str = "position (steps)",
) -> npt.NDArray[np.uint8]:
    """Draw a focus sweep: its points, the fitted model, the peak and its 95 % band.

    Parameters
    ----------
    positions, scores : sequence of float
        The sweep, as given to :func:`edgegrad.focus.fit_peak`.
    peak : FocusPeak
        What :func:`edgegrad.focus.fit_peak` returned for them.
    method : str
        The measure that made the scores, a name in
        :data:`edgegrad.metrics.METHODS`: the y axis is labelled with its
        units and direction.
    position_label : str, optional
        The x axis label, with the positions' unit.

    Returns
    -------
    ndarray of uint8
        A BGR picture, 860x520 pixels.

    Notes
    -----
    Drawn with OpenCV, so plotting needs no other package. Filled dots are
    the points the fit used, red crosses those it left out (a bumped
    capture); the sharpest capture is ringed. The model is the orange line,
    the peak the green vertical line, inside a pale green band that is its
    95 % confidence interval (:meth:`edgegrad.focus.FocusPeak.interval`).
    With no trusted peak, the title says why and no model is drawn. OpenCV's
    Hershey fonts have only ASCII, so a unit such as DN² is written ``DN^2``.

    Examples
    --------
    >>> from edgegrad.focus import fit_peak
    >>> z = np.arange(9.0)
    >>> s = 10 + 100 * np.exp(-0.5 * ((z - 4.4) / 1.5) ** 2)
    >>> render_focus_curve(z, s, fit_peak(z, s), method="lapv").shape
    (520, 860, 3)
    """
    from edgegrad.focus import FocusPeak, _vector
    from edgegrad.metrics import METHODS

    measure = METHODS[check_choice(method, "method", tuple(METHODS))]
    z = _vector(positions, "positions")
    s = _vector(scores, "scores")
    if z.size != s.size or z.size == 0:
        raise ValueError(
            f"positions and scores must have one value per capture; got {z.size} and {s.size}"
        )
    if not isinstance(peak, FocusPeak):
        raise TypeError(f"peak must be a FocusPeak; got {type(peak).__name__}")
    if len(peak.used) != z.size:
        raise ValueError(f"peak was fitted to {len(peak.used)} points, not to these {z.size}")
    if not isinstance(position_label, str):
        raise TypeError(f"position_label must be a str; got {type(position_label).__name__}")
    width, height = _CURVE_SIZE
    left, right, top, bottom = _CURVE_MARGINS
    canvas = np.full((height, width, 3), 255, np.uint8)
    interval = peak.interval() if peak.trusted else None
    dense = np.linspace(float(z.min()), float(z.max()), 400)
    model = peak.curve(dense) if peak.trusted else np.empty(0)
    x_lo, x_hi = _padded(float(z.min()), float(z.max()), *(interval or ()))
    y_lo, y_hi = _padded(float(s.min()), float(s.max()), *model[np.isfinite(model)])
    x_ticks = _nice_ticks(x_lo, x_hi)
    y_ticks = _nice_ticks(y_lo, y_hi)

    def px(value: float) -> int:
        return round(left + (value - x_lo) / (x_hi - x_lo) * (width - left - right))

    def py(value: float) -> int:
        return round(height - bottom - (value - y_lo) / (y_hi - y_lo) * (height - top - bottom))

    font, small = cv2.FONT_HERSHEY_SIMPLEX, 0.42
    if interval is not None:
        cv2.rectangle(
            canvas, (px(interval[0]), top), (px(interval[1]), height - bottom), _CURVE_BAND, -1
        )
    for tick in x_ticks:
        cv2.line(canvas, (px(tick), top), (px(tick), height - bottom), _CURVE_GRID, 1)
        _text(canvas, f"{tick:g}", (px(tick), height - bottom + 18), small, centre=True)
    for tick in y_ticks:
        cv2.line(canvas, (left, py(tick)), (width - right, py(tick)), _CURVE_GRID, 1)
        label = f"{tick:.4g}"
        size = cv2.getTextSize(label, font, small, 1)[0][0]
        _text(canvas, label, (left - 8 - size, py(tick) + 5), small)
    cv2.rectangle(canvas, (left, top), (width - right, height - bottom), _CURVE_INK, 1)
    if model.size:
        line = np.column_stack([[px(v) for v in dense], [py(v) for v in model]])
        cv2.polylines(canvas, [line.astype(np.int32)], False, _CURVE_MODEL, 2, cv2.LINE_AA)
    if peak.position is not None:
        cv2.line(
            canvas, (px(peak.position), top), (px(peak.position), height - bottom),
            _CURVE_PEAK, 2, cv2.LINE_AA,
        )  # fmt: skip
    for i, (zi, si) in enumerate(zip(z, s, strict=True)):
        centre = (px(float(zi)), py(float(si)))
        if peak.used[i]:
            cv2.circle(canvas, centre, 5, _CURVE_POINT, -1, cv2.LINE_AA)
        else:
            cv2.drawMarker(canvas, centre, _CURVE_LEFT_OUT, cv2.MARKER_TILTED_CROSS, 12, 2)
        if i == peak.best:
            cv2.circle(canvas, centre, 10, _CURVE_INK, 1, cv2.LINE_AA)
    units = measure.units.replace("²", "^2").encode("ascii", "replace").decode("ascii")
    _text(canvas, position_label, ((left + width - right) // 2, height - 22), 0.5, centre=True)
    y_label = f"{measure.name} score, {units}; {measure.direction}"
    _vertical_text(canvas, y_label, 22, (top + height - bottom) // 2)
    title, note = _curve_title(peak, measure.name)
    _text(canvas, title, (left, 24), 0.5)
    _text(canvas, note, (left, 46), small)
    return canvas


def _curve_title(peak: Any, method: str) -> tuple[str, str]:
    """The title and the line below it: the peak and a key, or why there is none."""
    if peak.trusted:
        return (
            f"{method}: peak at {peak.position:.3f} +/- {peak.stderr:.3f} "
            f"({peak.model} fit, R^2 {peak.r2:.4f})",
            "dots: points fitted   ring: sharpest capture   line: model   band: 95 % interval",
        )
    reason = str(peak.reason).replace("²", "^2").encode("ascii", "replace").decode("ascii")
    return f"{method}: no trustworthy peak", reason[:130]


def _text(
    canvas: npt.NDArray[np.uint8],
    text: str,
    at: tuple[int, int],
    scale: float,
    *,
    centre: bool = False,
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    x, y = at
    if centre:
        x -= cv2.getTextSize(text, font, scale, 1)[0][0] // 2
    cv2.putText(canvas, text, (x, y), font, scale, _CURVE_INK, 1, cv2.LINE_AA)


def _vertical_text(canvas: npt.NDArray[np.uint8], text: str, x: int, y_centre: int) -> None:
    """Write ``text`` upward, centred on ``(x, y_centre)``: a y-axis label."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    (w, h), base = cv2.getTextSize(text, font, scale, 1)
    strip = np.full((h + base + 4, w + 4, 3), 255, np.uint8)
    cv2.putText(strip, text, (2, h + 2), font, scale, _CURVE_INK, 1, cv2.LINE_AA)
    upright = np.ascontiguousarray(np.rot90(strip))
    rows, cols = upright.shape[:2]
    y0 = max(0, y_centre - rows // 2)
    x0 = max(0, x - cols // 2)
    rows = min(rows, canvas.shape[0] - y0)
    canvas[y0 : y0 + rows, x0 : x0 + cols] = upright[:rows]


def _padded(lo: float, hi: float, *more: float) -> tuple[float, float]:
    """``lo`` and ``hi`` widened to take ``more`` and 5 % of the span on each side."""
    lo = min(lo, *more) if more else lo
    hi = max(hi, *more) if more else hi
    span = hi - lo or abs(hi) or 1.0
    return lo - 0.05 * span, hi + 0.05 * span


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round values inside ``[lo, hi]``, about ``count`` of them, 1, 2 or 5 × 10^k apart."""
    raw = (hi - lo) / max(1, count - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]
