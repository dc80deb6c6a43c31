"""A full disk fails cleanly: an exit code, one line per failure, and no shutdown noise.

The disk is a small tmpfs mounted for the test (which needs root, or is
skipped). Each run is repeated, since the noise these tests guard against
came from a race at interpreter exit and showed in a few runs out of twenty.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

RUNS = 10
IMAGES = 40
NOISE = ("Exception ignored", "Traceback")


def _edgegrad(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgegrad", *map(str, args)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An empty 1 MiB tmpfs, unmounted afterwards whatever happens."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
        )
    except OSError as error:
        pytest.skip(f"cannot mount a small tmpfs to fill: {error}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``IMAGES`` gray noise PNGs of 300 × 300 (about 90 kB each, as are their Sobel outputs)."""
    folder = tmp_path_factory.mktemp("full-disk-inputs")
    rng = np.random.default_rng(10)
    paths = [folder / f"{index:03d}.png" for index in range(IMAGES)]
    for path in paths:
        assert cv2.imwrite(str(path), rng.integers(0, 256, (300, 300), dtype=np.uint8))
    return paths


def _empty(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def _fill(path: Path) -> Path:
    """Write zeros to ``path`` until its file system is full."""
    with path.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(bytes(4096))
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    return path


@pytest.mark.slow
def test_a_filter_run_onto_a_full_disk_names_each_failure_and_nothing_else(
    disk: Path, inputs: list[Path], tmp_path: Path
) -> None:
    for _ in range(RUNS):
        _empty(disk)
        run = _edgegrad(tmp_path, "sobel", inputs[0].parent, "-o", disk / "out", "--jobs", "2")
        assert run.returncode == 3, run.stderr
        assert not [word for word in NOISE if word in run.stderr], run.stderr
        *failures, summary = run.stderr.splitlines()
        written = len(list((disk / "out").glob("*.sobel.png")))
        assert 0 < written < IMAGES
        assert summary == f"{written} written, {IMAGES - written} failed, 0 skipped"
        assert len(failures) == IMAGES - written
        for line in failures:
            assert line.startswith("error: "), line
            assert line.endswith("no space left on device"), line
            assert any(str(path) in line for path in inputs), line


@pytest.mark.slow
def test_a_record_log_on_a_full_disk_stops_the_run_with_one_line(
    disk: Path, inputs: list[Path], tmp_path: Path
) -> None:
    log = disk / "log.jsonl"
    for _ in range(RUNS):
        _empty(disk)
        # Fill the disk but for a page: the log fills up after a few records,
        # while the pool is at work.
        filler = _fill(disk / "filler")
        os.truncate(filler, filler.stat().st_size - 4096)
        run = _edgegrad(tmp_path, "blur-score", inputs[0].parent, "-o", log, "--jobs", "2")
        assert run.returncode == 1, run.stderr
        assert run.stderr.splitlines() == [f"error: {log}: no space left on device"]
        assert log.read_bytes().count(b"\n") < IMAGES


DRIVER = """
import contextlib
import time
from concurrent.futures import process
from pathlib import Path

from edgegrad.batch import iter_batch


def nap(path):
    time.sleep(0.1)
    return path.name


def late_wakeup(self):
    # concurrent.futures' exit hook wakes every pool thread still registered,
    # checking that the wakeup pipe is open and then writing to it, without
    # the lock under which the pool's thread closes the pipe when it ends.
    # The pause stands for the thread switch that, now and then, falls
    # between the two.
    if not self._closed:
        time.sleep(1)
        self._writer.send_bytes(b"")


if __name__ == "__main__":
    batch = iter_batch(nap, [Path(f"{i}.png") for i in range(20)], workers=2, chunksize=1)
    with contextlib.closing(batch):
        next(batch)
    # From here on, only the exit hook wakes pool threads.
    process._ThreadWakeup.wakeup = late_wakeup
"""


def test_a_batch_stopped_early_leaves_no_pool_thread_for_the_exit_hook(tmp_path: Path) -> None:
    # The cause of "Exception ignored in: <module 'threading'> ... OSError:
    # [Errno 9] Bad file descriptor" at the end of a run stopped by an error
    # (a log on a full disk): a pool shut down without waiting still had its
    # thread running when the interpreter exited. With that thread joined
    # first, the exit hook finds only closed pipes, however late it writes.
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    run = subprocess.run(
        [sys.executable, "driver.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0
    assert run.stderr == ""
