"""Focus measures: one number per image, or per tile, that says how sharp it is.

Every measure here follows the same dtype rule, written down once:

* Input is a 2-D gray image or a 3-D BGR / BGRA image in OpenCV channel order,
  of dtype uint8, uint16, float32 or float64. Anything else raises
  :class:`TypeError` (wrong type or dtype) or :class:`ValueError` (wrong shape,
  empty, NaN or infinity), and the message names the parameter ``image``.
* Colour input is scored on its luma, Rec. 601 weights
  ``Y = 0.299 R + 0.587 G + 0.114 B`` (alpha is dropped). uint8, uint16 and
  float32 images go through ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` (or
  ``COLOR_BGRA2GRAY``) in their own dtype, exactly as the usual OpenCV recipe
  does, so integer luma is rounded to integers. float64 images, which
  ``cvtColor`` does not accept, use the same weights in float64.
* The gray image is then put on the **8-bit-equivalent intensity scale** in
  float64: uint8 as is, uint16 divided by 257, float images (assumed to hold
  intensities in [0, 1]; magnitudes above 1e100 are refused so that no
  score can overflow) multiplied by 255. One unit of that scale is one
  8-bit digital number, written DN below. Bit depth therefore does not change
  a score, and thresholds tuned on 8-bit images keep their meaning.
* Filters use OpenCV's default border, ``BORDER_REFLECT_101``, and are computed
  in float64, so no response saturates or wraps around. There are three
  exceptions. The variance of the Laplacian of a uint8 gray image (or of the
  uint8 luma of a BGR one) is computed exactly in integers, as described in
  :func:`laplacian_variance`. The ``working_size`` resampling of
  :func:`blur_score` and the LAPV taken on its result work in float32 (float64
  for float64 input), with sums in float64, about 1e-7 relative from a
  float64 computation. :func:`edge_blur` works in float32 and, on uint8,
  rounds part of its pyramid (see there).

The measures are declared once, in :data:`METHODS`: each entry names the
function, its direction (higher is sharper, or blurrier), units, range and
reference, and the scorers behind :func:`blur_score` and :func:`sharpness_map`.

:func:`blur_score` picks a measure by name and can crop a region of interest
and resample to a fixed working size first; :func:`sharpness_map` gives one
score per tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType
from typing import Any, Final, overload

import cv2
import numpy as np
from numpy.typing import NDArray

from edgegrad import edges
from edgegrad._pixels import EIGHT_BIT_SCALE, to_gray
from edgegrad._validate import (
    check_choice,
    check_fraction,
    check_image,
    check_int,
    check_optional_int,
    check_real,
)
from edgegrad.kernels import laplacian_kernel

__all__ = [
    "FAITHFUL_WORKING_FRACTION",
    "METHODS",
    "MIN_TILE",
    "SHARPER_IS_HIGHER",
    "FocusMeasure",
    "blur_effect",
    "blur_score",
    "edge_blur",
    "laplacian_variance",
    "luma",
    "modified_laplacian",
    "normalized_variance",
    "sharpness_map",
    "tenengrad",
    "tile_labels",
]

FloatImage = NDArray[np.float64]

# Second difference of Nayar & Nakagawa's modified Laplacian, as a 1x3 row.
_SECOND_DIFFERENCE: Final = np.array([[-1.0, 2.0, -1.0]])
# Total blur, as a Gaussian standard deviation in working-size pixels, that
# ``working_size`` resampling gives every image (see blur_score, Notes).
_WORKING_SIGMA: Final = 0.7
# Variances, in source pixels squared, of a source pixel's own area
# integration (a box one pixel wide) and of linear interpolation (a tent).
_PIXEL_BOX_VARIANCE: Final = 1.0 / 12.0
_LINEAR_TENT_VARIANCE: Final = 1.0 / 6.0
# Largest magnitude accepted in a float image. Scaled by 255 and by the largest
# kernel (a 31x31 Laplacian, L1 norm below 1e17), then squared and summed over
# any image, it stays far below the float64 maximum, so no score can overflow.
_MAX_FLOAT_VALUE: Final = 1e100
_LAPLACIAN_KSIZES: Final = frozenset(range(1, 32, 2))
# Apertures whose Laplacian of a uint8 image fits in int16: the largest response
# is 255 times the sum of the kernel's positive weights (half its L1 norm, as
# the weights sum to 0), 1020 for ksize 1, 2040 for 3, 14280 for 5, 153000 for 7.
_LAPLACIAN_INT16_KSIZES: Final = frozenset(
    k
    for k in (1, 3, 5, 7)
    if 255 * float(np.abs(laplacian_kernel(k)).sum()) / 2 <= np.iinfo(np.int16).max
)
_SOBEL_KSIZES: Final = frozenset({1, 3, 5, 7})
MIN_TILE: Final = 4
"""Smallest tile side, in pixels, that :func:`sharpness_map` takes."""

FAITHFUL_WORKING_FRACTION: Final = 0.4
"""Largest ``working_size`` / image pixels for which working-size scores hold.

