"""edgegrad: signed, unsaturated edge filters at any angle, on OpenCV.

NumPy arrays in, NumPy arrays out. See :mod:`edgegrad.filters` for the
filters and their dtype rule, :mod:`edgegrad.kernels` for the kernels and
:mod:`edgegrad.metrics` for the sharpness scores.
"""

from __future__ import annotations

from edgegrad.errors import (
    EdgegradError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    PartialImageWarning,
)
from edgegrad.filters import directional, gradient, laplacian, orientation, scharr, sobel, to_uint8
from edgegrad.kernels import derivative_kernels, directional_kernel, laplacian_kernel
from edgegrad.metrics import (
    METHODS,
    blur_effect,
    blur_score,
    laplacian_variance,
    modified_laplacian,
    normalized_variance,
    sharpness_map,
    tenengrad,
)

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "EdgegradError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "OutputExistsError",
    "PartialImageWarning",
    "__version__",
    "blur_effect",
    "blur_score",
    "derivative_kernels",
    "directional",
    "directional_kernel",
    "gradient",
    "laplacian",
    "laplacian_kernel",
    "laplacian_variance",
    "modified_laplacian",
    "normalized_variance",
    "orientation",
    "scharr",
    "sharpness_map",
    "sobel",
    "tenengrad",
    "to_uint8",
]
