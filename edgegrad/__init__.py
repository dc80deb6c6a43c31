"""edgegrad: signed, unsaturated edge filters at any angle, on OpenCV.

NumPy arrays in, NumPy arrays out. See :mod:`edgegrad.filters` for the
filters and their dtype rule, :mod:`edgegrad.kernels` for the kernels,
:mod:`edgegrad.metrics` for the sharpness scores and :mod:`edgegrad.display`
for turning responses into pixels. :mod:`edgegrad.io` (reading and writing
files), :mod:`edgegrad.batch` (running a job over many inputs) and
:mod:`edgegrad.jobs` (the per-file jobs) load on first use, so that
``import edgegrad`` stays quick.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from types import ModuleType as _ModuleType

from edgegrad.display import to_uint8
from edgegrad.errors import (
    EdgegradError,
    FileError,
    FileReadError,
    ImageReadError,
    ImageScoreError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    PartialImageWarning,
)
from edgegrad.filters import directional, gradient, laplacian, orientation, scharr, sobel
from edgegrad.kernels import derivative_kernels, directional_kernel, laplacian_kernel
from edgegrad.metrics import (
    METHODS,
    FocusMeasure,
    blur_effect,
    blur_score,
    laplacian_variance,
    luma,
    modified_laplacian,
    normalized_variance,
    sharpness_map,
    tenengrad,
)

__version__ = "0.1.0"

#: Submodules loaded on first attribute access (``edgegrad.io.read_image``).
_LAZY_SUBMODULES = frozenset({"batch", "io", "jobs"})

__all__ = [
    "METHODS",
    "EdgegradError",
    "FileError",
    "FileReadError",
    "FocusMeasure",
    "ImageReadError",
    "ImageScoreError",
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
    "luma",
    "modified_laplacian",
    "normalized_variance",
    "orientation",
    "scharr",
    "sharpness_map",
    "sobel",
    "tenengrad",
    "to_uint8",
]


def __getattr__(name: str) -> _ModuleType:
    """Import :mod:`edgegrad.io`, :mod:`edgegrad.batch` or :mod:`edgegrad.jobs` on first use."""
    if name in _LAZY_SUBMODULES:
        return _import_module(f"edgegrad.{name}")
    raise AttributeError(f"module 'edgegrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES})
