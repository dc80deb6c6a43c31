"""Tests of edgegrad.batch (iter_batch and run_batch), inline and on a process pool."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import build_corpus, snapshot

from edgegrad.batch import Record, iter_batch, run_batch
from edgegrad.errors import ImageReadError
from edgegrad.io import URL, iter_images, read_image


def shape_of(path: Path) -> tuple[int, ...]:
    """The job of the corpus runs: read the image, return its shape."""
    return read_image(path, mode="color").shape


def fail_on_odd(path: Path, *, exception: type[Exception] = ValueError) -> str:
    if int(path.stem) % 2:
        if exception is ImageReadError:
            raise ImageReadError(path, "odd")
        raise exception(f"odd {path.stem}")
    return path.stem


def exit_on_three(path: Path) -> str:
    if path.stem == "3":
        os._exit(1)
    return path.stem


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("hostile"))


def numbered(count: int) -> list[Path]:
    return [Path(f"{index}.png") for index in range(count)]


class Counted:
    """The paths of :func:`numbered`, handed out lazily, counting how many were taken."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pulled = 0

    def __iter__(self) -> Iterator[Path]:
        for path in numbered(self.count):
            self.pulled += 1
            yield path


@pytest.mark.parametrize("workers", [1, 2])
def test_corpus_batch_gives_one_record_per_input_and_touches_nothing(
    tree: Path, workers: int
) -> None:
    before = snapshot(tree)
    inputs = list(iter_images(tree, follow_symlinks=True))
    start = time.perf_counter()
    records = run_batch(shape_of, inputs, workers=workers)
    assert time.perf_counter() - start < 10
    assert [record.path for record in records] == inputs
    by_name = {record.path.name: record for record in records}
    assert by_name["photo.jpg"] == Record(tree / "photo.jpg", (96, 128, 3), None)
    assert by_name["gray16.png"].result == (20, 30, 3)
    bomb = by_name["bomb.png"]
    assert bomb.result is None
    assert bomb.error is not None
    assert bomb.error.startswith(f"{tree / 'bomb.png'}: header declares 30000x30000")
    failed = sorted(name for name, record in by_name.items() if not record.ok)
    assert failed == [
        "bad_crc.png",
        "bomb.png",
        "corrupt_middle.jpg",
        "cut.png",
        "cut_half.jpg",
        "empty.jpg",
        "nan.tiff",
        "notes.jpg",
        "stray_marker.jpg",
    ]
    assert all(record.error is None for record in records if record.result is not None)
    assert snapshot(tree) == before


def test_pool_and_inline_agree(tree: Path) -> None:
    inputs = list(iter_images(tree))
    assert run_batch(shape_of, inputs, workers=2) == run_batch(shape_of, inputs, workers=1)


def test_a_url_given_as_text_reaches_the_job_as_a_url() -> None:
    # Path("s3://bucket/k.jpg") would be the local path s3:/bucket/k.jpg.
    records = run_batch(str, ["s3://bucket/k.jpg", "local/a.png", Path("b.png")], workers=1)
    assert [isinstance(r.path, URL) for r in records] == [True, False, False]
    assert all(isinstance(r.path, Path) for r in records[1:])
    assert [r.result for r in records] == ["s3://bucket/k.jpg", "local/a.png", "b.png"]


@pytest.mark.parametrize("workers", [1, 2])
def test_errors_become_messages(workers: int) -> None:
    records = run_batch(fail_on_odd, numbered(4), workers=workers)
    assert [(r.result, r.error) for r in records] == [
        ("0", None),
        (None, "ValueError: odd 1"),
        ("2", None),
        (None, "ValueError: odd 3"),
    ]
    assert [r.ok for r in records] == [True, False, True, False]


@pytest.mark.parametrize("workers", [1, 2])
def test_edgegrad_errors_give_their_own_message(workers: int) -> None:
    # ImageReadError(path, reason) cannot be unpickled from its message alone:
    # it must be turned into text inside the worker.
    job = functools.partial(fail_on_odd, exception=ImageReadError)
    records = run_batch(job, ["0.png", "1.png"], workers=workers)
    assert [r.error for r in records] == [None, "1.png: odd"]


