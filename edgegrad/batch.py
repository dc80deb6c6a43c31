"""Run one per-image job over many inputs, one record per input.

:func:`run_batch` fans a job out over a process pool (or runs it inline for a
single worker), keeps only a bounded window of tasks in flight, returns the
records in input order and never raises for a single bad file.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeAlias, TypeVar

import cv2

from edgegrad.errors import EdgegradError

__all__ = ["Record", "run_batch"]

T = TypeVar("T")
_Outcome: TypeAlias = tuple[T | None, str | None]

# Tasks kept in flight per worker: enough to keep every worker busy while the
# oldest result is awaited, few enough that millions of inputs are not queued.
_WINDOW_PER_WORKER = 4


@dataclass(frozen=True)
class Record(Generic[T]):
    """The outcome of a job on one input.

    Attributes
    ----------
    path : pathlib.Path
        The input.
    result : T or None
        What the job returned, or ``None`` if it failed.
    error : str or None
        ``None`` on success; otherwise the message of an
        :class:`~edgegrad.errors.EdgegradError` (which names the file), or
        ``"ExceptionType: message"`` for any other exception.
    """

    path: Path
    result: T | None
    error: str | None

    @property
    def ok(self) -> bool:
        """``True`` if the job succeeded."""
        return self.error is None


def run_batch(
    job: Callable[[Path], T],
    inputs: Iterable[str | os.PathLike[str]],
    *,
    workers: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    on_result: Callable[[Record[T]], None] | None = None,
    chunksize: int = 8,
) -> list[Record[T]]:
    """Apply ``job`` to every input and collect one :class:`Record` per input.

    Parameters
    ----------
    job : callable
        ``job(path) -> result``. For a process pool it must be picklable: a
        module-level function or a :func:`functools.partial` of one.
    inputs : iterable of str or os.PathLike
        The inputs, consumed lazily.
    workers : int, optional
        Number of worker processes (default ``os.cpu_count()``). ``1`` runs the
        job inline in this process, without a pool. With ``executor``, it only
        sizes the window of tasks in flight.
    executor : concurrent.futures.Executor, optional
        Run on this executor instead of a private process pool. It is not shut
        down.
    on_result : callable, optional
        Called with each record in input order, as soon as that record and all
        before it are done (for progress bars and streamed output).
    chunksize : int, optional
        Inputs sent to a worker per task (default 8). Larger chunks cost fewer
        round trips between processes, which dominate on small images; smaller
        ones spread a short batch more evenly. Not used with ``workers=1``.

    Returns
    -------
    list of Record
        One record per input, in input order.

    Raises
    ------
    ValueError
        If ``workers`` is not a positive integer.
    TypeError
        If ``job`` cannot be pickled for the private process pool.
    KeyboardInterrupt
        Re-raised after cancelling the tasks not yet started.

    Notes
    -----
    A failing job never stops the batch: an
    :class:`~edgegrad.errors.EdgegradError` is recorded as its message, any
    other :class:`Exception` as ``"TypeName: message"``. Exceptions are turned
    into text inside the worker, so exceptions that cannot be pickled are
    recorded too. If a worker process dies (a crash in native code, or the
    out-of-memory killer), the pool is replaced and the inputs it lost are run
    again one at a time, each in a fresh process, so only the input that kills
    its worker is recorded as failed; the others may run twice. A caller's own
    ``executor`` is not replaced: its lost inputs are recorded as failed.

    The private pool starts its workers with ``forkserver`` (``spawn`` where
    that is missing), never a bare ``fork``: a child forked from a process whose
    OpenCV thread pool is running can deadlock inside OpenCV. Its workers run
    OpenCV single-threaded, so the processes do not oversubscribe the cores.

    Examples
    --------
    >>> [r.result for r in run_batch(lambda p: p.suffix, ["a.png", "b.jpg"], workers=1)]
    ['.png', '.jpg']
    """
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"chunksize must be a positive integer; got {chunksize!r}")
    paths = (Path(item) for item in inputs)
    window = workers * _WINDOW_PER_WORKER
    if executor is not None:
        return _run_on(executor, job, paths, window, chunksize, on_result, restart=None)
    if workers == 1:
        records = []
        for path in paths:
            records.append(_record(path, _attempt(job, path)))
            if on_result is not None:
                on_result(records[-1])
        return records
    try:
        pickle.dumps(job)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise TypeError(
            "job must be picklable to run in worker processes (a module-level function or a "
            f"functools.partial of one), or use workers=1; got {job!r}: {error}"
        ) from None
    pools = [_process_pool(workers)]

    def restart() -> concurrent.futures.Executor:
        pools.append(_process_pool(workers))
        return pools[-1]

    try:
        records = _run_on(pools[0], job, paths, window, chunksize, on_result, restart=restart)
    except BaseException:
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    for pool in pools:
        pool.shutdown()
    return records


def _run_on(
    executor: concurrent.futures.Executor,
    job: Callable[[Path], T],
    paths: Iterable[Path],
    window: int,
    chunksize: int,
    on_result: Callable[[Record[T]], None] | None,
    *,
    restart: Callable[[], concurrent.futures.Executor] | None,
) -> list[Record[T]]:
    """Submit chunks through a sliding window; collect results in input order.

    With ``restart``, a pool broken by a dying worker is replaced and the
    chunks it lost are run again one file at a time in a single-worker pool
    (itself replaced after each crash), so only the file that kills its
    worker fails.
    """
    records: list[Record[T]] = []
    pending: collections.deque[
        tuple[list[Path], concurrent.futures.Executor, concurrent.futures.Future[bytes]]
    ] = collections.deque()

    def collect_oldest() -> None:
        nonlocal executor
        chunk, pool, future = pending.popleft()
        try:
            outcomes: list[_Outcome[T]] = pickle.loads(future.result())
        except concurrent.futures.BrokenExecutor as error:
            if restart is None:
                outcomes = [(None, _describe(error))] * len(chunk)
            else:
                if pool is executor:
                    executor = restart()
                outcomes = [isolated(path) for path in chunk]
        for path, outcome in zip(chunk, outcomes, strict=True):
            records.append(_record(path, outcome))
            if on_result is not None:
                on_result(records[-1])

    solo: list[concurrent.futures.Executor] = []

    def isolated(path: Path) -> _Outcome[T]:
        if not solo:
            solo.append(_process_pool(1))
        try:
            return solo[0].submit(_attempt, job, path).result()
        except concurrent.futures.BrokenExecutor:
            solo.pop().shutdown(wait=False, cancel_futures=True)
            return None, (
                f"{path}: the worker process died while processing this file "
                "(a crash in native code, or out of memory)"
            )

    def submit(chunk: list[Path]) -> None:
        nonlocal executor
        try:
            future = executor.submit(_attempt_all, job, chunk)
        except concurrent.futures.BrokenExecutor as error:
            if restart is not None:
                executor = restart()
                future = executor.submit(_attempt_all, job, chunk)
            else:
                future = concurrent.futures.Future()
                future.set_exception(error)
        pending.append((chunk, executor, future))

    try:
        for chunk in _chunks(paths, chunksize):
            if len(pending) >= window:
                collect_oldest()
            submit(chunk)
        while pending:
            collect_oldest()
    except BaseException:
        for _, _, future in pending:
            future.cancel()
        raise
    finally:
        for pool in solo:
            pool.shutdown(wait=False, cancel_futures=True)
    return records


def _process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=_clean_start(), initializer=_single_threaded_opencv
    )


def _chunks(paths: Iterable[Path], size: int) -> Iterator[list[Path]]:
    """Consecutive lists of ``size`` paths (the last may be shorter)."""
    iterator = iter(paths)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _attempt_all(job: Callable[[Path], T], paths: list[Path]) -> bytes:
    """Run the job on each path of a chunk and pickle the outcomes (runs in the worker).

    Pickling here, once, lets a result that cannot be pickled become that
    input's own error instead of failing its whole chunk; the executor then
    only copies the bytes.
    """
    outcomes = [_attempt(job, path) for path in paths]
    try:
        return pickle.dumps(outcomes)
    except Exception:
        return pickle.dumps([_sendable(outcome) for outcome in outcomes])


def _sendable(outcome: _Outcome[T]) -> _Outcome[T]:
    try:
        pickle.dumps(outcome)
    except Exception as error:
        return None, f"result cannot be sent back from the worker: {_describe(error)}"
    return outcome


def _attempt(job: Callable[[Path], T], path: Path) -> _Outcome[T]:
    """Run the job, turning an exception into its description (runs in the worker)."""
    try:
        return job(path), None
    except Exception as error:
        return None, _describe(error)


def _describe(error: Exception) -> str:
    if isinstance(error, EdgegradError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _record(path: Path, outcome: _Outcome[T]) -> Record[T]:
    result, error = outcome
    return Record(path=path, result=result if error is None else None, error=error)


def _clean_start() -> multiprocessing.context.BaseContext:
    """A start method whose workers do not inherit the parent's threads."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _single_threaded_opencv() -> None:
    """Pool initializer: one OpenCV thread per worker process."""
    cv2.setNumThreads(1)
