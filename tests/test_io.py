"""Tests of edgegrad.io: reading hostile files, atomic writing, walking folders."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import struct
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import pytest
import tifffile
from hostile import (
    BOMB_SIDE,
    CMYK_PATCHES,
    UNICODE_NAME,
    build_corpus,
    encode,
    hidden_alpha,
    overwrite_middle,
    photo,
    png_bomb,
    random_junk,
    snapshot,
    with_exif_orientation,
)
from PIL import Image, ImageOps

from edgegrad.errors import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    PartialImageWarning,
)
from edgegrad.io import (
    ReadMode,
    _decode,
    _write,
    image_extensions,
    iter_images,
    open_output,
    read_image,
    read_image_checked,
    transfer,
    write_bytes,
    write_image,
    write_text,
)
from edgegrad.io._fs import write_atomically

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("hostile"))


# --- the hostile corpus, case by case ---------------------------------------------------

# name -> substring of the ImageReadError reason
REFUSED = {
    "empty.jpg": "file is empty (0 bytes)",
    "notes.jpg": "not a recognised image format (looks like text)",
    "readme.txt": "not a recognised image format (looks like text)",
    "cut_half.jpg": "truncated JPEG: the end-of-image marker is missing",
    "corrupt_middle.jpg": "damaged or non-conforming JPEG data (libjpeg: Corrupt JPEG data:",
    "stray_marker.jpg": "corrupt JPEG: stray marker 0xC1",
    "bad_crc.png": "corrupt PNG: CRC mismatch in the IDAT chunk",
    "cut.png": "truncated PNG: the file ends before the IEND chunk",
    "nan.tiff": "contains NaN or infinite values",
    "x.jpg": "is a directory",
    "loop_a.jpg": "is a symbolic link loop",
    "dangling.jpg": "is a dangling symbolic link",
    "missing.jpg": "no such file",
}

# name -> (gray shape, dtype) of a readable case
READABLE = {
    "photo.jpg": ((96, 128), np.uint8),
    "UPPER.JPG": ((96, 128), np.uint8),
    "png_inside.jpg": ((96, 128), np.uint8),
    "photo_link.jpg": ((96, 128), np.uint8),
    "photo_hardlink.png": ((96, 128), np.uint8),
    UNICODE_NAME: ((96, 128), np.uint8),
    "gray16.png": ((20, 30), np.uint16),
    "color16.tiff": ((20, 30), np.uint16),
    "hidden_alpha.png": ((8, 8), np.uint8),
    "cmyk.jpg": ((16, 16 * len(CMYK_PATCHES)), np.uint8),
    "exif6.jpg": ((60, 40), np.uint8),
    "one.png": ((1, 1), np.uint8),
    "two.png": ((2, 2), np.uint8),
    "flat.png": ((16, 16), np.uint8),
    "float.tiff": ((6, 7), np.float32),
    "sub/deep.png": ((10, 12), np.uint8),
}


@pytest.mark.parametrize(("name", "reason"), sorted(REFUSED.items()))
@pytest.mark.parametrize("mode", ["gray", "color", "unchanged"])
def test_hostile_file_gives_one_clear_error(tree: Path, name: str, reason: str, mode: str) -> None:
    path = tree / name
    with pytest.raises(ImageReadError) as caught:
        read_image(path, mode=mode)
    assert caught.type is ImageReadError
    assert caught.value.path == str(path)
    assert reason in caught.value.reason
    assert str(caught.value) == f"{path}: {caught.value.reason}"


@pytest.mark.parametrize(("name", "expected"), sorted(READABLE.items()))
def test_readable_case_in_every_mode(tree: Path, name: str, expected: tuple[Any, Any]) -> None:
    shape, dtype = expected
    gray = read_image(tree / name)
    color = read_image(tree / name, mode="color")
    assert (gray.shape, gray.dtype) == (shape, dtype)
    assert (color.shape, color.dtype) == ((*shape, 3), dtype)
    assert read_image(tree / name, mode="unchanged").shape[:2] == shape
    assert gray.flags.c_contiguous
    assert color.flags.c_contiguous


def test_unreadable_file(tree: Path) -> None:
    if IS_ROOT:
        pytest.skip("root reads files whatever their permissions")
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(tree / "unreadable.png")


@needs_fifo
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match="is not a regular file"):
        read_image(fifo)


def test_content_is_sniffed_not_the_extension(tree: Path) -> None:
    loaded = read_image_checked(tree / "png_inside.jpg", mode="color")
    assert loaded.format == "png"
    np.testing.assert_array_equal(loaded.array, read_image(tree / "photo.png", mode="color"))


def test_unicode_path_round_trip(tmp_path: Path) -> None:
    image = photo(9, 11)
    path = write_image(tmp_path / "папка é" / UNICODE_NAME, image)
    np.testing.assert_array_equal(read_image(path, mode="color"), image)


def test_binary_junk_is_unrecognised(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(bytes(range(256)))
    with pytest.raises(ImageReadError, match="starts with bytes 00 01 02 03"):
        read_image(tmp_path / "junk.png")


# --- partial files ----------------------------------------------------------------------


def test_truncated_jpeg_accepted_with_a_warning(tree: Path) -> None:
    loaded = read_image_checked(tree / "cut_half.jpg", mode="color", allow_partial=True)
    assert (loaded.height, loaded.width) == (96, 128)
    assert "truncated JPEG" in (loaded.warning or "")
    intact = read_image(tree / "photo.jpg", mode="color")
    top = slice(0, 16)  # the first MCU rows survive the cut unchanged
    np.testing.assert_array_equal(loaded.array[top], intact[top])


def test_read_image_warns_for_a_partial_file(tree: Path) -> None:
    with pytest.warns(PartialImageWarning, match="cut_half.jpg: truncated JPEG"):
        image = read_image(tree / "cut_half.jpg", allow_partial=True)
    assert image.shape == (96, 128)


def test_corrupt_jpeg_accepted_with_libjpeg_warning(tree: Path) -> None:
    loaded = read_image_checked(tree / "corrupt_middle.jpg", allow_partial=True)
    assert "libjpeg" in (loaded.warning or "")
    assert loaded.array.shape == (96, 128)


@pytest.mark.parametrize(
    "junk",
    [b"\xff\x00" * 100, bytes(200), bytes(range(200))],
    ids=["stuffed-ff00", "zeros", "ramp"],
)
def test_corruption_without_markers_is_caught_from_libjpeg(junk: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(overwrite_middle(encode(".jpg", photo()), junk))
    with pytest.raises(ImageReadError, match="libjpeg: Corrupt JPEG data"):
        read_image(path)


def test_restart_markers_out_of_sequence(tmp_path: Path) -> None:
    jpeg = bytearray(encode(".jpg", photo(), (cv2.IMWRITE_JPEG_RST_INTERVAL, 1)))
    first_rst = jpeg.index(b"\xff\xd0")
    jpeg[first_rst + 1] = 0xD3
    (tmp_path / "rst.jpg").write_bytes(jpeg)
    with pytest.raises(ImageReadError, match="restart markers out of sequence"):
        read_image(tmp_path / "rst.jpg")


def test_any_libjpeg_warning_makes_the_file_suspect(tmp_path: Path) -> None:
    # libjpeg prints only its first warning: a harmless one would hide corruption.
    jpeg = encode(".jpg", photo())
    revision = jpeg.index(b"JFIF\x00") + 5
    odd = jpeg[:revision] + b"\x02\x05" + jpeg[revision + 2 :]
    (tmp_path / "odd.jpg").write_bytes(overwrite_middle(odd, random_junk(200)))
    with pytest.raises(ImageReadError, match=r"unknown JFIF revision number 2\.05"):
        read_image(tmp_path / "odd.jpg")


def test_stderr_capture_passes_other_output_through(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def noisy_decoder(buffer: object, flags: int) -> np.ndarray[Any, Any]:
        os.write(2, b"[ WARN:0] an OpenCV log line\nCorrupt JPEG data: bad Huffman code\n")
        return np.zeros((2, 2), np.uint8)

    monkeypatch.setattr(cv2, "imdecode", noisy_decoder)
    image, complaint = _decode.imdecode_watching_libjpeg(np.zeros(4, np.uint8), 0)
    assert image is not None
    assert complaint == (
        "damaged or non-conforming JPEG data (libjpeg: Corrupt JPEG data: bad Huffman code)"
    )
    assert capfd.readouterr().err == "[ WARN:0] an OpenCV log line\n"


def test_trailing_data_after_jpeg_end_is_ignored(tmp_path: Path) -> None:
    jpeg = encode(".jpg", photo())
    (tmp_path / "trailer.jpg").write_bytes(jpeg + b"\x00\x00camera trailer\xff\xd8")
    np.testing.assert_array_equal(
        read_image(tmp_path / "trailer.jpg", mode="color"),
        cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1),
    )


def test_truncated_png_is_never_partial(tree: Path) -> None:
    with pytest.raises(ImageReadError, match="truncated PNG"):
        read_image(tree / "cut.png", allow_partial=True)


# --- size limit -------------------------------------------------------------------------


def test_bomb_refused_fast_before_decoding(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("cv2.imdecode must not be reached")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="30000x30000 = 900,000,000 pixels") as caught:
        read_image(tree / "bomb.png")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 50 * 2**20
    assert caught.value.path == str(tree / "bomb.png")


def test_bomb_is_a_real_png() -> None:
    small = png_bomb(300)
    decoded = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (300, 300)
    assert not decoded.any()
    assert len(png_bomb()) < 2**20 < BOMB_SIDE**2


def test_max_pixels_from_argument_and_environment(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tree / "photo.png"
    assert read_image(path, max_pixels=96 * 128).shape == (96, 128)
    with pytest.raises(
        ImageTooLargeError,
        match="raise max_pixels, --max-pixels on the command line, or EDGEGRAD_MAX_PIXELS",
    ):
        read_image(path, max_pixels=96 * 128 - 1)
    monkeypatch.setenv("EDGEGRAD_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError, match="limit of 1,000"):
        read_image(path)
    assert read_image(path, max_pixels=10**6).shape == (96, 128)
    monkeypatch.setenv("EDGEGRAD_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="environment variable EDGEGRAD_MAX_PIXELS"):
        read_image(path)


@pytest.mark.parametrize("bad", [0, -5])
def test_max_pixels_must_be_a_positive_integer(tree: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        read_image(tree / "photo.png", max_pixels=bad)


@pytest.mark.parametrize("bad", [True, 1.5, "100"])
def test_max_pixels_of_the_wrong_kind_is_a_type_error(tree: Path, bad: Any) -> None:
    with pytest.raises(TypeError, match="max_pixels must be an integer"):
        read_image(tree / "photo.png", max_pixels=bad)


def test_mode_is_checked(tree: Path) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        read_image(tree / "photo.png", mode="rgb")


#: Formats whose codec the opencv-python-headless wheels have only from 4.12 on.
_OPTIONAL_CODECS = (".gif", ".avif")


def _formats(image: np.ndarray[Any, Any]) -> dict[str, bytes]:
    gray = image[:, :, 0]
    formats = {
        ext: encode(ext, image)
        for ext in (".png", ".jpg", ".tiff", ".webp", ".bmp", ".ppm", ".jp2", ".sr")
    }
    formats |= {ext: encode(ext, image) for ext in _OPTIONAL_CODECS if cv2.haveImageWriter(ext)}
    formats |= {ext: encode(ext, gray) for ext in (".pgm", ".pbm")}
    formats[".pam"] = encode(".pam", image)
    formats[".pfm"] = encode(".pfm", image.astype(np.float32) / 255)
    formats[".hdr"] = encode(".hdr", image.astype(np.float32) / 255)
    formats[".pgm-ascii"] = b"P2\n# a comment\n64 48\n255\n" + b"7 " * (64 * 48)
    formats[".bigtiff"] = _bigtiff(gray)
    return formats


def _bigtiff(image: np.ndarray[Any, Any]) -> bytes:
    out = io.BytesIO()
    tifffile.imwrite(out, image, bigtiff=True)
    return out.getvalue()


FORMATS = _formats(photo(48, 64))
FORMAT_CASES = [
    *sorted(FORMATS),
    *(
        pytest.param(ext, marks=pytest.mark.skip(reason=f"this OpenCV has no {ext} encoder"))
        for ext in _OPTIONAL_CODECS
        if ext not in FORMATS
    ),
]


@pytest.mark.parametrize("kind", FORMAT_CASES)
def test_header_size_parsed_for_every_format(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"image{kind}"
    path.write_bytes(FORMATS[kind])
    loaded = read_image_checked(path, mode="unchanged", max_pixels=48 * 64)
    assert (loaded.height, loaded.width) == (48, 64)
    with pytest.raises(ImageTooLargeError, match="64x48"):
        read_image(path, max_pixels=48 * 64 - 1)


def test_heif_read_with_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200
    out = io.BytesIO()
    pillow_heif.from_bytes(mode="RGB", size=(30, 20), data=rgb.tobytes()).save(out, quality=-1)
    (tmp_path / "a.heic").write_bytes(out.getvalue())
    loaded = read_image_checked(tmp_path / "a.heic", mode="color")
    assert loaded.format == "heif"
    assert loaded.array.shape == (20, 30, 3)
    assert abs(int(loaded.array[10, 10, 2]) - 200) <= 3  # red is the last BGR channel
    # The limit applies to the largest coded size declared (HEVC pads to 64x64).
    with pytest.raises(ImageTooLargeError, match="64x64"):
        read_image(tmp_path / "a.heic", max_pixels=64 * 64 - 1)
    assert {".heic", ".heif"} <= image_extensions()


# --- dtype, alpha, colour, orientation --------------------------------------------------


def test_sixteen_bit_is_kept_in_every_mode(tree: Path) -> None:
    stored = cv2.imdecode(np.fromfile(tree / "gray16.png", np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(read_image(tree / "gray16.png"), stored)
    color = read_image(tree / "gray16.png", mode="color")
    np.testing.assert_array_equal(color, np.dstack([stored] * 3))
    bgr16 = read_image(tree / "color16.tiff", mode="unchanged")
    assert bgr16.dtype == np.uint16
    assert bgr16.max() > 255
    np.testing.assert_array_equal(
        read_image(tree / "color16.tiff"), cv2.cvtColor(bgr16, cv2.COLOR_BGR2GRAY)
    )


def test_float_tiff_is_exact(tree: Path) -> None:
    expected = np.linspace(-1.5, 2.5, 42, dtype=np.float32).reshape(6, 7)
    np.testing.assert_array_equal(read_image(tree / "float.tiff", mode="unchanged"), expected)
    np.testing.assert_array_equal(read_image(tree / "float.tiff"), expected)


def test_alpha_hidden_content_is_not_exposed(tree: Path) -> None:
    color = read_image(tree / "hidden_alpha.png", mode="color")
    assert (color[:, :4] == 128).all()  # the white under alpha=0 stays hidden
    assert (color[:6, 4:] == (10, 20, 30)).all()
    assert (color[6:, 4:] == (255 * 128 + 128 * 127 + 127) // 255).all()
    gray = read_image(tree / "hidden_alpha.png")
    assert (gray[:, :4] == 128).all()
    np.testing.assert_array_equal(
        read_image(tree / "hidden_alpha.png", mode="unchanged"), hidden_alpha()
    )


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_alpha_compositing_keeps_dtype(dtype: Any, tmp_path: Path) -> None:
    top = 65535 if dtype == np.uint16 else 1.0
    bgra = np.zeros((2, 2, 4), dtype)
    bgra[0] = (top, top, top, 0)
    bgra[1] = (top, 0, 0, top)
    path = write_image(tmp_path / "a.tiff", bgra)
    color = read_image(path, mode="color")
    assert color.dtype == dtype
    grey = 32768 if dtype == np.uint16 else 0.5
    np.testing.assert_array_equal(color, [[[grey] * 3] * 2, [[top, 0, 0]] * 2])


def test_cmyk_jpeg_colours_match_pillow(tree: Path) -> None:
    reference = np.asarray(Image.open(tree / "cmyk.jpg").convert("RGB"))[:, :, ::-1]
    for mode in ("color", "unchanged"):
        ours = read_image(tree / "cmyk.jpg", mode=mode)
        assert np.abs(ours.astype(int) - reference).max() <= 2
    centres = read_image(tree / "cmyk.jpg", mode="color")[8, 8::16].astype(int)
    # white, cyan, magenta, yellow, black in BGR
    expected = [(255, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (0, 0, 0)]
    np.testing.assert_allclose(centres[:5], expected, atol=2)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_matches_opencv_in_every_mode(
    fmt: str, orientation: int, tmp_path: Path
) -> None:
    data = with_exif_orientation(photo(6, 10), fmt, orientation)
    path = tmp_path / "o.img"
    path.write_bytes(data)
    buffer = np.frombuffer(data, np.uint8)
    oriented = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # OpenCV orients here
    if fmt == "WEBP":  # OpenCV < 4.13 ignores WebP EXIF; Pillow orients on every version
        rgb = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        oriented = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
    np.testing.assert_array_equal(read_image(path, mode="color"), oriented)
    np.testing.assert_array_equal(read_image(path, mode="unchanged"), oriented)
    expected_gray = (
        cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
        if fmt == "JPEG"
        else cv2.cvtColor(oriented, cv2.COLOR_BGR2GRAY)
    )
    np.testing.assert_array_equal(read_image(path), expected_gray)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_tiff_orientation_applied_once(orientation: int, tmp_path: Path) -> None:
    data = with_exif_orientation(photo(6, 10), "TIFF", orientation)
    (tmp_path / "o.tiff").write_bytes(data)
    pillow = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))[:, :, ::-1]
    for mode in ("color", "unchanged"):
        np.testing.assert_array_equal(read_image(tmp_path / "o.tiff", mode=mode), pillow)


def test_exif_rotation_shape(tree: Path) -> None:
    loaded = read_image_checked(tree / "exif6.jpg", mode="unchanged")
    assert (loaded.width, loaded.height) == (40, 60)


@pytest.mark.parametrize(
    ("reduce_to", "reduction"), [(None, 1), (60 * 80, 1), (30 * 40, 2), (15 * 20, 4), (1, 8)]
)
@pytest.mark.parametrize("mode", ["gray", "color"])
def test_reduce_to_decodes_a_jpeg_at_the_smallest_scale_that_keeps_enough_pixels(
    mode: ReadMode, reduce_to: int | None, reduction: int, tmp_path: Path
) -> None:
    data = with_exif_orientation(photo(60, 80), "JPEG", 6)  # stored 80 wide, shown 60
    path = tmp_path / "r.jpg"
    path.write_bytes(data)
    loaded = read_image_checked(path, mode=mode, reduce_to=reduce_to)
    assert (loaded.width, loaded.height, loaded.reduction) == (60, 80, reduction)
    flags = {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }[reduction]
    if mode == "gray":
        flags = cv2.IMREAD_GRAYSCALE if reduction == 1 else flags - 1  # REDUCED_GRAYSCALE_k
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), flags)  # OpenCV orients it
    assert loaded.array.shape[:2] == (-(-80 // reduction), -(-60 // reduction))
    np.testing.assert_array_equal(loaded.array, expected)


def test_reduce_to_leaves_other_formats_and_unchanged_mode_whole(tree: Path) -> None:
    png = read_image_checked(tree / "gray16.png", reduce_to=1)
    assert png.reduction == 1
    assert png.array.shape == (png.height, png.width)
    jpeg = read_image_checked(tree / "photo.jpg", mode="unchanged", reduce_to=1)
    assert jpeg.reduction == 1
    assert jpeg.array.shape == (96, 128, 3)


@pytest.mark.parametrize("reduce_to", [0, -5])
def test_reduce_to_must_be_a_positive_integer(tree: Path, reduce_to: object) -> None:
    with pytest.raises(ValueError, match="reduce_to must be a positive integer"):
        read_image_checked(tree / "photo.jpg", reduce_to=reduce_to)  # type: ignore[arg-type]


@pytest.mark.parametrize("reduce_to", [True, 2.5])
def test_reduce_to_of_the_wrong_kind_is_a_type_error(tree: Path, reduce_to: object) -> None:
    with pytest.raises(TypeError, match="reduce_to must be an integer"):
        read_image_checked(tree / "photo.jpg", reduce_to=reduce_to)  # type: ignore[arg-type]


def test_reduced_decode_still_catches_a_corrupt_jpeg(tree: Path) -> None:
    for name in ("cut_half.jpg", "corrupt_middle.jpg", "stray_marker.jpg"):
        with pytest.raises(ImageReadError, match=name):
            read_image_checked(tree / name, reduce_to=1)


def test_gray_jpeg_equals_opencv_grayscale(tree: Path) -> None:
    expected = cv2.imdecode(np.fromfile(tree / "photo.jpg", np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(read_image(tree / "photo.jpg"), expected)


def test_tiny_and_constant_images(tree: Path) -> None:
    np.testing.assert_array_equal(read_image(tree / "one.png"), [[7]])
    np.testing.assert_array_equal(read_image(tree / "two.png"), [[0, 255], [255, 0]])
    assert (read_image(tree / "flat.png", mode="color") == 99).all()


def test_float64_colour_to_gray(tmp_path: Path) -> None:
    bgr = np.random.default_rng(3).random((4, 5, 3))
    path = write_image(tmp_path / "f64.tiff", bgr)
    gray = read_image(path)
    assert gray.dtype == np.float64
    np.testing.assert_allclose(gray, bgr @ [0.114, 0.587, 0.299], rtol=1e-12)
    np.testing.assert_allclose(
        read_image(path, mode="color").astype(np.float32)[..., 0], bgr[..., 0].astype(np.float32)
    )


def test_unsupported_sample_type(tmp_path: Path) -> None:
    (tmp_path / "i16.tiff").write_bytes(encode(".tiff", np.zeros((4, 5), np.int16)))
    with pytest.raises(ImageReadError, match="unsupported sample type int16"):
        read_image(tmp_path / "i16.tiff")


def test_unsupported_channel_layout(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cv2, "imdecode", lambda buffer, flags: np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ImageReadError, match=r"decoded shape \(2, 2, 2\)"):
        read_image(tree / "photo.png")


def test_heif_without_pillow_heif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    ftyp = _box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    ispe = _box(b"ispe", bytes(4) + struct.pack(">II", 8, 4))  # full box: version+flags, w, h
    meta = _box(b"meta", bytes(4) + _box(b"iprp", _box(b"ipco", ispe)))
    (tmp_path / "a.heic").write_bytes(ftyp + meta)
    with pytest.raises(ImageReadError, match="needs the optional pillow-heif package"):
        read_image(tmp_path / "a.heic")
    with pytest.raises(ImageTooLargeError, match="8x4"):
        read_image(tmp_path / "a.heic", max_pixels=31)


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


# --- write_image ------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_write_creates_parents_and_round_trips_png(tmp_path: Path) -> None:
    image = photo(7, 9)
    path = write_image(tmp_path / "a" / "b" / "out.png", image)
    assert path == tmp_path / "a" / "b" / "out.png"
    np.testing.assert_array_equal(read_image(path, mode="color"), image)
    assert _leftovers(path.parent) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_written_file_has_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_image(tmp_path / "out.png", photo(3, 3))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_uint16_png_round_trip(tmp_path: Path) -> None:
    image = (np.arange(5 * 6 * 3).reshape(5, 6, 3) * 1021 % 65536).astype(np.uint16)
    path = write_image(tmp_path / "deep.png", image)
    np.testing.assert_array_equal(read_image(path, mode="unchanged"), image)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_tiff_round_trip_is_lossless(dtype: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    image = np.abs(rng.standard_normal((5, 6, 3)) * 1000).astype(dtype)
    image.flat[:2] = (65535, 0) if dtype == np.uint16 else (np.finfo(dtype).tiny, -1e30)
    path = write_image(tmp_path / "raw.tiff", image)
    np.testing.assert_array_equal(read_image(path, mode="unchanged"), image)


@pytest.mark.parametrize("dtype", [np.float64, np.int16, np.bool_, np.complex64])
def test_npy_round_trip_is_lossless(dtype: Any, tmp_path: Path) -> None:
    image = np.arange(2 * 3 * 5).reshape(2, 3, 5).astype(dtype)
    path = write_image(tmp_path / "raw.npy", image)
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == image.dtype
    np.testing.assert_array_equal(loaded, image)


def test_overwrite_refused_then_atomic_replace(tmp_path: Path) -> None:
    path = write_image(tmp_path / "out.png", np.zeros((4, 4), np.uint8))
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists"):
        write_image(path, np.full((4, 4), 9, np.uint8))
    assert path.read_bytes() == before
    write_image(path, np.full((4, 4), 9, np.uint8), overwrite=True)
    assert (read_image(path) == 9).all()
    assert _leftovers(tmp_path) == []


def test_never_writes_onto_an_input(tmp_path: Path) -> None:
    source = write_image(tmp_path / "in.png", photo(4, 4))
    original = source.read_bytes()
    os.link(source, tmp_path / "hard.png")
    (tmp_path / "soft.png").symlink_to("in.png")
    (tmp_path / "sub").mkdir()
    spellings = [
        source,
        tmp_path / "sub" / ".." / "in.png",
        tmp_path / "hard.png",
        tmp_path / "soft.png",
    ]
    for target in spellings:
        with pytest.raises(OutputExistsError, match="is an input of this run"):
            write_image(target, np.zeros((4, 4), np.uint8), overwrite=True, protected=[source])
    assert source.read_bytes() == original
    assert _leftovers(tmp_path) == []


def test_protected_missing_inputs_are_ignored(tmp_path: Path) -> None:
    path = write_image(tmp_path / "new.png", photo(2, 2), protected=[tmp_path / "gone.png"])
    assert path.exists()


def test_unsupported_dtype_names_the_file_and_suggests_lossless_formats(tmp_path: Path) -> None:
    path = tmp_path / "out.jpg"
    with pytest.raises(
        ImageWriteError, match=r"out\.jpg: \.jpg cannot hold float32.*\.tiff.*\.npy"
    ):
        write_image(path, np.zeros((4, 4), np.float32))
    with pytest.raises(ImageWriteError, match="cannot hold int32"):
        write_image(tmp_path / "out.png", np.zeros((4, 4), np.int32))
    with pytest.raises(ImageWriteError, match="cannot hold 4-channel images"):
        write_image(path, np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ImageWriteError, match=r"unsupported output extension '\.gif'"):
        write_image(tmp_path / "out.gif", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_bad_arrays_are_type_and_value_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"array must be a numpy\.ndarray"):
        write_image(tmp_path / "a.png", [[1, 2]])
    with pytest.raises(ValueError, match="array is empty"):
        write_image(tmp_path / "a.png", np.zeros((0, 3), np.uint8))
    with pytest.raises(ValueError, match="array must have shape"):
        write_image(tmp_path / "a.png", np.zeros((3, 3, 2), np.uint8))


def test_write_onto_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a directory"):
        write_image(tmp_path / "d.png", np.zeros((2, 2), np.uint8), overwrite=True)


def test_failure_during_write_leaves_no_temp_and_keeps_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_image(tmp_path / "out.png", np.zeros((4, 4), np.uint8))
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ImageWriteError, match="no space left on device"):
        write_image(path, np.full((4, 4), 5, np.uint8), overwrite=True)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".png", ".npy"])
def test_keyboard_interrupt_during_write_leaves_no_temp(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def interrupted(source: str, target: str) -> None:
        seen.append(Path(source).name)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    monkeypatch.setattr(os, "link", interrupted)
    for overwrite in (False, True):
        with pytest.raises(KeyboardInterrupt):
            write_image(tmp_path / f"out{suffix}", np.zeros((4, 4), np.uint8), overwrite=overwrite)
    assert len(seen) == 2
    assert all(name.startswith(".out.") and name.endswith(f".tmp{suffix}") for name in seen)
    assert list(tmp_path.iterdir()) == []


def test_a_file_appearing_during_the_write_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    real_serializer = _write._serializer

    def racing(*args: Any) -> Any:
        write = real_serializer(*args)

        def write_then_race(file: Any) -> Any:
            target.write_bytes(b"written by someone else meanwhile")
            return write(file)

        return write_then_race

    monkeypatch.setattr(_write, "_serializer", racing)
    with pytest.raises(OutputExistsError, match="appeared during the write"):
        write_image(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == b"written by someone else meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_write_removes_its_targets_stale_temporaries_listing_the_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Temporary files of a killed writer of a.png (two), of b.tar.gz, and
    # hidden files that only look alike.
    stale_a = [tmp_path / f".a.{digits * 12}.tmp.png" for digits in "01"]
    stale_b = tmp_path / ".b.tar.0123456789ab.tmp.gz"
    alike = [tmp_path / ".a.0123456789ab.tmp.jpg", tmp_path / ".a.012345.tmp.png"]
    for path in [*stale_a, stale_b, *alike]:
        path.write_bytes(b"partial")
    listed: list[str] = []
    real_scandir = os.scandir

    def counting(folder: Any) -> Any:
        listed.append(str(folder))
        return real_scandir(folder)

    monkeypatch.setattr(os, "scandir", counting)
    write_bytes(tmp_path / "a.png", b"whole")
    assert not any(path.exists() for path in stale_a)
    assert stale_b.exists()
    # Made after the folder was listed: another writer's, in progress.
    later = tmp_path / ".b.tar.fedcba987654.tmp.gz"
    later.write_bytes(b"in progress")
    write_bytes(tmp_path / "b.tar.gz", b"whole")
    for index in range(3):
        write_bytes(tmp_path / f"c{index}.png", b"whole")
    assert listed == [str(tmp_path)]
    assert not stale_b.exists()
    assert later.exists()
    assert all(path.exists() for path in alike)


def _onto_a_full_disk(file: BinaryIO) -> None:
    """Point the file at ``/dev/full`` and leave bytes in its buffer, as a disk filling up does."""
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, file.fileno())
    finally:
        os.close(full)
    file.write(b"still in the buffer")


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


@needs_dev_full
def test_a_write_failing_with_data_still_buffered_names_the_target(tmp_path: Path) -> None:
    # The disk fills while the buffer still holds data: closing the file
    # fails the same way, and must not replace the error that names the
    # target (a full-disk batch printed a bare OSError for some files).
    def fill(file: BinaryIO) -> None:
        _onto_a_full_disk(file)
        file.flush()

    with pytest.raises(ImageWriteError, match=r"out\.bin: no space left on device$"):
        write_atomically(tmp_path / "out.bin", fill)
    assert list(tmp_path.iterdir()) == []


@needs_dev_full
@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_an_output_closed_onto_a_full_disk_fails_naming_it(tmp_path: Path, url: bool) -> None:
    target = f"file://{tmp_path}/out.bin" if url else tmp_path / "out.bin"
    with (
        pytest.raises(ImageWriteError, match=r"out\.bin: .*no space left on device$"),
        open_output(target) as file,
    ):
        _onto_a_full_disk(file)
    # An error of the block itself reaches the caller as it is, not the close's.
    with pytest.raises(ValueError, match="the block's own"), open_output(target) as file:  # noqa: PT012
        _onto_a_full_disk(file)
        raise ValueError("the block's own")
    assert list(tmp_path.iterdir()) == []


# --- write_text and transfer -----------------------------------------------------------


def test_write_text_is_atomic_and_refuses_overwrite(tmp_path: Path) -> None:
    path = write_text(tmp_path / "out" / "scores.csv", "path,score\r\nä,1\n")
    assert path.read_bytes() == "path,score\r\nä,1\n".encode()
    with pytest.raises(OutputExistsError, match="already exists"):
        write_text(path, "other")
    write_text(path, "other", overwrite=True)
    assert path.read_text(encoding="utf-8") == "other"
    with pytest.raises(OutputExistsError, match="is an input of this run"):
        write_text(path, "x", overwrite=True, protected=[path])
    assert _leftovers(path.parent) == []


@pytest.mark.parametrize("action", ["move", "copy", "link"])
def test_transfer_never_replaces_and_loses_nothing(action: str, tmp_path: Path) -> None:
    source = tmp_path / "in" / "d.png"
    source.parent.mkdir()
    source.write_bytes(b"picture")
    folder = tmp_path / "blurry"
    folder.mkdir()
    (folder / "d.png").write_bytes(b"earlier")
    (folder / "d-1.png").symlink_to("nowhere")
    assert transfer(source, folder, action, dry_run=True) == folder / "d-2.png"
    assert sorted(p.name for p in folder.iterdir()) == ["d-1.png", "d.png"]
    target = transfer(source, folder, action)
    assert target == folder / "d-2.png"
    assert target.read_bytes() == b"picture"
    assert (folder / "d.png").read_bytes() == b"earlier"
    assert source.exists() is (action != "move")
    assert target.is_symlink() is (action == "link")
    if action == "link":
        assert target.resolve() == source.resolve()


def test_transfer_creates_the_folder_and_reports_failures(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    assert transfer(source, tmp_path / "new" / "deep", "copy") == tmp_path / "new/deep/a.png"
    with pytest.raises(ImageWriteError, match=r"a\.png: could not copy it to .*: no such file"):
        transfer(tmp_path / "gone" / "a.png", tmp_path / "new", "copy")
    with pytest.raises(ValueError, match="action must be one of"):
        transfer(source, tmp_path, "delete")


def test_transfer_move_across_file_systems_copies_then_unlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    os.utime(source, (1_000_000, 1_000_000))
    target = transfer(source, tmp_path / "out", "move")
    assert target.read_bytes() == b"x"
    assert target.stat().st_mtime == 1_000_000
    assert not source.exists()


@pytest.mark.parametrize("action", ["move", "copy"])
def test_a_bad_copy_is_removed_and_the_source_kept(
    action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    def corrupting(source: Any, target: Any) -> None:
        target.write(source.read()[:-1] + b"?")

    monkeypatch.setattr(os, "link", cross_device)
    monkeypatch.setattr(shutil, "copyfileobj", corrupting)
    source = tmp_path / "a.png"
    source.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="differs from the original"):
        transfer(source, tmp_path / "out", action)  # type: ignore[arg-type]
    assert source.read_bytes() == b"precious"
    assert list((tmp_path / "out").iterdir()) == []


# --- iter_images ------------------------------------------------------------------------

WALKED = [
    "UPPER.JPG",
    "bad_crc.png",
    "bomb.png",
    "cmyk.jpg",
    "color16.tiff",
    "corrupt_middle.jpg",
    "cut.png",
    "cut_half.jpg",
    "empty.jpg",
    "exif6.jpg",
    "flat.png",
    "float.tiff",
    "gray16.png",
    "hidden_alpha.png",
    "nan.tiff",
    "notes.jpg",
    "one.png",
    "photo.jpg",
    "photo.png",
    "png_inside.jpg",
    "stray_marker.jpg",
    "sub/deep.png",
    "two.png",
    "unreadable.png",
    "x.jpg/inner.png",
    UNICODE_NAME,
]


def _walk(tree: Path, **options: Any) -> tuple[list[str], list[tuple[str, str]]]:
    skipped: list[tuple[str, str]] = []
    found = iter_images(tree, on_skip=lambda p, r: skipped.append((p.name, r)), **options)
    return [p.relative_to(tree).as_posix() for p in found], skipped


def test_walk_yields_each_regular_image_once_in_order(tree: Path) -> None:
    found, skipped = _walk(tree)
    assert found == WALKED
    assert sorted(skipped) == [
        ("dangling.jpg", "is a dangling symbolic link"),
        ("here", "symbolic link to a folder (not followed)"),
        ("loop_a.jpg", "is a symbolic link loop"),
        ("loop_b.jpg", "is a symbolic link loop"),
        ("photo_hardlink.png", "same file as one already listed"),
        ("photo_link.jpg", "same file as one already listed"),
        ("up", "symbolic link to a folder (not followed)"),
    ]


def test_walk_following_links_terminates(tree: Path) -> None:
    start = time.perf_counter()
    found, skipped = _walk(tree, follow_symlinks=True)
    assert time.perf_counter() - start < 5
    assert found == WALKED
    assert ("here", "folder already visited (symbolic link loop or repeated folder)") in skipped
    assert ("tree", "folder already visited (symbolic link loop or repeated folder)") in skipped


def test_walk_order_is_by_name_whatever_the_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Depth first, each folder's entries sorted by name (code point order, so
    # upper case first), whatever order the file system lists them in: files
    # are created in reverse order and the listing is reversed once more.
    expected = ["B.png", "a.png", "b/c.png", "b/d/e.png", "b/f.png", "c.png", "z.jpg"]
    for name in reversed(expected):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    real_scandir = os.scandir

    @contextlib.contextmanager
    def reversed_listing(path: Any) -> Iterator[list[os.DirEntry[str]]]:
        with real_scandir(path) as entries:
            yield sorted(entries, key=lambda entry: entry.name, reverse=True)

    monkeypatch.setattr(os, "scandir", reversed_listing)
    assert _walk(tmp_path)[0] == expected


def test_not_recursive(tree: Path) -> None:
    found, _ = _walk(tree, recursive=False)
    assert found == [name for name in WALKED if "/" not in name]


def test_include_and_exclude_globs(tree: Path) -> None:
    found, _ = _walk(tree, include=["*.png"], exclude=["sub", "b*"])
    assert found == [
        name for name in WALKED if name.endswith(".png") and not name.startswith(("sub/", "b"))
    ]
    found, _ = _walk(tree, include="x.jpg/*")
    assert found == ["x.jpg/inner.png"]


def test_named_files_are_yielded_whatever_their_extension(tree: Path) -> None:
    named = [tree / "readme.txt", tree / "photo.png", tree, tree / "photo.png"]
    found = list(iter_images(named))
    assert found[:2] == [tree / "readme.txt", tree / "photo.png"]
    assert len(found) == len(WALKED) + 1


@needs_fifo
def test_named_fifo_is_an_error_and_a_walked_one_is_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    skipped: list[str] = []
    errors: list[str] = []

    def walk(path: Path) -> list[Path]:
        return list(
            iter_images(
                path,
                on_skip=lambda p, r: skipped.append(r),
                on_error=lambda p, r: errors.append(f"{p.name}: {r}"),
            )
        )

    assert walk(tmp_path / "pipe.png") == []
    assert errors == ["pipe.png: is a named pipe, not a regular file"]
    assert walk(tmp_path) == []
    assert skipped == ["not a regular file"]
    errors.clear()
    assert walk(Path("/dev/zero")) == []
    assert errors == ["zero: is a device, not a regular file"]


def test_missing_named_path_raises_at_call_time(tree: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file or folder"):
        iter_images([tree, tree / "nope.jpg"])
    with pytest.raises(ImageReadError, match="dangling symbolic link"):
        iter_images(tree / "dangling.jpg")
    with pytest.raises(ImageReadError, match="symbolic link loop"):
        iter_images(tree / "loop_a.jpg")


def test_heic_extensions_only_with_pillow_heif() -> None:
    import importlib.util

    has_heif = importlib.util.find_spec("pillow_heif") is not None
    assert ({".heic", ".heif"} <= image_extensions()) is has_heif
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".pbm"} <= image_extensions()


def test_reading_everything_leaves_the_tree_untouched(tree: Path) -> None:
    before = snapshot(tree)
    for path in iter_images(tree, follow_symlinks=True):
        for mode in ("gray", "color", "unchanged"):
            with contextlib.suppress(ImageReadError):
                read_image_checked(path, mode=mode, allow_partial=True)
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda: read_image(3),
        lambda: read_image_checked(b"photo.png"),
        lambda: write_image(3, np.zeros((2, 2), np.uint8)),
        lambda: write_text(3, "text"),
        lambda: transfer(3, "folder", "copy"),
    ],
)
def test_a_path_of_the_wrong_kind_is_a_type_error(call: Any) -> None:
    with pytest.raises(TypeError, match=r"must be a str or os\.PathLike; got"):
        call()
