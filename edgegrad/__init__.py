"""edgegrad: signed, unsaturated edge filters at any angle, on OpenCV.

NumPy arrays in, NumPy arrays out. See :mod:`edgegrad.filters` for the
filters and their dtype rule, :mod:`edgegrad.kernels` for the kernels,
:mod:`edgegrad.metrics` for the sharpness scores and :mod:`edgegrad.display`
for turning responses into pixels. :mod:`edgegrad.io` (reading and writing
files), :mod:`edgegrad.batch` (running a job over many inputs),
:mod:`edgegrad.cluster` (running it on a Dask cluster, with the ``dask``
extra), :mod:`edgegrad.jobs` (the per-file jobs) and :mod:`edgegrad.focus` (fitting a
focus sweep to its peak, :func:`~edgegrad.focus.fit_peak`, with scipy) load on
first use, so that ``import edgegrad`` stays quick.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import Any as _Any

from edgegrad.display import to_uint8
from edgegrad.edges import canny
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
    edge_blur,
    laplacian_variance,
    luma,
    modified_laplacian,
    normalized_variance,
    sharpness_map,
    tenengrad,
)

__version__ = "0.1.0"

#: Submodules loaded on first attribute access (``edgegrad.io.read_image``).
_LAZY_SUBMODULES = frozenset({"batch", "cluster", "focus", "io", "jobs"})
#: Names loaded from a submodule on first access (``edgegrad.fit_peak``).
_LAZY_NAMES = {"FocusPeak": "focus", "fit_peak": "focus"}

__all__ = [
    "METHODS",
    "EdgegradError",
    "FileError",
    "FileReadError",
    "FocusMeasure",
    "FocusPeak",
    "ImageReadError",
    "ImageScoreError",
    "ImageTooLargeError",
    "ImageWriteError",
    "OutputExistsError",
    "PartialImageWarning",
    "__version__",
    "blur_effect",
    "blur_score",
    "canny",
    "derivative_kernels",
    "directional",
    "directional_kernel",
    "edge_blur",
    "fit_peak",
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


def __getattr__(name: str) -> _Any:
    """Import :mod:`edgegrad.io`, :mod:`edgegrad.batch`, :mod:`edgegrad.jobs` or
    :mod:`edgegrad.focus` (and ``fit_peak``, ``FocusPeak``) on first use."""
    if name in _LAZY_SUBMODULES:
        return _import_module(f"edgegrad.{name}")
    if name in _LAZY_NAMES:
        return getattr(_import_module(f"edgegrad.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'edgegrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_LAZY_NAMES})
