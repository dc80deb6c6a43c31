"""Killing a run: its processes end with it, and a rerun finishes the job.

The command line runs as a real subprocess of the installed CLI over a
folder of images large enough that a run lasts a few seconds on two
workers. Its processes (the main one, the fork server, the pool workers and
the resource tracker) are followed through ``/proc`` while it runs, so that
the ones a killed main process leaves behind, reparented elsewhere, are still
known, checked and, should a test fail, killed.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import cv2
import numpy as np
import pytest

from edgegrad.batch import Record, iter_batch, run_batch

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="processes are followed through Linux's /proc"
)

IMAGES = 80
SIDE = 1200
# How long the processes of a run may outlive its main process (the brief: about 3 s).
GONE_WITHIN = 3.0
# Commands under test: the arguments after "edgegrad", given the input and a work folder.
SOBEL = "sobel"
BLUR = "blur-score"


def _stat(pid: int) -> tuple[int, int, str] | None:
    """``(parent pid, start time, state)`` of a process, from ``/proc/PID/stat``; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19]), fields[0]


class Tree:
    """The processes descended from one process, remembered once seen.

    A process is known by its pid and start time, so a reused pid is not
    mistaken for it, and counts as gone once it is a zombie.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: dict[int, int] = {}
        self.parents: dict[int, int] = {}

    def look(self) -> None:
        """Add the root's descendants of this moment."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (info := _stat(int(entry.name))) is not None:
                children.setdefault(info[0], []).append(int(entry.name))
        todo = [self.root]
        while todo:
            parent = todo.pop()
            for pid in children.get(parent, []):
                info = _stat(pid)
                if info is not None and pid not in self.seen:
                    self.seen[pid] = info[1]
                    self.parents[pid] = parent
                todo.append(pid)

    def workers(self) -> list[int]:
        """The pool workers seen: the root's grandchildren (children of the fork server)."""
        return [pid for pid, parent in self.parents.items() if parent in self.parents]

    def alive(self) -> list[int]:
        """The processes seen that still run."""
        alive = []
        for pid, start in self.seen.items():
            info = _stat(pid)
            if info is not None and info[1] == start and info[2] != "Z":
                alive.append(pid)
        return alive

    def wait_gone(self, within: float) -> list[int]:
        """Wait up to ``within`` seconds for every process seen to end; return those left."""
        deadline = time.monotonic() + within
        while (left := self.alive()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def kill_all(self) -> None:
        """SIGKILL whatever is left (a failed test's cleanup)."""
        for pid in self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Run:
    """One ``python -m edgegrad ...`` subprocess, started in ``cwd``, with its process tree."""

    def __init__(self, cwd: Path, args: list[str], *, stdout: int | IO[bytes]) -> None:
        self.stderr_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edgegrad", *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        self.tree = Tree(self.process.pid)

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        """Follow the tree until ``condition()`` holds; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.tree.look()
            assert self.process.poll() is None, f"the run ended before {what}: {self.stderr}"
            assert time.monotonic() < deadline, f"no {what} after {timeout} s"
            time.sleep(0.02)
        self.tree.look()

    def finish(self, timeout: float = 120) -> int:
        """Follow the tree until the main process exits; return its exit code."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            self.tree.look()
            assert time.monotonic() < deadline, f"the run did not end in {timeout} s"
            time.sleep(0.02)
        return self.process.returncode

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """Start runs of the CLI in ``tmp_path``; afterwards nothing they started is left running."""
    runs: list[Run] = []

    def start(*args: str | Path, stdout: int | IO[bytes] = subprocess.DEVNULL) -> Run:
        runs.append(Run(tmp_path, [str(arg) for arg in args], stdout=stdout))
        return runs[-1]

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        run.tree.kill_all()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``IMAGES`` gray noise PNGs of ``SIDE`` pixels square (noise: slow to code, no shortcuts)."""
    folder = tmp_path_factory.mktemp("kill-inputs")
    noise = np.random.default_rng(5).integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
    ok, data = cv2.imencode(".png", noise)
    assert ok
    paths = [folder / f"{index:03d}.png" for index in range(IMAGES)]
    for path in paths:
        path.write_bytes(data.tobytes())
    return paths


def _command(kind: str, images: list[Path], work: Path) -> list[str | Path]:
    if kind == SOBEL:
        return [SOBEL, images[0].parent, "-o", work / "out", "--jobs", "2"]
    return [BLUR, images[0].parent, "-o", work / "log.jsonl", "--resume", "--jobs", "2"]


def _progress(kind: str, work: Path) -> int:
    """Inputs done so far: outputs written, or lines in the log."""
    if kind == SOBEL:
        folder = work / "out"
        return (
            sum(1 for p in folder.glob("*.png") if not p.name.startswith("."))
            if folder.is_dir()
            else 0
        )
    log = work / "log.jsonl"
    return log.read_bytes().count(b"\n") if log.exists() else 0


def _state(kind: str, work: Path) -> dict[str, tuple[int, int]]:
    """Name → (size, mtime) of what the run writes, to see whether it still changes."""
    paths = list((work / "out").iterdir()) if kind == SOBEL else [work / "log.jsonl"]
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.exists()}


def _log_paths(log: Path) -> list[str]:
    """The paths of a JSONL log, checking that every line is whole and valid JSON."""
    data = log.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line)["path"] for line in data.decode("utf-8").splitlines()]


def _check_complete(kind: str, images: list[Path], work: Path) -> None:
    """Every input accounted for exactly once, and no temporary file left anywhere."""
    if kind == SOBEL:
        names = sorted(p.name for p in (work / "out").iterdir())
        assert names == sorted(f"{p.stem}.sobel.png" for p in images)
    else:
        paths = _log_paths(work / "log.jsonl")
        assert sorted(paths) == sorted(str(p) for p in images)
    assert not [p for p in work.rglob("*") if ".tmp." in p.name]
    assert not [p for p in images[0].parent.iterdir() if ".tmp." in p.name]


def _stale_temporary(kind: str, images: list[Path], work: Path) -> Path | None:
    """For sobel, plant what a writer killed at the worst moment leaves for the last output."""
    if kind != SOBEL:
        return None
    last = work / "out" / f"{images[-1].stem}.sobel.png"
    assert not last.exists(), "the run was not stopped mid-way"
    stale = last.with_name(f".{last.stem}.0123456789ab.tmp.png")
    stale.write_bytes(b"partial")
    return stale


def _rerun(launch: Callable[..., Run], kind: str, images: list[Path], work: Path) -> None:
    rerun = launch(*_command(kind, images, work))
    assert rerun.finish() == 0, rerun.stderr
    assert rerun.tree.wait_gone(GONE_WITHIN) == []
    _check_complete(kind, images, work)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [SOBEL, BLUR])
def test_kill_9_of_the_main_process_takes_its_processes_along(
    launch: Callable[..., Run], images: list[Path], tmp_path: Path, kind: str
) -> None:
    run = launch(*_command(kind, images, tmp_path))
    run.until(lambda: _progress(kind, tmp_path) >= 3, "progress")
    assert run.tree.workers(), run.tree.parents
    run.process.kill()
    assert run.process.wait() == -signal.SIGKILL
    assert run.tree.wait_gone(GONE_WITHIN) == [], "processes outlived the killed main process"
    before = _state(kind, tmp_path)
    time.sleep(0.5)
    assert _state(kind, tmp_path) == before, "outputs were still written after the kill"
    assert _progress(kind, tmp_path) < IMAGES
    stale = _stale_temporary(kind, images, tmp_path)
    _rerun(launch, kind, images, tmp_path)
    assert stale is None or not stale.exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", [SOBEL, BLUR])
def test_sigterm_of_the_main_process_is_ctrl_c(
    launch: Callable[..., Run], images: list[Path], tmp_path: Path, kind: str
) -> None:
    run = launch(*_command(kind, images, tmp_path))
    run.until(lambda: _progress(kind, tmp_path) >= 3, "progress")
    run.process.terminate()
    assert run.finish() == 130, run.stderr
    assert run.stderr.splitlines() == ["interrupted"]
    assert run.tree.wait_gone(GONE_WITHIN) == []
    assert _progress(kind, tmp_path) < IMAGES
    if kind == BLUR:
        assert len(set(_log_paths(tmp_path / "log.jsonl"))) == _progress(kind, tmp_path)
    # Stopped workers unwind their jobs: no temporary file is left even before a rerun.
    assert not [p for p in tmp_path.rglob("*") if ".tmp." in p.name]
    _rerun(launch, kind, images, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [SOBEL, BLUR])
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_killed_worker_costs_at_most_its_own_files(
    launch: Callable[..., Run], images: list[Path], tmp_path: Path, kind: str, signum: int
) -> None:
    run = launch(*_command(kind, images, tmp_path))
    run.until(lambda: _progress(kind, tmp_path) >= 3, "progress")
    worker = run.tree.workers()[0]
    os.kill(worker, signum)
    code = run.finish()
    assert "Traceback" not in run.stderr
    assert run.tree.wait_gone(GONE_WITHIN) == []
    if kind == BLUR:
        # The lost inputs are scored again, each in a fresh process.
        assert code == 0, run.stderr
        assert sorted(_log_paths(tmp_path / "log.jsonl")) == sorted(str(p) for p in images)
    else:
        # Files of the lost chunk that were already written fail on the second
        # try ("already exists"); every input still has its output.
        assert code in (0, 3), run.stderr
        failed = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
        assert (code == 3) == bool(failed)
        assert all(any(str(p) in line for p in images) for line in failed), failed
        names = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert names == sorted(f"{p.stem}.sobel.png" for p in images)


@pytest.mark.slow
def test_a_reader_of_the_pipe_sees_its_end_when_the_main_process_is_killed(
    launch: Callable[..., Run], images: list[Path]
) -> None:
    run = launch(BLUR, images[0].parent, "--format", "csv", "--jobs", "2", stdout=subprocess.PIPE)
    assert run.process.stdout is not None
    pipe = run.process.stdout
    lines = 0
    ended = threading.Event()

    def drain() -> None:
        nonlocal lines
        for _ in pipe:
            lines += 1
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    # The header and two records: the pool is at work.
    run.until(lambda: lines >= 3, "records on the pipe")
    run.process.kill()
    run.process.wait()
    try:
        assert ended.wait(GONE_WITHIN), "the pipe stayed open after the main process was killed"
    finally:
        run.tree.kill_all()
        ended.wait(10)
        pipe.close()


def nap_unless_first(path: Path) -> str:
    """A job for the pool tests: ``0.png`` returns at once, any other input sleeps a minute."""
    if path.name != "0.png":
        time.sleep(60)
    return path.name


@pytest.fixture
def left_behind() -> Iterator[Callable[[], tuple[list[threading.Thread], list[object]]]]:
    """What a test leaves running: new threads and child processes; killed afterwards."""
    threads = set(threading.enumerate())

    def now() -> tuple[list[threading.Thread], list[object]]:
        return [t for t in threading.enumerate() if t not in threads], list(
            multiprocessing.active_children()
        )

    yield now
    for child in multiprocessing.active_children():
        child.kill()
        child.join()


def test_closing_a_batch_stops_the_jobs_in_progress_and_leaves_nothing_running(
    left_behind: Callable[[], tuple[list[threading.Thread], list[object]]],
) -> None:
    paths = [Path(f"{index}.png") for index in range(6)]
    batch = iter_batch(nap_unless_first, paths, workers=2, chunksize=1)
    assert next(batch) == Record(Path("0.png"), "0.png", None)
    start = time.monotonic()
    batch.close()
    assert time.monotonic() - start < 5
    # Neither the pool's thread nor its workers are left for the interpreter's exit.
    assert left_behind() == ([], [])


def test_ctrl_c_in_a_batch_stops_its_pool_before_it_propagates(
    left_behind: Callable[[], tuple[list[threading.Thread], list[object]]],
) -> None:
    paths = [Path(f"{index}.png") for index in range(6)]

    def interrupt(record: Record[str]) -> None:
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_batch(nap_unless_first, paths, workers=2, chunksize=1, on_result=interrupt)
    assert time.monotonic() - start < 15
    assert left_behind() == ([], [])
