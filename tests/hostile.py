"""Builders of hostile and edge-case image files, shared by the io and batch tests.

:func:`build_corpus` lays out a folder tree holding one file (or link) per case.
The tests state what each case must give.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

UNICODE_NAME = "фото café 1.png"
BOMB_SIDE = 30000


def photo(height: int = 96, width: int = 128, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A deterministic BGR test picture: smooth gradients plus texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.dstack([x * 255 // width, y * 255 // height, (x + y) % 256]).astype(np.uint8)
    noise = rng.integers(0, 40, image.shape, dtype=np.uint8)
    return np.asarray(cv2.add(cv2.GaussianBlur(image, (0, 0), 2), noise), np.uint8)


def encode(extension: str, image: npt.NDArray[Any], params: tuple[int, ...] = ()) -> bytes:
    """Encode with OpenCV, asserting success."""
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok, extension
    return data.tobytes()


def scan_start(jpeg: bytes) -> int:
    """Offset of the first byte of entropy-coded data in a baseline JPEG."""
    sos = jpeg.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(jpeg[sos + 2 : sos + 4], "big")


def overwrite_middle(jpeg: bytes, junk: bytes) -> bytes:
    """Overwrite bytes halfway through the entropy-coded data."""
    start = (scan_start(jpeg) + len(jpeg)) // 2
    return jpeg[:start] + junk + jpeg[start + len(junk) :]


def random_junk(size: int, seed: int = 1) -> bytes:
    """Random bytes without 0xFF, so no marker structure is disturbed."""
    junk = np.random.default_rng(seed).integers(0, 255, size, dtype=np.uint8)
    return junk.tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def zlib_zeros(length: int, block: int = 1 << 20) -> bytes:
    """A zlib stream of ``length`` zero bytes, built without holding them.

    One block is compressed and ended with a full flush, which resets the
    compressor, so the same bytes can be repeated; the Adler-32 of ``n`` zeros
    is ``(n mod 65521) << 16 | 1``.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(bytes(block)) + deflate.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(length, block)
    tail = deflate.compress(bytes(rest)) + deflate.flush(zlib.Z_FINISH)
    adler = ((length % 65521) << 16) | 1
    return b"\x78\xda" + piece * count + tail + adler.to_bytes(4, "big")


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A valid 8-bit gray PNG of ``side`` x ``side`` zeros, compressed about 1000:1."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib_zeros((side + 1) * side))
        + png_chunk(b"IEND", b"")
    )


def with_exif_orientation(image: npt.NDArray[np.uint8], fmt: str, orientation: int) -> bytes:
    """Encode a BGR image with Pillow, with EXIF Orientation (0x0112) set."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    options: dict[str, Any] = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(image[:, :, ::-1]).save(out, fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


CMYK_PATCHES = (
    (0, 0, 0, 0),
    (255, 0, 0, 0),
    (0, 255, 0, 0),
    (0, 0, 255, 0),
    (0, 0, 0, 255),
    (40, 120, 200, 30),
    (200, 30, 60, 90),
)


def cmyk_jpeg() -> bytes:
    """A CMYK JPEG of 16x16 patches (Pillow writes Adobe-inverted CMYK)."""
    patches = np.zeros((16, 16 * len(CMYK_PATCHES), 4), np.uint8)
    for index, value in enumerate(CMYK_PATCHES):
        patches[:, index * 16 : (index + 1) * 16] = value
    out = io.BytesIO()
    Image.fromarray(patches, "CMYK").save(out, "JPEG", quality=95)
    return out.getvalue()


def hidden_alpha() -> npt.NDArray[np.uint8]:
    """BGRA: a white secret under alpha 0 (left), opaque colour (right), half alpha (bottom)."""
    image = np.zeros((8, 8, 4), np.uint8)
    image[:, :4] = (255, 255, 255, 0)
    image[:, 4:] = (10, 20, 30, 255)
    image[6:, 4:] = (255, 255, 255, 128)
    return image


def build_corpus(root: Path) -> Path:
    """Lay out the hostile corpus under ``root/tree`` and return that folder.

    ``tree/up`` links to ``root``, which holds nothing but ``tree``, so
    following it stays inside the corpus.
    """
    tree = root / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "x.jpg").mkdir()
    jpeg = encode(".jpg", photo(), (cv2.IMWRITE_JPEG_QUALITY, 90))
    png = encode(".png", photo(seed=2))
    float_image = np.linspace(-1.5, 2.5, 6 * 7, dtype=np.float32).reshape(6, 7)
    not_finite = float_image.copy()
    not_finite[1, 1], not_finite[2, 2] = np.nan, np.inf
    gradient16 = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 109 % 65536).astype(
        np.uint16
    )
    files = {
        "photo.jpg": jpeg,
        "photo.png": png,
        "UPPER.JPG": encode(".jpg", photo(seed=3)),
        "empty.jpg": b"",
        "notes.jpg": b"These are notes, not a picture.\nSecond line.\n",
        "png_inside.jpg": png,
        "cut_half.jpg": jpeg[: len(jpeg) // 2],
        "corrupt_middle.jpg": overwrite_middle(jpeg, random_junk(200)),
        "stray_marker.jpg": overwrite_middle(jpeg, b"\xff\xc1\x00\x11"),
        "bad_crc.png": png[:-40] + bytes([png[-40] ^ 0xFF]) + png[-39:],
        "cut.png": png[: len(png) // 2],
        "gray16.png": encode(".png", gradient16),
        "color16.tiff": encode(".tiff", np.dstack([gradient16, gradient16 // 2, gradient16 // 3])),
        "hidden_alpha.png": encode(".png", hidden_alpha()),
        "cmyk.jpg": cmyk_jpeg(),
        "exif6.jpg": with_exif_orientation(photo(40, 60), "JPEG", 6),
        "one.png": encode(".png", np.full((1, 1), 7, np.uint8)),
        "two.png": encode(".png", np.array([[0, 255], [255, 0]], np.uint8)),
        "flat.png": encode(".png", np.full((16, 16, 3), 99, np.uint8)),
        "float.tiff": encode(".tiff", float_image),
        "nan.tiff": encode(".tiff", not_finite),
        "bomb.png": png_bomb(),
        UNICODE_NAME: png,
        "unreadable.png": png,
        "readme.txt": b"not an image\n",
        ".hidden.png": png,
        "sub/deep.png": encode(".png", photo(10, 12)),
        "x.jpg/inner.png": encode(".png", photo(5, 6)),
    }
    for name, data in files.items():
        (tree / name).write_bytes(data)
    os.chmod(tree / "unreadable.png", 0)
    os.link(tree / "photo.png", tree / "photo_hardlink.png")
    links = {
        "photo_link.jpg": "photo.jpg",
        "loop_a.jpg": "loop_b.jpg",
        "loop_b.jpg": "loop_a.jpg",
        "dangling.jpg": "missing.jpg",
        "here": ".",
        "up": "..",
    }
    for name, target in links.items():
        (tree / name).symlink_to(target)
    return tree


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every regular file and the target of every link under ``folder``."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            key = path.relative_to(folder).as_posix()
            if path.is_symlink():
                state[key] = "-> " + os.readlink(path)
            elif path.is_file():
                state[key] = hashlib.sha256(_read_even_if_unreadable(path)).hexdigest()
    return state


def _read_even_if_unreadable(path: Path) -> bytes:
    mode = path.stat().st_mode
    path.chmod(mode | 0o400)
    try:
        return path.read_bytes()
    finally:
        path.chmod(mode)
