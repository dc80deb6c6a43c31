"""Decoding: bytes to the array of a read mode, oriented, with alpha handled.

JPEGs are decoded with libjpeg's warnings captured (it reports recoverable
corruption only by printing them), at reduced scale on request; HEIF goes
through the optional pillow-heif; everything else through ``cv2.imdecode``.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from edgegrad._pixels import SUPPORTED_DTYPES, all_finite, to_gray
from edgegrad.io._formats import ORIENTATION_FLIPS, NotAnImageError

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
#: Whether libjpeg's messages reach the capture: the C runtimes of Windows need
#: not share file descriptor 2 with Python's.
SEES_LIBJPEG_WARNINGS: Final = sys.platform != "win32"


def decode(
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
            image, complaint = imdecode_watching_libjpeg(buffer, flags)
        else:
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise NotAnImageError(
            f"could not be decoded: {str(error).strip().splitlines()[-1]}"
        ) from None
    if image is None:
        raise NotAnImageError(f"could not be decoded as {kind.upper()} (corrupt or truncated data)")
    return image, complaint


def imdecode_watching_libjpeg(
    buffer: npt.NDArray[np.uint8], flags: int
) -> tuple[npt.NDArray[Any] | None, str | None]:
    """cv2.imdecode with file descriptor 2 captured, to see libjpeg's warnings.

    libjpeg reports recoverable corruption only by printing to stderr. Lines that
    are not such warnings are written back to stderr unchanged. The capture is
    one in-memory file per process (:func:`_capture`), emptied after each decode
    that wrote to it, instead of a temporary file per decode.
    """
    with _STDERR_LOCK:
        if sys.stderr is not None:
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:
            return cv2.imdecode(buffer, flags), None
        sink = _capture()
        try:
            os.dup2(sink, 2)
            try:
                image = cv2.imdecode(buffer, flags)
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        # fd 2 shared the sink's offset: it stands at the end of what was written.
        written = os.lseek(sink, 0, os.SEEK_CUR)
        if not written:
            return image, None
        os.lseek(sink, 0, os.SEEK_SET)
        captured = os.read(sink, written)
        os.lseek(sink, 0, os.SEEK_SET)
        os.ftruncate(sink, 0)
    lines = captured.decode(errors="replace").splitlines(keepends=True)
    complaints = [line.strip() for line in lines if line.startswith(_LIBJPEG_WARNINGS)]
    others = "".join(line for line in lines if not line.startswith(_LIBJPEG_WARNINGS))
    if others:
        os.write(2, others.encode())
    if not complaints:
        return image, None
    return image, f"damaged or non-conforming JPEG data (libjpeg: {'; '.join(complaints)})"


# This process's capture file, and the process that opened it: a forked child,
# which would share the parent's file offset, opens its own.
_SINK: dict[int, Any] = {}


def _capture() -> int:
    """The descriptor of this process's capture file for libjpeg's messages.

    A ``memfd`` where the system has one (Linux), else an anonymous temporary
    file; either way opened once per process and kept open, instead of a
    temporary file made and removed for every decode. Call it with
    ``_STDERR_LOCK`` held.
    """
    pid = os.getpid()
    if pid not in _SINK:
        _SINK.clear()  # an inherited one is left to its own process
        if hasattr(os, "memfd_create"):
            _SINK[pid] = os.memfd_create("edgegrad-libjpeg-messages", os.MFD_CLOEXEC)
        else:
            _SINK[pid] = tempfile.TemporaryFile()  # noqa: SIM115 (open while the process lives)
    sink = _SINK[pid]
    return sink if isinstance(sink, int) else int(sink.fileno())


def _decode_heif(data: bytes) -> npt.NDArray[Any]:
    try:
        import pillow_heif
    except ImportError:
        raise NotAnImageError(
            "HEIC/HEIF needs the optional pillow-heif package (pip install 'edgegrad[heic]')"
        ) from None
    try:
        rgb = np.asarray(pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False))
    except (ValueError, RuntimeError, OSError) as error:
        raise NotAnImageError(f"could not be decoded as HEIF: {error}") from None
    if rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        code = cv2.COLOR_RGB2BGR if rgb.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        return cv2.cvtColor(rgb, code)
    return rgb


def finish(image: npt.NDArray[Any], mode: str, orientation: int) -> npt.NDArray[Any]:
    """Check dtype, channels and values; orient; convert to the mode's layout."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[2] in (3, 4)):
        raise NotAnImageError(f"unsupported channel layout (decoded shape {image.shape})")
    if image.dtype not in SUPPORTED_DTYPES:
        raise NotAnImageError(
            f"unsupported sample type {image.dtype} "
            "(edgegrad reads 8/16-bit unsigned integer and 32/64-bit float images)"
        )
    if image.dtype.kind == "f" and not all_finite(image):
        raise NotAnImageError("contains NaN or infinite values")
    image = _apply_orientation(image, orientation)
    if mode == "unchanged":
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        image = _composite_on_grey(image)
    if mode == "gray" and image.ndim == 3:
        return to_gray(image)
    if mode == "color" and image.ndim == 2:
        return np.repeat(image[:, :, np.newaxis], 3, axis=2)
    return image


def _apply_orientation(image: npt.NDArray[Any], orientation: int) -> npt.NDArray[Any]:
    """Turn stored pixels into displayed pixels for EXIF orientation 1..8.

    OpenCV's transpose and flip do it several times faster than a NumPy copy
    of a transposed view (``benchmarks/README.md``).
    """
    if orientation not in ORIENTATION_FLIPS:
        return image
    if orientation >= 5:
        image = cv2.transpose(image)
    flip = ORIENTATION_FLIPS[orientation]
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
