"""Pure builders of correlation kernels for derivative and Laplacian filters.

Every builder returns ``float32`` arrays and touches no image. Kernels are
stored for **correlation** (what :func:`cv2.filter2D` computes), oriented so
that a response is positive where intensity rises along the stated direction.

Conventions
-----------
* ``x`` points right (increasing column index).
* ``y_up`` points **up** on screen, i.e. towards decreasing row index. The y
  kernels returned here are therefore the negation of OpenCV's ``dy=1`` kernels.
* Angles are in degrees, counter-clockwise on screen from the +x axis. The
  directional derivative is ``D_θ = cos θ · ∂I/∂x + sin θ · ∂I/∂y_up``.
* Scale: raw OpenCV weights by default (Sobel 3×3 answers 8 on a unit ramp).
  With ``normalize=True`` a kernel is divided by its *ramp gain* (its response
  to a unit ramp along its own direction), so every kernel answers 1.
  Gaussian-derivative kernels have no OpenCV counterpart and always have unit
  ramp gain.

The Sobel and Scharr factors come from :func:`cv2.getDerivKernels`, so the
kernels are exactly OpenCV's; x and y kernels are built from the same 1-D
factors, never typed out twice.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypeAlias, get_args

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._validate import check_bool, check_choice, check_dtype, check_int, check_real

__all__ = [
    "DERIVATIVE_KINDS",
    "Kernel",
    "derivative_factors",
    "derivative_kernels",
    "directional_kernel",
    "laplacian_kernel",
    "ramp_gain",
    "steering_weights",
]

Kernel: TypeAlias = npt.NDArray[np.floating[Any]]
DerivativeKind: TypeAlias = Literal["sobel", "scharr", "gaussian"]

DERIVATIVE_KINDS: tuple[DerivativeKind, ...] = get_args(DerivativeKind)
_SOBEL_SIZES = (1, 3, 5, 7)
_LAPLACIAN_SIZES = (1, 3, 5, 7)
_GAUSSIAN_TRUNCATE = 4.0
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _gaussian_size(sigma: float, ksize: int | None) -> int:
    if ksize is None:
        return 2 * max(1, int(_GAUSSIAN_TRUNCATE * sigma + 0.5)) + 1
    size = check_int(ksize, "ksize", minimum=3, words="an odd integer >= 3 for kind='gaussian'")
    if size % 2 == 0:
        raise ValueError(f"ksize must be an odd integer >= 3 for kind='gaussian'; got {ksize!r}")
    return size


def derivative_factors(
    kind: DerivativeKind = "sobel", ksize: int | None = None, *, sigma: float = 1.0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the 1-D ``(derivative, smoothing)`` factors of a separable kernel.

    The x-derivative kernel is ``outer(smoothing, derivative)`` (rows × columns).

    Parameters
    ----------
    kind : {"sobel", "scharr", "gaussian"}
        Kernel family.
    ksize : int or None
        Aperture. Sobel: 1, 3, 5 or 7 (default 3; ``1`` means the 3-tap
        difference with no smoothing, as in :func:`cv2.Sobel`). Scharr: 3 only.
        Gaussian: any odd size >= 3; default ``2*round(4*sigma)+1``.
    sigma : float
        Standard deviation in pixels, used by ``kind="gaussian"`` only.

    Returns
    -------
    derivative, smoothing : ndarray of float64
        1-D factors. The derivative factor is oriented for correlation
        (negative on the left, positive on the right).

    Notes
    -----
    Sobel and Scharr factors are taken from :func:`cv2.getDerivKernels`
    (``ksize=-1`` selects Scharr's ``[3, 10, 3]`` smoothing [1]_). The Gaussian
    derivative factor is the sampled ``x·g(x)`` scaled so that its ramp gain is
    exactly 1, and its smoothing factor is the sampled Gaussian ``g`` with unit
    sum, so the 2-D kernel answers exactly 1 on a unit ramp [2]_.

    References
    ----------
    .. [1] H. Scharr, "Optimal operators in digital image processing", PhD
       thesis, Heidelberg University, 2000. doi:10.11588/heidok.00000962
    .. [2] T. Lindeberg, "Scale-space theory: a basic tool for analysing
       structures at different scales", J. Applied Statistics 21(2), 1994.
       doi:10.1080/757582976

    Examples
    --------
    >>> d, s = derivative_factors("sobel", 3)
    >>> d.tolist(), s.tolist()
    ([-1.0, 0.0, 1.0], [1.0, 2.0, 1.0])
    """
    check_choice(kind, "kind", DERIVATIVE_KINDS)
    sigma = check_real(sigma, "sigma", positive=True)
    if kind == "gaussian":
        size = _gaussian_size(sigma, ksize)
        x = np.arange(size, dtype=np.float64) - size // 2
        g = np.exp(-0.5 * (x / sigma) ** 2)
        g /= g.sum()
        d = x * g
        d /= np.dot(d, x)
        return d, g
    if kind == "scharr":
        check_int(3 if ksize is None else ksize, "ksize", allowed=(3,))
        aperture = int(cv2.FILTER_SCHARR)
    else:
        aperture = check_int(3 if ksize is None else ksize, "ksize", allowed=_SOBEL_SIZES)
    deriv, smooth = cv2.getDerivKernels(1, 0, aperture, normalize=False, ktype=cv2.CV_64F)
    return np.asarray(deriv, np.float64).ravel(), np.asarray(smooth, np.float64).ravel()


