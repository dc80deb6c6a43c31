"""``edgegrad.io.transfer`` under interruption: killed moves are finished, never repeated.

A move across file systems copies through a hidden temporary file. These tests
leave behind what a kill at each step would (a partial temporary file, a
complete copy with the source still there, a hard link not yet unlinked) and
check that the next transfer finishes the job, then kill the real CLI at
several moments and check that every image survives exactly once.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgegrad.io import transfer
from edgegrad.io._fs import temporary_name

PICTURE = b"\x89PNG picture bytes " * 1000


SECOND_FILE_SYSTEMS = ("/dev/shm", tempfile.gettempdir())


def _second_file_system(near: Path) -> Path | None:
    """A fresh folder on another device than ``near``, or ``None`` if there is none."""
    for base in SECOND_FILE_SYSTEMS:
        try:
            if os.stat(base).st_dev == os.stat(near).st_dev:
                continue
            return Path(tempfile.mkdtemp(prefix="edgegrad-test-", dir=base))
        except OSError:
            continue
    return None


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on another file system than ``tmp_path``, removed afterwards."""
    folder = _second_file_system(tmp_path)
    if folder is None:
        tried = ", ".join(SECOND_FILE_SYSTEMS)
        pytest.skip(f"needs a second file system: none of {tried} is apart from {tmp_path}")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _source(tmp_path: Path, data: bytes = PICTURE) -> Path:
    source = tmp_path / "in" / "d.png"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return source


# --- an interrupted move is finished by the next one -------------------------------------


def _partial_temporary(folder: Path) -> None:
    """A copy killed part way: a truncated temporary file, nothing under the name."""
    temporary_name(folder / "d.png").write_bytes(PICTURE[:1000])


def _copied_not_unlinked(folder: Path) -> None:
    """A copy killed after it was put in place, before the source was removed."""
    (folder / "d.png").write_bytes(PICTURE)


def _linked_not_unlinked_temporary(folder: Path) -> None:
    """A copy killed between hard-linking its temporary file into place and unlinking it."""
    temporary = temporary_name(folder / "d.png")
    temporary.write_bytes(PICTURE)
    os.link(temporary, folder / "d.png")


@pytest.mark.parametrize(
    "interrupted", [_partial_temporary, _copied_not_unlinked, _linked_not_unlinked_temporary]
)
def test_a_rerun_finishes_a_move_killed_across_file_systems(
    interrupted: Callable[[Path], None], tmp_path: Path, elsewhere: Path
) -> None:
    source = _source(tmp_path)
    assert os.stat(source).st_dev != os.stat(elsewhere).st_dev
    interrupted(elsewhere)
    unrelated = elsewhere / f".other.{'0' * 12}.tmp.png"
    unrelated.write_bytes(b"another writer's temporary file")

    assert transfer(source, elsewhere, "move", dry_run=True) == elsewhere / "d.png"
    assert transfer(source, elsewhere, "move") == elsewhere / "d.png"

    assert not source.exists()
    assert (elsewhere / "d.png").read_bytes() == PICTURE
    assert sorted(p.name for p in elsewhere.iterdir()) == [unrelated.name, "d.png"]


