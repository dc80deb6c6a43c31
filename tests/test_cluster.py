"""``blur-score --scheduler`` and :mod:`edgegrad.cluster`: the same records on a Dask cluster.

A real scheduler and real workers, started here as ``python -m dask
scheduler`` and ``python -m dask worker`` subprocesses listening on 127.0.0.1
only, or a :class:`distributed.LocalCluster` (``--scheduler local``). Every
run on a cluster is compared, byte for byte, with the same command on the
local process pool. Where ``distributed`` is missing or its scheduler cannot
start, the tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun

from edgegrad.batch import iter_batch
from edgegrad.cluster import DASK_INSTALL, ClusterError, DaskExecutor, connect
from edgegrad.jobs import score_file
from edgegrad.metrics import METHODS

pytestmark = pytest.mark.cluster

TESTS = Path(__file__).resolve().parent
# Images of the comparison folder (more than the CLI's 16, so the local run uses its pool).
IMAGES = 40
# The kill test's folder: long enough a run (a few seconds on two workers) to kill a worker in.
KILL_IMAGES = 240
KILL_AFTER = 30
START_TIMEOUT = 60.0


def need_distributed() -> Any:
    return pytest.importorskip("distributed", reason="the dask extra (distributed) is missing")


def exit_on_three(path: Path) -> str:
    """A job whose input ``3.png`` kills the worker process that runs it (the poison input)."""
    if path.stem == "3":
        os._exit(1)
    return path.stem


def _scene(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    """Gray noise, blurred by ``sigma``: a different sharpness score for every ``sigma``."""
    noise = rng.integers(0, 256, (height, width), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), sigma) if sigma else noise)


def _write(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(data.tobytes())


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``IMAGES`` PNGs and JPEGs of several sizes and blurs, one truncated JPEG, in subfolders."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(15)
    for index in range(IMAGES):
        sub = folder / ("a" if index % 3 else "b")
        sub.mkdir(exist_ok=True)
        suffix = ".jpg" if index % 2 else ".png"
        height, width = (240, 320) if index % 4 else (600, 800)
        _write(sub / f"{index:02d}{suffix}", _scene(rng, height, width, (index % 5) * 0.7))
    good = (folder / "a" / "01.jpg").read_bytes()
    (folder / "a" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def kill_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``KILL_IMAGES`` 2 MP JPEGs (copies of eight scenes: real files, not links)."""
    folder = tmp_path_factory.mktemp("kill-photos")
    rng = np.random.default_rng(9)
    scenes = []
    for sigma in range(8):
        ok, data = cv2.imencode(".jpg", _scene(rng, 1200, 1600, sigma * 0.5))
        assert ok
        scenes.append(data.tobytes())
    for index in range(KILL_IMAGES):
        (folder / f"{index:03d}.jpg").write_bytes(scenes[index % len(scenes)])
    return folder


def _edgegrad(
    *args: object, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed command line as a subprocess; stdout and stderr as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "edgegrad", *(str(arg) for arg in args)],
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def _errors(stderr: bytes) -> list[bytes]:
    """The failure lines of a run's stderr, and its summary line."""
    return [
        line for line in stderr.splitlines() if line.startswith(b"error:") or b" scored, " in line
    ]


@dataclass
class Cluster:
    """A scheduler and workers running as subprocesses of this test."""

    address: str
    scheduler_file: Path
    processes: list[subprocess.Popen[bytes]]
    logs: Path

    def client(self) -> Any:
        distributed = need_distributed()
        return distributed.Client(self.address, timeout=START_TIMEOUT)

    def worker_pids(self) -> set[int]:
        with self.client() as client:
            return set(client.run(os.getpid).values())


