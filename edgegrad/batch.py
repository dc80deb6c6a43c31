"""Run one per-image job over many inputs, one record per input.

:func:`iter_batch` fans a job out over a process pool, any other
:class:`concurrent.futures.Executor`, or runs it inline for a single worker.
It keeps only a bounded window of tasks in flight, yields the records in input
order as they finish and never raises for a single bad file. :func:`run_batch`
collects them into a list.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import ctypes
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import forkserver
from types import FrameType
from typing import Generic, TypeAlias, TypeVar

import cv2

from edgegrad import _lifeline
from edgegrad._validate import check_int
from edgegrad.errors import EdgegradError
from edgegrad.io._remote import URL, Location, as_location

__all__ = ["Record", "iter_batch", "run_batch"]

T = TypeVar("T")
_Outcome: TypeAlias = tuple[T | None, str | None]

# Tasks kept in flight per worker: enough to keep every worker busy while the
# oldest result is awaited, few enough that millions of inputs are not queued.
_WINDOW_PER_WORKER = 4
# glibc mallopt() parameters (malloc.h), the value a worker gives both, and the
# largest mmap threshold older glibc releases accept (HEAP_MAX_SIZE / 2, 64-bit).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEPT_FREE_BYTES = 256 * 1024 * 1024
_OLD_GLIBC_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
# Seconds a stopped worker has to unwind its job before it is killed.
_STOP_GRACE = 2.0


@dataclass(frozen=True)
class Record(Generic[T]):
    """The outcome of a job on one input.

    Attributes
    ----------
    path : pathlib.Path or URL
        The input.
    result : T or None
        What the job returned, or ``None`` if it failed.
    error : str or None
        ``None`` on success; otherwise the message of an
        :class:`~edgegrad.errors.EdgegradError` (which names the file), or
        ``"ExceptionType: message"`` for any other exception.
    """

    path: Location
    result: T | None
    error: str | None

    @property
    def ok(self) -> bool:
        """``True`` if the job succeeded."""
        return self.error is None


def iter_batch(
    job: Callable[[Location], T],
    inputs: Iterable[str | os.PathLike[str] | URL],
    *,
    workers: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    chunksize: int = 8,
) -> Generator[Record[T], None, None]:
    """Apply ``job`` to every input, yielding one :class:`Record` per input as it finishes.

    Records come in input order: each is yielded as soon as it and every
    record before it are done, so a caller can write them out (and flush) while
    the batch runs. Only a bounded window of inputs is in flight, so neither
    the inputs nor the results pile up in memory, however long the run.

    Parameters
    ----------
    job : callable
        ``job(path) -> result``. For a process pool it must be picklable: a
        module-level function or a :func:`functools.partial` of one. It gets a
        path, never an open file or an array, so the same job can run on any
        executor, including one whose workers are on other machines.
    inputs : iterable of str, os.PathLike or URL
        The inputs, consumed lazily. Each becomes a :class:`pathlib.Path`,
        except a :class:`edgegrad.io.URL` or a ``str`` that is one
        (:func:`edgegrad.io.as_location`'s rule), which the job gets as a URL
        (and reads on the worker).
    workers : int, optional
        Number of worker processes (default ``os.cpu_count()``). ``1`` runs the
        job inline in this process, without a pool. With ``executor``, it only
        sizes the window of tasks in flight.
    executor : concurrent.futures.Executor, optional
        Run on this executor instead of a private process pool. It is not shut
        down. Tasks are ``(job, list of paths)`` and return bytes, so an
        executor that ships them elsewhere needs the job to be importable
        there.
    chunksize : int, optional
        Inputs sent to a worker per task (default 8). Larger chunks cost fewer
        round trips between processes, which dominate on small images; smaller
        ones spread a short batch more evenly. Not used with ``workers=1``.

    Yields
    ------
    Record
        One per input, in input order.

    Raises
    ------
    TypeError
        If ``workers`` or ``chunksize`` is not an integer, or ``job`` cannot be
        pickled for the private process pool (raised by the call, before
        anything runs).
    ValueError
        If ``workers`` or ``chunksize`` is below 1 (likewise).
    KeyboardInterrupt
        Re-raised once the tasks not yet started are cancelled and, on the
        private pool, its workers are stopped (see Notes).

    Notes
    -----
    A consumer that may stop early (an error while writing a record, a reader
    gone from a pipe) should close the generator, for instance with
    :func:`contextlib.closing`: closing cancels the tasks not yet started and
    stops the private pool at once, where an abandoned generator leaves the
    pool to finish its window first.

    Stopping the private pool (on closing, or on any exception, Ctrl-C
    included) sends each worker SIGTERM, which a worker turns into an
    exception inside the job in progress: the job unwinds (an atomic write
    removes its temporary file) and the worker exits. The call returns once
    the workers and the pool's own thread are gone, so nothing of the pool
    is left running when the interpreter exits. A worker also stops that way
    on SIGINT, and by itself within a second or so when the process that
    made its pool ends, however it ends (see :func:`edgegrad._lifeline.watch`);
    the fork server and the resource tracker then exit too.

    At most ``4 * workers`` tasks of ``chunksize`` inputs are in flight.

    A failing job never stops the batch: an
    :class:`~edgegrad.errors.EdgegradError` is recorded as its message, any
    other :class:`Exception` as ``"TypeName: message"``. Exceptions are turned
    into text inside the worker, so exceptions that cannot be pickled are
    recorded too. If a worker process dies (a crash in native code, or the
    out-of-memory killer), the pool is replaced and the inputs it lost are run
    again one at a time, each in a fresh process, so only the input that kills
    its worker is recorded as failed; the others may run twice. A caller's own
    ``executor`` is not replaced: the inputs of a task it lost (one whose
    future raises :class:`concurrent.futures.BrokenExecutor`) are submitted
    to it again one at a time, so that on an executor that outlives its
    workers (:class:`edgegrad.cluster.DaskExecutor`) only the input that
    kills them is recorded as failed; an executor that is broken for good
    refuses them, and they are recorded as failed.

    The private pool starts its workers with ``forkserver`` (``spawn`` where
    that is missing), never a bare ``fork``: a child forked from a process whose
    OpenCV thread pool is running can deadlock inside OpenCV. Each worker runs
    OpenCV single-threaded, so the processes do not oversubscribe the cores,
    and keeps the memory it frees for its next image (see
    :func:`_reuse_freed_memory`).

    Examples
    --------
    >>> for record in iter_batch(lambda p: p.suffix, ["a.png", "b.jpg"], workers=1):
    ...     print(record.path, record.result)
    a.png .png
    b.jpg .jpg
    """
    workers = check_int(os.cpu_count() or 1 if workers is None else workers, "workers", minimum=1)
    chunksize = check_int(chunksize, "chunksize", minimum=1)
    paths = (as_location(item, "input") for item in inputs)
    window = workers * _WINDOW_PER_WORKER
    if executor is not None:
        return _run_on(executor, job, paths, window, chunksize, restart=None)
    if workers == 1:
        return (_record(path, _attempt(job, path)) for path in paths)
    try:
        pickle.dumps(job)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise TypeError(
            "job must be picklable to run in worker processes (a module-level function or a "
            f"functools.partial of one), or use workers=1; got {job!r}: {error}"
        ) from None
    return _on_private_pools(job, paths, workers, window, chunksize)


def run_batch(
    job: Callable[[Location], T],
    inputs: Iterable[str | os.PathLike[str] | URL],
    *,
    workers: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    on_result: Callable[[Record[T]], None] | None = None,
    chunksize: int = 8,
) -> list[Record[T]]:
    """Apply ``job`` to every input and collect one :class:`Record` per input.

    :func:`iter_batch`, collected into a list; see it for the parameters,
    the errors and how failures and dead workers are handled.

    Parameters
    ----------
    on_result : callable, optional
        Called with each record in input order, as soon as that record and all
        before it are done (for progress bars).

    Returns
    -------
    list of Record
        One record per input, in input order.

    Examples
    --------
    >>> [r.result for r in run_batch(lambda p: p.suffix, ["a.png", "b.jpg"], workers=1)]
    ['.png', '.jpg']
    """
    records = []
    batch = iter_batch(job, inputs, workers=workers, executor=executor, chunksize=chunksize)
    # Closed at once if on_result raises, rather than whenever the traceback goes.
    with contextlib.closing(batch):
        for record in batch:
            records.append(record)
            if on_result is not None:
                on_result(record)
    return records


def _on_private_pools(
    job: Callable[[Location], T],
    paths: Iterable[Location],
    workers: int,
    window: int,
    chunksize: int,
) -> Generator[Record[T], None, None]:
    """Run on a process pool of our own, replaced whenever a worker dies; shut all down."""
    pools = [_process_pool(workers)]

    def restart() -> concurrent.futures.Executor:
        pools.append(_process_pool(workers))
        return pools[-1]

    try:
        yield from _run_on(pools[0], job, paths, window, chunksize, restart=restart)
    except BaseException:
        for pool in pools:
            _shut_down(pool, now=True)
        raise
    for pool in pools:
        _shut_down(pool, now=False)


def _run_on(
    executor: concurrent.futures.Executor,
    job: Callable[[Location], T],
    paths: Iterable[Location],
    window: int,
    chunksize: int,
    *,
    restart: Callable[[], concurrent.futures.Executor] | None,
) -> Generator[Record[T], None, None]:
    """Submit chunks through a sliding window; collect results in input order.

    With ``restart``, a pool broken by a dying worker is replaced and the
    chunks it lost are run again one file at a time in a single-worker pool
    (itself replaced after each crash), so only the file that kills its
    worker fails.
    """
    pending: collections.deque[
        tuple[list[Location], concurrent.futures.Executor, concurrent.futures.Future[bytes]]
    ] = collections.deque()

    def collect_oldest() -> Iterator[Record[T]]:
        nonlocal executor
        chunk, pool, future = pending.popleft()
        try:
            outcomes: list[_Outcome[T]] = pickle.loads(future.result())
        except concurrent.futures.BrokenExecutor:
            if restart is None:
                outcomes = [alone(path) for path in chunk]
            else:
                if pool is executor:
                    executor = restart()
                outcomes = [isolated(path) for path in chunk]
        for path, outcome in zip(chunk, outcomes, strict=True):
            yield _record(path, outcome)

    def alone(path: Location) -> _Outcome[T]:
        """Run one input of a chunk that a caller's executor lost again, by itself, on it."""
        try:
            future = executor.submit(_attempt_all, job, [path])
        except concurrent.futures.BrokenExecutor as error:
            return None, _describe(error)
        try:
            outcomes: list[_Outcome[T]] = pickle.loads(future.result())
        except concurrent.futures.BrokenExecutor:
            return None, _died(path)
        return outcomes[0]

    solo: list[concurrent.futures.ProcessPoolExecutor] = []

    def isolated(path: Location) -> _Outcome[T]:
        if not solo:
            solo.append(_process_pool(1))
        try:
            outcomes: list[_Outcome[T]] = pickle.loads(
                solo[0].submit(_attempt_all, job, [path]).result()
            )
        except concurrent.futures.BrokenExecutor:
            _shut_down(solo.pop(), now=False)
            return None, _died(path)
        return outcomes[0]

    def submit(chunk: list[Location]) -> None:
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
                yield from collect_oldest()
            submit(chunk)
        while pending:
            yield from collect_oldest()
    except BaseException:
        if restart is None:
            for _, _, future in pending:
                future.cancel()
        # A private pool cancels its own tasks as it is shut down. Cancelled
        # here, they race with the pool's thread, which, once it sees the
        # stopped workers gone, sets an error on every task it holds and, in
        # Python releases without the fix for CPython issue 107219 (3.11
        # among them), dies with a traceback on a cancelled one.
        for pool in solo:
            _shut_down(pool, now=True)
        raise
    for pool in solo:
        _shut_down(pool, now=False)


def _process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=_clean_start(), initializer=_start_worker, initargs=(os.getpid(),)
    )


