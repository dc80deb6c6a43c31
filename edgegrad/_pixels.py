"""Facts about pixels that several modules rely on, written down once.

* Supported dtypes: ``uint8``, ``uint16``, ``float32``, ``float64``.
* Shape: ``(H, W)`` gray, or ``(H, W, 3)`` / ``(H, W, 4)`` in OpenCV's BGR(A)
  order.
* The 8-bit-equivalent intensity scale: uint8 as is, uint16 divided by 257
  (65535 becomes 255), float images read as [0, 1] and multiplied by 255.
* Gray is Rec. 601 luma, ``Y = 0.299 R + 0.587 G + 0.114 B``, as
  ``cv2.COLOR_BGR2GRAY`` computes it.
* Filters return ``float32``, or ``float64`` for ``float64`` input.
"""

from __future__ import annotations

import math
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

SUPPORTED_DTYPES: Final[tuple[np.dtype[Any], ...]] = (
    np.dtype(np.uint8),
    np.dtype(np.uint16),
    np.dtype(np.float32),
    np.dtype(np.float64),
)

#: Factor that puts each dtype on the 8-bit intensity scale.
EIGHT_BIT_SCALE: Final[dict[np.dtype[Any], float]] = {
    np.dtype(np.uint8): 1.0,
    np.dtype(np.uint16): 1.0 / 257.0,
    np.dtype(np.float32): 255.0,
    np.dtype(np.float64): 255.0,
}

#: Rec. 601 luma weights in OpenCV's B, G, R order (those of ``cv2.COLOR_BGR2GRAY``).
LUMA_BGR: Final = (0.114, 0.587, 0.299)


def to_gray(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Rec. 601 luma of a checked gray, BGR or BGRA image, in its own dtype.

    uint8, uint16 and float32 go through :func:`cv2.cvtColor`, so integer luma
    is rounded to integers as in the usual recipe; float64, which ``cvtColor``
    does not take, uses the same weights in float64. Alpha is dropped; a gray
    image is returned as it is.
    """
    if image.ndim == 2:
        return image
    if image.dtype == np.float64:
        blue, green, red = LUMA_BGR
        gray: npt.NDArray[Any] = blue * image[..., 0] + green * image[..., 1] + red * image[..., 2]
        return gray
    code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
    return np.asarray(cv2.cvtColor(image, code))


def all_finite(image: npt.NDArray[np.floating[Any]]) -> bool:
    """True when no element is NaN or infinite.

    For float32, OpenCV's sum in float64 answers in one pass without a
    temporary: the sum of finite float32 values cannot overflow float64, NaN
    propagates and +inf with -inf gives NaN. float64 sums could overflow, so
    they use NumPy.
    """
    if image.dtype == np.float32:
        return math.isfinite(sum(cv2.sumElems(image)))
    return bool(np.isfinite(image).all())


def output_dtype(image: npt.NDArray[Any]) -> np.dtype[Any]:
    """The dtype a filter produces for ``image``: float64 stays, else float32."""
    return np.dtype(np.float64) if image.dtype == np.float64 else np.dtype(np.float32)
