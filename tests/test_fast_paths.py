"""The shortcuts of issue 16 give what the long ways gave (their speed is in benchmarks/)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

import cv2
import numpy as np
import pytest
from hostile import encode, overwrite_middle, photo

from edgegrad import metrics
from edgegrad.errors import ImageReadError
from edgegrad.io import _decode, _formats, _read, read_image_checked
from edgegrad_cli.records import FIELDS, Row, _json, record_line

# --- one capture per process for libjpeg's warnings ---------------------------------


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not _decode.SEES_LIBJPEG_WARNINGS, reason="libjpeg's stderr is not seen")
def test_each_decode_reports_only_its_own_libjpeg_warning(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(encode(".jpg", photo()))
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(overwrite_middle(good.read_bytes(), bytes(200)))
    for _ in range(3):
        warning = read_image_checked(damaged, allow_partial=True).warning or ""
        assert warning.startswith("damaged or non-conforming JPEG data (libjpeg: Corrupt JPEG")
        sound = read_image_checked(good)
        assert sound.warning is None
        np.testing.assert_array_equal(sound.array, cv2.imread(str(good), cv2.IMREAD_GRAYSCALE))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_the_capture_is_opened_once_and_left_empty() -> None:
    buffer = np.frombuffer(overwrite_middle(encode(".jpg", photo()), bytes(200)), np.uint8)
    _decode.imdecode_watching_libjpeg(buffer, cv2.IMREAD_GRAYSCALE)
    before = _open_descriptors()
    for _ in range(5):
        _, complaint = _decode.imdecode_watching_libjpeg(buffer, cv2.IMREAD_GRAYSCALE)
        assert complaint is not None
    assert _open_descriptors() == before
    assert os.lseek(_decode._capture(), 0, os.SEEK_END) == 0  # emptied after each decode


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_a_capture_of_its_own() -> None:
    parent = _decode._capture()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        os.write(writer, str(_decode._capture()).encode())
        os._exit(0)
    os.close(writer)
    theirs = os.read(reader, 64)
    os.close(reader)
    os.waitpid(child, 0)
    assert _decode._capture() == parent
    # The child's is a new descriptor, not the inherited one (whose offset both would share).
    assert int(theirs) != parent


# --- the marker walk only when libjpeg complains ------------------------------------


def _no_walk(data: bytes) -> None:
    raise AssertionError("the entropy-coded data must not be walked")


@pytest.mark.skipif(not _decode.SEES_LIBJPEG_WARNINGS, reason="the walk always runs")
def test_a_sound_jpeg_is_not_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sound.jpg"
    path.write_bytes(encode(".jpg", photo()))
    monkeypatch.setattr(_formats, "_JpegEntropy", _no_walk)
    loaded = read_image_checked(path)
    assert (loaded.width, loaded.height, loaded.warning) == (128, 96, None)


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        (b"\xff\xc1\x00\x11", "corrupt JPEG: stray marker 0xC1"),
        (bytes(200), "libjpeg: Corrupt JPEG data"),
    ],
    ids=["stray-marker", "zeros"],
)
def test_damage_in_a_jpeg_that_ends_whole_is_still_named(
    junk: bytes, reason: str, tmp_path: Path
) -> None:
    data = overwrite_middle(encode(".jpg", photo()), junk)
    assert data.endswith(b"\xff\xd9")  # so the walk waits for libjpeg's complaint
    path = tmp_path / "damaged.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match=reason):
        read_image_checked(path)
    assert reason in (read_image_checked(path, allow_partial=True).warning or "")


@pytest.mark.parametrize(
    ("junk", "reason"),
    [(b"\xff\xc1\x00\x11", "corrupt JPEG: stray marker 0xC1"), (b"", "libjpeg gave up")],
    ids=["walk-names-it", "libjpeg-stands"],
)
def test_a_jpeg_libjpeg_gives_up_on_is_walked(
    junk: bytes, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(*args: object) -> None:
        raise _formats.NotAnImageError("libjpeg gave up")

    path = tmp_path / "refused.jpg"
    path.write_bytes(overwrite_middle(encode(".jpg", photo()), junk))
    monkeypatch.setattr(_read, "decode", refusing)
    with pytest.raises(ImageReadError, match=reason):
        read_image_checked(path)


def test_the_header_probe_agrees_with_the_full_walk() -> None:
    data = encode(".jpg", photo(60, 40))
    head, full = _formats.probe_jpeg_header(data), _formats.PROBES["jpeg"](data)
    assert (head.width, head.height, head.exif, head.problem) == (40, 60, None, None)
    assert (full.width, full.height, full.exif, full.problem) == (40, 60, None, None)


# --- working-size sums ----------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.0, 1.5, 6.0])
def test_float32_lapv_is_the_variance_of_its_float32_laplacian(sigma: float) -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(128, 40, (301, 457)).astype(np.float32)
    if sigma:
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.float32)
    laplacian = cv2.Laplacian(image, cv2.CV_32F).astype(np.float64)
    # Measured: within 1.0e-15 of NumPy's two-pass variance of the same response.
    assert metrics._lapv(image) == pytest.approx(float(laplacian.var()), rel=3e-15)


def test_flat_checks_see_a_single_differing_pixel() -> None:
    for dtype in (np.uint8, np.uint16, np.float32, np.float64):
        image = np.full((7, 9), 3, dtype)
        assert metrics._is_flat(image)
        image[6, 8] = 4
        assert not metrics._is_flat(image)
        assert not metrics._is_flat(image[:, 3:])  # a view with a row step


# --- records and start-up ---------------------------------------------------------------


def test_a_jsonl_record_is_the_rows_fields_in_order() -> None:
    assert tuple(f.name for f in fields(Row)) == FIELDS
    row = Row("caf\udce9.jpg", 12.5, "lapv", 640, 480, True, "note", None, 3, 0.1)
    assert record_line(row, "jsonl") == _json(asdict(row)) + "\n"


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_help_and_version_load_no_command_or_numpy() -> None:
    code = """
