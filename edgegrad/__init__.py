"""edgegrad: signed, unsaturated edge filters at any angle, on OpenCV.

NumPy arrays in, NumPy arrays out. See :mod:`edgegrad.filters` for the
filters and their dtype rule, and :mod:`edgegrad.kernels` for the kernels.
"""

from __future__ import annotations

from edgegrad.errors import (
    EdgegradError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
)
from edgegrad.filters import directional, gradient, laplacian, orientation, scharr, sobel, to_uint8
from edgegrad.kernels import derivative_kernels, directional_kernel, laplacian_kernel

__version__ = "0.1.0"

__all__ = [
    "EdgegradError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "OutputExistsError",
    "__version__",
    "derivative_kernels",
    "directional",
    "directional_kernel",
    "gradient",
    "laplacian",
    "laplacian_kernel",
    "orientation",
    "scharr",
    "sobel",
    "to_uint8",
]