def test_a_rerun_finishes_a_same_file_system_move_killed_before_the_unlink(
    tmp_path: Path,
) -> None:
    source = _source(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    os.link(source, folder / "d.png")

    assert transfer(source, folder, "move", dry_run=True) == folder / "d.png"
    assert transfer(source, folder, "move") == folder / "d.png"

    assert not source.exists()
    assert (folder / "d.png").read_bytes() == PICTURE
    assert [p.name for p in folder.iterdir()] == ["d.png"]


def test_a_different_file_keeps_its_name_and_an_identical_one_after_it_is_the_move(
    tmp_path: Path, elsewhere: Path
) -> None:
    source = _source(tmp_path)
    different = PICTURE[:-1] + b"?"  # the same size, so the bytes must be compared
    (elsewhere / "d.png").write_bytes(different)
    (elsewhere / "d-1.png").write_bytes(PICTURE)

    assert transfer(source, elsewhere, "move", dry_run=True) == elsewhere / "d-1.png"
    assert transfer(source, elsewhere, "move") == elsewhere / "d-1.png"

    assert not source.exists()
    assert (elsewhere / "d.png").read_bytes() == different
    assert (elsewhere / "d-1.png").read_bytes() == PICTURE
    assert sorted(p.name for p in elsewhere.iterdir()) == ["d-1.png", "d.png"]


def test_a_copy_already_made_is_not_made_again(tmp_path: Path, elsewhere: Path) -> None:
    source = _source(tmp_path)
    (elsewhere / "d.png").write_bytes(PICTURE)
    _partial_temporary(elsewhere)

    assert transfer(source, elsewhere, "copy", dry_run=True) == elsewhere / "d.png"
    assert transfer(source, elsewhere, "copy") == elsewhere / "d.png"

    assert source.read_bytes() == PICTURE
    assert [p.name for p in elsewhere.iterdir()] == ["d.png"]


def test_a_link_already_made_is_not_made_again(tmp_path: Path) -> None:
    source = _source(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "d.png").symlink_to(tmp_path / "elsewhere.png")  # a link, but to another file
    (folder / "d-1.png").symlink_to(source.absolute())

    assert transfer(source, folder, "link", dry_run=True) == folder / "d-1.png"
    assert transfer(source, folder, "link") == folder / "d-1.png"

    assert sorted(p.name for p in folder.iterdir()) == ["d-1.png", "d.png"]


# --- what must never count as already moved ---------------------------------------------


def test_moving_a_file_into_its_own_folder_never_removes_it(tmp_path: Path) -> None:
    source = _source(tmp_path)
    assert transfer(source, source.parent, "move") == source.with_name("d-1.png")
    assert [p.read_bytes() for p in source.parent.iterdir()] == [PICTURE]


def test_a_symbolic_link_to_the_source_is_not_a_moved_file(tmp_path: Path) -> None:
    source = _source(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "d.png").symlink_to(source)
    assert transfer(source, folder, "move") == folder / "d-1.png"
    assert (folder / "d-1.png").read_bytes() == PICTURE


# --- the copy itself ---------------------------------------------------------------------


@pytest.mark.parametrize("action", ["move", "copy"])
def test_the_copy_is_made_under_a_hidden_name_then_put_in_place(
    action: str, tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path)
    during: list[list[str]] = []
    copy = shutil.copyfileobj

    def watched(into: Any, out: Any) -> None:
        during.append([p.name for p in elsewhere.iterdir()])
        copy(into, out)

    monkeypatch.setattr(shutil, "copyfileobj", watched)
    assert transfer(source, elsewhere, action) == elsewhere / "d.png"  # type: ignore[arg-type]
    [[written]] = during
    assert written.startswith(".d.")
    assert written.endswith(".tmp.png")
    assert [p.name for p in elsewhere.iterdir()] == ["d.png"]
    assert (elsewhere / "d.png").read_bytes() == PICTURE
    assert source.exists() is (action == "copy")


def test_ctrl_c_during_the_copy_keeps_the_source_and_leaves_nothing(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path)

    def interrupted(into: Any, out: Any) -> None:
        out.write(into.read(100))
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfileobj", interrupted)
    with pytest.raises(KeyboardInterrupt):
        transfer(source, elsewhere, "move")
    assert source.read_bytes() == PICTURE
    assert list(elsewhere.iterdir()) == []


# --- the real CLI, killed ----------------------------------------------------------------

IMAGES = 16  # enough that the kills below leave some for the last run
SIDE = 2500  # 6 MB of noise per uncompressed PNG: each copy takes a few milliseconds


@pytest.fixture(scope="module")
def noise_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module-wide folder of uncompressed noise PNGs (copy it before changing anything)."""
    folder = tmp_path_factory.mktemp("noise")
    generator = np.random.default_rng(10)
    for i in range(IMAGES):
        image = generator.integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
        assert cv2.imwrite(str(folder / f"n{i}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    return folder


def _sha256s(folder: Path) -> list[str]:
    """The sha256 of every visible file below ``folder``."""
    return [
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]


def _wait_then_kill(process: subprocess.Popen[bytes], seen: Callable[[], bool]) -> None:
    """SIGKILL ``process`` (and anything it started) as soon as ``seen()``, or at its end."""
    while process.poll() is None and not seen():
        pass
    if process.poll() is None:  # until reaped, its process group is there to signal
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _kill_points(destination: Path, rng: random.Random) -> list[Callable[[], bool]]:
    """Moments to kill a run at, each judged against the folder as that run found it."""

    def names() -> set[str]:
        try:
            return {entry.name for entry in os.scandir(destination)}
        except FileNotFoundError:
            return set()

    def when(moment: Callable[[set[str], float], bool]) -> Callable[[], bool]:
        """``moment(new names, seconds since the first new name)``, from the first call."""
        before: list[set[str]] = []
        since: list[float] = []

        def seen() -> bool:
            now = names()
            if not before:
                before.append(now)
            new = now - before[0]
            if new and not since:
                since.append(time.monotonic())
            return bool(new) and moment(new, time.monotonic() - since[0])

        return seen

    def anything(new: set[str], _: float) -> bool:
        return True

    def finals(n: int) -> Callable[[set[str], float], bool]:
        return lambda new, _: sum(not name.startswith(".") for name in new) >= n

    def later(delay: float) -> Callable[[set[str], float], bool]:
        return lambda _, elapsed: elapsed >= delay

    return [
        when(anything),
        when(finals(1)),
        when(anything),
        when(finals(2)),
        when(later(rng.uniform(0, 0.005))),
        when(later(rng.uniform(0, 0.015))),
        when(anything),
    ]


@pytest.mark.slow
def test_killing_blur_score_move_to_another_file_system_never_loses_or_duplicates(
    noise_images: Path, tmp_path: Path, elsewhere: Path
) -> None:
    source = tmp_path / "photos"
    shutil.copytree(noise_images, source)
    destination = elsewhere / "blurry"
    command = [
        sys.executable,
        "-m",
        "edgegrad",
        "blur-score",
        str(source),
        "--threshold",
        "1e12",
        "--move-to",
        str(destination),
        "--jobs",
        "1",
    ]
    originals = sorted(_sha256s(source))
    rng = random.Random(10)
    for seen in _kill_points(destination, rng):
        if len(list(source.iterdir())) < 3:
            break  # a loaded machine moves faster than it is killed: keep work for the rerun
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait_then_kill(process, seen)
        # Killed: every image is still there, perhaps twice, never in part under a real name.
        there = _sha256s(source) + (_sha256s(destination) if destination.exists() else [])
        assert set(there) == set(originals)

    left = sorted(p.name for p in source.iterdir())
    assert left, "the kills left nothing for the last run to do"
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    for name in left:  # a move the killed run had made already is reported like any other
        assert f"moved {source / name} -> {destination / name}\n" in finished.stderr
    assert sorted(_sha256s(source) + _sha256s(destination)) == originals
    assert list(source.iterdir()) == []
    assert sorted(p.name for p in destination.iterdir()) == sorted(
        p.name for p in noise_images.iterdir()
    )