At most 40 % of the pixels (a scale of at most 0.63 per axis), the pre-filter
spans more than a source pixel and the score no longer depends on the source
resolution (see :func:`blur_score`, Notes). A reader may therefore shrink an
image cheaply, for example by decoding a JPEG at reduced scale, as long as it
keeps ``working_size / FAITHFUL_WORKING_FRACTION`` pixels."""


def laplacian_variance(image: NDArray[Any], *, ksize: int = 1) -> float:
    """Variance of the Laplacian (LAPV); higher means sharper.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64, at least
        ``max(3, ksize)`` pixels along each axis. See the module docstring for
        the dtype rule.
    ksize : int, optional
        Aperture of ``cv2.Laplacian``, odd, from 1 to 31. The default 1 is the
        3x3 kernel drawn below, which is what the usual recipe uses.

    Returns
    -------
    float
        Population variance of the Laplacian response, in DN² on the
        8-bit-equivalent scale, in [0, inf). Higher means sharper. 0.0 for a
        constant image.

    Raises
    ------
    TypeError, ValueError
        For an image outside the dtype rule of the module, or too small; for
        a ``ksize`` that is not an integer (TypeError) or not odd from 1 to
        31 (ValueError).

    Notes
    -----
    With ``ksize=1`` the kernel is ::

        0   1   0
        1  -4   1
        0   1   0

    On a uint8 gray image the result equals
    ``cv2.Laplacian(gray, cv2.CV_64F).var()`` to rounding, so thresholds
    quoted for that recipe (often around 100) keep their meaning; they do not
    transfer to other ``ksize`` values, whose kernels have larger weights. A
    BGR uint8 image scores the same as ``cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)``.

    For uint8 gray (or the uint8 luma of BGR) with ``ksize`` 1, 3 or 5, the
    Laplacian fits in int16 and is taken with ``cv2.Laplacian(gray,
    cv2.CV_16S)``; OpenCV's reductions then give its sum ``S`` and sum of
    squares ``Q``, rounded to the whole numbers they are, and the variance
    ``(N*Q - S**2) / N**2`` is formed in Python integers and rounded once.
    While ``Q`` is below about 1e15 (at ksize 1 that is every image under
    900 megapixels; at ksize 5 a worst-case pattern gets there near 100
    megapixels) the sums are exact and the result is the correctly rounded
    variance, where NumPy's two-pass ``var`` may be a few units off in the
    last place; above, it may be off by a unit in the last place. It is
    several times faster than the ``CV_64F`` recipe, with a fraction of the
    memory (``python benchmarks/bench_lapv.py`` times both).

    References
    ----------
    .. [1] J. L. Pech-Pacheco, G. Cristóbal, J. Chamorro-Martínez and
       J. Fernández-Valdivia, "Diatom autofocusing in brightfield microscopy:
       a comparative study", Proc. 15th ICPR, vol. 3, pp. 314-317, 2000.
       https://doi.org/10.1109/ICPR.2000.903548

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> dot = np.zeros((5, 5), np.uint8)
    >>> dot[2, 2] = 255
    >>> laplacian_variance(dot)
    52020.0
    >>> laplacian_variance(dot) == float(cv2.Laplacian(dot, cv2.CV_64F).var())
    True
    >>> laplacian_variance(dot.astype(np.uint16) * 257)
    52020.0
    """
    ksize = check_int(
        ksize, "ksize", allowed=_LAPLACIAN_KSIZES, words="an odd integer from 1 to 31"
    )
    gray = _gray(check_image(image))
    _require_size(gray.shape, max(3, ksize), "image is", "laplacian_variance")
    return _lapv(_eight_bit(gray), ksize)


def tenengrad(image: NDArray[Any], *, ksize: int = 3) -> float:
    """Tenengrad (TENG), the mean squared Sobel gradient magnitude; higher means sharper.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64, at least
        ``max(3, ksize)`` pixels along each axis.
    ksize : int, optional
        Sobel aperture: 1, 3, 5 or 7.

    Returns
    -------
    float
        Mean of ``gx**2 + gy**2`` over the image, in DN² on the 8-bit-equivalent
        scale with OpenCV's raw Sobel weights (a ramp rising 1 DN per pixel
        gives ``gx = 8`` with ``ksize=3``), in [0, inf). Higher means sharper.
        0.0 for a constant image.

    Raises
    ------
    TypeError, ValueError
        As :func:`laplacian_variance` does, with ``ksize`` one of 1, 3, 5, 7.

    Notes
    -----
    ``gx = cv2.Sobel(gray, CV_64F, 1, 0)`` and ``gy = cv2.Sobel(gray, CV_64F, 0, 1)``;
    both are used, so edges of every orientation count alike. With ``ksize=3``
    the x kernel is ::

        -1   0   1
        -2   0   2
        -1   0   1

    This is the unthresholded form compared by Pertuz et al. [3]_; Krotkov's
    form sums only the values above a threshold.

    References
    ----------
    .. [1] J. M. Tenenbaum, "Accommodation in computer vision", PhD thesis,
       Stanford University, 1970.
    .. [2] E. Krotkov, "Focusing", International Journal of Computer Vision
       1(3), pp. 223-237, 1988. https://doi.org/10.1007/BF00127822
    .. [3] S. Pertuz, D. Puig and M. A. Garcia, "Analysis of focus measure
       operators for shape-from-focus", Pattern Recognition 46(5),
       pp. 1415-1432, 2013. https://doi.org/10.1016/j.patcog.2012.11.011

    Examples
    --------
    A horizontal edge (intensity changes along y only) scores as much as the
    same edge turned upright:

    >>> import numpy as np
    >>> edge = np.zeros((6, 6), np.uint8)
    >>> edge[3:] = 255
    >>> tenengrad(edge)
    346800.0
    >>> tenengrad(edge) == tenengrad(edge.T)
    True
    """
    ksize = check_int(ksize, "ksize", allowed=_SOBEL_KSIZES)
    gray = luma(image)
    _require_size(gray.shape, max(3, ksize), "image is", "tenengrad")
    return _teng(gray, ksize)


def modified_laplacian(image: NDArray[Any]) -> float:
    """Modified Laplacian (LAPM), the mean of ``|Lxx| + |Lyy|``; higher means sharper.

    Parameters
    ----------
    image : ndarray
        An image under the dtype rule of the module, 3x3 or larger.

    Returns
    -------
    float
        Mean over the image of ``|Lxx| + |Lyy|``, in DN on the 8-bit-equivalent
        scale, in [0, inf). Higher means sharper. 0.0 for a constant image.

    Raises
    ------
    TypeError, ValueError
        For an image outside the dtype rule of the module, or too small.

    Notes
    -----
    ``Lxx`` and ``Lyy`` are second differences along x and y with the kernel
    ``[-1, 2, -1]`` (a row for x, a column for y), computed signed in float64;
    the absolute values are taken afterwards, so a rising and a falling edge
    count alike. Taking them apart, rather than adding the two second
    derivatives as the Laplacian does, keeps a saddle from cancelling itself.

    References
    ----------
    .. [1] S. K. Nayar and Y. Nakagawa, "Shape from focus", IEEE Transactions
       on Pattern Analysis and Machine Intelligence 16(8), pp. 824-831, 1994.
       https://doi.org/10.1109/34.308479

    Examples
    --------
    >>> import numpy as np
    >>> edge = np.zeros((4, 6), np.uint8)
    >>> edge[:, 3:] = 255
    >>> modified_laplacian(edge)
    85.0
    >>> modified_laplacian(255 - edge) == modified_laplacian(edge)  # falling edges count alike
    True
    """
    return _score_whole(image, "lapm")


def normalized_variance(image: NDArray[Any]) -> float:
    """Normalized gray-level variance (GLVN), variance over mean; higher means sharper.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64, at least 3x3,
        with no negative intensity.

    Returns
    -------
    float
        ``var(gray) / mean(gray)`` in DN on the 8-bit-equivalent scale, in
        [0, inf). Higher means sharper. A constant image, the all-black one
        included, scores 0.0 (its variance is 0, whatever its mean).

    Raises
    ------
    TypeError, ValueError
        For an image outside the dtype rule of the module, or too small; and
        ValueError for a negative intensity (possible only in a float image),
        since the mean would no longer be a brightness to normalise by.

    Notes
    -----
    Dividing by the mean makes the score insensitive to the overall
    brightness of the scene, which in autofocus changes with exposure rather
    than with focus. A non-constant image without negative values always has
    a positive mean, so the division is always defined.

    References
    ----------
    .. [1] F. C. A. Groen, I. T. Young and G. Ligthart, "A comparison of
       different focus functions for use in autofocus algorithms", Cytometry
       6(2), pp. 81-91, 1985. https://doi.org/10.1002/cyto.990060202
    .. [2] A. Santos, C. Ortiz de Solórzano, J. J. Vaquero, J. M. Peña,
       N. Malpica and F. del Pozo, "Evaluation of autofocus functions in
       molecular cytogenetic analysis", Journal of Microscopy 188(3),
       pp. 264-272, 1997.

    Examples
    --------
    >>> import numpy as np
    >>> checker = (np.indices((4, 4)).sum(axis=0) % 2 * 255).astype(np.uint8)
    >>> normalized_variance(checker)
    127.5
    >>> normalized_variance(np.zeros((4, 4), np.uint8))
    0.0
    """
    return _score_whole(image, "glvn")


def blur_effect(image: NDArray[Any]) -> float:
    """Crete-Roffet blur effect; higher means **blurrier**.

    Parameters
    ----------
    image : ndarray
        Gray or colour, of any supported dtype; 4x4 at the least (scikit-image
        trims two pixels from each border).

    Returns
    -------
    float
        Perceptual blur in [0, 1], without unit: 0 is sharp, 1 is as blurred
        as the measure can tell. A constant image scores 1.0.

    Raises
    ------
    TypeError, ValueError
        As :func:`modified_laplacian` does, below 4x4.

    Notes
    -----
    This wraps :func:`skimage.measure.blur_effect` with its defaults
    (re-blurring filter of 11 pixels, the larger of the x and y values),
    applied to the gray image of the dtype rule; the measure is a ratio, so
    the intensity scale does not change it. The image is re-blurred and the
    measure is how little the neighbour differences drop: a blurred image
    loses little more when blurred again.

    scikit-image is imported here, on first use, so that importing edgegrad
    stays fast. A flat image has no variation to lose; scikit-image gives 1.0
    for it, and this function returns that value without calling it, so that
    rounding in a float image cannot change it. scikit-image trims two
    pixels from the borders, hence the 4x4 minimum.

    References
    ----------
    .. [1] F. Crete, T. Dolmiere, P. Ladret and M. Nicolas, "The blur effect:
       perception and estimation with a new no-reference perceptual blur
       metric", Proc. SPIE 6492, Human Vision and Electronic Imaging XII,
       64920I, 2007. https://doi.org/10.1117/12.702790

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> sharp = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    >>> blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    >>> blur_effect(sharp) < blur_effect(blurred)
    True
    >>> blur_effect(np.full((8, 8), 128, np.uint8))
    1.0
    """
    return _score_whole(image, "blur-effect")


def edge_blur(image: NDArray[Any], *, noise: float | None = None) -> float:
    """Blur in pixels, the σ of the Gaussian PSF that explains the edges; higher means **blurrier**.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64, at least
        16x16, under the dtype rule of the module.
    noise : float, optional
        The noise's standard deviation in DN (8-bit scale), if known;
        by default it is estimated from the image.

    Returns
    -------
    float
        The standard deviation, in pixels, of the Gaussian point-spread
        function that best explains the image's reliable edges, in
        [0, inf). Higher means blurrier. It is the total blur as sampled at
        pixel centres: a pixel's own area adds 1/12 px² to its square, so
        a perfectly focused camera whose pixels integrate their whole area
        reads about 0.29 px. With ``working_size`` it is in working pixels
        (and includes the resampling's own 0.7 px).

    Raises
    ------
    TypeError, ValueError
        For an image outside the dtype rule, or smaller than 16x16; and
        ValueError when the image has too few reliable edges to say (a flat
        image, pure noise, a scene without clear edges): no number is
        returned that would look trustworthy.

    Notes
    -----
    **Estimator.** The re-blur gradient ratio [1]_ [2]_ with the derivative's
    own scale taken out. A step of contrast ``A`` blurred by a Gaussian of
    scale ``s`` has, under a derivative-of-Gaussian of scale ``d``, a
    gradient peak ``A / sqrt(2 pi (s² + d²))``. At two scales ``d1 < d2``
    (1.2 px and sqrt(1.2² + 1²) px here) the peaks' ratio ``R`` gives ``s²
    = (d2² - d1²) / (R² - 1) - d1²``, whatever ``A``. The peaks are read
    between pixels from a parabola through the log-magnitude across the
    edge, which a Gaussian edge makes exact at any angle: an ideal step
    blurred by σ from 0.5 to 6 px comes back within 1.5 % (the tests hold 5 %).

    **Reliable edges.** Non-maximum suppressed pixels whose gradient is at
    least 6 times the noise's, whose log-profile has the curvature the ratio
    predicts, and whose gradient 2.5 scales to either side has fallen to the
    step's own tail: another edge nearby would bias the ratio. The noise is
    estimated once, from a low quantile of Immerkær's mask [3]_ at half
    resolution (where JPEG has left it), as white noise at full resolution.
    The answer is the median of the edges' blurs weighted by their contrast
    and isolation.

    **Scale.** The levels of a Gaussian pyramid [4]_ are measured, and each
    edge is taken from the coarsest level that still resolves its blur
    (about a pixel of that level), converted back exactly (the pyramid's
    binomial kernel adds 1 pixel² per level): every blur is measured at the
    same relative scale and with the noise averaged away. An edge counts at a
    level only while noise would shrink its scale by under 5 %, Elder and
    Zucker's minimum reliable scale [5]_. Levels hand over linearly, so the
    estimate is continuous in the blur; where the coarsest level has few
    edges of its own, the level below it speaks for the blurriest edges
    too. Large levels are measured on the blocks with the most edge
    contrast of the level above, and levels finer than one that leaves them
    almost nothing to say are skipped (``python
    benchmarks/bench_blur_measures.py`` times it against
    ``laplacian_variance``). Above a uint8 image, the pyramid's levels
    from 2 up are built from level 1 rounded to whole DN (8-bit
    ``pyrDown``, the fastest), and the noise that rounding adds is carried
    to them; level 1 itself is exact where it is measured. Other dtypes
    build every level exactly, so a uint8 image and its float version
    differ slightly: by under 0.06 % for nine in ten of 90 photos and
    charts, and by 0.64 % at worst.

    **When to use it.** Unlike LAPV, Tenengrad and the other measures here,
    the value does not depend on the scene's contrast or texture, nor on the
    noise, so one threshold ("blurry above 1.5 px") holds across scenes.
    LAPV stays the default for compatibility with the community's numbers.

    References
    ----------
    .. [1] S. Zhuo and T. Sim, "Defocus map estimation from a single image",
       Pattern Recognition 44(9), pp. 1852-1858, 2011.
       https://doi.org/10.1016/j.patcog.2011.03.009
    .. [2] H. Hu and G. de Haan, "Low cost robust blur estimator", Proc. IEEE
       ICIP 2006, pp. 617-620. https://doi.org/10.1109/ICIP.2006.312411
    .. [3] J. Immerkær, "Fast noise variance estimation", Computer Vision and
       Image Understanding 64(2), pp. 300-302, 1996.
       https://doi.org/10.1006/cviu.1996.0060
    .. [4] P. J. Burt and E. H. Adelson, "The Laplacian pyramid as a compact
       image code", IEEE Trans. Communications 31(4), pp. 532-540, 1983.
       https://doi.org/10.1109/TCOM.1983.1095851
    .. [5] J. H. Elder and S. W. Zucker, "Local scale control for edge
       detection and blur estimation", IEEE TPAMI 20(7), pp. 699-716, 1998.
       https://doi.org/10.1109/34.689301

    Examples
    --------
    A step blurred by a Gaussian of 2 px, at 30°:

    >>> import numpy as np
    >>> from scipy.special import ndtr
    >>> y, x = np.mgrid[0:128, 0:128] - 63.5
    >>> step = 40 + 150 * ndtr((x * np.cos(np.pi / 6) - y * np.sin(np.pi / 6)) / 2.0)
    >>> round(edge_blur(step.astype(np.uint8)), 1)
    2.0
    >>> edge_blur(np.full((64, 64), 128, np.uint8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image has too few reliable edges for edge-blur (a constant image): ...
    """
    if noise is not None:
        noise = check_real(noise, "noise")
        if noise < 0:
            raise ValueError(f"noise must be >= 0 DN; got {noise!r}")
    gray = _eight_bit(_gray(check_image(image)))
    _require_size(gray.shape, METHODS["edge-blur"].min_side, "image is", "edge_blur")
    return _edge_blur(gray, noise)


def blur_score(
    image: NDArray[Any],
    method: str = "lapv",
    *,
    roi: Sequence[int] | None = None,
    center: float | None = None,
    working_size: int | None = None,
) -> float:
    """Score the focus of an image, or of a region of it, with a named measure.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64.
    method : str, optional
        A name in :data:`METHODS` (default ``"lapv"``), which gives the
        function behind each name and its direction. Defaults are used for
        each function's options.
    roi : sequence of 4 int, optional
        ``(x, y, w, h)`` in pixels: score only ``image[y:y + h, x:x + w]``.
        The region must lie inside the image and have a positive size.
    center : float, optional
        A fraction in (0, 1]: score only the centred region of
        ``round(center * width)`` by ``round(center * height)`` pixels (at
        least 1), whose top-left corner is ``((width - w) // 2,
        (height - h) // 2)``. Give ``roi`` or ``center``, not both.
    working_size : int, optional
        Resample the (cropped) image to about this many pixels before scoring,
        keeping its aspect ratio, so that one scene scores alike whatever the
        camera's resolution. Images with fewer pixels are never upscaled. See
        Notes. Scores made with a working size are comparable with each other
        but not with scores made without one, which are not blurred first.

    Returns
    -------
    float
        The score, in the units of the chosen measure.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``method`` is unknown, ``roi`` or ``center`` is out of range, both
        are given, ``working_size`` is not positive, or the image, the region
        or the resampled image is too small for the measure (3x3, or 4x4 for
        ``"blur-effect"``); the message names the parameter at fault.

    Notes
    -----
    The order is: gray conversion, crop, resample, score.

    **How working_size resamples.** A camera pixel integrates the scene over
    its own area, so the same scene reaches a 12 MP sensor with far more fine
    detail (and a 0.75 MP one with more aliasing) than reaches the other.
    Focus measures weigh the highest frequencies most, and plain area
    averaging (``cv2.INTER_AREA``) to a fixed size leaves each source's
    pixel footprint, the averaging box and their aliasing in the result: the
    same scene then gets LAPV scores about 1.4 to 1.8 times apart across
    0.75-12 MP.

    Instead, the image is blurred so that its total blur, in *working*
    pixels, is the same Gaussian of standard deviation
    ``sigma_t = 0.7`` whatever the source resolution, then sampled onto the
    working grid. With ``r`` the working-to-source scale along an axis
    (``r <= 1``), the variances add up in working pixels squared::

        sigma_t**2 = r**2 * (1/12 + s**2 + 1/6)

    where ``1/12`` is the source pixel's own area integration (a box one
    pixel wide), ``s`` the Gaussian pre-filter (out to 4 ``s``, in
    source pixels) and ``1/6`` the variance of the linear interpolation
    (``cv2.INTER_LINEAR``) that samples the working grid, a tent one pixel
    wide on each side, averaged over the sub-pixel phases that a non-integer
    scale sweeps through. So ``s**2 = (sigma_t / r)**2 - 1/4``. In the
    frequency domain the result's transfer function is the same Gaussian
    ``exp(-2 pi**2 sigma_t**2 f**2)`` (f in cycles per working pixel) for
    every source: the box's sinc and the tent's sinc² differ from their
    Gaussian stand-ins only in fourth-order terms, under 0.1 % at 0.25 cycles
    per working pixel (about where LAPV draws most of its value) when
    ``r <= 0.63``. At the working Nyquist frequency the Gaussian passes 9 %
    of the amplitude, so what aliases on the working grid is small and, the
    continuous image being the same, is the same for every source. The score
    then depends on the scene and not on the source resolution.

    A constant region is not resampled, since it would stay constant up to
    rounding, so it keeps its exact documented score. Along an axis that keeps
    its size no interpolation happens and ``s**2 = sigma_t**2 - 1/12``; in
    particular an image with no more pixels than ``working_size`` is not
    resized but gets that same pre-filter, so that it is scored on the same
    footing as a larger one.

    Measured on procedurally rendered scenes (random-phase texture with a
    natural 1/f amplitude spectrum and exact pixel-area integration, or hard
    edged discs) captured at 0.75, 2, 5 and 12 MP, with
    ``working_size=300_000`` the largest score over the smallest stays below
    1.01 for every method, where resampling with ``cv2.INTER_AREA`` alone
    gives about 1.5 (lapv), 1.12 (teng), 1.2 (lapm), 1.06 (glvn) and 1.04
    (blur-effect). The bound is meant to hold while ``r <= 0.63``, that is
    when the working size is at most 40 % of the image's pixel count; nearer
    1 the pre-filter is narrower than a pixel and the source's own aliasing
    shows. The model is a sensor whose pixels integrate over their full area.
    Images that a camera has already sharpened or resampled differ beyond it,
    and so does noise that differs per pixel between the captures.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, (60, 80), dtype=np.uint8)
    >>> blur_score(img) == laplacian_variance(img)
    True
    >>> blur_score(img, "teng", roi=(10, 5, 20, 30)) == tenengrad(img[5:35, 10:30])
    True
    >>> blur_score(img, center=0.5) == laplacian_variance(img[15:45, 20:60])
    True
    >>> blur_score(img, working_size=1200) < blur_score(img)
    True
    """
    measure = _measure(method)
    if roi is not None and center is not None:
        raise ValueError("roi and center both select a region; give one of them, not both")
    working_size = check_optional_int(working_size, "working_size", minimum=1)
    # Crop first: only the region is converted to gray and float64.
    image = check_image(image)
    minimum = measure.min_side
    _require_size(image.shape[:2], minimum, "image is", method)
    if roi is not None:
        x, y, w, h = _check_roi(roi, image.shape[:2])
        image = image[y : y + h, x : x + w]
        _require_size(image.shape[:2], minimum, f"roi={(x, y, w, h)!r} selects", method)
    elif center is not None:
        image = _center_crop(image, check_fraction(center, "center"))
        _require_size(image.shape[:2], minimum, f"center={center!r} selects", method)
    gray = _gray(image)
    if working_size is not None:
        shape = _working_shape(gray.shape, working_size)
        _require_size(shape, minimum, f"working_size={working_size!r} gives", method)
        if not _is_flat(gray):
            return measure.scorer(_resample(gray, shape))
    return measure.scorer(_eight_bit(gray))


def sharpness_map(image: NDArray[Any], *, tile: int = 64, method: str = "lapv") -> FloatImage:
    """One focus score per tile, to show where an image is sharp.

    Parameters
    ----------
    image : ndarray
        Gray or BGR(A) image, uint8, uint16, float32 or float64, at least 3x3
        (4x4 for ``"blur-effect"``).
    tile : int, optional
        Tile side in pixels, at least 4.
    method : str, optional
        A name in :data:`METHODS` (default ``"lapv"``), with its default options.

    Returns
    -------
    ndarray of float64
        Shape ``(max(1, height // tile), max(1, width // tile))``. Element
        ``[i, j]`` scores rows ``i * tile`` to ``(i + 1) * tile`` and columns
        ``j * tile`` to ``(j + 1) * tile``, except that the last row and the
        last column of tiles run to the image edge (see Notes). Units and
        direction are those of the measure.

    Raises
    ------
    TypeError
        If ``image`` or ``tile`` has the wrong type.
    ValueError
        If ``method`` is unknown, ``tile`` is below 4, or ``image`` is
        invalid or too small.

    Notes
    -----
    **Partial tiles.** Rather than leave a sliver of a few pixels at the right
    and bottom edges as tiles of their own, whose scores would rest on too few
    pixels, the last tile of each row and column absorbs the remainder: every
    pixel is covered and every tile is between ``tile`` and
    ``2 * tile - 1`` pixels wide (or is the whole image if it is smaller
    than ``tile``).

    For ``"lapv"``, ``"teng"`` and ``"lapm"`` the filter runs once over the
    whole image and the per-tile statistics come from vectorised sums
    (``numpy.add.reduceat``), with no loop over tiles. A tile's pixels on its
    boundary therefore see their neighbours across it, as they do in the
    image; a tile scores as it would alone except in that one-pixel band.
    ``"glvn"`` uses only the tile's own pixels and equals
    :func:`normalized_variance` of the tile. ``"blur-effect"`` calls
    scikit-image on each tile in turn and is much slower. A constant image
    gives all zeros (all ones for ``"blur-effect"``).

    Examples
    --------
    >>> import numpy as np

    A bright stripe in the left half of a 100x130 image; the tiles are 64
    wide, so the second one takes the remaining 66 columns:

    >>> img = np.zeros((100, 130), np.uint8)
    >>> img[:, 30:35] = 255
    >>> sharpness_map(img, tile=64)
    array([[4064.0625,    0.    ]])
    """
    measure = _measure(method)
    tile = check_int(tile, "tile", minimum=MIN_TILE, words=f"at least {MIN_TILE} pixels")
    gray = luma(image)
    _require_size(gray.shape, measure.min_side, "image is", method)
    tiles = _Tiles(gray.shape, tile)
    if _is_flat(gray):
        return np.full(tiles.grid, measure.flat_score, dtype=np.float64)
    return measure.tile_scorer(tiles, gray)


def tile_labels(shape: tuple[int, ...], tile: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Which :func:`sharpness_map` tile each row and each column of an image falls in.

    Parameters
    ----------
    shape : tuple of int
        The image's shape; its first two entries are the height and width.
    tile : int
        The tile side given to :func:`sharpness_map`, at least 4.

    Returns
    -------
    rows, cols : ndarray of intp
        ``rows[y]`` is the tile row of image row ``y`` and ``cols[x]`` the tile
        column of image column ``x``: the last tile of each runs to the edge.

    Examples
    --------
    >>> rows, cols = tile_labels((10, 9), 4)
    >>> rows.tolist(), cols.tolist()
    ([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    tile = check_int(tile, "tile", minimum=MIN_TILE, words=f"at least {MIN_TILE} pixels")
    tiles = _Tiles(shape, tile)
    rows = np.repeat(np.arange(tiles.rows.size), tiles.row_sizes)
    cols = np.repeat(np.arange(tiles.cols.size), tiles.col_sizes)
    return rows, cols


# --- input checks -------------------------------------------------------------


def luma(image: NDArray[Any]) -> FloatImage:
    """Return the gray image every score sees: float64 luma on the 8-bit scale.

    Colour (BGR or BGRA) becomes Rec. 601 luma as :func:`cv2.cvtColor` computes
    it; uint16 is divided by 257 and float input (read as [0, 1]) multiplied by
    255, so one scene gives the same values at every bit depth.

    Examples
    --------
    >>> luma(np.array([[0, 65535]], np.uint16)).tolist()
    [[0.0, 255.0]]
    """
    return _scaled(_gray(check_image(image)))


def _score_whole(image: NDArray[Any], method: str) -> float:
    """A registered measure with its default options on the whole of ``image``."""
    measure = METHODS[method]
    gray = luma(image)
    _require_size(gray.shape, measure.min_side, "image is", measure.function.__name__)
    return measure.scorer(gray)


def _gray(image: NDArray[Any]) -> NDArray[Any]:
    """The gray version of a checked image in its own dtype (not rescaled)."""
    if image.dtype.kind == "f":
        peak = float(np.abs(image).max())
        if peak > _MAX_FLOAT_VALUE:
            raise ValueError(
                f"image holds values of magnitude up to {peak:g}; float images are read "
                f"as intensities in [0, 1], and magnitudes above {_MAX_FLOAT_VALUE:g} "
                "would overflow the scores"
            )
    return to_gray(image)


def _eight_bit(gray: NDArray[Any]) -> NDArray[Any]:
    """A gray image on the 8-bit scale with the least work: uint8 as it is, else float64."""
    return gray if gray.dtype == np.uint8 else _scaled(gray)


def _scaled(gray: NDArray[Any]) -> FloatImage:
    """A gray image of any accepted dtype as float64 on the 8-bit-equivalent scale."""
    scale = EIGHT_BIT_SCALE[gray.dtype]
    result: FloatImage = gray.astype(np.float64)
    if scale != 1.0:
        result *= scale
    return result


def _measure(method: object) -> FocusMeasure:
    """The registry entry of a method name, or a ValueError listing the names.

    The name of a measure's function (``"tenengrad"``) is not a method name;
    the error then says which is (``"teng"``).
    """
    by_function = {m.function.__name__: m.name for m in METHODS.values()}
    if isinstance(method, str) and method in by_function:
        raise ValueError(
            f"method must be one of {', '.join(repr(m) for m in METHODS)}; got {method!r}, "
            f"the name of the function edgegrad.{method}, whose method is "
            f"{by_function[method]!r}"
        )
    return METHODS[check_choice(method, "method", tuple(METHODS))]


def _check_roi(roi: object, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    height, width = shape
    if isinstance(roi, (str, bytes)) or not isinstance(roi, (Sequence, np.ndarray)):
        raise TypeError(
            "roi must be a sequence (x, y, w, h) of pixel integers; for a centred "
            f"fraction use center=; got {type(roi).__name__}"
        )
    if len(roi) != 4 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in roi
    ):
        raise TypeError(f"roi must be 4 integers (x, y, w, h); got {roi!r}")
    x, y, w, h = (int(v) for v in roi)
    if w < 1 or h < 1:
        raise ValueError(f"roi width and height must be positive; got roi={(x, y, w, h)!r}")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ValueError(
            f"the region roi={x},{y},{w},{h} (x, y, width, height) reaches beyond the "
            f"{width}x{height} image"
        )
    return x, y, w, h


def _check_non_negative(gray: FloatImage) -> None:
    lowest = float(gray.min())
    if lowest < 0.0:
        raise ValueError(
            "image holds negative intensities, so normalized_variance has no mean brightness "
            f"to divide by; got a minimum of {lowest / 255.0:g} (float images are read as [0, 1])"
        )


def _require_size(shape: tuple[int, ...], minimum: int, subject: str, what: str) -> None:
    height, width = shape
    if height < minimum or width < minimum:
        raise ValueError(
            f"{subject} {width}x{height} pixels (width x height); "
            f"{what} needs at least {minimum}x{minimum}"
        )


# --- crop and resample ------------------------------------------------------------


def _center_crop(image: NDArray[Any], fraction: float) -> NDArray[Any]:
    height, width = image.shape[:2]
    w = max(1, round(fraction * width))
    h = max(1, round(fraction * height))
    x = (width - w) // 2
    y = (height - h) // 2
    return image[y : y + h, x : x + w]


def _prefilter_sigma(ratio: float, *, resized: bool) -> float:
    """Gaussian sigma in source pixels that brings the total to ``_WORKING_SIGMA``."""
    variance = (_WORKING_SIGMA / ratio) ** 2 - _PIXEL_BOX_VARIANCE
    if resized:
        variance -= _LINEAR_TENT_VARIANCE
    return math.sqrt(variance)


def _working_shape(shape: tuple[int, ...], working_size: int) -> tuple[int, int]:
    """Height and width with about ``working_size`` pixels, never larger than ``shape``."""
    height, width = shape
    factor = min(1.0, math.sqrt(working_size / (height * width)))
    return (
        min(height, max(1, round(height * factor))),
        min(width, max(1, round(width * factor))),
    )


def _resample(gray: NDArray[Any], shape: tuple[int, int]) -> NDArray[np.floating[Any]]:
    """Blur to a fixed total blur in working pixels, then sample the working grid.

    ``gray`` is in its own dtype; the result is on the 8-bit scale, in float32
    (float64 for float64 input). The blur reads the integers directly, with
    the 8-bit scale folded into its kernel: several times faster than
    converting to float64 first (``benchmarks/README.md``), and float32's
    rounding (about 1e-5 DN at mid-grey) is far below anything a focus
    measure resolves.
    """
    height, width = gray.shape
    new_height, new_width = shape
    sigma_x = _prefilter_sigma(new_width / width, resized=new_width != width)
    sigma_y = _prefilter_sigma(new_height / height, resized=new_height != height)
    depth = cv2.CV_64F if gray.dtype == np.float64 else cv2.CV_32F
    blurred = cv2.sepFilter2D(
        gray,
        depth,
        _gaussian(sigma_x, depth) * EIGHT_BIT_SCALE[gray.dtype],
        _gaussian(sigma_y, depth),
        borderType=cv2.BORDER_REFLECT_101,
    )
    if shape != (height, width):
        blurred = cv2.resize(blurred, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(blurred)


def _gaussian(sigma: float, depth: int) -> NDArray[Any]:
    """A normalised 1-D Gaussian reaching out to 4 sigma, as a column."""
    return np.asarray(cv2.getGaussianKernel(2 * math.ceil(4 * sigma) + 1, sigma, depth))


# --- scores on a checked gray image on the 8-bit scale -----------------------------
#
# The scorers take uint8 (a native 8-bit image), float32 (a working-size image)
# or float64 (anything else); LAPV makes use of the dtype, the others work in
# float64.


def _is_flat(gray: NDArray[Any]) -> bool:
    """Whether a 2-D image is constant: one pass of ``cv2.minMaxLoc``, not two of NumPy."""
    lowest, highest, _, _ = cv2.minMaxLoc(gray)
    return bool(lowest == highest)


def _float64(array: object) -> FloatImage:
    """``array`` as float64: no copy for an OpenCV result computed with ``CV_64F``."""
    return np.asarray(array, dtype=np.float64)


def _laplacian(gray: FloatImage, ksize: int = 1) -> FloatImage:
    return _float64(cv2.Laplacian(gray, cv2.CV_64F, ksize=ksize))


def _sobel_pair(gray: FloatImage, ksize: int = 3) -> tuple[FloatImage, FloatImage]:
    gx = _float64(cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=ksize))
    gy = _float64(cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=ksize))
    return gx, gy


def _sobel_squared(gray: FloatImage, ksize: int = 3) -> FloatImage:
    gx, gy = _sobel_pair(gray, ksize)
    return gx * gx + gy * gy


def _abs_second_differences(gray: FloatImage) -> FloatImage:
    lxx = _float64(cv2.filter2D(gray, cv2.CV_64F, _SECOND_DIFFERENCE))
    lyy = _float64(cv2.filter2D(gray, cv2.CV_64F, _SECOND_DIFFERENCE.T))
    return np.abs(lxx) + np.abs(lyy)


def _lapv(gray: NDArray[Any], ksize: int = 1) -> float:
    """LAPV in the way the dtype allows.

    uint8, with a ksize whose Laplacian fits in int16: exactly, in integers
    (see :func:`laplacian_variance`). float32: a float32 Laplacian, its sum
    (``cv2.sumElems``) and sum of squares (``cv2.norm``), both accumulated in
    float64: several times faster than NumPy's two-pass ``var``, and up to
    twice as fast as ``cv2.meanStdDev``, whose speed varies most between
    OpenCV releases (``benchmarks/README.md``); the Laplacian's mean
    is near 0, so forming the variance from the sums loses nothing.
    Otherwise float64 and NumPy's ``var``, as the usual recipe computes it.
    """
    if gray.dtype == np.uint8 and ksize in _LAPLACIAN_INT16_KSIZES:
        response = cv2.Laplacian(gray, cv2.CV_16S, ksize=ksize)
        count = response.size
        # Whole numbers, but OpenCV may (with IPP) take the L2 norm and square
        # it, a few units in the last place off: round back to the integer.
        total = round(cv2.sumElems(response)[0])
        squares = round(cv2.norm(response, cv2.NORM_L2SQR))
        return (count * squares - total * total) / (count * count)
    if _is_flat(gray):
        return 0.0
    if gray.dtype == np.float32:
        response = cv2.Laplacian(gray, cv2.CV_32F, ksize=ksize)
        mean = cv2.sumElems(response)[0] / response.size
        return max(0.0, float(cv2.norm(response, cv2.NORM_L2SQR)) / response.size - mean * mean)
    return float(_laplacian(_float64(gray), ksize).var())


def _teng(gray: NDArray[Any], ksize: int = 3) -> float:
    if _is_flat(gray):
        return 0.0
    gx, gy = _sobel_pair(_float64(gray), ksize)
    # einsum's own loop, not BLAS (np.vdot): OpenBLAS sums in an order that
    # depends on its thread count, so the score would differ in its last
    # digits between a local pool and Dask workers (OPENBLAS_NUM_THREADS=1).
    return float(np.einsum("ij,ij->", gx, gx) + np.einsum("ij,ij->", gy, gy)) / gx.size


def _lapm(gray: NDArray[Any]) -> float:
    if _is_flat(gray):
        return 0.0
    return float(_abs_second_differences(_float64(gray)).mean())


def _glvn(gray: NDArray[Any]) -> float:
    if _is_flat(gray):
        return 0.0
    gray = _float64(gray)
    _check_non_negative(gray)
    return float(gray.var() / gray.mean())


def _blur_effect(gray: NDArray[Any]) -> float:
    if _is_flat(gray):
        return 1.0
    from skimage.measure import blur_effect as skimage_blur_effect

    crete: Callable[..., list[float]] = skimage_blur_effect
    # Before 0.25.1, scikit-image divides 0 by 0 along an axis whose interior
    # has no gradient; from 0.25.1 it answers 1.0 (as blurred as can be) there.
    # Answer that on every version.
    with np.errstate(divide="ignore", invalid="ignore"):
        per_axis = crete(_float64(gray), reduce_func=None)
    return max(float(b) if math.isfinite(b) else 1.0 for b in per_axis)


def _edge_blur(gray: NDArray[Any], noise: float | None = None) -> float:
    estimate = None if _is_flat(gray) else edges.estimate_blur(gray, noise)
    if estimate is None or math.isnan(estimate.sigma):
        found = (
            "a constant image" if estimate is None else f"estimated noise {estimate.noise:.2g} DN"
        )
        raise ValueError(
            "image has too few reliable edges for edge-blur (" + found + "): it needs "
            f"at least {edges.MIN_SUPPORT:g} isolated edge pixels well above the noise "
            "somewhere; a flat image, pure noise or a scene without clear edges has no "
            "blur to measure"
        )
    return estimate.sigma


# --- per-tile statistics ------------------------------------------------------------


class _Tiles:
    """Tile layout of an image: ``tile``-pixel tiles, the last of each row and column
    running to the edge (see :func:`sharpness_map`, Notes)."""

    def __init__(self, shape: tuple[int, ...], tile: int) -> None:
        height, width = shape[:2]
        self.rows = np.arange(max(1, height // tile)) * tile
        self.cols = np.arange(max(1, width // tile)) * tile
        self.row_sizes = np.diff(np.append(self.rows, height))
        self.col_sizes = np.diff(np.append(self.cols, width))
        self.counts = np.outer(self.row_sizes, self.col_sizes).astype(np.float64)

    @property
    def grid(self) -> tuple[int, int]:
        """Tiles down and across: the shape of :func:`sharpness_map`'s result."""
        return self.rows.size, self.cols.size

    def slices(self) -> list[list[tuple[slice, slice]]]:
        """Each tile's rows and columns, as slices, row by row."""
        row_ends = self.rows + self.row_sizes
        col_ends = self.cols + self.col_sizes
        return [
            [(slice(r0, r1), slice(c0, c1)) for c0, c1 in zip(self.cols, col_ends, strict=True)]
            for r0, r1 in zip(self.rows, row_ends, strict=True)
        ]

    def sums(self, values: FloatImage) -> FloatImage:
        by_rows = np.add.reduceat(values, self.rows, axis=0)
        sums: FloatImage = np.add.reduceat(by_rows, self.cols, axis=1)
        return sums

    def means(self, values: FloatImage) -> FloatImage:
        return self.sums(values) / self.counts

    def variances(self, values: FloatImage) -> FloatImage:
        means = self.means(values)
        spread = np.repeat(np.repeat(means, self.row_sizes, axis=0), self.col_sizes, axis=1)
        deviation = values - spread
        return self.means(deviation * deviation)


def _lapv_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    return tiles.variances(_laplacian(gray))


def _teng_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    return tiles.means(_sobel_squared(gray))


def _lapm_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    return tiles.means(_abs_second_differences(gray))


def _glvn_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    _check_non_negative(gray)
    means = tiles.means(gray)
    variances = tiles.variances(gray)
    out = np.zeros_like(means)
    np.divide(variances, means, out=out, where=means > 0.0)
    return out


def _blur_effect_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    """scikit-image on each tile in turn: the measure has no vectorised form."""
    return np.array(
        [[_blur_effect(gray[where]) for where in row] for row in tiles.slices()],
        dtype=np.float64,
    )


def _edge_blur_tiles(tiles: _Tiles, gray: FloatImage) -> FloatImage:
    """Blur in pixels per tile, NaN where a tile has too few reliable edges."""
    rows = np.repeat(np.arange(tiles.rows.size), tiles.row_sizes)
    cols = np.repeat(np.arange(tiles.cols.size), tiles.col_sizes)
    return edges.blur_tiles(gray, rows, cols, tiles.grid)


# --- the registry -----------------------------------------------------------------


@dataclass(frozen=True)
class FocusMeasure:
    """One entry of :data:`METHODS`: a focus measure, how to compute it and how to read it.

    Everything that depends on the method, in the library and on the command
    line (choices, help, sorting, thresholds, display, focus maps), reads it
    from here, so a new measure is added by adding one entry.

    Parameters
    ----------
    name : str
        The name :func:`blur_score` and :func:`sharpness_map` take.
    function : callable
        The public function computing the measure with its default options.
    units : str
        Units of the value (keyword-only, as are all that follow).
    reference : str
        Short citation with DOI.
    scorer : callable
        ``scorer(gray)``: the score of a checked gray image already on the
        8-bit scale (uint8 as read, float32 after working-size resampling,
        float64 otherwise).
    tile_scorer : callable
        ``tile_scorer(tiles, gray)``: one score per tile of a float64 gray
        image on the 8-bit scale that is not constant.
    sharper_is_higher : bool, default True
        True if a higher value means a sharper image, False if it means a
        blurrier one. A sharpness threshold is a lower bound in the first
        case and an upper bound in the second.
    value_range : str, default "[0, inf)"
        Range of the value.
    digits : int, default 2
        Decimals worth showing to people, in tables.
    min_side : int, default 3
        Smallest width and height, in pixels, that the measure can score.
    flat_score : float, default 0.0
        The score of a constant image.
    map_range : tuple of float, default (1.0, 1e4)
        The scores at the blurry and the sharp end of a focus map's colour
        scale, the same for every image (``edgegrad.display``); tiles beyond
        are drawn at the ends. The default suits a DN² measure; a new measure
        should declare its own.
    map_log : bool, default True
        Whether colours follow ``log(score)`` (for measures whose tiles span
        orders of magnitude between flat and detailed regions) rather than
        the score itself. A log scale needs ``map_range[0] > 0``.

    Examples
    --------
    >>> METHODS["lapv"].sharper_is_higher, METHODS["blur-effect"].sharper_is_higher
    (True, False)
    >>> METHODS["blur-effect"].value_range
    '[0, 1]'
    >>> METHODS["blur-effect"].sharpness(0.25) > METHODS["blur-effect"].sharpness(0.5)
    True
    >>> METHODS["lapv"].format(1234.5678)
    '1234.57'
    """

    name: str
    function: Callable[[NDArray[Any]], float]
    _: KW_ONLY
    units: str
    reference: str
    scorer: Callable[[NDArray[Any]], float] = field(repr=False)
    tile_scorer: Callable[[_Tiles, FloatImage], FloatImage] = field(repr=False)
    sharper_is_higher: bool = True
    value_range: str = "[0, inf)"
    digits: int = 2
    min_side: int = 3
    flat_score: float = 0.0
    map_range: tuple[float, float] = (1.0, 1e4)
    map_log: bool = True

    @property
    def direction(self) -> str:
        """``"higher is sharper"`` or ``"higher is blurrier"``."""
        return "higher is sharper" if self.sharper_is_higher else "higher is blurrier"

    @property
    def blurrier_side(self) -> str:
        """Where a less sharp score lies against a threshold: ``"below"`` or ``"above"``."""
        return "below" if self.sharper_is_higher else "above"

    @overload
    def sharpness(self, score: float) -> float: ...

    @overload
    def sharpness(self, score: FloatImage) -> FloatImage: ...

    def sharpness(self, score: float | FloatImage) -> float | FloatImage:
        """A key that is larger for a sharper image, whatever the method's direction.

        It orders scores of one method from blurriest to sharpest, and turns
        a threshold into a cut on that key: an image is less sharp than a
        threshold ``T`` when ``sharpness(score) < sharpness(T)``.
        """
        return score if self.sharper_is_higher else -score

    def format(self, score: float) -> str:
        """The score with :attr:`digits` decimals, for people."""
        return f"{score:.{self.digits}f}"


_MEASURES: Final[dict[str, FocusMeasure]] = {
    measure.name: measure
    for measure in (
        FocusMeasure(
            "lapv",
            laplacian_variance,
            units="DN² (8-bit-equivalent intensity, squared)",
            reference="Pech-Pacheco et al. 2000, doi:10.1109/ICPR.2000.903548",
            scorer=_lapv,
            tile_scorer=_lapv_tiles,
            # The community's threshold of about 100 sits in the middle.
            map_range=(1.0, 1e4),
        ),
        FocusMeasure(
            "teng",
            tenengrad,
            units="DN² (raw 3x3 Sobel weights)",
            reference="Krotkov 1988, doi:10.1007/BF00127822",
            scorer=_teng,
            tile_scorer=_teng_tiles,
            map_range=(10.0, 1e5),
        ),
        FocusMeasure(
            "lapm",
            modified_laplacian,
            units="DN (8-bit-equivalent intensity)",
            reference="Nayar & Nakagawa 1994, doi:10.1109/34.308479",
            scorer=_lapm,
            tile_scorer=_lapm_tiles,
            map_range=(1.0, 100.0),
        ),
        FocusMeasure(
            "glvn",
            normalized_variance,
            units="DN (8-bit-equivalent intensity)",
            reference="Groen et al. 1985, doi:10.1002/cyto.990060202",
            scorer=_glvn,
            tile_scorer=_glvn_tiles,
            map_range=(0.1, 100.0),
        ),
        FocusMeasure(
            "blur-effect",
            blur_effect,
            units="none",
            reference="Crete et al. 2007, doi:10.1117/12.702790",
            scorer=_blur_effect,
            tile_scorer=_blur_effect_tiles,
            sharper_is_higher=False,
            value_range="[0, 1]",
            digits=4,
            min_side=4,
            flat_score=1.0,
            map_range=(0.0, 1.0),
            map_log=False,
        ),
        FocusMeasure(
            "edge-blur",
            edge_blur,
            units="px (σ of the Gaussian PSF)",
            reference="Zhuo & Sim 2011, doi:10.1016/j.patcog.2011.03.009",
            scorer=_edge_blur,
            tile_scorer=_edge_blur_tiles,
            sharper_is_higher=False,
            digits=2,
            min_side=16,
            # No edges, no blur to measure: tiles without reliable edges are NaN too.
            flat_score=math.nan,
            map_range=(0.0, 6.0),
            map_log=False,
        ),
    )
}

METHODS: Final[Mapping[str, FocusMeasure]] = MappingProxyType(_MEASURES)
"""The focus measures by name, with how to compute and read each (read-only)."""

SHARPER_IS_HIGHER: Final[Mapping[str, bool]] = MappingProxyType(
    {name: measure.sharper_is_higher for name, measure in METHODS.items()}
)
"""For each method name, whether a higher value means a sharper image."""