def test_on_result_is_called_in_input_order() -> None:
    seen: list[str] = []
    records = run_batch(
        fail_on_odd, numbered(25), workers=2, on_result=lambda r: seen.append(r.path.stem)
    )
    assert seen == [str(index) for index in range(25)]
    assert len(records) == 25


@pytest.mark.parametrize("chunksize", [1, 3])
def test_inputs_are_consumed_through_a_bounded_window(chunksize: int) -> None:
    inputs = Counted(100)

    in_flight_at_first_result: list[int] = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        records = run_batch(
            fail_on_odd,
            inputs,
            workers=2,
            executor=pool,
            chunksize=chunksize,
            on_result=lambda r: in_flight_at_first_result.append(inputs.pulled),
        )
    # At most 2 workers x 4 chunks in flight, plus the chunk being assembled.
    assert in_flight_at_first_result[0] <= (2 * 4 + 1) * chunksize
    assert inputs.pulled == 100
    assert [r.path for r in records] == numbered(100)


def test_chunksize_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="chunksize must be a positive integer"):
        run_batch(fail_on_odd, numbered(2), workers=2, chunksize=0)


def test_keyboard_interrupt_cancels_and_propagates() -> None:
    inputs = Counted(1000)

    def interrupt(record: Record[str]) -> None:
        raise KeyboardInterrupt

    with (
        concurrent.futures.ThreadPoolExecutor(2) as pool,
        pytest.raises(KeyboardInterrupt),
    ):
        run_batch(fail_on_odd, inputs, workers=2, executor=pool, on_result=interrupt)
    assert inputs.pulled < 1000