def _dask(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=sink,
            stderr=sink,
            env={**os.environ, **(env or {})},
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the workers, then the scheduler (workers without one wait for it to come back)."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _start_cluster(folder: Path, *, workers: int) -> Iterator[Cluster]:
    """``dask scheduler`` on 127.0.0.1, and ``workers`` one-thread workers under nannies.

    Skips the test, with the reason, when either cannot start.
    """
    need_distributed()
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    logs = folder / "dask.log"
    processes = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            log=logs,
        )
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
            if processes[0].poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"the Dask scheduler did not start: {logs.read_text()[-1000:]}")
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        if workers:
            # The tests' own jobs (exit_on_three) must be importable in the workers.
            path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
            processes.append(
                _dask(
                    "worker",
                    address,
                    "--nworkers",
                    str(workers),
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    log=logs,
                    env={"PYTHONPATH": path},
                )
            )
        cluster = Cluster(address, scheduler_file, processes, logs)
        if workers:
            with cluster.client() as client:
                try:
                    client.wait_for_workers(workers, timeout=START_TIMEOUT)
                except (TimeoutError, OSError) as error:
                    pytest.skip(f"the Dask workers did not start ({error}): {logs.read_text()}")
        yield cluster
    finally:
        _stop(processes)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two workers shared by the tests that do not kill them."""
    with _start_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def local_jsonl(photos: Path) -> subprocess.CompletedProcess[bytes]:
    """The reference: ``blur-score PHOTOS --format jsonl`` on the local process pool."""
    done = _edgegrad("blur-score", photos, "--format", "jsonl", "--jobs", "2")
    assert done.returncode == 3, done.stderr  # the truncated JPEG fails
    return done


def test_a_local_cluster_gives_the_local_pools_records_byte_for_byte(
    photos: Path, local_jsonl: subprocess.CompletedProcess[bytes]
) -> None:
    need_distributed()
    done = _edgegrad("blur-score", photos, "--format", "jsonl", "--scheduler", "local", "-j", "2")
    assert done.returncode == 3, done.stderr
    assert done.stdout == local_jsonl.stdout
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == IMAGES + 1
    assert [r["path"] for r in records if r["error"]] == [str(photos / "a" / "truncated.jpg")]
    assert _errors(done.stderr) == _errors(local_jsonl.stderr)
    assert b"40 scored, 1 failed, 0 skipped" in done.stderr


@pytest.mark.parametrize("given", ["tcp", "scheduler file", "environment"])
def test_a_running_scheduler_gives_the_local_pools_records(
    cli: CliRun,
    monkeypatch: pytest.MonkeyPatch,
    cluster: Cluster,
    photos: Path,
    local_jsonl: subprocess.CompletedProcess[bytes],
    given: str,
) -> None:
    options = {
        "tcp": ["--scheduler", cluster.address],
        "scheduler file": ["--scheduler", str(cluster.scheduler_file)],
        "environment": [],
    }[given]
    if given == "environment":
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)
    result = cli("blur-score", photos, "--format", "jsonl", *options)
    assert result.exit_code == 3, result.stderr
    assert result.stdout_bytes == local_jsonl.stdout
    assert _errors(result.stderr_bytes) == _errors(local_jsonl.stderr)


def test_streaming_resume_and_thresholds_work_as_locally(
    cli: CliRun, cluster: Cluster, photos: Path, tmp_path: Path
) -> None:
    cut = ["--threshold", "500", "--fail-under", "200"]
    local = _edgegrad("blur-score", photos, "-o", tmp_path / "local.jsonl", "-j", "2", *cut)
    assert local.returncode == 4, local.stderr  # some images score under 200
    expected = (tmp_path / "local.jsonl").read_bytes()
    records = [json.loads(line) for line in expected.splitlines()]
    blurry = [r["blurry"] for r in records if r["score"] is not None]
    assert True in blurry
    assert False in blurry
    # Streamed to -o, with the same verdicts, summary, fail-under lines and exit code.
    on_cluster = cli(
        "blur-score", photos, "-o", tmp_path / "c.jsonl", "--scheduler", cluster.address, *cut
    )
    assert on_cluster.exit_code == 4, on_cluster.stderr
    assert (tmp_path / "c.jsonl").read_bytes() == expected
    assert on_cluster.stderr_bytes == local.stderr
    # Resumed after 15 records: the rest is appended, in order, each input once.
    log = tmp_path / "resumed.jsonl"
    log.write_bytes(b"".join(expected.splitlines(keepends=True)[:15]))
    resumed = cli("blur-score", photos, "-o", log, "--resume", "--scheduler", cluster.address, *cut)
    assert resumed.exit_code == 4, resumed.stderr
    assert log.read_bytes() == expected
    summary = f"25 scored, 1 failed, 0 skipped, 15 already recorded, {blurry.count(True)} blurry"
    assert summary in resumed.stderr


def test_the_progress_bar_is_drawn_on_a_terminal(
    cluster: Cluster, photos: Path, tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgegrad", "blur-score", str(photos), "-o",
             str(tmp_path / "x.jsonl"), "--scheduler", cluster.address],
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )  # fmt: skip
        os.close(follower)
        seen = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, "no output on the terminal for 60 s"
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the run has ended
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=60) == 3
    finally:
        os.close(leader)
    assert f"{IMAGES + 1}/{IMAGES + 1}".encode() in seen
    assert b"scoring  [" in seen
    assert b"img/s" in seen


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing_and_repeats_nothing(
    kill_photos: Path, tmp_path: Path
) -> None:
    local = _edgegrad("blur-score", kill_photos, "-o", tmp_path / "local.jsonl", "-j", "2")
    assert local.returncode == 0, local.stderr
    expected = (tmp_path / "local.jsonl").read_bytes()
    assert expected.count(b"\n") == KILL_IMAGES
    log = tmp_path / "cluster.jsonl"
    with _start_cluster(tmp_path / "dask", workers=2) as running:
        before = running.worker_pids()
        process = subprocess.Popen(
            [sys.executable, "-m", "edgegrad", "blur-score", str(kill_photos), "-o", str(log),
             "--scheduler", running.address],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not log.is_file() or log.read_bytes().count(b"\n") < KILL_AFTER:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.01)
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            done_at_kill = log.read_bytes().count(b"\n")
            _, stderr = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        after = running.worker_pids()
    assert process.returncode == 0, stderr
    assert done_at_kill < KILL_IMAGES  # the kill came mid-run
    assert victim not in after  # it died, and its nanny started another
    assert log.read_bytes() == expected  # every input once, in order, as scored locally
    assert f"{KILL_IMAGES} scored, 0 failed, 0 skipped".encode() in stderr


@pytest.mark.slow
def test_a_poison_input_is_the_only_one_recorded_failed() -> None:
    need_distributed()
    inputs = [Path(f"{index}.png") for index in range(40)]
    with connect("local", workers=2) as executor:
        records = list(
            iter_batch(exit_on_three, inputs, workers=executor.threads, executor=executor,
                       chunksize=8)
        )  # fmt: skip
    assert [r.path for r in records] == inputs
    assert [r.result for r in records if r.ok] == [str(i) for i in range(40) if i != 3]
    error = records[3].error or ""
    assert error.startswith("3.png: the worker process died while processing this file")


def test_the_client_holds_only_a_bounded_window(cluster: Cluster) -> None:
    pulled = 0
    total = 1200

    def inputs() -> Iterator[Path]:
        nonlocal pulled
        for index in range(total):
            pulled += 1
            yield Path(f"{index}.png")

    with connect(cluster.address) as executor:
        assert executor.threads == 2
        window = executor.threads * 4
        chunksize = 4  # 300 tasks through a window of 8
        held = []
        ahead = []
        for count, record in enumerate(
            iter_batch(str, inputs(), workers=executor.threads, executor=executor,
                       chunksize=chunksize),
            start=1,
        ):  # fmt: skip
            assert record.result == f"{count - 1}.png"
            held.append(len(executor.client.futures))
            ahead.append(pulled - count)
        deadline = time.monotonic() + 10
        while executor.client.futures and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not executor.client.futures  # all released once read
    assert pulled == total
    # Futures alive in the client: the window, the task whose result is being read,
    # and the few whose release the client's event loop has yet to send.
    assert max(held) <= 2 * window
    # Inputs taken but not yet recorded: the window's chunks and the chunk being assembled.
    assert max(ahead) <= (window + 1) * chunksize


def test_a_local_cluster_keeps_no_chunks_of_paths_behind() -> None:
    need_distributed()
    total, chunksize = 4000, 4
    with connect("local", workers=2) as executor:
        batch = iter_batch(
            str,
            (f"kept-{index}.png" for index in range(total)),
            workers=executor.threads,
            executor=executor,
            chunksize=chunksize,
        )
        assert sum(1 for _ in batch) == total
        gc.collect()
        # Distributed's default logs of recent messages, on the scheduler that
        # runs in this process, would hold every one of these 1,000 tasks.
        kept = sum(
            1 for o in gc.get_objects() if isinstance(o, Path) and o.name.startswith("kept-")
        )
    assert kept <= 2 * 10 * chunksize + (executor.threads * 4 + 1) * chunksize


def test_the_chunk_size_follows_the_number_of_inputs(cluster: Cluster) -> None:
    with connect(cluster.address) as executor:
        assert executor.threads == 2
        # 8 tasks per worker thread, 4 to 256 inputs each.
        sizes = (0, 10, 200, 1024, 4096, 10_000_000)
        assert [executor.chunksize(n) for n in sizes] == [4, 4, 12, 64, 256, 256]
        with pytest.raises(ValueError, match="inputs must be"):
            executor.chunksize(-1)


def test_without_the_extra_the_message_names_the_install_command(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch, photos: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    result = cli("blur-score", photos, "--scheduler", "local")
    assert result.exit_code == 1
    assert DASK_INSTALL in result.stderr
    assert result.stdout == ""
    with pytest.raises(ClusterError, match=r'pip install "edgegrad\[dask\]"'), connect("local"):
        pass


def test_import_and_help_do_not_load_distributed() -> None:
    code = (
        "import sys, edgegrad, edgegrad.cluster\n"
        "from edgegrad_cli.main import main\n"
        "try:\n"
        "    main(['blur-score', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'dask')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--scheduler ADDRESS" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_addresses_that_cannot_be_used_are_fatal_errors_that_say_why(
    cli: CliRun, photos: Path, tmp_path: Path
) -> None:
    need_distributed()
    import dask.config

    result = cli("blur-score", photos, "--scheduler", "nowhere")
    assert result.exit_code == 1
    assert "--scheduler 'nowhere' is neither 'local', tcp://HOST:PORT, nor an existing" in (
        result.stderr
    )
    garbage = tmp_path / "scheduler.json"
    garbage.write_text("{not json")
    result = cli("blur-score", photos, "--scheduler", garbage)
    assert result.exit_code == 1
    assert f"{garbage}: cannot read the Dask scheduler file" in result.stderr
    garbage.write_text('{"id": "Scheduler-1"}')
    result = cli("blur-score", photos, "--scheduler", garbage)
    assert f'{garbage}: not a Dask scheduler file: it has no "address"' in result.stderr
    closed = f"tcp://127.0.0.1:{_free_port()}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = cli("blur-score", photos, "--scheduler", closed)
    assert result.exit_code == 1
    assert f"error: cannot reach the Dask scheduler at {closed}:" in result.stderr
    with (
        _start_cluster(tmp_path / "idle", workers=0) as idle,
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
    ):
        result = cli("blur-score", photos, "--scheduler", idle.address)
    assert result.exit_code == 1
    assert f"no Dask worker joined the scheduler at {idle.address} within 2 s" in result.stderr
    assert f"start workers with: dask worker {idle.address}" in result.stderr


@pytest.mark.parametrize("working_size", [None, 20_000])
def test_every_method_scores_on_the_cluster_as_on_the_local_pool(
    cluster: Cluster, photos: Path, working_size: int | None
) -> None:
    # Dask's workers run with OPENBLAS_NUM_THREADS=1, the local pool's with
    # OpenBLAS's default: a score that went through BLAS would differ here.
    files = sorted(photos.rglob("*.*"))
    with connect(str(cluster.scheduler_file)) as executor:
        assert isinstance(executor, DaskExecutor)
        for method in METHODS:
            job = functools.partial(score_file, method=method, working_size=working_size)
            here = list(iter_batch(job, files, workers=2, chunksize=5))
            assert any(r.ok for r in here), method  # edge-blur finds few edges in noise
            there = list(iter_batch(job, files, workers=2, executor=executor, chunksize=5))
            assert there == here, method