def _shut_down(pool: concurrent.futures.ProcessPoolExecutor, *, now: bool) -> None:
    """Shut a private pool down and wait until its thread and workers are gone.

    With ``now``, the tasks not yet started are cancelled and each worker is
    sent SIGTERM, so the tasks in progress unwind (see :func:`_stop_worker`)
    instead of running to the end; a worker still running ``_STOP_GRACE``
    seconds later (stuck in native code) is killed. The pool's management
    thread sees its workers gone and winds up at once.

    Either way this returns only once that thread has ended. A thread left
    running (``shutdown(wait=False)``) races, at interpreter exit, with the
    exit hook of :mod:`concurrent.futures`, which checks that the thread's
    wakeup pipe is open and then writes to it while the thread may be closing
    it. Python releases without the lock that CPython pull request 125492
    [1]_ put around both (3.11 among them) then print, now and then,
    ``Exception ignored in: <module 'threading'> ... OSError: [Errno 9] Bad
    file descriptor``.

    References
    ----------
    .. [1] "gh-125451: Fix deadlock in ProcessPoolExecutor shutdown", CPython.
       https://github.com/python/cpython/pull/125492
    """
    if now:
        # Python 3.14's ProcessPoolExecutor.terminate_workers does this; before
        # it, the workers are only found on this private mapping (None once shut down).
        workers = [p for p in list((pool._processes or {}).values()) if p.is_alive()]
        for process in workers:
            process.terminate()
        left = {process.sentinel: process for process in workers}
        deadline = time.monotonic() + _STOP_GRACE
        while left and (remaining := deadline - time.monotonic()) > 0:
            ended = multiprocessing.connection.wait(list(left), remaining)
            left = {sentinel: p for sentinel, p in left.items() if sentinel not in ended}
        for process in left.values():
            process.kill()
    pool.shutdown(wait=True, cancel_futures=now)