def _pad_to(kernel: npt.NDArray[np.float64], shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    rows = (shape[0] - kernel.shape[0]) // 2
    cols = (shape[1] - kernel.shape[1]) // 2
    return np.pad(kernel, ((rows, rows), (cols, cols)))


def _derivative_pair(
    kind: DerivativeKind, ksize: int | None, sigma: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    d, s = derivative_factors(kind, ksize, sigma=sigma)
    kx = np.outer(s, d)
    ky_up = -np.outer(d, s)
    side = max(kx.shape)
    return _pad_to(kx, (side, side)), _pad_to(ky_up, (side, side))


def ramp_gain(kernel: npt.ArrayLike, angle: float = 0.0) -> float:
    """Return a kernel's correlation response to a unit ramp along ``angle``.

    The ramp is ``I = cos θ · x + sin θ · y_up``, with ``y_up = -row``. The
    response is the same at every interior pixel.

    Parameters
    ----------
    kernel : array_like, 2-D
        Correlation kernel with odd sides.
    angle : float
        Direction of the ramp, degrees counter-clockwise from +x.

    Returns
    -------
    float

    Examples
    --------
    >>> kx, ky_up = derivative_kernels("sobel", 3)
    >>> ramp_gain(kx), ramp_gain(ky_up, 90)
    (8.0, 8.0)
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"kernel must be 2-D with odd sides; got shape {k.shape}")
    c, s = steering_weights(angle)
    rows = np.arange(k.shape[0]) - k.shape[0] // 2
    cols = np.arange(k.shape[1]) - k.shape[1] // 2
    ramp = c * cols[np.newaxis, :] - s * rows[:, np.newaxis]
    return float(np.sum(k * ramp))


def derivative_kernels(
    kind: DerivativeKind = "sobel",
    ksize: int | None = None,
    *,
    sigma: float = 1.0,
    normalize: bool = False,
    dtype: npt.DTypeLike = np.float32,
) -> tuple[Kernel, Kernel]:
    """Return the x and y_up first-derivative correlation kernels.

    Parameters
    ----------
    kind : {"sobel", "scharr", "gaussian"}
        Kernel family.
    ksize : int or None
        Aperture, see :func:`derivative_factors`.
    sigma : float
        Gaussian standard deviation, for ``kind="gaussian"`` only.
    normalize : bool
        Divide by the ramp gain so that a unit ramp answers 1.
    dtype : dtype, default float32
        Floating dtype of the result; filters ask for float64 on float64 input.

    Returns
    -------
    kx, ky_up : ndarray of float32 (or ``dtype``)
        Square kernels of equal shape. ``kx`` answers positive where intensity
        rises to the right, ``ky_up`` where it rises upwards. ``kx`` equals the
        kernel of ``cv2.Sobel(dx=1)``; ``ky_up`` is minus that of
        ``cv2.Sobel(dy=1)``.

    Notes
    -----
    Sobel 3×3 (``kx`` and ``ky_up``)::

        -1  0  1        1  2  1
        -2  0  2        0  0  0
        -1  0  1       -1 -2 -1

    For ``ksize=1`` the 3-tap difference ``[-1, 0, 1]`` is embedded in a 3×3
    kernel so that both kernels share one shape.

    Examples
    --------
    >>> kx, ky_up = derivative_kernels("scharr")
    >>> kx.astype(int).tolist()
    [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]
    >>> float(kx.sum()), float(ky_up.sum())
    (0.0, 0.0)
    """
    kx, ky_up = _derivative_pair(kind, ksize, sigma)
    if check_bool(normalize, "normalize"):
        gain = ramp_gain(kx)
        kx, ky_up = kx / gain, ky_up / gain
    dtype = check_dtype(dtype, "dtype", _KERNEL_DTYPES)
    return kx.astype(dtype), ky_up.astype(dtype)


def steering_weights(angle: float) -> tuple[float, float]:
    """Return ``(cos θ, sin θ)`` for ``angle`` in degrees, exact at multiples of 90°.

    Parameters
    ----------
    angle : float
        Degrees, counter-clockwise from +x. Any finite value; it is reduced
        modulo 360.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> steering_weights(90), steering_weights(-90), steering_weights(540)
    ((0.0, 1.0), (0.0, -1.0), (-1.0, 0.0))
    """
    reduced = check_real(angle, "angle") % 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if reduced in exact:
        return exact[reduced]
    theta = math.radians(reduced)
    return math.cos(theta), math.sin(theta)


def directional_kernel(
    angle: float,
    *,
    kind: DerivativeKind = "sobel",
    ksize: int | None = None,
    sigma: float = 1.0,
    normalize: bool = False,
    dtype: npt.DTypeLike = np.float32,
) -> Kernel:
    """Return the steered first-derivative kernel ``cos θ·Kx + sin θ·Ky_up``.

    Correlating an image with it gives the signed directional derivative
    ``D_θ = cos θ · ∂I/∂x + sin θ · ∂I/∂y_up`` in one pass, because
    correlation is linear in the kernel [1]_.

    Parameters
    ----------
    angle : float
        Degrees, counter-clockwise on screen from the +x axis (rightwards).
        ``0`` is the rightward derivative, ``90`` the upward one.
    kind, ksize, sigma, dtype
        As for :func:`derivative_kernels`.
    normalize : bool
        Divide by the ramp gain, so a unit ramp along ``angle`` answers 1.

    Returns
    -------
    ndarray of float32 (or ``dtype``)
        Square correlation kernel.

    References
    ----------
    .. [1] W. T. Freeman and E. H. Adelson, "The design and use of steerable
       filters", IEEE TPAMI 13(9), 1991. doi:10.1109/34.93808

    Examples
    --------
    >>> directional_kernel(90).astype(int).tolist()
    [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    >>> round(ramp_gain(directional_kernel(30, normalize=True), 30), 6)
    1.0
    """
    c, s = steering_weights(angle)
    kx, ky_up = _derivative_pair(kind, ksize, sigma)
    kernel = c * kx + s * ky_up
    if check_bool(normalize, "normalize"):
        kernel /= ramp_gain(kx)
    return kernel.astype(check_dtype(dtype, "dtype", _KERNEL_DTYPES))


def laplacian_kernel(
    ksize: int = 1, *, normalize: bool = False, dtype: npt.DTypeLike = np.float32
) -> Kernel:
    """Return the Laplacian correlation kernel that :func:`cv2.Laplacian` uses.

    Parameters
    ----------
    ksize : {1, 3, 5, 7}
        Aperture. ``1`` is the 4-neighbour cross; larger sizes are
        ``Dxx ⊗ S + S ⊗ Dyy`` built from :func:`cv2.getDerivKernels` with
        second-derivative order, exactly as OpenCV does.
    normalize : bool
        Divide by the kernel's gain on the parabola ``x²/2`` (whose second
        derivative is 1), so that ``I = (x² + y²)/2`` answers 2, the true
        Laplacian.
    dtype : dtype, default float32
        Floating dtype of the result.

    Returns
    -------
    ndarray of float32 (or ``dtype``)

    Notes
    -----
    ``ksize=1`` and ``ksize=3``::

        0  1  0        2  0  2
        1 -4  1        0 -8  0
        0  1  0        2  0  2

    Examples
    --------
    >>> laplacian_kernel(1).astype(int).tolist()
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    >>> float(laplacian_kernel(5).sum())
    0.0
    """
    check_int(ksize, "ksize", allowed=_LAPLACIAN_SIZES)
    if ksize == 1:
        kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    else:
        d2, s = (
            np.asarray(k, np.float64).ravel()
            for k in cv2.getDerivKernels(2, 0, ksize, normalize=False, ktype=cv2.CV_64F)
        )
        kernel = np.outer(s, d2) + np.outer(d2, s)
    if check_bool(normalize, "normalize"):
        cols = np.arange(kernel.shape[1]) - kernel.shape[1] // 2
        kernel /= float(np.sum(kernel * (cols**2 / 2.0)[np.newaxis, :]))
    return kernel.astype(check_dtype(dtype, "dtype", _KERNEL_DTYPES))
