"""Signed, unsaturated derivative filters at any angle.

Every filter here funnels through :func:`_correlate`, which applies a kernel
from :mod:`edgegrad.kernels` with :func:`cv2.filter2D` (or
:func:`cv2.sepFilter2D` for the separable x/y pair, the same operation as
:func:`cv2.Sobel` and as fast) at a depth that cannot saturate.

Dtype and depth rule
--------------------
* Input: uint8, uint16, float32 or float64; gray ``(H, W)`` or BGR(A)
  ``(H, W, 3|4)``. Multichannel input is filtered per channel, as ``cv2`` does.
* Output: float32, or float64 for float64 input, in raw intensity units and
  with the sign kept. Nothing is clipped.
* ``ddepth=-1`` is never used on integer input (it would cut every negative
  response to 0). Integer input is accumulated in float32 when the kernel's
  L1 norm times the dtype's maximum is at most 2**24, where float32 holds every
  integer exactly, and in float64 otherwise (uint16 at ksize 7, for example).
  CV_16S, which overflows at ksize 7 and on uint16 input, is not used.
* OpenCV 5 refuses some source/destination depth pairs (float32 → CV_64F); the
  chosen pairs are always accepted: float input keeps its own depth.

Angles are degrees counter-clockwise on screen from +x; ``y_up`` points up.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._pixels import output_dtype
from edgegrad._validate import check_bool, check_choice, check_image, check_real

# to_uint8 moved to edgegrad.display; it stays importable from here.
from edgegrad.display import DISPLAY_MODES, DisplayMode, to_uint8
from edgegrad.kernels import (
    DERIVATIVE_KINDS,
    DerivativeKind,
    derivative_factors,
    directional_kernel,
    laplacian_kernel,
    ramp_gain,
)

__all__ = [
    "BORDERS",
    "DISPLAY_MODES",
    "DisplayMode",
    "directional",
    "gradient",
    "laplacian",
    "orientation",
    "scharr",
    "sobel",
    "to_uint8",
]

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
Border: TypeAlias = Literal["reflect101", "reflect", "replicate", "constant"]

BORDERS: dict[str, int] = {
    "reflect101": cv2.BORDER_REFLECT_101,
    "reflect": cv2.BORDER_REFLECT,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}
_EXACT_FLOAT32 = float(2**24)
_INTEGER_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


class _Separable(NamedTuple):
    """A kernel equal to ``outer(column, row)``."""

    row: FloatArray
    column: FloatArray


def _work_depth(src: npt.NDArray[Any], l1_norm: float) -> int:
    if src.dtype == np.float64:
        return int(cv2.CV_64F)
    if src.dtype == np.float32:
        return int(cv2.CV_32F)
    exact = l1_norm * _INTEGER_MAX[src.dtype] <= _EXACT_FLOAT32
    return int(cv2.CV_32F) if exact else int(cv2.CV_64F)


def _correlate(
    src: npt.NDArray[Any],
    kernel: FloatArray | _Separable,
    *,
    border: str,
    cval: float,
) -> FloatArray:
    """Correlate a validated image with a kernel at a non-saturating depth."""
    check_choice(border, "border", tuple(BORDERS))
    cval = check_real(cval, "cval")
    if isinstance(kernel, _Separable):
        l1 = float(np.abs(kernel.row).sum() * np.abs(kernel.column).sum())
        pad_y, pad_x = kernel.column.size // 2, kernel.row.size // 2
    else:
        l1 = float(np.abs(kernel).sum())
        pad_y, pad_x = kernel.shape[0] // 2, kernel.shape[1] // 2
    ddepth = _work_depth(src, l1)
    border_type = BORDERS[border]
    work = src
    if border == "constant":
        # Pad in floating point: cval need not fit the input's dtype (300 or 0.5 on uint8).
        work_dtype = np.float64 if ddepth == cv2.CV_64F else np.float32
        work = cv2.copyMakeBorder(
            src.astype(work_dtype, copy=False),
            pad_y,
            pad_y,
            pad_x,
            pad_x,
            cv2.BORDER_CONSTANT,
            value=(cval,) * 4,
        )
    if isinstance(kernel, _Separable):
        out = cv2.sepFilter2D(work, ddepth, kernel.row, kernel.column, borderType=border_type)
    else:
        out = cv2.filter2D(work, ddepth, kernel, borderType=border_type)
    if border == "constant":
        out = out[pad_y : out.shape[0] - pad_y, pad_x : out.shape[1] - pad_x]
    return np.asarray(out, dtype=output_dtype(src))


def gradient(
    image: npt.NDArray[Any],
    *,
    kind: DerivativeKind = "sobel",
    ksize: int | None = None,
    sigma: float = 1.0,
    normalize: bool = False,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Return the signed gradient ``(gx, gy_up)`` of an image.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A).
    kind : {"sobel", "scharr", "gaussian"}
        Derivative kernel family.
    ksize : int or None
        Aperture: Sobel 1, 3, 5, 7 (default 3); Scharr 3; Gaussian odd >= 3
        (default ``2*round(4*sigma)+1``).
    sigma : float
        Gaussian standard deviation in pixels (``kind="gaussian"`` only).
    normalize : bool
        Divide by the kernel's ramp gain so that a unit ramp answers 1.
    border : {"reflect101", "reflect", "replicate", "constant"}
        How pixels outside the image are made up.
    cval : float
        Value outside the image for ``border="constant"``.

    Returns
    -------
    gx, gy_up : ndarray
        float32 (float64 for float64 input), same shape as ``image``. ``gx``
        equals ``cv2.Sobel(image, cv2.CV_32F, 1, 0)`` and ``gy_up`` equals
        ``-cv2.Sobel(image, cv2.CV_32F, 0, 1)`` (rows grow downward).

    Examples
    --------
    >>> ramp = np.tile(np.arange(8, dtype=np.uint8), (8, 1))
    >>> gx, gy_up = gradient(ramp)
    >>> float(gx[4, 4]), float(gy_up[4, 4])
    (8.0, 0.0)
    """
    src = check_image(image)
    check_choice(kind, "kind", DERIVATIVE_KINDS)
    d, s = derivative_factors(kind, ksize, sigma=sigma)
    if check_bool(normalize, "normalize"):
        d = d / ramp_gain(np.outer(s, d))
    dtype = output_dtype(src)
    d, s = d.astype(dtype), s.astype(dtype)
    gx = _correlate(src, _Separable(row=d, column=s), border=border, cval=cval)
    gy_up = _correlate(src, _Separable(row=s, column=-d), border=border, cval=cval)
    return gx, gy_up