def test_keyboard_interrupt_in_inline_job_propagates() -> None:
    def job(path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(job, numbered(3), workers=1)


@pytest.mark.parametrize("chunksize", [1, 8])
def test_a_dead_worker_fails_only_its_own_input(chunksize: int) -> None:
    records = run_batch(exit_on_three, numbered(40), workers=2, chunksize=chunksize)
    assert [r.path for r in records] == numbered(40)
    assert "the worker process died while processing this file" in (records[3].error or "")
    assert str(records[3].path) in (records[3].error or "")
    assert [r.result for r in records if r.ok] == [str(i) for i in range(40) if i != 3]


def test_a_callers_broken_executor_fails_its_lost_inputs() -> None:
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        records = run_batch(exit_on_three, numbered(12), workers=2, executor=pool, chunksize=1)
    assert [r.path for r in records] == numbered(12)
    assert (records[3].error or "").startswith("BrokenProcessPool")
    for record in records:
        assert record.result == record.path.stem or (record.error or "").startswith(
            "BrokenProcessPool"
        )


def test_unpicklable_job_is_refused_for_a_pool() -> None:
    with pytest.raises(TypeError, match="job must be picklable"):
        run_batch(lambda path: path, numbered(2), workers=2)
    assert [r.result for r in run_batch(lambda path: path.stem, numbered(2), workers=1)] == [
        "0",
        "1",
    ]


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_must_be_a_positive_integer(workers: object) -> None:
    with pytest.raises(ValueError, match="workers must be a positive integer; got"):
        run_batch(fail_on_odd, numbered(1), workers=workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [True, 1.5, "2"])
def test_workers_of_the_wrong_kind_are_a_type_error(workers: object) -> None:
    with pytest.raises(TypeError, match="workers must be an integer; got"):
        run_batch(fail_on_odd, numbered(1), workers=workers)  # type: ignore[arg-type]


def test_empty_input_gives_no_records() -> None:
    assert run_batch(fail_on_odd, [], workers=2) == []


def test_record_is_frozen() -> None:
    record = Record(Path("a.png"), 1, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.result = 2


def lock_for_three(path: Path) -> object:
    """A result that cannot be pickled back from a worker, for input 3 only."""
    return threading.Lock() if path.stem == "3" else path.stem


def test_an_unpicklable_result_fails_only_its_own_input() -> None:
    records = run_batch(lock_for_three, numbered(8), workers=2, chunksize=8)
    assert [r.ok for r in records] == [True, True, True, False, True, True, True, True]
    assert "cannot be sent back from the worker" in (records[3].error or "")


@pytest.mark.parametrize("workers", [1, 2])
def test_records_stream_before_the_inputs_run_out(workers: int) -> None:
    inputs = Counted(200)

    stream = iter_batch(fail_on_odd, inputs, workers=workers, chunksize=2)
    first = next(stream)
    assert first == Record(Path("0.png"), "0", None)
    assert inputs.pulled <= (workers * 4 + 1) * 2
    rest = list(stream)
    assert [r.path for r in [first, *rest]] == numbered(200)
    assert inputs.pulled == 200


def test_closing_the_stream_early_stops_the_batch() -> None:
    inputs = Counted(10_000)

    stream = iter_batch(fail_on_odd, inputs, workers=2, chunksize=1)
    assert [next(stream).path for _ in range(3)] == numbered(3)
    stream.close()
    assert inputs.pulled < 100


def test_iter_batch_checks_its_arguments_when_called() -> None:
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        iter_batch(fail_on_odd, numbered(1), workers=0)
    with pytest.raises(TypeError, match="job must be picklable"):
        iter_batch(lambda path: path, numbered(2), workers=2)


def test_any_executor_runs_the_jobs() -> None:
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        records = list(iter_batch(fail_on_odd, numbered(30), workers=3, executor=pool))
    assert [r.result for r in records] == [None if i % 2 else str(i) for i in range(30)]


FAULTS_PER_DECODE = """
import ctypes, resource, sys
import cv2
import numpy as np
from edgegrad.batch import _prepare_worker
# glibc's starting mmap threshold, 128 KiB, held fixed: glibc raises it by
# itself only after some large block happens to be freed, so without this the
# unprepared case would depend on what ran before.
ctypes.CDLL(None).mallopt(-3, 128 * 1024)
if sys.argv[1] == "prepared":
    _prepare_worker()
    assert cv2.getNumThreads() == 1
noise = np.random.default_rng(0).integers(0, 256, (3000, 4000), dtype=np.uint8)
data = cv2.imencode(".jpg", noise)[1]
cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


GLIBC = bool(getattr(os, "confstr", lambda name: None)("CS_GNU_LIBC_VERSION"))


@pytest.mark.skipif(not GLIBC, reason="malloc tuning is glibc's")
def test_a_prepared_worker_decodes_into_reused_memory() -> None:
    def faults(state: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", FAULTS_PER_DECODE, state],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(run.stdout)

    # Decoding a 12 MP gray JPEG into fresh memory faults in its ~2900 pages;
    # a prepared worker reuses the buffer it freed.
    assert faults("plain") > 2000
    assert faults("prepared") < 100


def test_the_fork_server_preloads_edgegrad_and_keeps_the_callers_modules() -> None:
    code = """
import multiprocessing
from multiprocessing import forkserver
from edgegrad.batch import _clean_start
multiprocessing.set_forkserver_preload(["json"])
_clean_start()
_clean_start()
print(forkserver._forkserver._preload_modules)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "['json', 'edgegrad.jobs']"


MALLOPT_REFUSING_LARGE = """
import ctypes
from edgegrad import batch
calls = []
def mallopt(parameter, value):
    calls.append((parameter, value))
    return int(parameter != -3 or value <= {limit})
class FakeLibc:
    pass
FakeLibc.mallopt = staticmethod(mallopt)
ctypes.CDLL = lambda name: FakeLibc()
print(batch._reuse_freed_memory(), calls)
"""


@pytest.mark.skipif(not GLIBC, reason="malloc tuning is glibc's")
@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1 << 40, "True [(-3, 268435456), (-1, 268435456)]"),
        (32 << 20, "True [(-3, 268435456), (-3, 33554432), (-1, 268435456)]"),
        # Nothing accepted: the trim threshold is left alone, since setting it
        # would pin the mmap threshold at glibc's 128 KiB starting value.
        (1 << 20, "False [(-3, 268435456), (-3, 33554432)]"),
    ],
)
def test_malloc_tuning_falls_back_and_never_half_applies(limit: int, expected: str) -> None:
    code = MALLOPT_REFUSING_LARGE.replace("{limit}", str(limit))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == expected
