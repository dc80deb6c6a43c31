"""Edge maps and blur in pixels, on top of :func:`edgegrad.filters.gradient`.

* :func:`canny`: non-maximum suppression along the gradient direction and
  hysteresis, with optional orientation bands, for every supported dtype.
* :func:`non_maximum_suppression`, :func:`hysteresis` and
  :func:`orientation_band`: the three steps on their own.
* The estimator behind :func:`edgegrad.edge_blur` (the ``edge-blur`` focus
  measure): the standard deviation, in pixels, of the Gaussian PSF that best
  explains an image's reliable edges. See :func:`edgegrad.edge_blur` for what
  it means and how to read it; this module holds how it is computed.

Scale rule
----------
Thresholds apply to the gradient magnitude with the kernel's raw weights on
the **8-bit intensity scale**: uint8 as is, uint16 divided by 257, float
images (read as [0, 1]) multiplied by 255. One pair of thresholds therefore
means the same at every bit depth, and on uint8 it means what it means to
``cv2.Canny(image, low, high, L2gradient=True)``.

Angles are degrees counter-clockwise on screen from +x (90 is up), as
everywhere in edgegrad; :func:`edgegrad.orientation` reports them.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, Final, NamedTuple, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._pixels import EIGHT_BIT_SCALE
from edgegrad._validate import (
    check_array,
    check_bool,
    check_choice,
    check_image,
    check_optional_int,
    check_real,
)
from edgegrad.filters import gradient
from edgegrad.kernels import DERIVATIVE_KINDS, DerivativeKind, derivative_factors

__all__ = [
    "canny",
    "hysteresis",
    "non_maximum_suppression",
    "orientation_band",
]

BoolArray: TypeAlias = npt.NDArray[np.bool_]
FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
Float64: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]

# cv2.Canny's sector test in fixed point: tan(22.5°) * 2**15, rounded.
_TG22: Final = 13573.0
_SHIFT: Final = 32768.0
# Relative size of one rounding step of a float input, in units of its dtype's
# epsilon: a float image's magnitudes closer than that are taken as equal.
_ROUNDING_STEPS: Final = 4.0
_DEFAULT_TOLERANCE: Final = 22.5
# Pixels per band of whole-image boolean work (_suppressed).
_BAND: Final = 1 << 16


# --- non-maximum suppression, hysteresis, orientation bands ----------------------


def _sector_steps(gx: Float64, gy_down: Float64) -> tuple[IntArray, IntArray, BoolArray]:
    """The neighbour step ``(dx, dy)`` along the gradient, and whether the sector is diagonal.

    Exactly :func:`cv2.Canny`'s quantisation into four sectors (rows grow
    downward, so ``gy_down`` is OpenCV's ``dy``).
    """
    ax, ay = np.abs(gx), np.abs(gy_down)
    tg22x = ax * _TG22
    horizontal = ay * _SHIFT < tg22x
    vertical = ~horizontal & (ay * _SHIFT > tg22x + ax * (2.0 * _SHIFT))
    diagonal = ~(horizontal | vertical)
    # cv2: s = (dx ^ dy) < 0 ? -1 : 1, zero counting as positive.
    sign = np.where((gx < 0) != (gy_down < 0), -1, 1)
    step_x = np.where(horizontal, 1, np.where(vertical, 0, sign)).astype(np.intp)
    step_y = np.where(horizontal, 0, 1).astype(np.intp)
    return step_x, step_y, diagonal


def _local_maxima(
    magnitude: Float64,
    gx: Float64,
    gy_down: Float64,
    ys: IntArray,
    xs: IntArray,
    tolerance: float,
) -> BoolArray:
    """Which of the pixels ``(ys, xs)`` are maxima along their gradient sector.

    ``magnitude`` is padded by one pixel of zeros (pixel ``(y, x)`` of the
    image is ``magnitude[y + 1, x + 1]``), as :func:`cv2.Canny` treats the
    outside. Ties follow OpenCV: along x and y, greater than the pixel
    behind and at least the pixel ahead; on diagonals, greater than both.
    Differences within ``tolerance`` count as ties.
    """
    step_x, step_y, diagonal = _sector_steps(gx[ys, xs], gy_down[ys, xs])
    py, px = ys + 1, xs + 1
    here = magnitude[py, px]
    behind = magnitude[py - step_y, px - step_x]
    ahead = magnitude[py + step_y, px + step_x]
    greater_behind = here > behind + tolerance
    ahead_ok = np.where(diagonal, here > ahead + tolerance, here >= ahead - tolerance)
    result: BoolArray = greater_behind & ahead_ok
    return result


def non_maximum_suppression(
    gx: npt.NDArray[Any], gy_up: npt.NDArray[Any], *, tolerance: float = 0.0
) -> BoolArray:
    """Pixels whose gradient magnitude is a maximum along the gradient direction.

    Parameters
    ----------
    gx, gy_up : ndarray
        The gradient as :func:`edgegrad.gradient` returns it (``gy_up``
        points up), 2-D, of one shape.
    tolerance : float, optional
        Magnitude differences up to this are ties (0: exact comparisons).

    Returns
    -------
    ndarray of bool
        True at local maxima with a non-zero gradient.

    Notes
    -----
    The direction is quantised to four sectors, 0°, 45°, 90° and 135°
    (±22.5°), and each pixel is compared with its two neighbours in its
    sector, as :func:`cv2.Canny` does: along x and y it must exceed the
    neighbour behind and equal or exceed the one ahead (so a plateau two
    pixels wide keeps one pixel); on diagonals it must exceed both. Outside
    the image the magnitude is 0.

    Examples
    --------
    >>> step = np.zeros((5, 8), np.float32)
    >>> step[:, 4:] = 1.0                       # rises between columns 3 and 4
    >>> gx, gy_up = gradient(step)
    >>> non_maximum_suppression(gx, gy_up)[2].astype(int).tolist()
    [0, 0, 0, 1, 0, 0, 0, 0]
    """
    gx = check_array(gx, "gx", finite=True)
    gy_up = check_array(gy_up, "gy_up", finite=True)
    if gx.ndim != 2 or gx.shape != gy_up.shape:
        raise ValueError(
            f"gx and gy_up must be 2-D arrays of one shape; got {gx.shape} and {gy_up.shape}"
        )
    tolerance = check_real(tolerance, "tolerance")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0; got {tolerance!r}")
    fx = gx.astype(np.float64)
    fy = -gy_up.astype(np.float64)
    magnitude = np.hypot(fx, fy)
    ys, xs = np.nonzero(magnitude > 0)
    padded = np.pad(magnitude, 1)
    keep = _local_maxima(padded, fx, fy, ys, xs, tolerance)
    result = np.zeros(gx.shape, np.bool_)
    result[ys[keep], xs[keep]] = True
    return result


def hysteresis(weak: npt.NDArray[Any], strong: npt.NDArray[Any]) -> BoolArray:
    """Keep the ``weak`` pixels 8-connected, through weak pixels, to a ``strong`` one.

    Parameters
    ----------
    weak : ndarray of bool
        Candidate pixels (for Canny: maxima above the low threshold).
    strong : ndarray of bool
        Seeds (maxima above the high threshold); only those that are also
        ``weak`` count.

    Returns
    -------
    ndarray of bool
        The weak pixels whose 8-connected component of weak pixels holds a
        strong one.

    Examples
    --------
    >>> weak = np.array([[1, 1, 0, 1], [0, 1, 0, 1]], bool)
    >>> strong = np.array([[0, 0, 0, 0], [0, 1, 0, 0]], bool)
    >>> hysteresis(weak, strong).astype(int).tolist()
    [[1, 1, 0, 0], [0, 1, 0, 0]]
    """
    weak = check_array(weak, "weak")
    strong = check_array(strong, "strong")
    if weak.dtype != np.bool_ or strong.dtype != np.bool_:
        raise TypeError(f"weak and strong must be bool arrays; got {weak.dtype}, {strong.dtype}")
    if weak.ndim != 2 or weak.shape != strong.shape:
        raise ValueError(
            f"weak and strong must be 2-D arrays of one shape; got {weak.shape} and {strong.shape}"
        )
    count, labels = cv2.connectedComponents(weak.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    seeded = np.zeros(count, np.bool_)
    seeded[labels[strong & weak]] = True
    seeded[0] = False
    result: BoolArray = seeded[labels]
    return result


def orientation_band(
    degrees: npt.NDArray[Any], angle: float, tolerance: float, *, directed: bool = False
) -> BoolArray:
    """Where an orientation lies within ``angle ± tolerance`` degrees.

    Parameters
    ----------
    degrees : ndarray
        Gradient orientations in degrees, as :func:`edgegrad.orientation`
        reports them (counter-clockwise from +x, where intensity rises).
    angle : float
        Centre of the band, in the same convention; any finite value.
    tolerance : float
        Half-width of the band in degrees: 0 to 90 (undirected) or 0 to 180
        (``directed``). The band includes its ends.
    directed : bool, optional
        False (default): ``θ`` and ``θ + 180°`` alike, so an edge is selected
        whichever side is brighter. True: only gradients pointing within the
        band, i.e. intensity rising towards ``angle``.

    Returns
    -------
    ndarray of bool

    Notes
    -----
    A line running down to the right on screen has its gradient at 45° or
    225° (perpendicular to it), so ``angle=45`` selects it, undirected.

    Examples
    --------
    >>> orientation_band(np.array([40.0, 225.0, 90.0]), 45, 10).tolist()
    [True, True, False]
    >>> orientation_band(np.array([40.0, 225.0, 90.0]), 45, 10, directed=True).tolist()
    [True, False, False]
    """
    degrees = check_array(degrees, "degrees", finite=True)
    angle = check_real(angle, "angle")
    tolerance = check_real(tolerance, "tolerance")
    directed = check_bool(directed, "directed")
    widest = 180.0 if directed else 90.0
    if not 0.0 <= tolerance <= widest:
        kind = "directed" if directed else "undirected"
        raise ValueError(
            f"tolerance must be from 0 to {widest:g} degrees for a {kind} band; got {tolerance!r}"
        )
    period = 360.0 if directed else 180.0
    difference = np.abs((degrees.astype(np.float64) - angle + period / 2) % period - period / 2)
    result: BoolArray = difference <= tolerance
    return result


# --- canny -------------------------------------------------------------------------


def _eight_bit_gradient(
    image: npt.NDArray[Any],
    kernel: DerivativeKind,
    ksize: int | None,
    sigma: float | None,
) -> tuple[Float64, Float64, float]:
    """``(gx, gy_up, tolerance)`` on the 8-bit scale, float64, gray (max channel for colour).

    ``tolerance`` is how far apart two magnitudes may be from rounding alone:
    0 when the arithmetic is exact (integer input, no smoothing).
    """
    source = image[..., :3] if image.ndim == 3 else image
    smoothed = sigma is not None and kernel != "gaussian"
    work: npt.NDArray[Any] = source
    if smoothed and sigma is not None:
        depth = np.float64 if source.dtype == np.float64 else np.float32
        work = cv2.GaussianBlur(
            source.astype(depth), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE
        )
    gx32, gy32 = gradient(
        work,
        kind=kernel,
        ksize=ksize,
        sigma=1.0 if sigma is None else sigma,
        border="replicate",
    )
    gx, gy_up = gx32.astype(np.float64), gy32.astype(np.float64)
    if source.dtype == np.uint16:
        gx /= 257.0  # division, so that 257·k gives back exactly k
        gy_up /= 257.0
    else:
        scale = EIGHT_BIT_SCALE[source.dtype]
        if scale != 1.0:
            gx *= scale
            gy_up *= scale
    if gx.ndim == 3:
        # As cv2.Canny: at each pixel, the channel with the largest gradient.
        strongest = np.argmax(gx * gx + gy_up * gy_up, axis=2)[..., np.newaxis]
        gx = np.take_along_axis(gx, strongest, axis=2)[..., 0]
        gy_up = np.take_along_axis(gy_up, strongest, axis=2)[..., 0]
    tolerance = 0.0
    if smoothed or source.dtype.kind == "f":
        d, s = derivative_factors(kernel, ksize, sigma=1.0 if sigma is None else sigma)
        l1 = float(np.abs(d).sum() * np.abs(s).sum())
        eps = float(np.finfo(np.float64 if work.dtype == np.float64 else np.float32).eps)
        tolerance = _ROUNDING_STEPS * l1 * 255.0 * eps
    return gx, gy_up, tolerance


def canny(
    image: npt.NDArray[Any],
    low: float,
    high: float,
    *,
    kernel: DerivativeKind = "sobel",
    ksize: int | None = None,
    sigma: float | None = None,
    l2: bool = True,
    angle: float | None = None,
    tolerance: float | None = None,
    directed: bool = False,
    use_quantiles: bool = False,
) -> BoolArray:
    """Canny edge map: non-maximum suppression and hysteresis on the gradient.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A). Colour uses, at each
        pixel, the channel with the largest gradient (as :func:`cv2.Canny`);
        alpha is ignored.
    low, high : float
        Hysteresis thresholds on the gradient magnitude, with the kernel's raw
        weights, on the 8-bit intensity scale (uint16 ÷ 257, float × 255).
        Pixels above ``high`` start edges; pixels above ``low`` continue them.
        ``0 <= low <= high``. With ``use_quantiles``, quantiles in [0, 1] of
        the image's gradient magnitude instead.
    kernel : {"sobel", "scharr", "gaussian"}
        Derivative kernel, applied by :func:`edgegrad.gradient`.
    ksize : int, optional
        Aperture: Sobel 1, 3, 5 or 7 and Scharr 3 (default 3); Gaussian odd
        >= 3 (default ``2*round(4*sigma)+1``).
    sigma : float, optional
        Gaussian smoothing in pixels. For Sobel and Scharr it is applied before
        the derivative, as :func:`skimage.feature.canny` does (None: no
        smoothing, as :func:`cv2.Canny`). For ``kernel="gaussian"`` it is the
        derivative-of-Gaussian scale (default 1), the same smoothing in one
        pass.
    l2 : bool, optional
        Magnitude ``sqrt(gx² + gy²)`` (default, ``L2gradient=True``) or
        ``|gx| + |gy|`` (``cv2.Canny``'s default).
    angle, tolerance : float, optional
        Keep only edge pixels whose gradient orientation, as
        :func:`edgegrad.orientation` reports it, lies within ``angle ±
        tolerance`` degrees (see :func:`orientation_band`). ``tolerance``
        defaults to 22.5 when ``angle`` is given.
    directed : bool, optional
        Whether the band tells ``θ`` from ``θ + 180°`` (default: not).
    use_quantiles : bool, optional
        Read ``low`` and ``high`` as quantiles of the gradient magnitude over
        the image, as scikit-image's ``use_quantiles``.

    Returns
    -------
    ndarray of bool
        The edge map, the image's height and width.

    Raises
    ------
    TypeError, ValueError
        For an image outside the dtype rule, or an argument of the wrong kind
        or out of range; the message names the parameter.

    Notes
    -----
    Steps: the gradient (:func:`edgegrad.gradient`, border replicated as in
    :func:`cv2.Canny`); :func:`non_maximum_suppression` in four sectors with
    OpenCV's tie rules; candidates above ``low`` (strictly), seeds above
    ``high``; :func:`hysteresis` with 8-connectivity; then the orientation
    band, if any, on the finished map (so a banded map is a subset of the
    unbanded one).

    On uint8 with the Sobel kernel and no smoothing, the map is that of
    ``cv2.Canny(image, low, high, apertureSize=ksize, L2gradient=l2)``; the
    tests hold it to an IoU of at least 0.99 on photos. uint16 (``×257``)
    and float (``/255``) versions of an image give the same map: magnitudes
    of a float image that differ by no more than its own rounding count as
    equal, so rounding does not decide ties.

    References
    ----------
    .. [1] J. Canny, "A computational approach to edge detection", IEEE TPAMI
       8(6), pp. 679-698, 1986. https://doi.org/10.1109/TPAMI.1986.4767851

    Examples
    --------
    A bright square: its four sides are edges, one pixel wide, and the band
    around 0° keeps the left and right sides (gradients at 0° and 180°):

    >>> square = np.zeros((12, 12), np.uint8)
    >>> square[3:9, 3:9] = 200
    >>> edges = canny(square, 100, 200)
    >>> edges[5].astype(int).tolist()
    [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    >>> sides = canny(square, 100, 200, angle=0, tolerance=10)
    >>> bool(sides[5, 2]), bool(sides[2, 5])
    (True, False)
    """
    src = check_image(image)
    low = check_real(low, "low")
    high = check_real(high, "high")
    check_choice(kernel, "kernel", DERIVATIVE_KINDS)
    ksize = check_optional_int(ksize, "ksize", minimum=1)
    if sigma is not None:
        sigma = check_real(sigma, "sigma", positive=True)
    l2 = check_bool(l2, "l2")
    directed = check_bool(directed, "directed")
    use_quantiles = check_bool(use_quantiles, "use_quantiles")
    if angle is None and tolerance is not None:
        raise ValueError("tolerance selects a band around angle; give angle too")
    if angle is not None:
        angle = check_real(angle, "angle")
        tolerance = _DEFAULT_TOLERANCE if tolerance is None else check_real(tolerance, "tolerance")
        orientation_band(np.zeros(1), angle, tolerance, directed=directed)  # checks tolerance
    if use_quantiles:
        for name, value in (("low", low), ("high", high)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a quantile in [0, 1]; got {value!r}")
    elif low < 0 or high < 0:
        raise ValueError(f"low and high must be >= 0; got low={low!r}, high={high!r}")
    if low > high:
        raise ValueError(f"low must be at most high; got low={low!r}, high={high!r}")

    gx, gy_up, tie = _eight_bit_gradient(src, kernel, ksize, sigma)
    magnitude = np.hypot(gx, gy_up) if l2 else np.abs(gx) + np.abs(gy_up)
    if use_quantiles:
        low, high = (float(q) for q in np.quantile(magnitude, [low, high]))
    # Padded with zeros: outside the image the magnitude is 0, as in cv2.Canny.
    weak = _suppressed(np.pad(gx, 1), np.pad(-gy_up, 1), np.pad(magnitude, 1), low + tie, tie)
    strong = weak & (magnitude > high + tie)
    edges = hysteresis(weak, strong)
    if angle is not None and tolerance is not None:
        degrees = np.degrees(np.arctan2(gy_up, gx)) % 360.0
        edges &= orientation_band(degrees, angle, tolerance, directed=directed)
    return edges


# --- blur in pixels ------------------------------------------------------------------
#
# How edge_blur works, in brief (edgegrad.metrics.edge_blur documents the measure):
#
# * At an ideal step of contrast A blurred by a Gaussian of scale s, the
#   derivative-of-Gaussian gradient at scale d peaks at A / sqrt(2 pi (s² + d²)).
#   Measured at two derivative scales d1 < d2, the ratio of the peaks is
#   R = sqrt(s² + d2²) / sqrt(s² + d1²), so s² = (d2² - d1²) / (R² - 1) - d1²:
#   the re-blur gradient ratio of Hu & de Haan (2006) and Zhuo & Sim (2011),
#   with the derivative's own scale taken out. A blurs out of the ratio.
# * The peak is read off between pixels: along any line across a straight
#   Gaussian edge, log |gradient| is a parabola, so a parabola through the
#   three samples around a non-maximum-suppressed pixel gives the peak, the
#   sub-pixel centre and the profile's curvature exactly, at any angle.
# * Only edges that look like an isolated blurred step count: the peak must
#   stand well above the noise, the log-profile's curvature must agree with
#   the scale from the ratio, and the gradient 2.5 scales to either side must
#   have fallen to the step's own tail; what remains beyond it is another edge
#   close by, which would bias the ratio. Each edge is weighted by its
#   contrast A and by how isolated it is. Noise shrinks the ratio's scale by
#   a fraction computed per edge; an edge counts at a level only while that
#   stays under 5 % (a noisier or blurrier edge is left to a coarser level:
#   Elder & Zucker's minimum reliable scale). JPEG block seams are left out
#   of images that show blocking.
# * Every level of a Gaussian pyramid (cv2.pyrDown, whose binomial kernel has
#   variance 1 pixel² before decimation) is measured; s0² = 4^l s_l² -
#   (4^l - 1) / 3. A level speaks for the edges whose blur it resolves (about
#   0.7 to 1 of its pixels and up) that the next coarser level does not, with
#   linear hand-over, so every blur is measured at the same relative scale
#   and with the noise averaged away, and the estimate is continuous in the
#   blur. The coarsest level pooled speaks for every blur above; when it has
#   few edges of its own (under 64 pixels of edge), the level below it keeps
#   speaking for those blurs too, and each edge pixel's share is divided by
#   its blur's total share, so that every blur counts once. A fine edge pixel
#   the coarser level sees clearly blurrier is dropped. The answer is the
#   weighted median over all levels (each pixel of level l standing for 2^l
#   pixels of edge). Large levels are measured on
#   the blocks holding the most edge contrast of the level above, so that
#   the cost stays bounded; each block has a margin (reflected where it runs
#   off the image), so that it measures exactly what the whole level
#   measures there. Once a level with many edges leaves the finer levels
#   under 2 % to speak for, they are not measured.
# * The noise is estimated once, as white-noise equivalent at full
#   resolution, from a low quantile of Immerkær's (1996) mask response at
#   pyramid level 1 (where JPEG has not removed it) and carried to each level
#   and derivative scale by the exact noise gain of the filters involved.

_DERIVATIVE_SIGMA: Final = 1.2
_REBLUR_SIGMA: Final = 1.0
_SNR: Final = 6.0
_FLANK_SCALES: Final = 2.5
_FLANK_TAU: Final = 0.03
_FLANK_MAX: Final = 0.3
_CURVATURE_TOLERANCE: Final = 0.3
_NOISE_SIGMAS: Final = 3.0
_MAX_SHRINK: Final = 0.05
# Least contrast of an edge that counts, in DN: JPEG's block boundaries and
# ringing on smooth content are sharp steps of a few DN, not the scene's edges.
_MIN_CONTRAST: Final = 4.0
MIN_SUPPORT: Final = 16.0
"""Edge pixels, each counted by its isolation (0 to 1), an image needs at a level."""
_STRONG_SUPPORT: Final = 4 * MIN_SUPPORT
TILE_SUPPORT: Final = 4.0
"""The same for one tile of :func:`blur_tiles` (a tile is a small part of an edge)."""
# Finer levels are not measured once they could speak for under this share of
# a level's edges (estimate_blur).
_FINER_SHARE: Final = 0.02
_SWITCH_LOW: Final = 0.7
_SWITCH_HIGH: Final = 1.0
_START_SIDE: Final = 96
_LEVEL_SIDE: Final = 32
# Input pixels per band of the pyramid's first level (_eight_bit_pyr_down).
_PYRAMID_BAND: Final = 1 << 20
_CROP_BUDGET: Final = 1 << 17
_BLOCK: Final = 64
_MARGIN: Final = 16
_NOISE_QUANTILE: Final = 0.1
# Standard normal quantile at (1 + 0.1) / 2: the 10 % quantile of |N(0, 1)|.
_HALF_NORMAL_Q10: Final = 0.12566134685507402
_QUANTIZATION_NOISE: Final = 1.0 / math.sqrt(12.0)
_BINOMIAL: Final = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
_SECOND_DIFFERENCE: Final = np.array([1.0, -2.0, 1.0])


class BlurPoints(NamedTuple):
    """Reliable edge pixels of one pyramid level and what each says about the blur.

    ``y``, ``x`` are in the level's pixels; ``sigma2`` is the squared blur in
    the level's pixels (it may be slightly negative for a very sharp edge);
    ``isolation`` runs from 1 (nothing else within 2.5 scales) towards 0;
    ``weight`` is the edge's contrast times its isolation; ``normal_x``,
    ``normal_y`` the unit gradient direction (rows down).
    """

    y: Float64
    x: Float64
    sigma2: Float64
    isolation: Float64
    weight: Float64
    normal_x: Float64
    normal_y: Float64

    def select(self, keep: BoolArray) -> BlurPoints:
        """The points where ``keep`` is true."""
        index = np.flatnonzero(keep)  # once: a boolean mask is counted again at every use
        return BlurPoints(*(field.take(index) for field in self))


class _Scale(NamedTuple):
    derivative: npt.NDArray[np.float32]
    smoothing: npt.NDArray[np.float32]
    variance: float


@functools.cache
def _scale(sigma: float) -> _Scale:
    """Derivative-of-Gaussian factors of scale ``sigma`` and their effective variance.

    The variance along the derivative, ``sum(n³ d[n]) / 3`` for the unit-gain
    derivative factor ``d``, is what adds to an edge's blur (to fourth order).
    """
    d, s = derivative_factors("gaussian", None, sigma=sigma)
    n = np.arange(d.size) - d.size // 2
    return _Scale(d.astype(np.float32), s.astype(np.float32), float(np.sum(n**3 * d)) / 3.0)


def _composite(level: int, taps: tuple[float, ...]) -> Float64:
    """The full-resolution 1-D kernel of ``taps`` applied at pyramid ``level``."""
    kernel = np.asarray(taps, np.float64)
    for _ in range(level):
        spread = np.zeros(2 * kernel.size - 1)
        spread[::2] = kernel
        kernel = np.convolve(spread, _BINOMIAL)
    return kernel


@functools.cache
def _noise_gain(level: int, sigma: float | None) -> float:
    """Noise standard deviation per unit white full-resolution noise.

    Of one gradient component of scale ``sigma`` at pyramid ``level``, or,
    with ``sigma=None``, of Immerkær's mask there.
    """
    if sigma is None:
        mask = _composite(level, tuple(_SECOND_DIFFERENCE))
        return float(np.sum(mask * mask))
    scale = _scale(sigma)
    d = _composite(level, tuple(float(v) for v in scale.derivative))
    s = _composite(level, tuple(float(v) for v in scale.smoothing))
    return float(np.sqrt(np.sum(d * d) * np.sum(s * s)))


class _Pyramid:
    """A gray image's Gaussian pyramid on the 8-bit scale, exact where it is measured.

    Level 0 is ``gray`` itself (uint8, or float32). Above a float32 image,
    every level is float32 ``pyrDown``. Above a uint8 image:

    * level 1 is read exactly (:meth:`whole`, :meth:`region`): ``pyrDown``
      of ``x · 256`` in uint16, whose binomial sums OpenCV divides by 256
      exactly, computed only where it is read;
    * the levels above are built from level 1 rounded to whole DN (8-bit
      ``pyrDown``, much faster over a whole large image than the exact
      level), and are uint16 in 1/256 DN, each rounding to the nearest
      1/256 DN (at most 1/512 DN per level, far below any noise the estimate
      sees). Rounding to whole DN adds white noise of 1/12 DN² at level 1,
      which :func:`_level_noise` carries to them (:meth:`rounded`).

    :func:`_as_float32` reads the levels.
    """

    def __init__(self, gray: npt.NDArray[Any]) -> None:
        self.gray = gray
        self._eight_bit = gray.dtype == np.uint8
        built: list[npt.NDArray[Any]] = [gray]
        while min(built[-1].shape) >= 2 * _LEVEL_SIDE:
            last = built[-1]
            # Level 2 exactly from the rounded uint8 level 1; every other level plain
            # pyrDown in its input's dtype (uint8 to the rounded level 1).
            from_rounded = last.dtype == np.uint8 and len(built) == 2
            built.append(
                np.asarray(_eight_bit_pyr_down(last) if from_rounded else cv2.pyrDown(last))
            )
        self._built = built
        self._exact_level1: npt.NDArray[np.uint16] | None = None

    def __len__(self) -> int:
        return len(self._built)

    def shape(self, level: int) -> tuple[int, int]:
        height, width = self._built[level].shape
        return height, width

    def rounded(self, level: int) -> bool:
        """Whether ``level`` was built from level 1 rounded to whole DN."""
        return self._eight_bit and level >= 2

    def whole(self, level: int) -> npt.NDArray[Any]:
        """The whole of ``level``, exact."""
        if level != 1 or not self._eight_bit:
            return self._built[level]
        if self._exact_level1 is None:
            self._exact_level1 = _eight_bit_pyr_down(self.gray)
        return self._exact_level1

    def region(self, level: int, top: int, bottom: int, left: int, right: int) -> npt.NDArray[Any]:
        """Rows ``top:bottom`` and columns ``left:right`` of ``level``, exact.

        Level 1 of a uint8 image, where it has not been made whole, comes
        from the rows and columns of ``gray`` that the kernel reaches (2 on
        either side), which is exactly that part of the whole level.
        """
        if level != 1 or not self._eight_bit or self._exact_level1 is not None:
            return self.whole(level)[top:bottom, left:right]
        height, width = self.gray.shape
        y0, x0 = max(0, 2 * top - 2), max(0, 2 * left - 2)
        y1, x1 = min(height, 2 * bottom + 2), min(width, 2 * right + 2)
        part = _eight_bit_pyr_down(np.ascontiguousarray(self.gray[y0:y1, x0:x1]))
        return part[top - y0 // 2 : bottom - y0 // 2, left - x0 // 2 : right - x0 // 2]


def _level_noise(noise: float, level: int, sigma: float | None, rounded: bool) -> float:
    """Noise standard deviation of one filter response at ``level``, in DN.

    ``noise`` is the white-noise equivalent at full resolution; ``sigma``
    as for :func:`_noise_gain`. A ``rounded`` level (:class:`_Pyramid`) adds
    the white noise of rounding level 1 to whole DN, 1/12 DN², carried up
    from there.
    """
    variance = (noise * _noise_gain(level, sigma)) ** 2
    if rounded:
        variance += _noise_gain(level - 1, sigma) ** 2 / 12.0
    return math.sqrt(variance)


def _eight_bit_pyr_down(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint16]:
    """:func:`cv2.pyrDown` of uint8 ``image`` as uint16 ``x · 256``, in bands of rows.

    One band of about ``_PYRAMID_BAND`` pixels is converted at a time into
    one reused buffer, so that the whole converted image never exists (a
    fresh allocation that large costs more in page faults than the
    conversion). Each band is converted with the 2 rows the kernel reaches
    on either side and keeps only the output rows that see none of its
    artificial border: the result is exactly ``pyrDown`` of the whole
    converted image.
    """
    height, width = image.shape
    out = np.empty(((height + 1) // 2, (width + 1) // 2), np.uint16)
    rows = max(4, _PYRAMID_BAND // (2 * width))
    buffer = np.empty((min(height, 2 * rows + 4), width, 2), np.uint8)
    zeros = np.zeros(buffer.shape[:2], np.uint8)
    for top in range(0, out.shape[0], rows):
        bottom = min(top + rows, out.shape[0])
        first, last = max(0, 2 * top - 2), min(height, 2 * bottom + 2)
        # x · 256: x as the high byte of each pair (cv2.merge, the fastest).
        pair = [zeros[: last - first], image[first:last]]
        merged = cv2.merge(pair[:: 1 if sys.byteorder == "little" else -1], buffer[: last - first])
        skip = top - first // 2
        band = merged.view(np.uint16)[..., 0]
        out[top:bottom] = cv2.pyrDown(band)[skip : skip + bottom - top]
    return out


def _as_float32(image: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """A pyramid level (or part of one) as float32 on the 8-bit scale."""
    if image.dtype == np.uint16:
        scaled: npt.NDArray[np.float32] = image.astype(np.float32)
        scaled *= np.float32(1.0 / 256.0)
        return scaled
    return np.asarray(image, dtype=np.float32)


def _noise_level(pyramid: _Pyramid) -> float:
    """White-noise equivalent standard deviation at full resolution, in DN.

    A low quantile of ``|M * I|`` (Immerkær's mask ``M``) at level 1, where
    JPEG quantisation has left the noise that matters at the edges' scales,
    divided by the mask's noise gain there. Never below the 8-bit quantisation
    noise, ``1/sqrt(12)`` DN.
    """
    level = 1 if len(pyramid) > 1 else 0
    height, width = pyramid.shape(level)
    band = 16
    bands = height // band
    wanted = max(1, _CROP_BUDGET // max(1, width * band))
    if bands > wanted:
        starts = np.linspace(0, height - band, wanted).astype(np.intp)
        image = np.vstack([pyramid.region(level, s, s + band, 0, width) for s in starts])
    else:
        image = pyramid.whole(level)
    image = _as_float32(image)
    kernel = _SECOND_DIFFERENCE.astype(np.float32)
    response = cv2.sepFilter2D(image, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)
    rows = np.arange(response.shape[0]) % band if bands > wanted else None
    inner = response[1:-1, 1:-1]
    if rows is not None:
        keep = (rows[1:-1] != 0) & (rows[1:-1] != band - 1)
        inner = inner[keep]
    values = np.abs(inner).ravel()
    if values.size == 0:
        return _QUANTIZATION_NOISE
    quantile = _kth_smallest(values, int(_NOISE_QUANTILE * (values.size - 1)))
    estimate = quantile / _HALF_NORMAL_Q10 / _noise_gain(level, None)
    return max(estimate, _QUANTIZATION_NOISE)


def _kth_smallest(values: npt.NDArray[np.float32], k: int) -> float:
    """``np.partition(values, k)[k]``, partitioning only the values below a bound where it can.

    The bound is a higher quantile of every 16th value; when at least
    ``k + 1`` values lie at or below it, the ``k``-th smallest is among them
    (otherwise, all values are partitioned).
    """
    sample = values[::16]
    j = min(sample.size - 1, 2 * k // 16)
    low = np.compress(values <= np.partition(sample, j)[j], values)
    chosen = low if low.size > k else values
    return float(np.partition(chosen, k)[k])


def _bilinear(
    gx: npt.NDArray[np.float32], gy: npt.NDArray[np.float32], y: Float64, x: Float64
) -> Float64:
    """The gradient magnitude, interpolated bilinearly at ``(y, x)``."""
    height, width = gx.shape
    x = np.clip(x, 0.0, width - 1.001)
    y = np.clip(y, 0.0, height - 1.001)
    x0 = x.astype(np.intp)
    y0 = y.astype(np.intp)
    fx = x - x0
    fy = y - y0
    at = y0 * width + x0
    top = _magnitude_at(gx, gy, at) * (1 - fx) + _magnitude_at(gx, gy, at + 1) * fx
    bottom = (
        _magnitude_at(gx, gy, at + width) * (1 - fx) + _magnitude_at(gx, gy, at + width + 1) * fx
    )
    result: Float64 = top * (1 - fy) + bottom * fy
    return result


def _log_parabola(samples: npt.NDArray[np.float32]) -> tuple[Float64, Float64, Float64]:
    """Peak log-magnitude, its offset (in steps) and the curvature, from three rows of samples.

    ``samples`` holds the magnitudes behind, at and ahead of each point.
    """
    low, mid, high = np.log(np.maximum(samples, np.float32(1e-30)), dtype=np.float64)
    curvature = (high + low - 2.0 * mid) / 2.0
    slope = (high - low) / 2.0
    safe = np.where(curvature < 0, curvature, -1.0)
    peak = mid - slope * slope / (4.0 * safe)
    offset = np.clip(-slope / (2.0 * safe), -1.0, 1.0)
    return peak, offset, curvature


def _gaussian_gradient(
    image: npt.NDArray[np.float32], sigma: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``(gx, gy_down)`` with the kernels of ``gradient(kind="gaussian")``.

    Applied straight with :func:`cv2.sepFilter2D` (the image is checked
    already); ``gy_down`` is OpenCV's ``dy``, minus edgegrad's ``gy_up``.
    """
    scale = _scale(sigma)
    border = cv2.BORDER_REFLECT_101
    d, s = scale.derivative, scale.smoothing
    gx = np.asarray(cv2.sepFilter2D(image, cv2.CV_32F, d, s, borderType=border), np.float32)
    gy = np.asarray(cv2.sepFilter2D(image, cv2.CV_32F, s, d, borderType=border), np.float32)
    return gx, gy


def _magnitude_at(
    gx: npt.NDArray[np.float32], gy: npt.NDArray[np.float32], at: IntArray
) -> npt.NDArray[np.float32]:
    """The gradient magnitude at flat indices ``at``, in float32 as over the whole image."""
    return _float32_magnitude(gx.ravel().take(at), gy.ravel().take(at))


def _maxima(
    gx: FloatArray,
    gy_down: FloatArray,
    magnitude: FloatArray,
    threshold: float,
    tolerance: float = 0.0,
) -> BoolArray:
    """Interior pixels above ``threshold`` that are maxima in their sector, whole-array.

    The rule of :func:`_local_maxima`, computed on whole arrays rather than
    at listed pixels, over the last two axes. The result is two pixels
    smaller along each (its pixel ``(y, x)`` is ``(y + 1, x + 1)`` of the
    inputs).
    """
    dtype = magnitude.dtype.type
    c = magnitude[..., 1:-1, 1:-1]
    ax = np.abs(gx[..., 1:-1, 1:-1])
    ay = np.abs(gy_down[..., 1:-1, 1:-1]) * dtype(_SHIFT)
    tg22x = ax * dtype(_TG22)
    horizontal = ay < tg22x
    vertical = ay > tg22x + ax * dtype(2.0 * _SHIFT)
    diagonal = ~(horizontal | vertical)
    opposite = (gx[..., 1:-1, 1:-1] < 0) != (gy_down[..., 1:-1, 1:-1] < 0)
    m = magnitude
    if tolerance:
        m = magnitude + dtype(tolerance)  # the neighbours, raised by the tolerance
        low = magnitude - dtype(tolerance)
    else:
        low = magnitude
    along_x = (c > m[..., 1:-1, :-2]) & (c >= low[..., 1:-1, 2:])
    along_y = (c > m[..., :-2, 1:-1]) & (c >= low[..., 2:, 1:-1])
    falling = (c > m[..., :-2, :-2]) & (c > m[..., 2:, 2:])
    rising = (c > m[..., :-2, 2:]) & (c > m[..., 2:, :-2])
    result: BoolArray = (c > dtype(threshold)) & (
        (horizontal & along_x)
        | (vertical & along_y)
        | (diagonal & np.where(opposite, rising, falling))
    )
    return result


def _float32_magnitude(
    gx: npt.NDArray[np.float32], gy: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``sqrt(gx² + gy²)`` in float32: the same bits over a whole array or any part of it.

    NumPy, not :func:`cv2.magnitude`, whose result depends on OpenCV's
    thread count.
    """
    result: npt.NDArray[np.float32] = np.sqrt(gx * gx + gy * gy)
    return result


def _suppressed(
    gx: FloatArray,
    gy_down: FloatArray,
    magnitude: FloatArray | None,
    threshold: float,
    tolerance: float = 0.0,
) -> BoolArray:
    """:func:`_maxima` computed in bands of about ``_BAND`` pixels.

    Over rows of a 2-D array (each band with the row above and below it),
    or over the first axis of a stack of 2-D blocks. Whole-image temporaries
    are each a fresh allocation that the kernel must map and zero; a band's
    stay small and are reused. Without ``magnitude``, the float32 magnitude
    of ``gx`` and ``gy_down`` is computed band by band.
    """
    *outer, height, width = gx.shape
    result = np.empty((*outer, height - 2, width - 2), bool)
    if gx.ndim == 3:  # independent blocks
        count, step, reach = gx.shape[0], max(1, _BAND // (height * width)), 0
    else:  # rows, each band with its neighbours
        count, step, reach = height - 2, max(1, _BAND // width), 2
    for start in range(0, count, step):
        part = slice(start, start + step + reach)
        m = _float32_magnitude(gx[part], gy_down[part]) if magnitude is None else magnitude[part]
        result[start : start + step] = _maxima(gx[part], gy_down[part], m, threshold, tolerance)
    return result


def _border() -> int:
    """Pixels at a level's edges where no edge pixel is measured (the re-blur's reach)."""
    return math.ceil(2 * math.hypot(_DERIVATIVE_SIGMA, _REBLUR_SIGMA)) + 2


def blur_points(
    image: npt.NDArray[Any],
    noise: float,
    level: int = 0,
    *,
    mosaic: bool = False,
    rounded: bool = False,
) -> BlurPoints:
    """The reliable edge pixels of one image (a pyramid level) and their blur.

    Parameters
    ----------
    image : ndarray
        2-D, on the 8-bit scale (uint8 or float).
    noise : float
        White-noise equivalent standard deviation at full resolution, in DN.
    level : int
        The pyramid level ``image`` is, for the noise gains.
    mosaic : bool
        Whether ``image`` is a stack of blocks with margins
        (:func:`_measure_blocks`): edge pixels are then looked for only in
        each block and the pixel around it (a pixel's centre moves by at most
        one pixel from where it is found), not in the margins.
    rounded : bool
        Whether ``image`` was built from a level 1 rounded to whole DN
        (:class:`_Pyramid`), for the noise.

    Returns
    -------
    BlurPoints
    """
    work = _as_float32(image)
    d1 = _DERIVATIVE_SIGMA
    d2 = math.hypot(_DERIVATIVE_SIGMA, _REBLUR_SIGMA)
    gx, gy_down = _gaussian_gradient(work, d1)
    gx2, gy2_down = _gaussian_gradient(work, d2)
    v1, v2 = _scale(d1).variance, _scale(d2).variance
    noise1 = _level_noise(noise, level, d1, rounded)
    width = work.shape[1]
    if mosaic:
        side = _BLOCK + 2 * _MARGIN
        first = _MARGIN - 2  # the block and a pixel around it, and their neighbours

        def inner(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            return array.reshape(-1, side, side)[:, first : side - first, first : side - first]

        found = _suppressed(inner(gx), inner(gy_down), None, _SNR * noise1)
        block, row, col = np.unravel_index(np.flatnonzero(found), found.shape)
        at = (block * side + row + first + 1) * width + col + first + 1
    else:
        found = _suppressed(gx, gy_down, None, _SNR * noise1)
        border = _border() - 1  # found[y, x] is pixel (y + 1, x + 1)
        found[:border] = False
        found[-border:] = False
        found[:, :border] = False
        found[:, -border:] = False
        row, col = np.divmod(np.flatnonzero(found), width - 2)
        at = (row + 1) * width + col + 1
    # ``at``: flat indices into the level; each pixel's step along its sector.
    cx = gx.ravel().take(at).astype(np.float64)
    cy_down = gy_down.ravel().take(at).astype(np.float64)
    step_x, step_y, _ = _sector_steps(cx, cy_down)
    # Behind, at and ahead of each point along its sector, one row each. Each
    # point is above the sample behind it and no lower than the one ahead (the
    # suppression's rule, on the same bits), so its parabola at d1 always
    # curves down.
    along_sector = at + np.outer(np.array([-1, 0, 1]), step_y * width + step_x)
    peak1, offset, curvature1 = _log_parabola(_magnitude_at(gx, gy_down, along_sector))
    peak2, _, curvature2 = _log_parabola(_magnitude_at(gx2, gy2_down, along_sector))
    ratio2 = np.exp(2.0 * (peak1 - peak2))
    norm = np.sqrt(cx * cx + cy_down * cy_down)
    nx, ny = cx / norm, cy_down / norm
    # The step's length along the normal: the parabola's curvature in steps
    # is -(step·n)² / (2 s²), with s² the edge's scale at d1.
    along = np.abs(step_x * nx + step_y * ny)
    ok = (curvature2 < 0) & (ratio2 > 1.0)
    total1 = (v2 - v1) / np.where(ok, ratio2 - 1.0, 1.0)  # s² + d1², the scale at d1
    # Noise adds 2 noise² to each squared peak, more at d1 than at d2, and so
    # shrinks the scale by this fraction: an edge counts at this level only if
    # that stays small, which is Elder and Zucker's minimum reliable scale
    # (noisier or blurrier edges are left to a coarser level).
    noise2 = _level_noise(noise, level, d2, rounded)
    conditioning = ratio2 / np.where(ok, ratio2 - 1.0, 1.0)
    shrink = (
        2.0 * conditioning * (noise1**2 * np.exp(-2.0 * peak1) - noise2**2 * np.exp(-2.0 * peak2))
    )
    ok &= shrink < _MAX_SHRINK
    from_curvature = along * along / (-2.0 * curvature1)
    ok &= np.abs(from_curvature / total1 - 1.0) < _CURVATURE_TOLERANCE
    peak = np.exp(peak1)
    contrast = np.sqrt(2.0 * math.pi * total1) * peak
    ok &= contrast >= _MIN_CONTRAST
    kept = np.flatnonzero(ok)
    at, step_x, step_y = (field.take(kept) for field in (at, step_x, step_y))
    nx, ny, peak, offset, total1, contrast = (
        field.take(kept) for field in (nx, ny, peak, offset, total1, contrast)
    )
    ys, xs = np.divmod(at, width)
    scale1 = np.sqrt(total1)
    reach = _FLANK_SCALES * np.minimum(scale1, (_MARGIN - _border()) / _FLANK_SCALES)
    centre_y = ys + offset * step_y
    centre_x = xs + offset * step_x
    sides = np.array([[1.0], [-1.0]]) * reach  # both flanks, one row each
    flank = np.max(_bilinear(gx, gy_down, centre_y + sides * ny, centre_x + sides * nx), axis=0)
    own_tail = math.exp(-(_FLANK_SCALES**2) / 2.0)
    excess = np.maximum((flank - _NOISE_SIGMAS * noise1) / peak - own_tail, 0.0)
    isolation = np.exp(-((excess / _FLANK_TAU) ** 2))
    points = BlurPoints(
        y=centre_y,
        x=centre_x,
        sigma2=total1 - v1,
        isolation=isolation,
        weight=contrast * isolation,
        normal_x=nx,
        normal_y=ny,
    )
    return points.select(excess < _FLANK_MAX)


def weighted_median(values: Float64, weights: Float64) -> float:
    """The weighted median, interpolated so that it moves continuously with the data.

    Each value stands at the centre of its weight on the cumulative scale;
    the median is read off linearly at half the total weight.
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    w = weights[order]
    centres = np.cumsum(w) - w / 2.0
    return float(np.interp(float(np.sum(w)) / 2.0, centres, sorted_values))


def _blocks(
    shape: tuple[int, ...], guide: BlurPoints | None, factor: float
) -> list[tuple[int, int]]:
    """Top-left corners of the blocks to measure on a level too large to measure whole.

    With ``guide`` (points of a coarser level, ``factor`` times smaller), the
    blocks holding the most guide weight; without, an even spread.
    """
    height, width = shape
    rows, cols = height // _BLOCK, width // _BLOCK
    count = max(1, _CROP_BUDGET // (_BLOCK + 2 * _MARGIN) ** 2)
    if guide is not None and guide.weight.size:
        r = np.clip((guide.y * factor) // _BLOCK, 0, rows - 1).astype(np.intp)
        c = np.clip((guide.x * factor) // _BLOCK, 0, cols - 1).astype(np.intp)
        score = np.bincount(r * cols + c, weights=guide.weight, minlength=rows * cols)
        order = np.argsort(-score, kind="stable")
        chosen = [int(i) for i in order[:count] if score[i] > 0]
    else:
        chosen = []
    if not chosen:
        chosen = [int(i) for i in np.linspace(0, rows * cols - 1, min(count, rows * cols))]
    return [(i // cols * _BLOCK, i % cols * _BLOCK) for i in sorted(set(chosen))]


def _measure_blocks(
    pyramid: _Pyramid, noise: float, level: int, corners: list[tuple[int, int]]
) -> BlurPoints:
    """:func:`blur_points` on a mosaic of blocks with margins, mapped back to the level.

    Each block is cut out with a margin of ``_MARGIN`` pixels on every side;
    where the margin runs off the image it is filled by reflection
    (``BORDER_REFLECT_101``, the filters' own border), so that every block
    sees what it would see in the whole level, and the seams between the
    mosaic's tiles (sharp steps of the mosaic, not of the scene) stay a
    margin away from it. Points as near the level's edges as the whole-level
    measure would leave out are left out.
    """
    height, width = pyramid.shape(level)
    side = _BLOCK + 2 * _MARGIN
    tiles = []
    for top, left in corners:
        y0, x0 = max(top - _MARGIN, 0), max(left - _MARGIN, 0)
        y1 = min(top + _BLOCK + _MARGIN, height)
        x1 = min(left + _BLOCK + _MARGIN, width)
        tiles.append(
            cv2.copyMakeBorder(
                np.ascontiguousarray(pyramid.region(level, y0, y1, x0, x1)),
                y0 - (top - _MARGIN),
                top + _BLOCK + _MARGIN - y1,
                x0 - (left - _MARGIN),
                left + _BLOCK + _MARGIN - x1,
                cv2.BORDER_REFLECT_101,
            )
        )
    points = blur_points(
        np.vstack(tiles), noise, level, mosaic=True, rounded=pyramid.rounded(level)
    )
    window = (points.y // side).astype(np.intp)
    block_y = np.asarray([c[0] for c in corners], np.float64)[window]
    block_x = np.asarray([c[1] for c in corners], np.float64)[window]
    y = points.y - window * side + block_y - _MARGIN
    x = points.x + block_x - _MARGIN
    edge = _border()
    inside = (
        (y >= block_y)
        & (y < block_y + _BLOCK)
        & (x >= block_x)
        & (x < block_x + _BLOCK)
        & (np.rint(y) >= edge)
        & (np.rint(y) < height - edge)
        & (np.rint(x) >= edge)
        & (np.rint(x) < width - edge)
    )
    return points._replace(y=y, x=x).select(inside)


def _blocky(gray: npt.NDArray[Any]) -> bool:
    """Whether the image shows JPEG's 8x8 block seams.

    Small steps (first differences, clipped at 8 DN, averaged down up to 256
    rows, and across as many columns, over at most 1024 pixels of each from
    the middle) are compared between the columns where blocks meet and those
    mid-block, by their medians over columns: seams at least 25 % stronger,
    on an image with some fine variation elsewhere, mean blocking. A scene's
    own edges fall on a few seams, not on all.
    """
    if min(gray.shape) < 32:
        return False
    height, width = gray.shape
    rows = np.linspace(0, height - 1, min(256, height)).astype(np.intp)
    cols = np.linspace(0, width - 1, min(256, width)).astype(np.intp)
    # At most 1024 pixels of each line, from the middle, starting on a block seam.
    top, left = (max(0, (side - 1024) // 2) // 8 * 8 for side in gray.shape)
    across = gray[rows, left : left + 1024].astype(np.float32)
    down = gray[top : top + 1024, cols].T.astype(np.float32)
    for lines in (across, down):
        # Per column, then the median over columns: blocking raises every
        # seam, a scene's edge on a seam raises one.
        columns = np.minimum(np.abs(np.diff(lines, axis=1)), 8.0).mean(axis=0)
        phase = (np.arange(columns.size) + 1) % 8
        seams = float(np.median(columns[phase == 0]))
        inside = float(np.median(columns[(phase >= 2) & (phase <= 6)]))
        if inside > 0.05 and seams > 1.25 * inside:
            return True
    return False


def _off_jpeg_grid(points: BlurPoints) -> BoolArray:
    """False for edge pixels that look like JPEG block boundaries, at full resolution.

    A JPEG's 8x8 blocks meet between pixels ``8k - 1`` and ``8k``; on smooth
    or blurred content their seams are straight, axis-aligned, isolated and
    sharp, just what the estimator trusts. In an image that shows them
    (:func:`_blocky`), edges within 0.3 px of a seam and within 10° of its
    orientation are left out (a scene's own edges there are about 1 in 13 of
    its axis-aligned ones).
    """
    seam = 0.3
    aligned = math.cos(math.radians(10.0))
    phase_x = np.abs((points.x + 0.5) % 8.0 - 4.0)  # 4 on a seam, 0 mid-block
    phase_y = np.abs((points.y + 0.5) % 8.0 - 4.0)
    on_x = (np.abs(points.normal_x) > aligned) & (phase_x > 4.0 - seam)
    on_y = (np.abs(points.normal_y) > aligned) & (phase_y > 4.0 - seam)
    result: BoolArray = ~(on_x | on_y)
    return result


def _large(shape: tuple[int, int]) -> bool:
    """Whether a pyramid level is too large to measure whole (and large enough for blocks)."""
    return shape[0] * shape[1] > _CROP_BUDGET and min(shape) >= _BLOCK + 2 * _MARGIN


def _start_level(pyramid: _Pyramid) -> int:
    level = 0
    while level + 1 < len(pyramid) and min(pyramid.shape(level + 1)) >= _START_SIDE:
        level += 1
    return level


class BlurEstimate(NamedTuple):
    """An image's blur estimate and what it rests on."""

    sigma: float
    """Blur in pixels, NaN without enough reliable edges."""
    noise: float
    """White-noise equivalent noise at full resolution, DN."""
    points: int
    """Reliable edge pixels used, over all levels measured."""


class _Pooled(NamedTuple):
    """Edge pixels of every level, in full-resolution pixels, each with its level's say."""

    y: Float64
    x: Float64
    sigma: Float64
    weight: Float64
    support: Float64


def _rise(sigma2: Float64) -> Float64:
    """0 below ``_SWITCH_LOW`` level pixels, 1 from ``_SWITCH_HIGH`` up, linear between."""
    sigma = np.sqrt(np.maximum(sigma2, 0.0))
    ramp: Float64 = np.clip((sigma - _SWITCH_LOW) / (_SWITCH_HIGH - _SWITCH_LOW), 0.0, 1.0)
    return ramp


def _coarse_view(fine: BlurPoints, coarse: BlurPoints) -> Float64:
    """0 where the next coarser level sees a fine edge pixel's edge clearly blurrier, else 1.

    An edge blurred by ``s`` (in ``fine``'s pixels) has ``(s² + 1) / 4`` at
    the next level. Noise riding on a broad blurred edge can make a fine-level
    maximum that passes every test and claims a sharp edge; the coarse level,
    where that edge is well resolved, vetoes it when its sharpest edge pixel
    within one coarse pixel is more than 1.5 times blurrier than predicted.
    Where the coarse level found nothing, the fine level is believed.
    """
    if coarse.sigma2.size == 0 or fine.sigma2.size == 0:
        return np.ones_like(fine.sigma2)
    # The sharpest coarse edge pixel in each coarse pixel, then, for each fine
    # point, the sharpest in the 3x3 coarse pixels around it (a sparse erosion).
    cy = np.rint(coarse.y).astype(np.int64)
    cx = np.rint(coarse.x).astype(np.int64)
    fy = np.rint(fine.y / 2.0).astype(np.int64)
    fx = np.rint(fine.x / 2.0).astype(np.int64)
    width = int(max(cx.max(), fx.max())) + 3  # cell width - 1 of a row is never occupied
    key = cy * width + cx
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.diff(key, prepend=key[0] - 1))
    # Occupied cells, sorted, then three sentinels past the last.
    cells = np.append(key[starts], np.full(3, key[-1] + width))
    sharpest = np.append(np.minimum.reduceat(coarse.sigma2[order], starts), np.full(3, np.inf))
    # The three cells of each row around a point (one row per dy) are the
    # first three occupied cells from its left one (one plane per dx), where
    # they are occupied.
    left = (fy + np.array([[-1], [0], [1]])) * width + fx - 1
    at = np.searchsorted(cells[:-3], left) + np.arange(3)[:, np.newaxis, np.newaxis]
    nearby = np.where(cells[at] <= left + 2, sharpest[at], np.inf).min(axis=(0, 1))
    predicted = (np.maximum(fine.sigma2, 0.0) + 1.0) / 4.0
    consistent: Float64 = np.where(nearby > 2.25 * predicted + 0.1, 0.0, 1.0)
    return consistent


def _at_level(sigma2_0: Float64, level: int) -> Float64:
    """A full-resolution squared blur as seen at pyramid ``level``, in its pixels².

    Each level's binomial kernel adds 1 px² of its input before halving.
    """
    result: Float64 = (sigma2_0 + (4.0**level - 1.0) / 3.0) / 4.0**level
    return result


def _to_level0(sigma2: Float64, level: int) -> Float64:
    """A squared blur in pyramid ``level``'s pixels², at full resolution (inverse of _at_level)."""
    result: Float64 = 4.0**level * sigma2 - (4.0**level - 1.0) / 3.0
    return result


def _shares(sigma2_0: Float64, coarsest: int, weak: bool) -> list[Float64]:
    """How much each level up to ``coarsest`` speaks for an edge of squared blur ``sigma2_0``.

    ``sigma2_0`` is in full-resolution px². A level speaks for the blurs it
    resolves (``_rise``; level 0 for every blur) until the next coarser level
    resolves them too; the coarsest level pooled speaks for every blur above.
    When that level is ``weak`` (fewer than ``_STRONG_SUPPORT`` edge pixels
    of its own), the level below it keeps speaking for those blurs as well:
    a few edges must not decide the blurriest edges alone.
    """
    rises = [np.ones_like(sigma2_0)]
    rises += [_rise(_at_level(sigma2_0, level)) for level in range(1, coarsest + 1)]
    shares = []
    for level in range(coarsest + 1):
        share = rises[level]
        if level < coarsest and not (weak and level == coarsest - 1):
            share = share * (1.0 - rises[level + 1])
        shares.append(share)
    return shares


def _pool(measured: dict[int, BlurPoints]) -> _Pooled:
    """Each level's edge pixels, with how much that level speaks for each.

    A level speaks for an edge whose blur it resolves (at least about 0.7 of
    its pixels, fully from 1) and that the next coarser level does not
    resolve yet (:func:`_shares`), with linear hand-over. The coarsest level
    with enough edges of its own speaks for every blur above, and when it
    has few (under ``_STRONG_SUPPORT``), so does the level below it. Each
    edge pixel's share is divided by the total share of its blur over the
    levels pooled, so that every blur counts once. A fine edge pixel that the
    next coarser level sees clearly blurrier has no say (:func:`_coarse_view`).
    Each pixel of level ``l`` stands for ``2**l`` full-resolution pixels of
    edge.
    """
    # A level with too few edges of its own hands nothing on: the finer levels
    # then speak for the blurs it would have resolved.
    supported = [
        level for level, points in measured.items() if _support(points, level) >= MIN_SUPPORT
    ]
    # Shares can leave the coarsest such level with too little to say: then
    # the next finer one speaks for everything above it.
    for coarsest in sorted(supported, reverse=True):
        pooled = _pool_from(measured, coarsest)
        if float(np.sum(pooled.support)) >= MIN_SUPPORT:
            return pooled
    return _pool_from(measured, 0)


def _pool_from(measured: dict[int, BlurPoints], coarsest: int) -> _Pooled:
    """:func:`_pool` with the hand-off stopping at level ``coarsest``."""
    parts: list[tuple[Float64, ...]] = []
    weak = coarsest not in measured or _support(measured[coarsest], coarsest) < _STRONG_SUPPORT
    for level, points in measured.items():
        if level > coarsest:
            continue
        sigma2 = _to_level0(points.sigma2, level)
        shares = _shares(sigma2, coarsest, weak)
        share = shares[level] / sum(shares, np.zeros_like(sigma2))
        if level + 1 in measured:
            share = share * _coarse_view(points, measured[level + 1])
        scale = 2.0**level
        parts.append(
            (
                points.y * scale,
                points.x * scale,
                np.sqrt(np.maximum(sigma2, 0.0)),
                points.weight * share * scale,
                points.isolation * share * scale,
            )
        )
    if not parts:
        empty = np.zeros(0)
        return _Pooled(empty, empty, empty, empty, empty)
    y, x, sigma, weight, support = (np.concatenate(column) for column in zip(*parts, strict=True))
    keep = np.flatnonzero(weight > 0)
    return _Pooled(*(column.take(keep) for column in (y, x, sigma, weight, support)))


def _support(points: BlurPoints, level: int) -> float:
    """A level's edge pixels counted by isolation, in full-resolution pixels of edge."""
    return float(np.sum(points.isolation)) * 2.0**level


def _finer_say(points: BlurPoints) -> Float64:
    """For each edge pixel of a level, the most the next finer level could say about its blur.

    The finer level speaks for a blur until this level resolves it
    (:func:`_shares`).
    """
    say: Float64 = 1.0 - _rise(points.sigma2)
    return say


def estimate_blur(gray: npt.NDArray[Any], noise: float | None = None) -> BlurEstimate:
    """The blur, in pixels, of a checked 2-D gray image on the 8-bit scale.

    See :func:`edgegrad.edge_blur`. ``noise`` (DN) replaces the estimate.
    The pyramid levels are measured coarse to fine; a level too large to
    measure whole is measured on the blocks where the level above found the
    most edge contrast. Once a level has plenty of edges of its own
    (``_STRONG_SUPPORT``) and the finer levels could speak (:func:`_finer_say`) for
    under ``_FINER_SHARE`` of them, the finer levels are not measured: every
    blur there is measured well where it is.
    """
    pyramid = _Pyramid(gray)
    sigma_n = _noise_level(pyramid) if noise is None else max(noise, _QUANTIZATION_NOISE)
    measured: dict[int, BlurPoints] = {}
    guide: BlurPoints | None = None
    for level in range(_start_level(pyramid), -1, -1):
        if _large(pyramid.shape(level)):
            corners = _blocks(pyramid.shape(level), guide, 2.0)
            points = _measure_blocks(pyramid, sigma_n, level, corners)
        else:
            points = blur_points(
                pyramid.whole(level), sigma_n, level, rounded=pyramid.rounded(level)
            )
        if level == 0 and _blocky(gray):
            points = points.select(_off_jpeg_grid(points))
        measured[level] = points
        guide = points
        own = _support(points, level)
        finer = float(np.sum(points.isolation * _finer_say(points))) * 2.0**level
        if level > 0 and own >= _STRONG_SUPPORT and finer < _FINER_SHARE * own:
            pooled = _pool(measured)
            if float(np.sum(pooled.support)) >= MIN_SUPPORT:
                break
    else:
        pooled = _pool(measured)
    if float(np.sum(pooled.support)) < MIN_SUPPORT:
        return BlurEstimate(math.nan, sigma_n, pooled.sigma.size)
    return BlurEstimate(weighted_median(pooled.sigma, pooled.weight), sigma_n, pooled.sigma.size)


def _grouped_weighted_median(
    group: IntArray, values: Float64, weights: Float64, groups: int
) -> Float64:
    """The weighted median of ``values`` in each group (NaN for an empty group)."""
    result = np.full(groups, np.nan)
    if values.size == 0:
        return result
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    cumulative = np.cumsum(w)
    starts = np.searchsorted(g, np.arange(groups), side="left")
    ends = np.searchsorted(g, np.arange(groups), side="right")
    present = ends > starts
    before = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    half = before + (cumulative[np.maximum(ends - 1, 0)] - before) / 2.0
    index = np.searchsorted(cumulative, half, side="left")
    index = np.minimum(np.maximum(index, starts), np.maximum(ends - 1, 0))
    result[present] = v[index[present]]
    return result


def blur_tiles(
    gray: npt.NDArray[Any], rows: IntArray, cols: IntArray, grid: tuple[int, int]
) -> Float64:
    """Blur in pixels per tile; NaN where a tile has too few reliable edges.

    ``rows[y]`` and ``cols[x]`` give the tile of each image row and column
    (:func:`edgegrad.metrics.tile_labels`); ``grid`` is the tile grid's shape.
    Every level is measured whole, and each tile blends its own levels as
    :func:`estimate_blur` blends the image's.
    """
    pyramid = _Pyramid(gray)
    sigma_n = _noise_level(pyramid)
    tiles = grid[0] * grid[1]
    height, width = gray.shape
    measured = {
        level: blur_points(pyramid.whole(level), sigma_n, level, rounded=pyramid.rounded(level))
        for level in range(_start_level(pyramid), -1, -1)
    }
    if _blocky(gray):
        measured[0] = measured[0].select(_off_jpeg_grid(measured[0]))
    pooled = _pool(measured)
    y = np.clip(np.rint(pooled.y), 0, height - 1).astype(np.intp)
    x = np.clip(np.rint(pooled.x), 0, width - 1).astype(np.intp)
    tile = rows[y] * grid[1] + cols[x]
    support = np.bincount(tile, weights=pooled.support, minlength=tiles)
    result = _grouped_weighted_median(tile, pooled.sigma, pooled.weight, tiles)
    result[support < TILE_SUPPORT] = np.nan
    return result.reshape(grid)
