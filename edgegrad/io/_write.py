"""Writing images and text atomically, in formats that hold the data exactly."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._validate import check_array, check_bool, check_path
from edgegrad.errors import ImageWriteError, OutputExistsError
from edgegrad.io._fs import (
    BINARY,
    StrPath,
    atomic_output,
    check_target,
    os_reason,
    write_all,
    write_atomically,
)
from edgegrad.io._remote import URL, as_location, url_output

__all__ = ["open_output", "writable_extensions", "write_bytes", "write_image", "write_text"]

_U8, _U16, _F32, _F64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))
# Output extension -> (dtypes it holds losslessly, channel counts it holds).
_WRITE_FORMATS: dict[str, tuple[frozenset[np.dtype[Any]], frozenset[int]]] = {
    ".png": (frozenset({_U8, _U16}), frozenset({1, 3, 4})),
    ".jpg": (frozenset({_U8}), frozenset({1, 3})),
    ".jpeg": (frozenset({_U8}), frozenset({1, 3})),
    ".tif": (frozenset({_U8, _U16, _F32, _F64}), frozenset({1, 3, 4})),
    ".tiff": (frozenset({_U8, _U16, _F32, _F64}), frozenset({1, 3, 4})),
    ".bmp": (frozenset({_U8}), frozenset({1, 3, 4})),
    ".webp": (frozenset({_U8}), frozenset({3, 4})),
    ".pgm": (frozenset({_U8, _U16}), frozenset({1})),
    ".ppm": (frozenset({_U8, _U16}), frozenset({3})),
    ".pnm": (frozenset({_U8, _U16}), frozenset({1, 3})),
}


def writable_extensions(
    dtype: npt.DTypeLike | None = None, channels: int | None = None
) -> tuple[str, ...]:
    """The output extensions :func:`write_image` takes, or those that hold an array exactly.

    Parameters
    ----------
    dtype : dtype, optional
        Only extensions that store this dtype without conversion.
    channels : int, optional
        Only extensions that store this many channels (1, 3 or 4).

    Returns
    -------
    tuple of str
        Lower-case extensions with the dot, ``.npy`` (any array) last.

    Examples
    --------
    >>> writable_extensions(np.float32)
    ('.tif', '.tiff', '.npy')
    """
    wanted = None if dtype is None else np.dtype(dtype)
    return (
        *(
            suffix
            for suffix, (dtypes, counts) in _WRITE_FORMATS.items()
            if (wanted is None or wanted in dtypes) and (channels is None or channels in counts)
        ),
        ".npy",
    )


def write_image(
    path: StrPath,
    array: npt.NDArray[Any],
    *,
    overwrite: bool = False,
    protected: StrPath | Iterable[StrPath] = (),
) -> Path:
    """Write an array to an image (or ``.npy``) file atomically.

    The data is encoded in memory first, written to a hidden temporary file in
    the target's folder (``.name.XXXXXXXXXXXX.tmp.ext``), flushed to disk and
    renamed over the target with :func:`os.replace`. On any failure, Ctrl-C
    included, the temporary file is removed and the target is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. The extension picks the format: ``.png``, ``.jpg``/
        ``.jpeg``, ``.tif``/``.tiff``, ``.bmp``, ``.webp``, ``.pgm``, ``.ppm``,
        ``.pnm`` or ``.npy``. Missing parent folders are created.
    array : numpy.ndarray
        ``(H, W)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA for image formats;
        any shape and non-object dtype for ``.npy``.
    overwrite : bool, optional
        Replace an existing file (default ``False``).
    protected : str, os.PathLike or an iterable of them, optional
        The inputs of the run. The target is refused if it is one of them,
        under any spelling, symbolic or hard link, even with ``overwrite``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputExistsError
        If the target exists and ``overwrite`` is false, or if it is one of
        the ``protected`` files.
    ImageWriteError
        If the format cannot hold the array's dtype or channels (the message
        suggests ``.tiff`` or ``.npy``), the extension is unknown, encoding
        fails, or the file system refuses.
    TypeError
        If ``array`` is not a numpy array.
    ValueError
        If ``array`` is empty, or has a shape no image format holds.

    Notes
    -----
    Nothing is converted: a dtype the format cannot store is an error, never a
    silent cast (``cv2.imwrite`` saturates float to uint8 and drops alpha from
    JPEG). Lossless choices: ``.png`` for uint8/uint16, ``.tiff`` for uint8,
    uint16, float32 and float64, ``.npy`` for anything.
    """
    target = check_path(path)
    suffix = target.suffix.lower()
    array = check_array(array)
    overwrite = check_bool(overwrite, "overwrite")
    _check_format(target, suffix, array)
    check_target(target, overwrite, protected)
    return write_atomically(target, _serializer(target, suffix, array), overwrite=overwrite)


def write_text(
    path: StrPath,
    text: str,
    *,
    overwrite: bool = False,
    protected: StrPath | Iterable[StrPath] = (),
) -> Path:
    """Write text (a report: CSV, JSON, a table) as UTF-8, atomically.

    The same guarantees as :func:`write_image`: temporary file, ``fsync``,
    :func:`os.replace`; no temporary file left on failure; missing parent
    folders created. An existing pipe or character device (``/dev/stdout``, a
    named pipe) is written into as a stream instead, never replaced.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    text : str
        The content, written as UTF-8 without newline translation.
    overwrite, protected
        As for :func:`write_image`.

    Returns
    -------
    pathlib.Path
        ``path``, once the text is in it.

    Raises
    ------
    OutputExistsError, ImageWriteError
        As for :func:`write_image` (without the format checks).
    """
    target = check_path(path)
    overwrite = check_bool(overwrite, "overwrite")
    stream = check_target(target, overwrite, protected, streams=True)
    # surrogateescape writes undecodable bytes of file names back as they were.
    data = text.encode("utf-8", "surrogateescape")
    if stream:
        try:
            fd = os.open(target, os.O_WRONLY | BINARY)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as error:
            raise ImageWriteError(target, os_reason(error)) from None
        return target
    return write_atomically(target, lambda file: file.write(data), overwrite=overwrite)


def write_bytes(
    path: StrPath,
    data: bytes,
    *,
    overwrite: bool = False,
    protected: StrPath | Iterable[StrPath] = (),
    durable: bool = True,
) -> Path:
    """Write bytes (an image already encoded, an asset of a report) to a file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; missing parent folders are created.
    data : bytes
        The content, written as it is.
    overwrite, protected
        As for :func:`write_image`.
    durable : bool, optional
        ``True`` (the default): as :func:`write_text`, through a temporary
        file, ``fsync`` and a rename, so the target is either whole or
        untouched. ``False``: written in place, without a temporary file or
        ``fsync``, for many small files that a durable write publishes
        afterwards (the thumbnails of an HTML report, which only its page,
        written last, refers to); a crash may leave one cut short. About 20
        times faster for a 5 KB file (``benchmarks/README.md``).

    Returns
    -------
    pathlib.Path
        ``path``, once the bytes are in it.

    Raises
    ------
    OutputExistsError, ImageWriteError
        As for :func:`write_text`.
    """
    target = check_path(path)
    overwrite = check_bool(overwrite, "overwrite")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    check_target(target, overwrite, protected)
    if durable:
        return write_atomically(target, lambda file: file.write(data), overwrite=overwrite)
    flags = os.O_WRONLY | os.O_CREAT | BINARY | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, flags, 0o666)
        try:
            write_all(fd, bytes(data))
        finally:
            os.close(fd)
    except FileExistsError:
        raise OutputExistsError(target, "already exists (it appeared during the write)") from None
    except OSError as error:
        raise ImageWriteError(target, os_reason(error)) from None
    return target


def _check_format(target: Path, suffix: str, array: npt.NDArray[Any]) -> None:
    """Refuse an array that the target's format cannot hold exactly."""
    if suffix == ".npy":
        if array.dtype.hasobject:
            raise ImageWriteError(
                target, "object arrays cannot be saved; convert to a number dtype"
            )
        return
    if suffix not in _WRITE_FORMATS:
        known = ", ".join(writable_extensions())
        raise ImageWriteError(
            target, f"unsupported output extension {suffix or '(none)'!r}; use one of {known}"
        )
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(f"array must have shape (H, W), (H, W, 3) or (H, W, 4); got {array.shape}")
    dtypes, channel_counts = _WRITE_FORMATS[suffix]
    if array.dtype not in dtypes:
        raise ImageWriteError(
            target,
            f"{suffix} cannot hold {array.dtype} data; write .tiff (uint8, uint16, float32, "
            "float64) or .npy (any dtype) to keep it losslessly",
        )
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels not in channel_counts:
        raise ImageWriteError(
            target, f"{suffix} cannot hold {channels}-channel images; write .png or .tiff instead"
        )


