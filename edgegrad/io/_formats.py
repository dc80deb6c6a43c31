"""Formats: recognise an image by its first bytes and read its header.

Each probe parses the width and height (and the EXIF block, where the format
has one) without decoding, and checks the file's integrity where the format
allows: PNG chunk CRCs up to ``IEND``; JPEG markers up to the end-of-image
marker, with no stray marker in the entropy-coded data and restart markers in
sequence. A problem found here is recorded in :class:`Probe`, for the reader
to refuse or, with ``allow_partial``, tolerate.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SIGNATURE = b"\xff\x4f\xff\x51"
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_BETWEEN_SCANS = frozenset({0xC4, 0xCC, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
#: Formats whose EXIF Orientation edgegrad applies itself (TIFF and HEIF decoders do).
EXIF_FORMATS: Final = frozenset({"jpeg", "png", "webp"})

# cv2.flip code (0 rows, 1 columns, -1 both; None for no flip) after a transpose
# for orientations 5..8, for EXIF orientations 2..8.
ORIENTATION_FLIPS: dict[int, int | None] = {2: 1, 3: -1, 4: 0, 5: None, 6: 1, 7: -1, 8: 0}


class NotAnImageError(Exception):
    """Internal: the data is not a readable image; the message is the reason."""


@dataclass(frozen=True)
class Probe:
    """What the header and integrity checks found, before decoding."""

    width: int
    height: int
    exif: bytes | None = None
    problem: str | None = None
    partial_ok: bool = True
    repair: bytes = b""


def sniff(data: bytes) -> str:
    """Return the format name from the magic bytes, or raise NotAnImageError."""
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
    video = sniff_video(data)
    if video is not None:
        raise NotAnImageError(
            f"is a video ({VIDEO_FORMATS[video]}), not an image: read its frames with "
            "edgegrad.io.iter_frames, or score them with edgegrad blur-score"
        )
    if _looks_like_text(data[:1024]):
        raise NotAnImageError("not a recognised image format (looks like text)")
    raise NotAnImageError(
        f"unsupported or unrecognised format (starts with bytes {data[:8].hex(' ')})"
    )


#: The video containers :func:`sniff_video` recognises, with the name users know them by.
VIDEO_FORMATS: Final = {
    "mp4": "MP4/MOV",
    "matroska": "Matroska/WebM",
    "avi": "AVI",
    "mpegts": "MPEG-TS",
}
#: Enough of a file's start for :func:`sniff_video` (an MPEG-TS needs three packets).
VIDEO_HEAD = 1024
# The top-level atoms a QuickTime file may begin with when it has no ``ftyp``.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_TS_PACKET = 188


def sniff_video(data: bytes) -> str | None:
    """The video container of ``data`` (a file's first bytes), or None.

    ``"mp4"`` for an ISO base media file (MP4, MOV, M4V, 3GP) whose ``ftyp``
    names no still-image brand, or a QuickTime file that starts with one of
    its top-level atoms; ``"matroska"`` for an EBML header (Matroska, WebM);
    ``"avi"`` for RIFF ``AVI ``; ``"mpegts"`` for the MPEG transport stream's
    sync byte at every packet start of the first kilobyte, at least three
    (188-byte packets, or the 192-byte packets of M2TS). Give it at least
    :data:`VIDEO_HEAD` bytes.

    Examples
    --------
    >>> sniff_video(b"\\x00\\x00\\x00\\x18ftypmp42\\x00\\x00\\x00\\x00mp42isom")
    'mp4'
    >>> sniff_video(b"\\x1aE\\xdf\\xa3" + bytes(60)), sniff_video(b"\\x89PNG\\r\\n\\x1a\\n")
    ('matroska', None)
    """
    head = data[:16]
    if head[4:8] == b"ftyp":
        brands = {data[i : i + 4] for i in range(8, min(len(data), 8 + 64), 4)}
        return None if brands & (_AVIF_BRANDS | _HEIF_BRANDS) else "mp4"
    if head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"GIF8"):
        return None
    for start, size in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):
        # Every packet start within the first kilobyte, and at least three.
        starts = range(start, min(len(data), VIDEO_HEAD), size)
        if len(starts) >= 3 and all(data[i] == 0x47 for i in starts):
            return "mpegts"
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    # Allow one replacement character: the sample may cut a multi-byte character.
    return text.count("\ufffd") <= 1 and all(c.isprintable() or c in "\t\n\r\f" for c in text)


# --- header parsers: width, height, EXIF, integrity ------------------------------------


def _u(fmt: str, data: bytes, offset: int) -> tuple[Any, ...]:
    """struct.unpack_from that reports a short header as NotAnImageError."""
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise NotAnImageError("truncated or malformed header") from None


def _probe_png(data: bytes) -> Probe:
    if data[12:16] != b"IHDR":
        raise NotAnImageError("malformed PNG: the first chunk is not IHDR")
    width, height = _u(">II", data, 16)
    view = memoryview(data)
    exif: bytes | None = None
    problem: str | None = None
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            return Probe(width, height, problem=_PNG_TRUNCATED, partial_ok=False)
        length, kind = _u(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return Probe(width, height, problem=_PNG_TRUNCATED, partial_ok=False)
        (crc,) = _u(">I", data, end - 4)
        if problem is None and zlib.crc32(view[pos + 4 : end - 4]) != crc:
            name = kind.decode("latin-1")
            problem = f"corrupt PNG: CRC mismatch in the {name} chunk at byte {pos}"
        if kind == b"eXIf":
            exif = bytes(view[pos + 8 : end - 4])
        elif kind == b"IEND":
            return Probe(width, height, exif=exif, problem=problem)
        pos = end


_PNG_TRUNCATED = "truncated PNG: the file ends before the IEND chunk"


def probe_jpeg_header(data: bytes) -> Probe:
    """Size and EXIF of a JPEG from its markers up to the first scan, data unchecked.

    For a reader that lets the decoder check the entropy-coded data (libjpeg
    warns about everything the full walk of :func:`_probe_jpeg` finds there)
    and walks the markers only once the decoder has complained.
    """
    return _probe_jpeg(data, header_only=True)


def _probe_jpeg(data: bytes, *, header_only: bool = False) -> Probe:
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
                raise NotAnImageError("corrupt JPEG: no image data before the end-of-image marker")
            return Probe(size[1], size[0], exif=exif)
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
            raise NotAnImageError("corrupt JPEG: image data before the frame header")
        if header_only:
            return Probe(size[1], size[0], exif=exif)
        scans += 1
        entropy = entropy or _JpegEntropy(data)
        found = entropy.next_marker(end, scans)
        if isinstance(found, str):
            return _jpeg_damaged(size, exif, found)
        if found is None:
            break
        pos = found
    if size is None:
        raise NotAnImageError("truncated JPEG: the file ends before the frame header")
    return _jpeg_damaged(
        size,
        exif,
        "truncated JPEG: the end-of-image marker is missing (the file was cut short)",
        repair=b"\xff\xd9",
    )


def _jpeg_damaged(
    size: tuple[int, int] | None, exif: bytes | None, problem: str, repair: bytes = b""
) -> Probe:
    if size is None:
        raise NotAnImageError(problem)
    return Probe(size[1], size[0], exif=exif, problem=problem, repair=repair)


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
        raise NotAnImageError("malformed TIFF header")
    (magic,) = _u(order + "H", data, 2)
    if magic == 42:
        (ifd,) = _u(order + "I", data, 4)
        count_fmt, entry_size, value_at = "H", 12, 8
    elif magic == 43:
        (ifd,) = _u(order + "Q", data, 8)
        count_fmt, entry_size, value_at = "Q", 20, 12
    else:
        raise NotAnImageError("malformed TIFF header")
    (count,) = _u(order + count_fmt, data, ifd)
    first = ifd + struct.calcsize(count_fmt)
    if first + count * entry_size > len(data):
        raise NotAnImageError("truncated TIFF directory")
    values: dict[int, int] = {}
    value_formats = {3: "H", 4: "I", 16: "Q"}
    for entry in range(first, first + count * entry_size, entry_size):
        tag, kind = _u(order + "HH", data, entry)
        if tag in wanted and kind in value_formats:
            (values[tag],) = _u(order + value_formats[kind], data, entry + value_at)
    return values


def _probe_tiff(data: bytes) -> Probe:
    tags = _tiff_tags(data, frozenset({256, 257}))
    if 256 not in tags or 257 not in tags:
        raise NotAnImageError("malformed TIFF: no image width or length")
    return Probe(tags[256], tags[257])


def exif_orientation(exif: bytes) -> int:
    """The EXIF Orientation tag (1..8) of a TIFF-structured EXIF block, else 1."""
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    try:
        orientation = _tiff_tags(exif, frozenset({0x0112})).get(0x0112, 1)
    except NotAnImageError:
        return 1
    return orientation if orientation in ORIENTATION_FLIPS else 1


def _probe_webp(data: bytes) -> Probe:
    (riff_size,) = _u("<I", data, 4)
    width, height, exif = _webp_chunks(data)
    if 8 + riff_size > len(data):
        problem = "truncated WebP: the file is shorter than its header says"
        return Probe(width, height, problem=problem, partial_ok=False)
    return Probe(width, height, exif=exif)


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
        raise NotAnImageError("malformed WebP: no image header")
    return size[0], size[1], exif


def _probe_bmp(data: bytes) -> Probe:
    (header_size,) = _u("<I", data, 14)
    if header_size == 12:
        width, height = _u("<HH", data, 18)
    else:
        width, height = _u("<ii", data, 18)
    return Probe(width, abs(height))


def _probe_gif(data: bytes) -> Probe:
    width, height = _u("<HH", data, 6)
    return Probe(width, height)


def _probe_pnm(data: bytes) -> Probe:
    head = re.sub(rb"#[^\n]*", b" ", data[:4096])
    if head.startswith(b"P7"):
        fields = dict(re.findall(rb"(WIDTH|HEIGHT)\s+(\d+)", head))
        if b"WIDTH" not in fields or b"HEIGHT" not in fields:
            raise NotAnImageError("malformed PAM header")
        return Probe(int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]))
    match = re.match(rb"P[1-6Ff]\s+(\d+)\s+(\d+)\s", head)
    if match is None:
        raise NotAnImageError("malformed PNM header")
    return Probe(int(match[1]), int(match[2]))


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
            raise NotAnImageError("truncated or malformed box structure")
        yield kind, pos + header, pos + size
        pos += size


def _children(data: bytes, start: int, end: int, kind: bytes) -> Iterator[tuple[int, int]]:
    for found, payload, stop in _boxes(data, start, end):
        if found == kind:
            yield payload, stop


def _probe_jpeg2000(data: bytes) -> Probe:
    if data.startswith(_J2K_SIGNATURE):
        x, y, x0, y0 = _u(">IIII", data, 8)
        return Probe(x - x0, y - y0)
    for start, end in _children(data, 0, len(data), b"jp2h"):
        for payload, _ in _children(data, start, end, b"ihdr"):
            height, width = _u(">II", data, payload)
            return Probe(width, height)
    raise NotAnImageError("malformed JPEG 2000: no image header")


def _probe_isobmff(data: bytes) -> Probe:
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
        raise NotAnImageError("malformed AVIF/HEIF: no image size property")
    width, height = max(sizes, key=lambda size: size[0] * size[1])
    return Probe(width, height)


def _probe_hdr(data: bytes) -> Probe:
    match = re.search(rb"\n\s*\n([-+][XY])\s+(\d+)\s+([-+][XY])\s+(\d+)", data[:65536])
    if match is None:
        raise NotAnImageError("malformed Radiance HDR header")
    first, second = int(match[2]), int(match[4])
    return Probe(second, first) if match[1].endswith(b"Y") else Probe(first, second)


def _probe_sunraster(data: bytes) -> Probe:
    width, height = _u(">II", data, 4)
    return Probe(width, height)


PROBES: dict[str, Callable[[bytes], Probe]] = {
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