import sys
from edgegrad_cli.main import main
import contextlib, io
for args in (["--version"], ["--help"]):
    with contextlib.redirect_stdout(io.StringIO()):
        main(args, standalone_mode=False)
    print(*(name in sys.modules for name in ("numpy", "cv2", "edgegrad_cli.score_cmds")))
"""
    # --help lists every command, so it loads them (and so NumPy and OpenCV).
    assert _run(code) == ["False", "False", "False", "True", "True", "True"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server on Windows")
def test_a_pooled_command_starts_the_fork_server_before_its_imports() -> None:
    code = """
import sys
import click
from multiprocessing import forkserver
from edgegrad_cli import main
started = []
real = main.start_fork_server
def spy():
    real()
    started.append("numpy" in sys.modules)
main.start_fork_server = spy
main.main.resolve_command(click.Context(main.main), ["blur-score"])
main.main.resolve_command(click.Context(main.main), ["focus-map"])
from edgegrad.batch import _clean_start
_clean_start()
print(started, forkserver._forkserver._forkserver_pid is not None)
print(forkserver._forkserver._preload_modules)
"""
    # Once, for blur-score, with NumPy not yet imported; batch keeps the same preload.
    assert _run(code) == ["[False]", "True", "['__main__',", "'edgegrad.jobs']"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server on Windows")
def test_the_early_fork_server_keeps_a_callers_preload() -> None:
    code = """
import multiprocessing
from multiprocessing import forkserver
from edgegrad_cli import launch
multiprocessing.set_forkserver_preload(["json"])
launch.start_fork_server()
print(forkserver._forkserver._preload_modules)
"""
    assert _run(code) == ["['json',", "'edgegrad.jobs']"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server on Windows")
def test_the_console_script_starts_the_fork_server_before_click() -> None:
    code = """
import sys
from edgegrad_cli import launch
started = []
real = launch.start_fork_server
def spy():
    real()
    started.append("click" in sys.modules)
launch.start_fork_server = spy
sys.argv = ["edgegrad", "--debug", "blur-score", "--version-of-nothing"]
try:
    launch.main()
except SystemExit as stop:
    print(started[0], stop.code, "edgegrad_cli.score_cmds" in sys.modules)
"""
    # Started before click was imported (the group's own call later finds it
    # running); then the command ran, here to a usage error.
    assert _run(code) == ["False", "2", "True"]


@pytest.mark.parametrize(
    ("arguments", "pooled"),
    [
        (["blur-score", "x"], True),
        (["--debug", "canny", "x"], True),
        (["focus-map", "x"], False),
        (["--help", "blur-score"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_which_command_lines_start_the_fork_server(arguments: list[str], pooled: bool) -> None:
    from edgegrad_cli.launch import pooled_command

    assert pooled_command(arguments) is pooled