def _chunks(paths: Iterable[Location], size: int) -> Iterator[list[Location]]:
    """Consecutive lists of ``size`` paths (the last may be shorter)."""
    iterator = iter(paths)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _attempt_all(job: Callable[[Location], T], paths: list[Location]) -> bytes:
    """Run the job on each path of a chunk and pickle the outcomes (runs in the worker).

    Pickling here, once, lets a result that cannot be pickled become that
    input's own error instead of failing its whole chunk; the executor then
    only copies the bytes. A worker told to stop (:class:`_Stop`) exits here,
    once the job has unwound: the executor's worker loop would otherwise send
    the exception back as the task's result and go on to the next task.
    """
    global _in_job
    try:
        _in_job = True
        outcomes = [_attempt(job, path) for path in paths]
    except _Stop as stop:
        os._exit(stop.code)
    finally:
        _in_job = False
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


def _attempt(job: Callable[[Location], T], path: Location) -> _Outcome[T]:
    """Run the job, turning an exception into its description (runs in the worker)."""
    try:
        return job(path), None
    except Exception as error:
        return None, _describe(error)


def _died(path: Location) -> str:
    return (
        f"{path}: the worker process died while processing this file "
        "(a crash in native code, or out of memory)"
    )


def _describe(error: Exception) -> str:
    if isinstance(error, EdgegradError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _record(path: Location, outcome: _Outcome[T]) -> Record[T]:
    result, error = outcome
    return Record(path=path, result=result if error is None else None, error=error)


def _clean_start() -> multiprocessing.context.BaseContext:
    """A start method whose workers do not inherit the parent's threads.

    The fork server imports edgegrad (and so NumPy and OpenCV) once, before
    it forks any worker, instead of every worker importing it again when it
    unpickles its first job. It is single-threaded, so forking
    it is safe. ``edgegrad.jobs`` is added to the process's preload list
    (``["__main__"]`` unless the caller set another), which only counts when
    the server starts, at the first pool of the process.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The list lives on a private attribute; without it, keep the default.
    preload = list(getattr(forkserver._forkserver, "_preload_modules", ["__main__"]))
    if "edgegrad.jobs" not in preload:
        context.set_forkserver_preload([*preload, "edgegrad.jobs"])
    return context


class _Stop(SystemExit):
    """Raised in a worker's job by SIGTERM or SIGINT: the job unwinds, then the worker exits.

    A :class:`SystemExit`, so that the job's ``except Exception`` lets it
    pass; :func:`_attempt_all` ends the worker once the job has unwound.
    """

    code: int


# Whether this worker is inside _attempt_all, where a _Stop is caught; set only there.
_in_job = False


def _stop_worker(signum: int, frame: FrameType | None) -> None:
    """SIGTERM and SIGINT handler of a worker; its exit status is 128 + the signal.

    Inside a job it raises :class:`_Stop`. Anywhere else (starting up,
    waiting for work, sending a result back) there is nothing to unwind, and
    an exception there would reach ``multiprocessing``, which prints it or
    sends it back as a result, so the worker exits at once.
    """
    if _in_job:
        raise _Stop(128 + signum)
    os._exit(128 + signum)


def _start_worker(owner: int) -> None:
    """Pool initializer: a prepared worker that ends when told to, or with its owner.

    The worker is prepared (:func:`_prepare_worker`). SIGTERM and SIGINT
    unwind the job in progress and end the worker (:func:`_stop_worker`):
    that is how a pool is stopped, and Ctrl-C, which reaches every process of
    the terminal's process group, does the same. The worker ends, the same
    way, when process ``owner`` (the one that made the pool) ends
    (:func:`edgegrad._lifeline.watch`).
    """
    _prepare_worker()
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)
    _lifeline.watch(owner)


def _prepare_worker() -> None:
    """One OpenCV thread per worker, and freed memory kept for reuse."""
    cv2.setNumThreads(1)
    _reuse_freed_memory()


def _reuse_freed_memory() -> bool:
    """Make glibc's malloc reuse freed image buffers instead of handing them to the kernel.

    By default glibc serves every block above a threshold (128 KiB, rising
    with use to at most 32 MiB) with fresh ``mmap`` pages and unmaps it on
    ``free``. A worker decodes one image after another into buffers of much
    the same size, so each decode then faults in and zeroes every page of a
    new buffer again: thousands of minor page faults for a 12 MP image, which
    makes its decode markedly slower (``benchmarks/README.md`` has the
    figures). Raising the mmap and trim
    thresholds to 256 MiB keeps freed buffers in the heap for the next image;
    a worker then holds on to at most that much memory it is not using.
    Larger buffers are still mapped and unmapped. A glibc that refuses an mmap
    threshold that large (older releases cap it at 32 MiB) gets 32 MiB; if
    that is refused too, nothing is changed, since setting the trim threshold
    alone would pin the mmap threshold at 128 KiB. Elsewhere than glibc this
    does nothing.

    Returns
    -------
    bool
        Whether the thresholds were raised.

    References
    ----------
    .. [1] mallopt(3), Linux man-pages: ``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD``.
       https://man7.org/linux/man-pages/man3/mallopt.3.html
    """
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        glibc = None
    if not glibc:
        return False
    mallopt = ctypes.CDLL(None).mallopt
    for threshold in (_KEPT_FREE_BYTES, _OLD_GLIBC_MAX_MMAP_THRESHOLD):
        if mallopt(_M_MMAP_THRESHOLD, threshold) == 1:
            return bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE_BYTES) == 1)
    return False
