"""Display: the only place where responses and scores become pixels.

Filters and measures return numbers with their sign and units; this module
turns them into images for people: :func:`to_uint8` for filter responses,
:func:`render_focus_map` for per-tile focus scores drawn over the image, with
a colour map and a labelled scale bar.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, TypeAlias, get_args

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._pixels import EIGHT_BIT_SCALE, SUPPORTED_DTYPES
from edgegrad._validate import (
    check_array,
    check_choice,
    check_dtype,
    check_image,
    check_real,
)

__all__ = [
    "COLORMAPS",
    "DISPLAY_MODES",
    "DisplayMode",
    "colorize",
    "display_response",
    "render_focus_map",
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

# Share of the colour map in the focus-map overlay (the rest is the gray image).
_OVERLAY_WEIGHT: Final = 0.55
_BAR_WIDTH: Final = 24
_LABEL_WIDTH: Final = 96


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


def render_focus_map(
    image: npt.NDArray[Any],
    scores: npt.NDArray[np.float64],
    tile: int,
    method: str,
) -> npt.NDArray[np.uint8]:
    """Overlay per-tile scores on the gray image as a colour map with a labelled scale bar.

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

    Returns
    -------
    ndarray of uint8
        BGR, as tall as ``image`` and wider by the scale bar.

    Notes
    -----
    Each pixel takes the colour of the tile that scored it (the last row and
    column of tiles absorb the remainder, as in ``sharpness_map``). Colours
    follow ``log(1 + s - min)`` of the sharpness ``s`` (the score, or its
    negation for a measure where higher is blurrier), since scores span
    orders of magnitude between flat and detailed regions. The bar's ends
    are labelled with the sharpest and the blurriest tile's scores, to four
    significant digits so that they fit beside the bar.

    Examples
    --------
    >>> img = np.zeros((100, 130), np.uint8)
    >>> img[:, 30:35] = 255
    >>> from edgegrad.metrics import sharpness_map
    >>> render_focus_map(img, sharpness_map(img, tile=64), 64, "lapv").shape
    (100, 250, 3)
    """
    from edgegrad.metrics import METHODS, luma, tile_labels

    measure = METHODS[check_choice(method, "method", tuple(METHODS))]
    base = np.clip(np.rint(luma(image)), 0, 255).astype(np.uint8)
    height, width = base.shape
    rows, cols = tile_labels(base.shape, tile)
    grid = (int(rows[-1]) + 1, int(cols[-1]) + 1)
    scores = check_array(scores, "scores", finite=True)
    if scores.shape != grid:
        raise ValueError(
            f"scores must have the shape of the tile grid, {grid} for a {width}x{height} "
            f"image and tile={tile} (what sharpness_map returns); got {scores.shape}"
        )
    sharp = measure.sharpness(np.asarray(scores, dtype=np.float64))
    lo, hi = float(sharp.min()), float(sharp.max())
    level = np.log1p(sharp - lo) / (math.log1p(hi - lo) or 1.0)
    colours = colorize(np.asarray(level[np.ix_(rows, cols)] * 255, np.uint8))
    overlay = cv2.addWeighted(
        cv2.cvtColor(base, cv2.COLOR_GRAY2BGR), 1 - _OVERLAY_WEIGHT, colours, _OVERLAY_WEIGHT, 0.0
    )
    sharpest = float(scores.flat[int(np.argmax(sharp))])
    blurriest = float(scores.flat[int(np.argmin(sharp))])
    return np.hstack([overlay, _scale_bar(height, sharpest, blurriest, method)])


def _scale_bar(
    height: int, sharpest: float, blurriest: float, method: str
) -> npt.NDArray[np.uint8]:
    """A colour bar, sharp at the top, with the end scores and the method written beside it."""
    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(_BAR_WIDTH, axis=1)
    panel = np.full((height, _BAR_WIDTH + _LABEL_WIDTH, 3), 255, np.uint8)
    panel[:, :_BAR_WIDTH] = colorize(ramp)
    font, size, ink = cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0)
    labels = (
        (f"{sharpest:.4g} sharp", 14),
        (f"{blurriest:.4g} blurry", height - 6),
        (f"{method} (log)", height // 2),
    )
    for text, y in labels:
        cv2.putText(panel, text, (_BAR_WIDTH + 4, y), font, size, ink, 1, cv2.LINE_AA)
    return panel
