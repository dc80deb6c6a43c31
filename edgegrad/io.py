"""Reading and writing image files, and finding them in folders.

This is the only module of edgegrad that touches the file system.

Reading rules, written down once
--------------------------------
* **Content, not extension.** The format is sniffed from the first bytes, so a
  PNG named ``.jpg`` reads fine and a text file named ``.jpg`` is refused as
  text. Files are read as bytes and decoded with :func:`cv2.imdecode`, which
  works with any path on any platform (``cv2.imread`` fails on non-ASCII paths
  on Windows and returns ``None`` silently on every problem).
* **Header first.** Width and height are parsed from the header (PNG IHDR,
  JPEG SOFn, BMP, GIF, WebP VP8/VP8L/VP8X, TIFF/BigTIFF IFD0, PNM/PAM/PFM,
  JPEG 2000 ``ihdr``/SIZ, AVIF/HEIF ``ispe``, Radiance HDR, Sun raster) and
  checked against ``max_pixels`` before anything is decoded, so a decompression
  bomb is refused in milliseconds. A format without a parser is refused.
* **Integrity.** PNG chunk lengths and CRCs are verified up to ``IEND``. JPEG
  markers are walked to the end-of-image marker, the entropy-coded data must
  hold no stray marker and its restart markers must come in sequence, and
  libjpeg's own "Corrupt JPEG data" warnings (which it only prints) are caught.
  Other formats rely on their decoder. A problem is an :class:`ImageReadError`
  unless ``allow_partial=True`` (see :func:`read_image_checked`).
* **dtype.** The sample type of the file is kept in every mode: 8-bit files
  give ``uint8``, 16-bit files ``uint16``, float TIFF/PFM/HDR ``float32`` (or
  ``float64``). Nothing is rescaled. Other sample types (signed integers,
  half floats) are refused. Float images holding NaN or infinity are refused.
* **Channels.** ``"gray"`` gives ``(H, W)``, ``"color"`` gives ``(H, W, 3)``
  in BGR order, ``"unchanged"`` gives what the file holds: ``(H, W)``,
  ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA. Gray is BT.601 luma: libjpeg's own
  gray decode for JPEG (identical to ``cv2.imread(path, IMREAD_GRAYSCALE)``),
  ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` for other formats. CMYK JPEGs are
  converted to BGR by the decoder in every mode.
* **Alpha.** In ``"gray"`` and ``"color"`` an alpha channel is composited onto
  a neutral mid-grey background (128 for uint8, 32768 for uint16, 0.5 for
  float, where alpha is taken as 0..1), so content hidden under ``alpha=0``
  shows as flat grey, never as the colours stored beneath. ``"unchanged"``
  returns BGRA as stored.
* **EXIF orientation** is applied in every mode, ``"unchanged"`` included:
  the Orientation tag (0x0112) of JPEG APP1, PNG ``eXIf`` and WebP ``EXIF`` is
  parsed here and applied with flips and transposes; TIFF orientation is applied
  by the TIFF decoder itself; HEIF transformations by libheif. AVIF, JPEG 2000
  and the other formats are returned as stored.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import fnmatch
import functools
import importlib.util
import io
import itertools
import os
import re
import secrets
import shutil
import stat
import struct
import sys
import tempfile
import threading
import warnings
import zlib
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._arrays import all_finite, check_choice
from edgegrad.errors import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    PartialImageWarning,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "READ_MODES",
    "TRANSFER_ACTIONS",
    "LoadedImage",
    "ReadMode",
    "RecordLog",
    "TransferAction",
    "image_extensions",
    "iter_images",
    "open_record_log",
    "read_image",
    "read_image_checked",
    "read_record_log",
    "transfer",
    "write_image",
    "write_text",
]

ReadMode: TypeAlias = Literal["gray", "color", "unchanged"]
StrPath: TypeAlias = str | os.PathLike[str]

READ_MODES: tuple[str, ...] = ("gray", "color", "unchanged")
MAX_PIXELS_ENV = "EDGEGRAD_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 250_000_000

_READ_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))
_EXIF_FORMATS = frozenset({"jpeg", "png", "webp"})
_JPEG_GRAY_FLAGS = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION
# JPEG decode flags at 1/1, 1/2, 1/4 and 1/8 scale (libjpeg's DCT scaling), by mode.
_JPEG_SCALED_FLAGS = {
    "gray": {
        1: _JPEG_GRAY_FLAGS,
        2: cv2.IMREAD_REDUCED_GRAYSCALE_2 | cv2.IMREAD_IGNORE_ORIENTATION,
        4: cv2.IMREAD_REDUCED_GRAYSCALE_4 | cv2.IMREAD_IGNORE_ORIENTATION,
        8: cv2.IMREAD_REDUCED_GRAYSCALE_8 | cv2.IMREAD_IGNORE_ORIENTATION,
    },
    "color": {
        1: cv2.IMREAD_UNCHANGED,
        2: cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION,
        4: cv2.IMREAD_REDUCED_COLOR_4 | cv2.IMREAD_IGNORE_ORIENTATION,
        8: cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION,
    },
}
# Openings of libjpeg's warning messages (jerror.h, JWRN_*). libjpeg prints only
# the first warning of a decode, so a harmless one would hide later corruption:
# all of them count.
_LIBJPEG_WARNINGS = (
    "Corrupt JPEG data",
    "Premature end of JPEG file",
    "Warning:",
    "Invalid SOS parameters",
    "Inconsistent progression sequence",
    "Unknown Adobe color transform",
    "Application transferred too",
)
_STDERR_LOCK = threading.Lock()

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SIGNATURE = b"\xff\x4f\xff\x51"
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_BETWEEN_SCANS = frozenset({0xC4, 0xCC, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

# cv2.flip code (0 rows, 1 columns, -1 both; None for no flip) after a transpose
# for orientations 5..8, for EXIF orientations 2..8.
_ORIENTATION_FLIPS: dict[int, int | None] = {2: 1, 3: -1, 4: 0, 5: None, 6: 1, 7: -1, 8: 0}

_BASE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
    | {".pgm", ".ppm", ".pbm", ".pnm", ".jp2"}
)

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


class _NotAnImageError(Exception):
    """Internal: the data is not a readable image; the message is the reason."""


@dataclass(frozen=True)
class _Probe:
    """What the header and integrity checks found, before decoding."""

    width: int
    height: int
    exif: bytes | None = None
    problem: str | None = None
    partial_ok: bool = True
    repair: bytes = b""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read by :func:`read_image_checked`.

    Attributes
    ----------
    array : numpy.ndarray
        The pixels, oriented, in the layout and dtype of the requested mode.
    path : pathlib.Path
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
    path: Path
    format: str
    width: int
    height: int
    warning: str | None
    reduction: int = 1


def read_image(
    path: StrPath,
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
    path : str or os.PathLike
        The file to read. Any name works, non-ASCII included.
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
    ImageReadError
        If the file is missing, unreadable, not an image, truncated or corrupt.
    ImageTooLargeError
        If its header declares more than ``max_pixels`` pixels.
    ValueError
        If ``mode`` or ``max_pixels`` (or ``EDGEGRAD_MAX_PIXELS``) is invalid.

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
    path: StrPath,
    *,
    mode: ReadMode = "gray",
    max_pixels: int | None = None,
    allow_partial: bool = False,
    reduce_to: int | None = None,
) -> LoadedImage:
    """Read an image file and report what was found about it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
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
    ValueError
        If ``mode`` or ``max_pixels`` (or ``EDGEGRAD_MAX_PIXELS``) is invalid.

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
      temporary file during the decode, one JPEG decode at a time per process;
      other output is passed on to stderr. On platforms where the decoder's C
      runtime does not share that descriptor, only the structural checks apply.
    """
    check_choice("mode", mode, READ_MODES)
    limit = _resolve_max_pixels(max_pixels)
    if reduce_to is not None and (
        isinstance(reduce_to, bool) or not isinstance(reduce_to, int) or reduce_to < 1
    ):
        raise ValueError(f"reduce_to must be a positive number of pixels; got {reduce_to!r}")
    path = Path(path)
    data = _read_bytes(path)
    try:
        kind = _sniff(data)
        probe = _PROBES[kind](data)
        if probe.width <= 0 or probe.height <= 0:
            raise _NotAnImageError(f"header declares an empty {probe.width}x{probe.height} image")
        if probe.width * probe.height > limit:
            raise ImageTooLargeError(
                path,
                f"header declares {probe.width}x{probe.height} = "
                f"{probe.width * probe.height:,} pixels, above the limit of {limit:,} "
                f"(raise max_pixels, --max-pixels on the command line, or {MAX_PIXELS_ENV} "
                "to read it)",
            )
        if probe.problem is not None and not (allow_partial and probe.partial_ok):
            raise _NotAnImageError(probe.problem)
        reduction = 1
        if kind == "jpeg" and mode != "unchanged" and reduce_to is not None:
            reduction = _reduction(probe.width, probe.height, reduce_to)
        # Concatenate only when there is a repair: it copies the whole file.
        image, complaint = _decode(
            kind, data + probe.repair if probe.repair else data, mode, reduction
        )
        if complaint is not None and not allow_partial:
            raise _NotAnImageError(complaint)
        orientation = _exif_orientation(probe.exif) if kind in _EXIF_FORMATS and probe.exif else 1
        image = _finish(image, mode, orientation)
    except _NotAnImageError as error:
        raise ImageReadError(path, str(error)) from None
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
    name = "max_pixels"
    value: object = max_pixels
    if max_pixels is None:
        raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_PIXELS
        name = f"environment variable {MAX_PIXELS_ENV}"
        try:
            value = int(raw)
        except ValueError:
            value = raw
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


def _read_bytes(path: Path) -> bytes:
    """Read a regular file whole, turning every OS failure into ImageReadError."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        reason = "is a dangling symbolic link" if path.is_symlink() else "no such file"
        raise ImageReadError(path, reason) from None
    except PermissionError:
        reason = "is a directory" if path.is_dir() else "permission denied"
        raise ImageReadError(path, reason) from None
    except OSError as error:
        raise ImageReadError(path, _os_reason(error)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(path, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ImageReadError(path, "is not a regular file")
        with open(fd, "rb", closefd=False) as file:
            data = file.read()
    except OSError as error:
        raise ImageReadError(path, _os_reason(error)) from None
    finally:
        os.close(fd)
    if not data:
        raise ImageReadError(path, "file is empty (0 bytes)")
    return data


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symbolic link loop"
    return (error.strerror or str(error)).lower()


# --- format sniffing -------------------------------------------------------------------


def _sniff(data: bytes) -> str:
    """Return the format name from the magic bytes, or raise _NotAnImageError."""
    head = data[:16]
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if re.match(rb"P[1-7Ff]\s", head):
        return "pnm"
    if head.startswith((_JP2_SIGNATURE, _J2K_SIGNATURE)):
        return "jpeg2000"
    if head[4:8] == b"ftyp":
        brands = {data[i : i + 4] for i in range(8, min(len(data), 8 + 64), 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heif"
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        return "hdr"
    if head[:4] == b"\x59\xa6\x6a\x95":
        return "sunraster"
    if _looks_like_text(data[:1024]):
        raise _NotAnImageError("not a recognised image format (looks like text)")
    raise _NotAnImageError(
        f"unsupported or unrecognised format (starts with bytes {data[:8].hex(' ')})"
    )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    # Allow one replacement character: the sample may cut a multi-byte character.
    return text.count("\ufffd") <= 1 and all(c.isprintable() or c in "\t\n\r\f" for c in text)


# --- header parsers: width, height, EXIF, integrity ------------------------------------


def _u(fmt: str, data: bytes, offset: int) -> tuple[Any, ...]:
    """struct.unpack_from that reports a short header as _NotAnImageError."""
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise _NotAnImageError("truncated or malformed header") from None


def _probe_png(data: bytes) -> _Probe:
    if data[12:16] != b"IHDR":
        raise _NotAnImageError("malformed PNG: the first chunk is not IHDR")
    width, height = _u(">II", data, 16)
    view = memoryview(data)
    exif: bytes | None = None
    problem: str | None = None
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            return _Probe(width, height, problem=_PNG_TRUNCATED, partial_ok=False)
        length, kind = _u(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return _Probe(width, height, problem=_PNG_TRUNCATED, partial_ok=False)
        (crc,) = _u(">I", data, end - 4)
        if problem is None and zlib.crc32(view[pos + 4 : end - 4]) != crc:
            name = kind.decode("latin-1")
            problem = f"corrupt PNG: CRC mismatch in the {name} chunk at byte {pos}"
        if kind == b"eXIf":
            exif = bytes(view[pos + 8 : end - 4])
        elif kind == b"IEND":
            return _Probe(width, height, exif=exif, problem=problem)
        pos = end


_PNG_TRUNCATED = "truncated PNG: the file ends before the IEND chunk"


def _probe_jpeg(data: bytes) -> _Probe:
    """Walk the JPEG markers to EOI, checking the entropy-coded data between them."""
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    entropy: _JpegEntropy | None = None
    scans = 0
    pos = 2
    while True:
        while pos + 1 < len(data) and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > len(data):
            break
        if data[pos] != 0xFF:
            return _jpeg_damaged(size, exif, f"corrupt JPEG: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xD9:
            if size is None or scans == 0:
                raise _NotAnImageError("corrupt JPEG: no image data before the end-of-image marker")
            return _Probe(size[1], size[0], exif=exif)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = _u(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            break
        if marker in _SOF_MARKERS and size is None:
            height, width = _u(">HH", data, pos + 5)
            size = (height, width)
        elif marker == 0xE1 and exif is None and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            exif = data[pos + 10 : end]
        if marker != 0xDA:
            pos = end
            continue
        if size is None:
            raise _NotAnImageError("corrupt JPEG: image data before the frame header")
        scans += 1
        entropy = entropy or _JpegEntropy(data)
        found = entropy.next_marker(end, scans)
        if isinstance(found, str):
            return _jpeg_damaged(size, exif, found)
        if found is None:
            break
        pos = found
    if size is None:
        raise _NotAnImageError("truncated JPEG: the file ends before the frame header")
    return _jpeg_damaged(
        size,
        exif,
        "truncated JPEG: the end-of-image marker is missing (the file was cut short)",
        repair=b"\xff\xd9",
    )


def _jpeg_damaged(
    size: tuple[int, int] | None, exif: bytes | None, problem: str, repair: bytes = b""
) -> _Probe:
    if size is None:
        raise _NotAnImageError(problem)
    return _Probe(size[1], size[0], exif=exif, problem=problem, repair=repair)


class _JpegEntropy:
    """Positions of markers and restart markers in a JPEG, found with NumPy.

    In entropy-coded data every 0xFF byte is followed by 0x00 (byte stuffing),
    by RST0..RST7 (0xD0..0xD7), or is a fill byte before a real marker.
    """

    def __init__(self, data: bytes) -> None:
        raw = np.frombuffer(data, np.uint8)
        ff = np.flatnonzero(raw[:-1] == 0xFF)
        following = raw[ff + 1]
        is_rst = (following >= 0xD0) & (following <= 0xD7)
        is_marker = (following != 0x00) & (following != 0xFF) & ~is_rst
        self._raw = raw
        self._markers = ff[is_marker]
        self._restarts = ff[is_rst]

    def next_marker(self, start: int, scan: int) -> int | str | None:
        """Offset of the marker ending the scan that starts at ``start``.

        Returns a problem description instead if the scan is corrupt, and
        ``None`` if no marker follows (the file was cut short).
        """
        index = int(np.searchsorted(self._markers, start))
        stop = int(self._markers[index]) if index < len(self._markers) else len(self._raw)
        lo, hi = np.searchsorted(self._restarts, [start, stop])
        numbers = self._raw[self._restarts[lo:hi] + 1] - 0xD0
        if not np.array_equal(numbers, np.arange(len(numbers)) % 8):
            return f"corrupt JPEG: restart markers out of sequence in scan {scan}"
        if index == len(self._markers):
            return None
        marker = int(self._raw[stop + 1])
        if marker not in _BETWEEN_SCANS:
            return f"corrupt JPEG: stray marker 0x{marker:02X} in the image data at byte {stop}"
        return stop


def _tiff_tags(data: bytes, wanted: frozenset[int]) -> dict[int, int]:
    """Integer values of the ``wanted`` tags of the first IFD of a TIFF structure."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        raise _NotAnImageError("malformed TIFF header")
    (magic,) = _u(order + "H", data, 2)
    if magic == 42:
        (ifd,) = _u(order + "I", data, 4)
        count_fmt, entry_size, value_at = "H", 12, 8
    elif magic == 43:
        (ifd,) = _u(order + "Q", data, 8)
        count_fmt, entry_size, value_at = "Q", 20, 12
    else:
        raise _NotAnImageError("malformed TIFF header")
    (count,) = _u(order + count_fmt, data, ifd)
    first = ifd + struct.calcsize(count_fmt)
    if first + count * entry_size > len(data):
        raise _NotAnImageError("truncated TIFF directory")
    values: dict[int, int] = {}
    value_formats = {3: "H", 4: "I", 16: "Q"}
    for entry in range(first, first + count * entry_size, entry_size):
        tag, kind = _u(order + "HH", data, entry)
        if tag in wanted and kind in value_formats:
            (values[tag],) = _u(order + value_formats[kind], data, entry + value_at)
    return values


def _probe_tiff(data: bytes) -> _Probe:
    tags = _tiff_tags(data, frozenset({256, 257}))
    if 256 not in tags or 257 not in tags:
        raise _NotAnImageError("malformed TIFF: no image width or length")
    return _Probe(tags[256], tags[257])


def _exif_orientation(exif: bytes) -> int:
    """The EXIF Orientation tag (1..8) of a TIFF-structured EXIF block, else 1."""
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    try:
        orientation = _tiff_tags(exif, frozenset({0x0112})).get(0x0112, 1)
    except _NotAnImageError:
        return 1
    return orientation if orientation in _ORIENTATION_FLIPS else 1


def _probe_webp(data: bytes) -> _Probe:
    (riff_size,) = _u("<I", data, 4)
    width, height, exif = _webp_chunks(data)
    if 8 + riff_size > len(data):
        problem = "truncated WebP: the file is shorter than its header says"
        return _Probe(width, height, problem=problem, partial_ok=False)
    return _Probe(width, height, exif=exif)


def _webp_chunks(data: bytes) -> tuple[int, int, bytes | None]:
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        kind, length = _u("<4sI", data, pos)
        start = pos + 8
        if kind == b"VP8X" and size is None:
            raw = _u("<4x3s3s", data, start)
            size = (1 + int.from_bytes(raw[0], "little"), 1 + int.from_bytes(raw[1], "little"))
        elif kind == b"VP8 " and size is None:
            width, height = _u("<6xHH", data, start)
            size = (width & 0x3FFF, height & 0x3FFF)
        elif kind == b"VP8L" and size is None:
            (bits,) = _u("<xI", data, start)
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"EXIF":
            exif = data[start : start + length]
        pos = start + length + (length & 1)
    if size is None:
        raise _NotAnImageError("malformed WebP: no image header")
    return size[0], size[1], exif


def _probe_bmp(data: bytes) -> _Probe:
    (header_size,) = _u("<I", data, 14)
    if header_size == 12:
        width, height = _u("<HH", data, 18)
    else:
        width, height = _u("<ii", data, 18)
    return _Probe(width, abs(height))


def _probe_gif(data: bytes) -> _Probe:
    width, height = _u("<HH", data, 6)
    return _Probe(width, height)


def _probe_pnm(data: bytes) -> _Probe:
    head = re.sub(rb"#[^\n]*", b" ", data[:4096])
    if head.startswith(b"P7"):
        fields = dict(re.findall(rb"(WIDTH|HEIGHT)\s+(\d+)", head))
        if b"WIDTH" not in fields or b"HEIGHT" not in fields:
            raise _NotAnImageError("malformed PAM header")
        return _Probe(int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]))
    match = re.match(rb"P[1-6Ff]\s+(\d+)\s+(\d+)\s", head)
    if match is None:
        raise _NotAnImageError("malformed PNM header")
    return _Probe(int(match[1]), int(match[2]))


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO base media / JP2 boxes in ``data[start:end]``: (type, payload start, end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = _u(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = _u(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _NotAnImageError("truncated or malformed box structure")
        yield kind, pos + header, pos + size
        pos += size


def _children(data: bytes, start: int, end: int, kind: bytes) -> Iterator[tuple[int, int]]:
    for found, payload, stop in _boxes(data, start, end):
        if found == kind:
            yield payload, stop


def _probe_jpeg2000(data: bytes) -> _Probe:
    if data.startswith(_J2K_SIGNATURE):
        x, y, x0, y0 = _u(">IIII", data, 8)
        return _Probe(x - x0, y - y0)
    for start, end in _children(data, 0, len(data), b"jp2h"):
        for payload, _ in _children(data, start, end, b"ihdr"):
            height, width = _u(">II", data, payload)
            return _Probe(width, height)
    raise _NotAnImageError("malformed JPEG 2000: no image header")


def _probe_isobmff(data: bytes) -> _Probe:
    """AVIF/HEIF: the largest ``ispe`` (image spatial extent) property.

    The largest declared extent bounds what the decoder allocates; it can exceed
    the visible size (HEVC codes in padded blocks, grids have tiles).
    """
    sizes = [
        _u(">4xII", data, payload)
        for meta, meta_end in _children(data, 0, len(data), b"meta")
        for iprp, iprp_end in _children(data, meta + 4, meta_end, b"iprp")
        for ipco, ipco_end in _children(data, iprp, iprp_end, b"ipco")
        for payload, _ in _children(data, ipco, ipco_end, b"ispe")
    ]
    if not sizes:
        raise _NotAnImageError("malformed AVIF/HEIF: no image size property")
    width, height = max(sizes, key=lambda size: size[0] * size[1])
    return _Probe(width, height)


def _probe_hdr(data: bytes) -> _Probe:
    match = re.search(rb"\n\s*\n([-+][XY])\s+(\d+)\s+([-+][XY])\s+(\d+)", data[:65536])
    if match is None:
        raise _NotAnImageError("malformed Radiance HDR header")
    first, second = int(match[2]), int(match[4])
    return _Probe(second, first) if match[1].endswith(b"Y") else _Probe(first, second)


def _probe_sunraster(data: bytes) -> _Probe:
    width, height = _u(">II", data, 4)
    return _Probe(width, height)


_PROBES: dict[str, Callable[[bytes], _Probe]] = {
    "png": _probe_png,
    "jpeg": _probe_jpeg,
    "tiff": _probe_tiff,
    "webp": _probe_webp,
    "bmp": _probe_bmp,
    "gif": _probe_gif,
    "pnm": _probe_pnm,
    "jpeg2000": _probe_jpeg2000,
    "avif": _probe_isobmff,
    "heif": _probe_isobmff,
    "hdr": _probe_hdr,
    "sunraster": _probe_sunraster,
}


# --- decoding --------------------------------------------------------------------------


def _decode(
    kind: str, data: bytes, mode: str, reduction: int = 1
) -> tuple[npt.NDArray[Any], str | None]:
    """Decode, returning the raw array and libjpeg's complaint (JPEG only).

    A JPEG is decoded at ``1 / reduction`` scale; ``reduction`` is 1 in
    ``"unchanged"`` mode and for other formats.
    """
    if kind == "heif":
        return _decode_heif(data), None
    buffer = np.frombuffer(data, np.uint8)
    complaint = None
    try:
        if kind == "jpeg":
            scaled = _JPEG_SCALED_FLAGS.get(mode)
            flags = cv2.IMREAD_UNCHANGED if scaled is None else scaled[reduction]
            image, complaint = _imdecode_watching_libjpeg(buffer, flags)
        else:
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise _NotAnImageError(
            f"could not be decoded: {str(error).strip().splitlines()[-1]}"
        ) from None
    if image is None:
        raise _NotAnImageError(
            f"could not be decoded as {kind.upper()} (corrupt or truncated data)"
        )
    return image, complaint


def _imdecode_watching_libjpeg(
    buffer: npt.NDArray[np.uint8], flags: int
) -> tuple[npt.NDArray[Any] | None, str | None]:
    """cv2.imdecode with file descriptor 2 captured, to see libjpeg's warnings.

    libjpeg reports recoverable corruption only by printing to stderr. Lines that
    are not such warnings are written back to stderr unchanged.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        if sys.stderr is not None:
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:
            return cv2.imdecode(buffer, flags), None
        try:
            os.dup2(sink.fileno(), 2)
            try:
                image = cv2.imdecode(buffer, flags)
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        sink.seek(0)
        lines = sink.read().decode(errors="replace").splitlines(keepends=True)
    complaints = [line.strip() for line in lines if line.startswith(_LIBJPEG_WARNINGS)]
    others = "".join(line for line in lines if not line.startswith(_LIBJPEG_WARNINGS))
    if others:
        os.write(2, others.encode())
    if not complaints:
        return image, None
    return image, f"damaged or non-conforming JPEG data (libjpeg: {'; '.join(complaints)})"


def _decode_heif(data: bytes) -> npt.NDArray[Any]:
    try:
        import pillow_heif
    except ImportError:
        raise _NotAnImageError(
            "HEIC/HEIF needs the optional pillow-heif package (pip install 'edgegrad[heic]')"
        ) from None
    try:
        rgb = np.asarray(pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False))
    except (ValueError, RuntimeError, OSError) as error:
        raise _NotAnImageError(f"could not be decoded as HEIF: {error}") from None
    if rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        code = cv2.COLOR_RGB2BGR if rgb.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        return cv2.cvtColor(rgb, code)
    return rgb


def _finish(image: npt.NDArray[Any], mode: str, orientation: int) -> npt.NDArray[Any]:
    """Check dtype, channels and values; orient; convert to the mode's layout."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[2] in (3, 4)):
        raise _NotAnImageError(f"unsupported channel layout (decoded shape {image.shape})")
    if image.dtype not in _READ_DTYPES:
        raise _NotAnImageError(
            f"unsupported sample type {image.dtype} "
            "(edgegrad reads 8/16-bit unsigned integer and 32/64-bit float images)"
        )
    if image.dtype.kind == "f" and not all_finite(image):
        raise _NotAnImageError("contains NaN or infinite values")
    image = _apply_orientation(image, orientation)
    if mode == "unchanged":
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        image = _composite_on_grey(image)
    if mode == "gray" and image.ndim == 3:
        return _to_gray(image)
    if mode == "color" and image.ndim == 2:
        return np.repeat(image[:, :, np.newaxis], 3, axis=2)
    return image


def _apply_orientation(image: npt.NDArray[Any], orientation: int) -> npt.NDArray[Any]:
    """Turn stored pixels into displayed pixels for EXIF orientation 1..8.

    OpenCV's transpose and flip do it several times faster than a NumPy copy
    of a transposed view (a 12 MP colour image: 18 ms against 77 ms).
    """
    if orientation not in _ORIENTATION_FLIPS:
        return image
    if orientation >= 5:
        image = cv2.transpose(image)
    flip = _ORIENTATION_FLIPS[orientation]
    return image if flip is None else cv2.flip(image, flip)


def _composite_on_grey(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Blend BGRA onto mid-grey, keeping the dtype."""
    colour, alpha = image[:, :, :3], image[:, :, 3:]
    if image.dtype.kind == "f":
        weight = np.clip(alpha, 0, 1)
        blended: npt.NDArray[Any] = colour * weight + 0.5 * (1 - weight)
        return blended.astype(image.dtype)
    top = int(np.iinfo(image.dtype).max)
    wide = np.uint16 if image.dtype == np.uint8 else np.uint32
    a = alpha.astype(wide)
    blended = (colour.astype(wide) * a + (top + 1) // 2 * (top - a) + top // 2) // top
    return blended.astype(image.dtype)


def _to_gray(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if image.dtype == np.float64:  # cv2.cvtColor has no 64-bit float path
        return np.ascontiguousarray(image @ np.array([0.114, 0.587, 0.299]))
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


# --- writing ---------------------------------------------------------------------------


def write_image(
    path: StrPath,
    array: npt.NDArray[Any],
    *,
    overwrite: bool = False,
    protected: Iterable[StrPath] = (),
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
    protected : iterable of str or os.PathLike, optional
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
    target = Path(path)
    suffix = target.suffix.lower()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy.ndarray; got {type(array).__name__}")
    if array.size == 0:
        raise ValueError(f"array is empty; got shape {array.shape}")
    _check_format(target, suffix, array)
    _check_target(target, overwrite, protected)
    return _write_atomically(target, _serializer(target, suffix, array), overwrite=overwrite)


def write_text(
    path: StrPath,
    text: str,
    *,
    overwrite: bool = False,
    protected: Iterable[StrPath] = (),
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
    overwrite : bool, optional
        Replace an existing file (default ``False``).
    protected : iterable of str or os.PathLike, optional
        Files never to write onto, even with ``overwrite`` (the run's inputs).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputExistsError
        If the target exists and ``overwrite`` is false, or is ``protected``.
    ImageWriteError
        If the file system refuses.
    """
    target = Path(path)
    stream = _check_target(target, overwrite, protected, streams=True)
    # surrogateescape writes undecodable bytes of file names back as they were.
    data = text.encode("utf-8", "surrogateescape")
    if stream:
        try:
            fd = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as error:
            raise ImageWriteError(target, _os_reason(error)) from None
        return target
    return _write_atomically(target, lambda file: file.write(data), overwrite=overwrite)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is out (a pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_atomically(
    target: Path, write: Callable[[BinaryIO], Any], *, overwrite: bool = True
) -> Path:
    """Write through a hidden temporary file in the target's folder, then rename.

    Without ``overwrite`` the temporary file is hard-linked into place, which
    fails if the name exists, so a file that appeared after the caller's check
    is not replaced either (a rename would replace it silently).
    """
    temporary = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, flags, 0o666)
    except OSError as error:
        raise ImageWriteError(target, _os_reason(error)) from None
    replaced = False
    try:
        with open(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if overwrite or not _link_into_place(temporary, target):
            os.replace(temporary, target)
        replaced = True
    except FileExistsError:
        raise OutputExistsError(target, "already exists (it appeared during the write)") from None
    except OSError as error:
        raise ImageWriteError(target, _os_reason(error)) from None
    finally:
        if not replaced or temporary.exists():
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
    return target


def _link_into_place(temporary: Path, target: Path) -> bool:
    """Hard-link ``temporary`` to ``target`` unless the name exists.

    Returns ``False`` where the file system has no hard links, so the caller
    falls back to a rename; raises ``FileExistsError`` if the name is taken.
    """
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            return False
        raise
    return True


def _check_format(target: Path, suffix: str, array: npt.NDArray[Any]) -> None:
    """Refuse an array that the target's format cannot hold exactly."""
    if suffix == ".npy":
        if array.dtype.hasobject:
            raise ImageWriteError(
                target, "object arrays cannot be saved; convert to a number dtype"
            )
        return
    if suffix not in _WRITE_FORMATS:
        known = ", ".join(sorted({*_WRITE_FORMATS, ".npy"}))
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
        ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(array))
    except cv2.error as error:
        ok, reason = False, str(error).strip().splitlines()[-1]
    else:
        reason = "the encoder reported failure"
    if not ok:
        raise ImageWriteError(target, f"OpenCV could not encode it as {suffix}: {reason}")
    return lambda file: file.write(encoded.data)


def _check_target(
    target: Path, overwrite: bool, protected: Iterable[StrPath], *, streams: bool = False
) -> bool:
    """Refuse a target that must not be written; return whether it is a stream.

    With ``streams``, an existing pipe or character device (``/dev/stdout``, a
    named pipe, ``/dev/null``) is accepted as a stream to write into in place,
    whatever ``overwrite`` says, and ``True`` is returned. Any other file that
    is not a regular file is refused: replacing it would destroy it.
    """
    try:
        info = target.stat()
    except FileNotFoundError:
        if target.is_symlink() and not overwrite:
            raise OutputExistsError(target, "already exists (a dangling symbolic link)") from None
        return False
    except OSError as error:
        raise ImageWriteError(target, _os_reason(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageWriteError(target, "is a directory")
    if not stat.S_ISREG(info.st_mode):
        if streams and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            return True
        raise ImageWriteError(
            target, "is not a regular file (a device, pipe or socket); refusing to replace it"
        )
    for item in protected:
        try:
            other = os.stat(item)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            raise OutputExistsError(
                target, f"is an input of this run ({os.fspath(item)}); refusing to write onto it"
            )
    if not overwrite:
        raise OutputExistsError(target, "already exists (pass overwrite=True to replace it)")
    return False


TransferAction: TypeAlias = Literal["move", "copy", "link"]
TRANSFER_ACTIONS: tuple[str, ...] = ("move", "copy", "link")


def transfer(
    source: StrPath,
    destination: StrPath,
    action: TransferAction,
    *,
    dry_run: bool = False,
    taken: Container[Path] = (),
) -> Path:
    """Move, copy or symlink a file into a folder, never replacing anything there.

    The file keeps its name; if that is taken, ``-1``, ``-2``, ... is added
    before the extension (``d.png`` → ``d-1.png``). Each name is claimed with an
    operation that fails if the name exists, so a file that appears meanwhile
    is not overwritten either.

    Parameters
    ----------
    source : str or os.PathLike
        The file.
    destination : str or os.PathLike
        The folder; created if missing.
    action : {"move", "copy", "link"}
        ``"move"`` renames (hard link, then unlink; a copy, then unlink, across
        file systems); ``"copy"`` copies data and timestamps; ``"link"`` makes
        a symbolic link to the absolute path of ``source``.
    dry_run : bool, optional
        Only return the path that would be used; change nothing.
    taken : container of pathlib.Path, optional
        Names to treat as taken although nothing is there yet, so that a dry
        run hands out the same names as the real run would.

    Returns
    -------
    pathlib.Path
        The new path of the file (or the path it would get).

    Raises
    ------
    ImageWriteError
        If the file system refuses (the message names the file and the reason).
    ValueError
        If ``action`` is not one of the three.
    """
    check_choice("action", action, TRANSFER_ACTIONS)
    source = Path(source)
    folder = Path(destination)
    candidates = (
        candidate
        for n in itertools.count()
        if (candidate := folder / (source.name if n == 0 else f"{source.stem}-{n}{source.suffix}"))
        not in taken
    )
    if dry_run:
        return next(c for c in candidates if not os.path.lexists(c))
    target = next(candidates)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        while not _claim(source, target, action):
            target = next(candidates)
        if action == "move":
            source.unlink()
    except OSError as error:
        reason = f"could not {action} it to {folder}: {_os_reason(error)}"
        raise ImageWriteError(source, reason) from None
    return target


def _claim(source: Path, target: Path, action: str) -> bool:
    """Create ``target`` from ``source``; ``False`` if the name is already taken."""
    try:
        if action == "link":
            os.symlink(source.absolute(), target)
            return True
        if action == "move" and _hard_link(source, target):
            return True
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(target, flags, 0o666)
    except FileExistsError:
        return False
    try:
        with open(fd, "wb") as out, open(source, "rb") as into:
            shutil.copyfileobj(into, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, target)
        if not filecmp.cmp(source, target, shallow=False):
            raise OSError(errno.EIO, "the copy differs from the original")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True


def _hard_link(source: Path, target: Path) -> bool:
    """Hard-link; ``False`` where that is impossible (another file system)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


# --- finding files ---------------------------------------------------------------------


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) that :func:`iter_images` picks up in folders.

    ``.jpg .jpeg .png .tif .tiff .bmp .webp .pgm .ppm .pbm .pnm .jp2``, plus
    ``.heic .heif`` when the optional ``pillow_heif`` package is installed.
    """
    if importlib.util.find_spec("pillow_heif") is not None:
        return _BASE_EXTENSIONS | {".heic", ".heif"}
    return _BASE_EXTENSIONS


def iter_images(
    paths: StrPath | Iterable[StrPath],
    *,
    recursive: bool = True,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    on_skip: Callable[[Path, str], None] | None = None,
    on_error: Callable[[Path, str], None] | None = None,
) -> Iterator[Path]:
    """Yield the image files named by, or found under, ``paths``.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files and folders, mixed.
    recursive : bool, optional
        Walk sub-folders (default ``True``); ``False`` lists only the files
        directly inside each named folder.
    include : iterable of str, optional
        :mod:`fnmatch` globs; when given, a file is kept only if one matches its
        path relative to the walked folder (``/``-separated) or its name. Like
        extensions, globs ignore case (``*.jpg`` matches ``IMG_1.JPG``).
    exclude : iterable of str, optional
        Globs matched the same way; a matching file is dropped, and a matching
        sub-folder is not entered.
    follow_symlinks : bool, optional
        Enter symbolic links to folders (default ``False``). A folder is never
        entered twice, so links to ``.`` or ``..`` cannot loop.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for an entry that looks like an
        image (image extension, passes the globs) but is left out on purpose:
        a non-regular file, a duplicate of a file already yielded; and for a
        folder that is not entered: a link not followed, or one already
        visited.
    on_error : callable, optional
        Called as ``on_error(path, reason)`` for what cannot be read: a folder
        that cannot be listed, an image entry whose status cannot be read (no
        permission, a dangling link, a link loop). Default: ``on_skip``.

    Returns
    -------
    iterator of pathlib.Path
        Paths as found (not resolved), each file once.

    Raises
    ------
    ImageReadError
        At call time, if a path named in ``paths`` does not exist (or is a
        dangling link or a link loop): a typo should not look like an empty
        folder.

    Notes
    -----
    * A named file is yielded whatever its extension, when it is a regular
      file (after following links) and passes ``include``/``exclude`` (matched
      on its name and the path as given).
    * Found in folders: regular files whose extension, in any case, is in
      :func:`image_extensions`. Symbolic links to files are yielded (they are
      regular files once resolved). Hidden entries (names starting with
      ``.``, such as ``.git``, macOS ``._`` files and the temporary files of
      :func:`write_image`) are passed over.
    * Order is deterministic: depth-first, entries sorted by name in each folder.
    * Files are de-duplicated by ``(st_dev, st_ino)``, so hard links, links and
      overlapping folders give each file once, under the first path met.
    """
    named = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    roots: list[tuple[Path, os.stat_result]] = []
    for item in named:
        root = Path(item)
        try:
            roots.append((root, root.stat()))
        except OSError as error:
            reason = "no such file or folder" if isinstance(error, FileNotFoundError) else None
            if reason and root.is_symlink():
                reason = "is a dangling symbolic link"
            raise ImageReadError(root, reason or _os_reason(error)) from None
    walk = _Walk(
        recursive=recursive,
        include=(include,) if isinstance(include, str) else tuple(include),
        exclude=(exclude,) if isinstance(exclude, str) else tuple(exclude),
        follow_symlinks=follow_symlinks,
        on_skip=on_skip or (lambda path, reason: None),
        on_error=on_error or on_skip or (lambda path, reason: None),
    )
    return walk.run(roots)


class _Walk:
    """State of one :func:`iter_images` run: the filters and what was seen."""

    def __init__(
        self,
        *,
        recursive: bool,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        follow_symlinks: bool,
        on_skip: Callable[[Path, str], None],
        on_error: Callable[[Path, str], None],
    ) -> None:
        self.recursive = recursive
        self.include = include
        self.exclude = exclude
        self.follow_symlinks = follow_symlinks
        self.skip = on_skip
        self.error = on_error
        self.extensions = image_extensions()
        self.seen_files: set[tuple[int, int]] = set()
        self.seen_folders: set[tuple[int, int]] = set()

    def run(self, roots: list[tuple[Path, os.stat_result]]) -> Iterator[Path]:
        for root, info in roots:
            if stat.S_ISDIR(info.st_mode):
                yield from self._folder(root, info)
            elif self._selected(os.fspath(root), root.name):
                if not stat.S_ISREG(info.st_mode):
                    self.skip(root, "not a regular file")
                elif self._first_time(root, info):
                    yield root

    def _folder(self, root: Path, info: os.stat_result) -> Iterator[Path]:
        if not self._enter(root, info):
            return
        stack = [iter(self._list(root))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if entry.name.startswith(".") or self._matches(self.exclude, relative, entry.name):
                continue
            candidate = path.suffix.lower() in self.extensions and self._selected(
                relative, entry.name
            )
            try:
                target = os.stat(entry.path)
            except OSError as error:
                if candidate:
                    dangling = isinstance(error, FileNotFoundError) and entry.is_symlink()
                    reason = "is a dangling symbolic link" if dangling else _os_reason(error)
                    self.error(path, reason)
                continue
            if stat.S_ISDIR(target.st_mode):
                if not self.recursive:
                    continue
                if entry.is_symlink() and not self.follow_symlinks:
                    self.skip(path, "symbolic link to a folder (not followed)")
                elif self._enter(path, target):
                    stack.append(iter(self._list(path)))
            elif candidate:
                if not stat.S_ISREG(target.st_mode):
                    self.skip(path, "not a regular file")
                elif self._first_time(path, target):
                    yield path

    def _enter(self, folder: Path, info: os.stat_result) -> bool:
        key = (info.st_dev, info.st_ino)
        if key in self.seen_folders:
            self.skip(folder, "folder already visited (symbolic link loop or repeated folder)")
            return False
        self.seen_folders.add(key)
        return True

    def _list(self, folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as entries:
                return sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            self.error(folder, f"cannot list folder: {_os_reason(error)}")
            return []

    def _first_time(self, path: Path, info: os.stat_result) -> bool:
        key = (info.st_dev, info.st_ino)
        if key in self.seen_files:
            self.skip(path, "same file as one already listed")
            return False
        self.seen_files.add(key)
        return True

    def _selected(self, relative: str, name: str) -> bool:
        if self._matches(self.exclude, relative, name):
            return False
        return not self.include or self._matches(self.include, relative, name)

    @staticmethod
    def _matches(patterns: tuple[str, ...], relative: str, name: str) -> bool:
        relative, name = relative.lower(), name.lower()
        return any(
            fnmatch.fnmatchcase(relative, p.lower()) or fnmatch.fnmatchcase(name, p.lower())
            for p in patterns
        )


# Record logs ------------------------------------------------------------------
#
# A long batch writes one line per finished input, so that a run that is
# stopped keeps what it did and a rerun can skip it.

_LOG_FLAGS = os.O_APPEND | getattr(os, "O_BINARY", 0)
_NEW_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _LOG_FLAGS
_LOG_BLOCK = 64 * 1024


class RecordLog:
    """A text file that grows by whole lines, each written with one ``os.write``.

    Made by :func:`open_record_log`. Nothing is buffered in the process: a line
    is in the file when :meth:`write_line` returns, so a process killed at any
    moment leaves only complete lines. Only a write cut short (a full disk, a
    system crash) can leave a last line without its newline, which
    :func:`open_record_log` cuts off when resuming.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    kept : int
        Bytes of earlier lines the file held when opened (0 for a new file).
    dropped : int
        Bytes of an incomplete last line cut off when it was opened to resume.
    """

    def __init__(
        self, path: Path, fd: int, *, kept: int = 0, dropped: int = 0, sync: bool = True
    ) -> None:
        self.path = path
        self.kept = kept
        self.dropped = dropped
        self._fd: int | None = fd
        self._sync = sync

    def write_line(self, line: str) -> None:
        """Append one line with a single write, undecodable file-name bytes as they were.

        Parameters
        ----------
        line : str
            The line, ending with ``"\\n"``.

        Raises
        ------
        ValueError
            If ``line`` does not end with a newline, or the log is closed.
        ImageWriteError
            If the file system refuses (a full disk, for example).
        """
        if not line.endswith("\n"):
            raise ValueError(f"line must end with a newline; got {line[-20:]!r}")
        if self._fd is None:
            raise ValueError(f"{self.path}: the record log is closed")
        try:
            _write_all(self._fd, line.encode("utf-8", "surrogateescape"))
        except OSError as error:
            raise ImageWriteError(self.path, _os_reason(error)) from None

    def close(self) -> None:
        """Flush the file to disk (``fsync``) and close it; closing again does nothing.

        Raises
        ------
        ImageWriteError
            If the flush fails.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._sync:
                os.fsync(fd)
        except OSError as error:
            raise ImageWriteError(self.path, _os_reason(error)) from None
        finally:
            os.close(fd)

    def __enter__(self) -> RecordLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_record_log(
    path: StrPath,
    *,
    overwrite: bool = False,
    protected: Iterable[StrPath] = (),
    resume: bool = False,
) -> RecordLog:
    """Open a log of records (CSV or JSONL lines) to append to while a batch runs.

    A new file is created exclusively: one that appears meanwhile is not
    replaced. Missing parent folders are created. An existing pipe or
    character device (``/dev/stdout``, a named pipe) is written into as a
    stream, never replaced; it cannot be resumed.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    overwrite : bool, optional
        Replace an existing file with a new, empty one, at once (default
        ``False``). The name is swapped for a new file, never written through:
        a symbolic link there is replaced, not followed.
    protected : iterable of str or os.PathLike, optional
        Files never to write onto, even with ``overwrite`` or ``resume`` (the
        run's inputs).
    resume : bool, optional
        Append to the file if it exists, else create it (default ``False``).
        An incomplete last line (one without its newline) is cut off first, so
        the next line starts on a line of its own; :attr:`RecordLog.dropped`
        says how many bytes went.

    Returns
    -------
    RecordLog
        The open log; close it (or use it as a context manager) to ``fsync``.

    Raises
    ------
    OutputExistsError
        If the file exists and neither ``overwrite`` nor ``resume`` is given, or
        if it is one of the ``protected`` files.
    ImageWriteError
        If the path is a folder, or the file system refuses.
    ValueError
        If both ``overwrite`` and ``resume`` are given.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_record_log(Path(folder, "run.jsonl")) as log:
    ...         log.write_line('{"path": "a.png"}\\n')
    ...     with open_record_log(Path(folder, "run.jsonl"), resume=True) as log:
    ...         print(log.kept, list(read_record_log(log.path)))
    18 ['{"path": "a.png"}\\n']
    """
    if overwrite and resume:
        raise ValueError("give overwrite or resume, not both")
    target = Path(path)
    stream = _check_target(
        target, overwrite or (resume and target.exists()), protected, streams=True
    )
    if stream and resume:
        raise ImageWriteError(target, "cannot read it to resume: it is a pipe or device")
    try:
        if stream:
            return RecordLog(target, os.open(target, os.O_WRONLY | _LOG_FLAGS), sync=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            return _reopen_log(target)
        if overwrite:
            return RecordLog(target, _replace_with_empty(target))
        return RecordLog(target, os.open(target, _NEW_LOG_FLAGS, 0o666))
    except FileExistsError:
        raise OutputExistsError(target, "already exists (it appeared during the check)") from None
    except OSError as error:
        raise ImageWriteError(target, _os_reason(error)) from None


def read_record_log(path: StrPath) -> Iterator[str]:
    """Yield the lines of a record log, each with its newline; none if there is no file.

    The last line lacks its newline if the write of it was cut short.
    Undecodable bytes of file names come back as surrogate escapes, as they
    were written.

    Parameters
    ----------
    path : str or os.PathLike
        The log.

    Yields
    ------
    str
        One line, ``"\\n"`` included where the file has it.

    Raises
    ------
    ImageWriteError
        If the file exists but cannot be read, or is not a regular file (a pipe
        or device cannot be read back).
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a pipe or device, not a file"
            raise ImageWriteError(path, f"cannot read it to resume: it is {kind}")
        file = open(path, "rb")  # noqa: SIM115 (closed by the with below, in the generator)
    except FileNotFoundError:
        return
    except OSError as error:
        raise ImageWriteError(path, f"cannot read it to resume: {_os_reason(error)}") from None
    with file:
        for line in file:
            yield line.decode("utf-8", "surrogateescape")


def _reopen_log(target: Path) -> RecordLog:
    """Open (or create) a log to append to, cutting off an incomplete last line."""
    fd = os.open(target, os.O_RDWR | _LOG_FLAGS | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        kept = _end_of_last_line(fd, size)
        if kept < size:
            os.ftruncate(fd, kept)
    except BaseException:
        os.close(fd)
        raise
    return RecordLog(target, fd, kept=kept, dropped=size - kept)


def _end_of_last_line(fd: int, size: int) -> int:
    """The offset just past the last newline of an open file of ``size`` bytes, else 0."""
    end = size
    while end > 0:
        start = max(0, end - _LOG_BLOCK)
        os.lseek(fd, start, os.SEEK_SET)
        newline = os.read(fd, end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _replace_with_empty(target: Path) -> int:
    """Swap ``target`` for a new, empty file and return its open descriptor."""
    temporary = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")
    fd = os.open(temporary, _NEW_LOG_FLAGS, 0o666)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return fd