def directional(
    image: npt.NDArray[Any],
    angle: float,
    *,
    kernel: DerivativeKind = "sobel",
    ksize: int | None = None,
    sigma: float = 1.0,
    normalize: bool = False,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> FloatArray:
    """Return the signed directional derivative ``D_θ`` at any angle.

    ``D_θ = cos θ · ∂I/∂x + sin θ · ∂I/∂y_up``, computed in **one**
    :func:`cv2.filter2D` pass with the steered kernel from
    :func:`edgegrad.kernels.directional_kernel`.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A).
    angle : float
        Degrees, counter-clockwise on screen from +x. ``0`` equals
        ``cv2.Sobel(dx=1)``; ``90`` equals ``-cv2.Sobel(dy=1)``. Negative
        angles and angles over 360 are reduced modulo 360.
    kernel : {"sobel", "scharr", "gaussian"}
        Derivative kernel family.
    ksize, sigma, normalize, border, cval
        As in :func:`gradient`.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), signed, same shape as ``image``.

    Examples
    --------
    A unit ramp rising to the upper right answers ``cos 45° + sin 45°`` along 45°:

    >>> y, x = np.mgrid[0:9, 0:9]
    >>> ramp = (x - y).astype(np.float32)
    >>> round(float(directional(ramp, 45, normalize=True)[4, 4]), 5)
    1.41421
    """
    src = check_image(image)
    check_choice(kernel, "kernel", DERIVATIVE_KINDS)
    steered = directional_kernel(
        angle,
        kind=kernel,
        ksize=ksize,
        sigma=sigma,
        normalize=normalize,
        dtype=output_dtype(src),
    )
    return _correlate(src, steered, border=border, cval=cval)


def _derivative_or_magnitude(
    image: npt.NDArray[Any],
    angle: float | None,
    *,
    kind: DerivativeKind,
    ksize: int | None,
    normalize: bool,
    border: Border,
    cval: float,
) -> FloatArray:
    if angle is not None:
        return directional(
            image, angle, kernel=kind, ksize=ksize, normalize=normalize, border=border, cval=cval
        )
    gx, gy_up = gradient(
        image, kind=kind, ksize=ksize, normalize=normalize, border=border, cval=cval
    )
    return np.asarray(cv2.magnitude(gx, gy_up, gx), dtype=gx.dtype)


def sobel(
    image: npt.NDArray[Any],
    angle: float | None = None,
    *,
    ksize: int = 3,
    normalize: bool = False,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> FloatArray:
    """Sobel filter: gradient magnitude, or the signed derivative along ``angle``.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A).
    angle : float or None
        ``None`` returns the gradient magnitude ``sqrt(gx² + gy²)`` (always
        >= 0). A number returns :func:`directional` along that angle (degrees,
        counter-clockwise from +x), signed.
    ksize : {1, 3, 5, 7}
        Aperture, as in :func:`cv2.Sobel`.
    normalize, border, cval
        As in :func:`gradient`.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), same shape as ``image``.

    Notes
    -----
    The 3×3 x kernel (correlation)::

        -1  0  1
        -2  0  2
        -1  0  1

    References
    ----------
    .. [1] I. Sobel, "An isotropic 3×3 image gradient operator", presented at
       the Stanford AI Project, 1968; see I. Sobel, "History and definition of
       the Sobel operator", 2014. https://www.researchgate.net/publication/239398674

    Examples
    --------
    A falling step keeps its sign: 255 → 0 answers -4·255 = -1020.

    >>> step = np.zeros((5, 6), np.uint8)
    >>> step[:, :3] = 255
    >>> sobel(step, angle=0)[2].tolist()
    [0.0, 0.0, -1020.0, -1020.0, 0.0, 0.0]
    """
    return _derivative_or_magnitude(
        image, angle, kind="sobel", ksize=ksize, normalize=normalize, border=border, cval=cval
    )


def scharr(
    image: npt.NDArray[Any],
    angle: float | None = None,
    *,
    normalize: bool = False,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> FloatArray:
    """Scharr filter: gradient magnitude, or the signed derivative along ``angle``.

    Scharr's 3×3 kernels are optimised for rotation invariance [1]_, so the
    response along an angle depends less on the angle than Sobel's does.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A).
    angle : float or None
        ``None`` for the gradient magnitude, a number for the signed
        derivative along that angle (degrees, counter-clockwise from +x).
    normalize, border, cval
        As in :func:`gradient`.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), same shape as ``image``.

    Notes
    -----
    The x kernel (correlation); it answers 32 on a unit ramp::

         -3  0   3
        -10  0  10
         -3  0   3

    References
    ----------
    .. [1] H. Scharr, "Optimal operators in digital image processing", PhD
       thesis, Heidelberg University, 2000. doi:10.11588/heidok.00000962

    Examples
    --------
    >>> ramp = np.tile(np.arange(8, dtype=np.float32), (8, 1))
    >>> float(scharr(ramp)[4, 4]), float(scharr(ramp, 0, normalize=True)[4, 4])
    (32.0, 1.0)
    """
    return _derivative_or_magnitude(
        image, angle, kind="scharr", ksize=3, normalize=normalize, border=border, cval=cval
    )


def laplacian(
    image: npt.NDArray[Any],
    *,
    ksize: int = 1,
    normalize: bool = False,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> FloatArray:
    """Signed Laplacian, equal to :func:`cv2.Laplacian` at a safe depth.

    Parameters
    ----------
    image : ndarray
        Any supported dtype, gray or BGR(A); colour is filtered per channel.
    ksize : {1, 3, 5, 7}
        Aperture, as in :func:`cv2.Laplacian`.
    normalize : bool
        Divide by the kernel's gain on ``x²/2`` so that ``(x² + y²)/2``
        answers 2, the true Laplacian.
    border, cval
        As in :func:`gradient`.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), signed, same shape as ``image``.

    Notes
    -----
    ``ksize=1`` kernel::

        0  1  0
        1 -4  1
        0  1  0

    Examples
    --------
    A bright dot answers -4·255 at its centre and +255 beside it:

    >>> dot = np.zeros((5, 5), np.uint8)
    >>> dot[2, 2] = 255
    >>> laplacian(dot)[2].tolist()
    [0.0, 255.0, -1020.0, 255.0, 0.0]
    """
    src = check_image(image)
    kernel = laplacian_kernel(ksize, normalize=normalize, dtype=output_dtype(src))
    return _correlate(src, kernel, border=border, cval=cval)


def orientation(
    image: npt.NDArray[Any],
    *,
    kind: DerivativeKind = "sobel",
    ksize: int | None = None,
    sigma: float = 1.0,
    border: Border = "reflect101",
    cval: float = 0.0,
) -> FloatArray:
    """Gradient orientation in degrees in ``[0, 360)``, in the angle convention.

    The orientation is ``atan2(gy_up, gx)``: counter-clockwise on screen from
    +x, the direction in which intensity rises fastest. So
    ``directional(image, orientation(image)[p])`` at pixel ``p`` equals the
    gradient magnitude there. Where the gradient is zero the orientation is 0.

    Parameters
    ----------
    image : ndarray
        uint8, uint16, float32 or float64; gray or BGR(A) (per channel).
    kind, ksize, sigma, border, cval
        As in :func:`gradient`.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), degrees in ``[0, 360)``.

    Examples
    --------
    >>> y, x = np.mgrid[0:7, 0:7]
    >>> float(orientation((y * 10).astype(np.uint8))[3, 3])  # brighter downwards
    270.0
    """
    gx, gy_up = gradient(image, kind=kind, ksize=ksize, sigma=sigma, border=border, cval=cval)
    degrees = np.degrees(np.arctan2(gy_up, gx)) % 360.0
    return np.where(degrees >= 360.0, 0.0, degrees).astype(gx.dtype)
