"""Validation of image arrays at the library's entry points.

The dtype rule, written down once:

* accepted: ``uint8``, ``uint16``, ``float32``, ``float64``;
* shape: ``(H, W)`` gray, or ``(H, W, 3)`` / ``(H, W, 4)`` in OpenCV's BGR(A)
  order;
* filters return ``float32``, or ``float64`` for ``float64`` input, with raw
  (unscaled) intensities, so a uint8 step of 255 stays 255 in the arithmetic;
* float input must be finite.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

SUPPORTED_DTYPES: tuple[np.dtype[Any], ...] = (
    np.dtype(np.uint8),
    np.dtype(np.uint16),
    np.dtype(np.float32),
    np.dtype(np.float64),
)


#: Factor that puts each dtype on the 8-bit intensity scale (uint16 ÷ 257 maps
#: 65535 to 255; float images are read as [0, 1]).
EIGHT_BIT_SCALE: dict[np.dtype[Any], float] = {
    np.dtype(np.uint8): 1.0,
    np.dtype(np.uint16): 1.0 / 257.0,
    np.dtype(np.float32): 255.0,
    np.dtype(np.float64): 255.0,
}


def check_image(image: object, name: str = "image") -> npt.NDArray[Any]:
    """Validate an image array and return it C-contiguous.

    Raises
    ------
    TypeError
        If ``image`` is not an ndarray or its dtype is unsupported.
    ValueError
        If it is empty, has the wrong shape, or holds NaN or infinity.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(image).__name__}")
    if image.dtype not in SUPPORTED_DTYPES:
        allowed = ", ".join(str(d) for d in SUPPORTED_DTYPES)
        raise TypeError(f"{name} dtype must be one of {allowed}; got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"{name} must have shape (H, W), (H, W, 3) or (H, W, 4); got {image.shape}"
        )
    if image.size == 0:
        raise ValueError(f"{name} is empty; got shape {image.shape}")
    image = np.ascontiguousarray(image)
    if image.dtype.kind == "f" and not all_finite(image):
        raise ValueError(f"{name} contains NaN or infinite values")
    return image


def all_finite(image: npt.NDArray[np.floating[Any]]) -> bool:
    """True when no element is NaN or infinite.

    For float32, OpenCV's SIMD sum in float64 answers in one pass without a
    temporary (about half the time of ``np.isfinite(a).all()`` on 12 MP): the
    sum of finite float32 values cannot overflow float64, NaN propagates and
    +inf with -inf gives NaN. float64 sums could overflow, so they use NumPy.
    """
    if image.dtype == np.float32:
        return math.isfinite(sum(cv2.sumElems(image)))
    return bool(np.isfinite(image).all())


def check_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
    """Raise ``ValueError`` naming ``name``, the allowed values and the value given."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")


def output_dtype(image: npt.NDArray[Any]) -> np.dtype[Any]:
    """Return the dtype a filter produces for ``image``: float64 stays, else float32."""
    return np.dtype(np.float64) if image.dtype == np.float64 else np.dtype(np.float32)
