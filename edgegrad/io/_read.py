"""Reading one image file: bytes, header checks, decoding, and what was found."""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

import numpy.typing as npt

from edgegrad._validate import (
    check_bool,
    check_choice,
    check_int,
    check_optional_int,
)
from edgegrad.errors import ImageReadError, ImageTooLargeError, PartialImageWarning
from edgegrad.io._decode import SEES_LIBJPEG_WARNINGS, decode, finish
from edgegrad.io._formats import (
    EXIF_FORMATS,
    PROBES,
    NotAnImageError,
    exif_orientation,
    probe_jpeg_header,
    sniff,
)
from edgegrad.io._fs import BINARY, StrPath, os_reason
from edgegrad.io._remote import URL, as_location, read_url

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "READ_MODES",
    "LoadedImage",
    "ReadMode",
    "read_image",
    "read_image_checked",
]

ReadMode: TypeAlias = Literal["gray", "color", "unchanged"]

READ_MODES: tuple[ReadMode, ...] = get_args(ReadMode)
MAX_PIXELS_ENV = "EDGEGRAD_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 250_000_000
_JPEG_END = b"\xff\xd9"


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read by :func:`read_image_checked`.

    Attributes
    ----------
    array : numpy.ndarray
        The pixels, oriented, in the layout and dtype of the requested mode.
    path : pathlib.Path or URL
        The file that was read.
    format : str
        The format sniffed from the content: ``"png"``, ``"jpeg"``, ``"tiff"``,
        ``"webp"``, ``"bmp"``, ``"gif"``, ``"pnm"``, ``"jpeg2000"``, ``"avif"``,
        ``"heif"``, ``"hdr"`` or ``"sunraster"``.
    width, height : int
        Size of the image (after EXIF orientation). That is the size of
        ``array`` unless the image was decoded at reduced scale.
    warning : str or None
        ``None`` for a sound file. With ``allow_partial=True``, the integrity
        problem that was tolerated, for example a truncated JPEG whose missing
        rows the decoder filled with grey.
    reduction : int
        1, or 2, 4 or 8 when ``reduce_to`` let a JPEG be decoded at that
        fraction of its size: ``array`` is then ``ceil(height / reduction)``
        by ``ceil(width / reduction)``.
    """

    array: npt.NDArray[Any]
    path: Path | URL
    format: str
    width: int
    height: int
    warning: str | None
    reduction: int = 1


def read_image(
    path: StrPath | URL,
    *,
    mode: ReadMode = "gray",
    max_pixels: int | None = None,
    allow_partial: bool = False,
) -> npt.NDArray[Any]:
    """Read an image file into an array, safely.

    The array-returning form of :func:`read_image_checked`; see it for the
    details. When ``allow_partial=True`` lets a damaged file through, a
    :class:`~edgegrad.errors.PartialImageWarning` is issued.

    Parameters
    ----------
    path : str, os.PathLike or URL
        The file to read. Any name works, non-ASCII included. A URL (or a
        ``str`` that is one: ``s3://``, ``gs://``, ``az://``, ``http(s)://``,
        ``file://``) is read through fsspec, with the same checks.
    mode : {"gray", "color", "unchanged"}, optional
        Channel layout of the result (default ``"gray"``).
    max_pixels : int, optional
        Largest accepted ``width * height``. Default: the environment variable
        ``EDGEGRAD_MAX_PIXELS``, else 250 000 000.
    allow_partial : bool, optional
        Accept a truncated or corrupt file when the decoder still produces an
        image (default ``False``).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` for ``"gray"``, ``(H, W, 3)`` BGR for ``"color"``, as stored
        for ``"unchanged"``; ``uint8``, ``uint16``, ``float32`` or ``float64``
        as in the file.

    Raises
    ------
    ImageReadError, ImageTooLargeError, TypeError, ValueError
        As for :func:`read_image_checked`.

    Notes
    -----
    dtype: kept as in the file in every mode (8-bit → uint8, 16-bit → uint16,
    float → float32/float64), never rescaled. Alpha: composited onto mid-grey in
    ``"gray"``/``"color"``, kept in ``"unchanged"``. EXIF orientation: applied in
    every mode. The full rules are in the :mod:`edgegrad.io` module docstring.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from edgegrad.io import write_image
    >>> ramp = np.tile(np.arange(4, dtype=np.uint8), (2, 1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_image(pathlib.Path(folder) / "ramp.png", ramp)
    ...     read_image(path)
    array([[0, 1, 2, 3],
           [0, 1, 2, 3]], dtype=uint8)
    """
    loaded = read_image_checked(path, mode=mode, max_pixels=max_pixels, allow_partial=allow_partial)
    if loaded.warning is not None:
        warnings.warn(f"{loaded.path}: {loaded.warning}", PartialImageWarning, stacklevel=2)
    return loaded.array


def read_image_checked(
    path: StrPath | URL,
    *,
    mode: ReadMode = "gray",
    max_pixels: int | None = None,
    allow_partial: bool = False,
    reduce_to: int | None = None,
) -> LoadedImage:
    """Read an image file and report what was found about it.

    Parameters
    ----------
    path : str, os.PathLike or URL
        The file to read; a URL is read through fsspec (its back-end is an
        extra: :func:`edgegrad.io.remote_support` names it), its size asked
        of the store before any byte is read, and its errors name the URL
        without credentials.
    mode : {"gray", "color", "unchanged"}, optional
        Channel layout of the result (default ``"gray"``).
    max_pixels : int, optional
        Largest accepted ``width * height``, checked on the header before
        decoding. Default: the environment variable ``EDGEGRAD_MAX_PIXELS``,
        else 250 000 000. OpenCV's own limit (``OPENCV_IO_MAX_IMAGE_PIXELS``,
        2**30 by default, read when ``cv2`` is imported) still applies above it.
    allow_partial : bool, optional
        If ``True``, a file that fails an integrity check is still decoded, and
        returned with :attr:`LoadedImage.warning` set, as long as the decoder
        produces an image. A JPEG cut short is decoded up to the cut and its
        missing rows come out grey. A PNG cut short cannot be decoded and is
        always an error. Default ``False``: any integrity problem is an error.
    reduce_to : int, optional
        For a caller that will shrink the image anyway: decode a JPEG at 1/2,
        1/4 or 1/8 of its size, the smallest of these that still has at least
        ``reduce_to`` pixels, using libjpeg's DCT scaling (it keeps each
        block's low frequencies and skips the rest of the inverse transform,
        so it is both faster than a full decode and anti-aliased). Other
        formats, and ``"unchanged"`` mode, are decoded in full. Default: no
        reduction.

    Returns
    -------
    LoadedImage
        The array with its path, format, size and warning (``None`` unless
        ``allow_partial`` let a problem through).

    Raises
    ------
    ImageReadError
        If the file is missing, a folder, unreadable, empty, not a recognised
        image format, truncated or corrupt, holds NaN or infinity, or has a
        sample type or channel count edgegrad does not handle. The message
        names the file and the reason.
    ImageTooLargeError
        If the header declares more than ``max_pixels`` pixels.
    TypeError
        If ``max_pixels`` or ``reduce_to`` is not an integer, or ``mode`` not a string.
    ValueError
        If ``mode``, ``max_pixels`` (or ``EDGEGRAD_MAX_PIXELS``) or ``reduce_to``
        is out of range.

    Notes
    -----
    * dtype is kept as in the file in every mode; nothing is rescaled.
    * ``"gray"``/``"color"`` composite alpha onto mid-grey, so content under
      ``alpha=0`` is not exposed; ``"unchanged"`` keeps BGRA.
    * EXIF orientation is applied in every mode.
    * What the integrity checks detect: for PNG, any chunk whose CRC does not
      match and a file that ends before ``IEND``; for JPEG, a missing
      end-of-image marker (truncation), stray markers or out-of-sequence restart
      markers in the entropy-coded data, and every warning libjpeg prints while
      decoding (bytes overwritten mid-stream typically end a scan early or leave
      extraneous bytes). libjpeg prints only its first warning, so any warning,
      even a harmless-looking one such as an unknown JFIF revision, makes the
      file suspect. The warnings are read by pointing file descriptor 2 at a
      capture file (one per process, kept open) during the decode, one JPEG
      decode at a time per process; other output is passed on to stderr. Where
      that works (every platform but Windows, whose C runtimes need not share
      the descriptor), a JPEG that ends with its end-of-image marker has its
      entropy-coded data walked only if libjpeg complains, since libjpeg warns
      of every stray or out-of-sequence marker the walk finds; on Windows the
      walk always runs.
    """
    check_choice(mode, "mode", READ_MODES)
    limit = _resolve_max_pixels(max_pixels)
    reduce_to = check_optional_int(reduce_to, "reduce_to", minimum=1)
    allow_partial = check_bool(allow_partial, "allow_partial")
    path = as_location(path)
    data = _read_url_bytes(path, limit) if isinstance(path, URL) else _read_bytes(path, limit)
    named = str(path) if isinstance(path, URL) else path
    try:
        kind = sniff(data)
        # A JPEG that ends as a whole one does has its image data checked by
        # libjpeg first; the marker walk over all of it runs if libjpeg complains.
        walk_later = SEES_LIBJPEG_WARNINGS and kind == "jpeg" and data.endswith(_JPEG_END)
        probe = probe_jpeg_header(data) if walk_later else PROBES[kind](data)
        if probe.width <= 0 or probe.height <= 0:
            raise NotAnImageError(f"header declares an empty {probe.width}x{probe.height} image")
        if probe.width * probe.height > limit:
            raise ImageTooLargeError(
                named,
                f"header declares {probe.width}x{probe.height} = "
                f"{probe.width * probe.height:,} pixels, above the limit of {limit:,} "
                f"(raise max_pixels, --max-pixels on the command line, or {MAX_PIXELS_ENV} "
                "to read it)",
            )
        if probe.problem is not None and not (allow_partial and probe.partial_ok):
            raise NotAnImageError(probe.problem)
        reduction = 1
        if kind == "jpeg" and mode != "unchanged" and reduce_to is not None:
            reduction = _reduction(probe.width, probe.height, reduce_to)
        failure: NotAnImageError | None = None
        try:
            # Concatenate only when there is a repair: it copies the whole file.
            image, complaint = decode(
                kind, data + probe.repair if probe.repair else data, mode, reduction
            )
        except NotAnImageError as error:
            if not walk_later:
                raise
            failure, complaint = error, str(error)
        if walk_later and complaint is not None:
            # libjpeg complained, or gave up: the full walk names what it finds more
            # precisely, as it would have before decoding, and repairs a cut file.
            probe = PROBES[kind](data)
            if probe.problem is not None and not (allow_partial and probe.partial_ok):
                raise NotAnImageError(probe.problem)
            if probe.repair:
                image, complaint = decode(kind, data + probe.repair, mode, reduction)
            elif failure is not None:
                raise failure
        if complaint is not None and not allow_partial:
            raise NotAnImageError(complaint)
        orientation = exif_orientation(probe.exif) if kind in EXIF_FORMATS and probe.exif else 1
        image = finish(image, mode, orientation)
    except NotAnImageError as error:
        raise ImageReadError(named, str(error)) from None
    height, width = image.shape[:2]
    if reduction > 1:
        width, height = (
            (probe.height, probe.width) if orientation >= 5 else (probe.width, probe.height)
        )
    return LoadedImage(
        array=image,
        path=path,
        format=kind,
        width=width,
        height=height,
        warning=probe.problem or complaint,
        reduction=reduction,
    )


def _reduction(width: int, height: int, reduce_to: int) -> int:
    """The largest of 8, 4, 2 whose JPEG scaled decode keeps ``reduce_to`` pixels, else 1."""
    for factor in (8, 4, 2):
        if -(-width // factor) * -(-height // factor) >= reduce_to:
            return factor
    return 1


def _resolve_max_pixels(max_pixels: int | None) -> int:
    """``max_pixels``, else ``EDGEGRAD_MAX_PIXELS``, else the default, checked."""
    if max_pixels is not None:
        return check_int(max_pixels, "max_pixels", minimum=1)
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"environment variable {MAX_PIXELS_ENV} must be a positive integer; got {raw!r}"
        )
    return value


# Files up to this size are read whole at once; above it, the header decides first.
_SMALL_FILE = 64 * 1024 * 1024
# What is read of a large file to find its format and declared size.
_HEAD = 1024 * 1024
# The most a pixel takes in any format read here (four float64 channels,
# uncompressed), and room for metadata (EXIF, ICC profiles, text chunks).
_MOST_BYTES_PER_PIXEL = 32
_METADATA_ALLOWANCE = 64 * 1024 * 1024
# Formats that hold one image, whose file size is bounded by its declared size.
# TIFF and GIF may hold many pages or frames, and a TIFF's directory may lie at
# its end: they are bounded by the pixel limit instead.
_SINGLE_IMAGE = frozenset({"png", "jpeg", "webp", "bmp", "pnm", "jpeg2000", "hdr", "sunraster"})


def _read_bytes(path: Path, max_pixels: int) -> bytes:
    """Read a regular file whole, turning every OS failure into ImageReadError.

    A file larger than ``_SMALL_FILE`` is judged by its first megabyte
    before the rest is read: its format must be recognised, and its size must
    be one its image could have. That is ``_MOST_BYTES_PER_PIXEL`` bytes for
    each pixel its header declares, for formats that hold one image, or for
    each of ``max_pixels`` pixels otherwise, plus ``_METADATA_ALLOWANCE``. A
    hostile or broken file (a sparse 2 GB ``.jpg`` holding a tiny header) is
    refused at once instead of being read into memory.
    """
    flags = os.O_RDONLY | BINARY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        reason = "is a dangling symbolic link" if path.is_symlink() else "no such file"
        raise ImageReadError(path, reason) from None
    except PermissionError:
        reason = "is a directory" if path.is_dir() else "permission denied"
        raise ImageReadError(path, reason) from None
    except OSError as error:
        raise ImageReadError(path, os_reason(error)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(path, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ImageReadError(path, "is not a regular file")
        with open(fd, "rb", closefd=False) as file:
            if info.st_size > _SMALL_FILE:
                head = file.read(_HEAD)
                _check_file_size(path, head, info.st_size, max_pixels)
                data = head + file.read()
            else:
                data = file.read()
    except OSError as error:
        raise ImageReadError(path, os_reason(error)) from None
    except MemoryError:
        raise ImageReadError(
            path, f"not enough memory to read its {info.st_size:,} bytes"
        ) from None
    finally:
        os.close(fd)
    if not data:
        raise ImageReadError(path, "file is empty (0 bytes)")
    return data


def _read_url_bytes(url: URL, max_pixels: int) -> bytes:
    """Read the file at a URL whole, with the size checks of :func:`_read_bytes`."""

    def judge(head: bytes, size: int) -> None:
        if size > _SMALL_FILE:
            _check_file_size(str(url), head, size, max_pixels)

    return read_url(url, whole=_SMALL_FILE, head=_HEAD, judge=judge)


def _check_file_size(path: StrPath, head: bytes, size: int, max_pixels: int) -> None:
    """Refuse a large file whose size its format and declared image cannot explain."""
    try:
        kind = sniff(head)
    except NotAnImageError as error:
        raise ImageReadError(path, str(error)) from None
    pixels, what = max_pixels, f"an image within the limit of {max_pixels:,} pixels"
    if kind in _SINGLE_IMAGE:
        try:
            probe = PROBES[kind](head)
        except NotAnImageError:
            pass
        else:
            pixels = max(probe.width, 0) * max(probe.height, 0)
            what = f"the {probe.width}x{probe.height} {kind.upper()} its header declares"
    most = pixels * _MOST_BYTES_PER_PIXEL + _METADATA_ALLOWANCE
    if size > most:
        raise ImageReadError(
            path,
            f"file is {size:,} bytes, more than {what} can take (at most {most:,}); "
            "refusing to read it",
        )