def _serializer(target: Path, suffix: str, array: npt.NDArray[Any]) -> Callable[[BinaryIO], Any]:
    """Encode (images) now; return a function that writes the result to a file."""
    if suffix == ".npy":
        return lambda file: np.save(file, array, allow_pickle=False)
    try:
        # OpenCV before 4.13 stores float32 TIFF with lossy SGILOG compression
        # unless told otherwise; ask for none on every version.
        lossless = suffix in (".tif", ".tiff") and array.dtype == np.float32
        params = [cv2.IMWRITE_TIFF_COMPRESSION, 1] if lossless else []
        ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(array), params)
    except cv2.error as error:
        ok, reason = False, str(error).strip().splitlines()[-1]
    else:
        reason = "the encoder reported failure"
    if not ok:
        raise ImageWriteError(target, f"OpenCV could not encode it as {suffix}: {reason}")
    return lambda file: file.write(encoded.data)


@contextlib.contextmanager
def open_output(
    target: StrPath | URL,
    *,
    overwrite: bool = False,
    protected: StrPath | Iterable[StrPath] = (),
) -> Iterator[BinaryIO]:
    """A binary file to write an output into, published whole when the block ends.

    For streamed outputs that are too big to hold, such as a Parquet table
    written in row groups. A local file is written as a hidden temporary file
    beside the target, flushed to disk (``fsync``) and renamed into place; a
    :class:`URL` is uploaded in one ``put`` (see ``edgegrad.io._remote``).
    If the block raises (Ctrl-C included), nothing is published and the
    temporary file is removed; one left by a killed run is removed by the next
    write of the same target. Either way no half-written file is ever at the
    final name.

    Parameters
    ----------
    target : str, os.PathLike or URL
        Where the output goes: a local path, or a URL of a store (``s3://``,
        ``gs://``, ``az://``, ``file://``; not ``http(s)://``).
    overwrite, protected
        As for :func:`write_image` (``protected`` applies to local targets).

    Yields
    ------
    BinaryIO
        The temporary file, open for writing.

    Raises
    ------
    OutputExistsError, ImageWriteError
        As for :func:`write_bytes`, before the block runs or when publishing.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_output(pathlib.Path(folder, "t.bin")) as file:
    ...         _ = file.write(b"whole")
    ...     pathlib.Path(folder, "t.bin").read_bytes()
    b'whole'
    """
    location = as_location(target)
    overwrite = check_bool(overwrite, "overwrite")
    if isinstance(location, URL):
        with url_output(location, overwrite=overwrite) as file:
            yield file
        return
    check_target(location, overwrite, protected)
    with atomic_output(location, overwrite=overwrite) as file:
        yield file
