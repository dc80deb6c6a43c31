"""Checks of public arguments, in one place.

Every public function of edgegrad checks its arguments at entry with these
helpers, so that the rule is the same everywhere:

* the wrong kind of value (a string for a number, a float for an integer, a
  path for an array) raises :class:`TypeError`;
* a value of the right kind outside what is allowed raises :class:`ValueError`;
* the message names the parameter, says what is allowed, and shows what it
  got: ``"border must be one of 'reflect101', 'reflect'...; got 'foo'"``.

Booleans are not accepted as numbers (``True`` is not a tile size), and NumPy
scalars are accepted wherever Python numbers are.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from edgegrad._pixels import SUPPORTED_DTYPES, all_finite

T = TypeVar("T")

_INTEGERS = (int, np.integer)
_REALS = (int, float, np.integer, np.floating)


def check_image(image: object, name: str = "image") -> npt.NDArray[Any]:
    """Return ``image`` C-contiguous after checking it is an image array.

    Raises
    ------
    TypeError
        If ``image`` is not an ndarray (a path gets a pointer to
        :func:`edgegrad.io.read_image`) or its dtype is unsupported.
    ValueError
        If it is empty, has the wrong shape, or holds NaN or infinity.
    """
    if isinstance(image, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{name} must be a numpy.ndarray, not a path ({image!r}); "
            "read the file first with edgegrad.io.read_image"
        )
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


def check_array(array: object, name: str = "array", *, finite: bool = False) -> npt.NDArray[Any]:
    """Return ``array`` after checking it is a non-empty ndarray of any shape.

    With ``finite``, it must also hold real numbers, none of them NaN or infinite.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(array).__name__}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; got shape {array.shape}")
    if finite and array.dtype.kind not in "uif":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def check_dtype(value: object, name: str, allowed: Collection[np.dtype[Any]]) -> np.dtype[Any]:
    """Return ``value`` as a NumPy dtype if it is one of ``allowed``."""
    try:
        dtype: np.dtype[Any] = np.dtype(value)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be a NumPy dtype; got {value!r}") from None
    if dtype not in allowed:
        listed = ", ".join(str(d) for d in allowed)
        raise ValueError(f"{name} must be one of {listed}; got {dtype}")
    return dtype


def check_path(value: object, name: str = "path") -> Path:
    """Return a ``str`` or ``os.PathLike`` value as a :class:`~pathlib.Path`."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise TypeError(f"{name} must be a str or os.PathLike; got {type(value).__name__} {value!r}")


def check_int(
    value: object,
    name: str,
    *,
    minimum: int | None = None,
    allowed: Collection[int] | None = None,
    words: str | None = None,
) -> int:
    """Return ``value`` as an ``int``, checked against ``minimum`` or ``allowed``.

    ``words`` says what is allowed in the message ("an odd integer from 1 to
    31"); by default it is made from ``minimum`` or ``allowed``.
    """
    if isinstance(value, bool) or not isinstance(value, _INTEGERS):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    number = int(value)
    if (minimum is not None and number < minimum) or (
        allowed is not None and number not in allowed
    ):
        raise ValueError(f"{name} must be {words or _int_words(minimum, allowed)}; got {value!r}")
    return number


def check_optional_int(value: object, name: str, *, minimum: int | None = None) -> int | None:
    """:func:`check_int` for a parameter whose default is ``None``."""
    return None if value is None else check_int(value, name, minimum=minimum)


def check_real(value: object, name: str, *, positive: bool = False) -> float:
    """Return a finite real number as ``float``; ``positive`` excludes 0 and below."""
    number = _real(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be a number > 0; got {value!r}")
    return number


def check_fraction(value: object, name: str) -> float:
    """Return a number in (0, 1] as ``float``."""
    fraction = _real(value, name)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"{name} must be a fraction in (0, 1]; got {value!r}")
    return fraction


def check_choice(value: object, name: str, allowed: Collection[T]) -> T:
    """Return ``value`` if it is one of ``allowed``, which lists the accepted names."""
    if value in allowed:
        return value  # type: ignore[return-value]
    listed = ", ".join(repr(a) for a in allowed)
    if allowed and not any(isinstance(value, type(a)) for a in allowed):
        raise TypeError(f"{name} must be one of {listed}; got {type(value).__name__} {value!r}")
    raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (NumPy booleans too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__} {value!r}")
    return bool(value)


def _real(value: object, name: str) -> float:
    """``value`` as a float if it is a real number (not a bool), else a TypeError."""
    if isinstance(value, bool) or not isinstance(value, _REALS):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    return float(value)


def _int_words(minimum: int | None, allowed: Collection[int] | None) -> str:
    if allowed is not None:
        values = sorted(allowed)
        return "one of " + ", ".join(str(v) for v in values)
    if minimum == 1:
        return "a positive integer"
    return f"an integer >= {minimum}"
