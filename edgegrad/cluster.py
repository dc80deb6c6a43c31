"""Run edgegrad's per-file jobs on a Dask distributed cluster.

:func:`connect` opens a client to a running scheduler (``tcp://HOST:PORT``,
or the JSON file that ``dask scheduler --scheduler-file FILE`` writes), or
starts a :class:`distributed.LocalCluster` of worker processes on
127.0.0.1 (``"local"``), and yields a :class:`DaskExecutor`: a
:class:`concurrent.futures.Executor` that :func:`edgegrad.batch.iter_batch`
takes like any other::

    with connect("tcp://10.0.0.5:8786") as cluster:
        for record in iter_batch(job, paths, workers=cluster.threads,
                                 executor=cluster, chunksize=cluster.chunksize(len(paths))):
            ...

The workers read the files themselves: only paths go out, and only the small
pickled results come back. Dask reruns the tasks of a worker that dies on
another worker; a task whose workers keep dying (a "poison" input) fails with
:class:`WorkerLostError`, and ``iter_batch`` then runs its inputs one at a time,
so that only the input at fault is recorded as failed.

This module needs the optional ``distributed`` package (``pip install
"edgegrad[dask]"``), which it imports only when :func:`connect` is called:
``import edgegrad`` and the command line's help never load it.

References
----------
.. [1] Dask.distributed, "Futures" and "Executor" (``Client.get_executor``).
   https://distributed.dask.org/en/stable/api.html
.. [2] Dask.distributed, "Resilience": rerunning the tasks of a lost worker,
   ``distributed.scheduler.allowed-failures`` and ``KilledWorker``.
   https://distributed.dask.org/en/stable/resilience.html
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import json
import os
import re
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from edgegrad._validate import check_int
from edgegrad.errors import EdgegradError

if TYPE_CHECKING:
    import distributed

__all__ = [
    "DASK_INSTALL",
    "LOCAL",
    "SCHEDULER_VARIABLE",
    "ClusterError",
    "DaskExecutor",
    "WorkerLostError",
    "connect",
]

T = TypeVar("T")

#: What a user without the optional dependency is told to run.
DASK_INSTALL: Final = 'pip install "edgegrad[dask]"'
#: The address that starts a :class:`distributed.LocalCluster` on this machine.
LOCAL: Final = "local"
#: Dask's own environment variable for the scheduler's address, read by the CLI.
SCHEDULER_VARIABLE: Final = "DASK_SCHEDULER_ADDRESS"

# How work is cut into tasks (benchmarks/README.md has the measurements): a
# task costs a few ms of round trip through the scheduler (3-9 ms on a busy
# 2-worker LocalCluster), a photo tens of ms of worker time to decode and
# score, a thumbnail-sized file a fraction of a ms. About 8 tasks per worker
# thread spread a short batch evenly; at least _MIN_CHUNK inputs per task
# keep the round trip under 5 % of a task's time for photos; at most
# _MAX_CHUNK, which long runs reach, keep it near 10 % even for tiny files,
# while a lost worker's rerun and the last tasks of a run stay short next to
# such a run (256 photos are some 20 s of one worker's time).
_TASKS_PER_THREAD = 8
_MIN_CHUNK = 4
_MAX_CHUNK = 256
# Messages each of distributed's connections keeps for debugging: 1,000 by
# default in recent releases (none in older ones, under another key). Each
# message to a worker holds a task's chunk of paths, so with the default a
# LocalCluster's scheduler, in this process, keeps some 2,000 chunks: over
# 100 MiB for a million inputs (benchmarks/README.md).
_MESSAGE_LOG = 10
_MESSAGE_LOG_KEY = "distributed.admin.low-level-log-length"
_HOST_PORT = re.compile(r"[\w.\-]+:\d+|\[[0-9a-fA-F:]+\]:\d+")


class ClusterError(EdgegradError):
    """The cluster cannot be used: missing extra, unreachable scheduler, no workers."""


class WorkerLostError(concurrent.futures.BrokenExecutor):
    """The workers that ran a task died as often as the scheduler allows.

    Dask's scheduler reruns the tasks of a worker that died elsewhere, and
    gives up on a task once ``distributed.scheduler.allowed-failures`` (3 by
    default) workers have died while running it, with
    :class:`distributed.KilledWorker`; this is that exception as a
    :class:`concurrent.futures.BrokenExecutor`, which is how
    :func:`edgegrad.batch.iter_batch` learns that a task was lost rather than
    failed by its job.
    """


class DaskExecutor(concurrent.futures.Executor):
    """A :class:`concurrent.futures.Executor` that runs tasks on a Dask cluster.

    Made by :func:`connect`. Each task gets a key of its own (``pure=False``),
    so a task submitted again is run again. The first task that runs in a
    worker process prepares it as a local pool's worker is prepared (OpenCV
    on one thread, freed image buffers kept for reuse; see
    :func:`edgegrad.batch.iter_batch`).

    Parameters
    ----------
    client : distributed.Client
        A connected client; it is not closed by :meth:`shutdown`.

    Attributes
    ----------
    client : distributed.Client
        The client tasks are submitted through.
    threads : int
        Worker threads of the cluster when it was connected, at least 1: what
        sizes the window of tasks in flight.
    """

    def __init__(self, client: distributed.Client) -> None:
        import distributed

        self.client = client
        untyped: Any = client  # Client's methods carry no annotations
        self.threads: int = max(1, sum(untyped.nthreads().values()))
        self._executor: concurrent.futures.Executor = untyped.get_executor(pure=False)
        self._killed: type[BaseException] = distributed.KilledWorker

    def chunksize(self, inputs: int) -> int:
        """Inputs per task for a run of ``inputs`` inputs on this cluster.

        About 8 tasks per worker thread, with 4 to 256 inputs each: with 2
        worker threads, 200 inputs go 12 to a task, 10 inputs 4 to a task,
        and ten million 256 to a task.

        Parameters
        ----------
        inputs : int
            How many inputs the run has.

        Returns
        -------
        int
            The chunk size to give :func:`edgegrad.batch.iter_batch`.
        """
        inputs = check_int(inputs, "inputs", minimum=0)
        return max(_MIN_CHUNK, min(_MAX_CHUNK, inputs // (self.threads * _TASKS_PER_THREAD)))

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Run ``fn(*args, **kwargs)`` on a worker; return its future.

        The future raises :class:`WorkerLostError` if the scheduler gave up
        on the task because its workers died, and :class:`ClusterError` if
        the task was cancelled by the cluster (the scheduler went away).
        Cancelling the future cancels the task.
        """
        inner = self._executor.submit(_on_worker, fn, *args, **kwargs)
        outer: concurrent.futures.Future[T] = concurrent.futures.Future()
        # The task's result is held on its worker while its Dask future lives,
        # and that is while ``outer`` lives: ``outer`` holds ``inner``, which
        # holds the Dask future, and ``inner`` refers back to ``outer`` only
        # weakly, so no reference cycle keeps a result alive once the caller
        # drops its future.
        relayed = weakref.ref(outer)

        def cancel_inner(done: concurrent.futures.Future[T]) -> None:
            if done.cancelled():
                inner.cancel()

        def relay(done: concurrent.futures.Future[T]) -> None:
            outer = relayed()
            if outer is None or not outer.set_running_or_notify_cancel():
                return
            if done.cancelled():
                outer.set_exception(
                    ClusterError(
                        "the Dask cluster cancelled a task: the connection to its scheduler "
                        "was lost, or the cluster was closed"
                    )
                )
                return
            error = done.exception()
            if error is None:
                outer.set_result(done.result())
            elif isinstance(error, self._killed):
                outer.set_exception(WorkerLostError(str(error)))
            else:
                outer.set_exception(error)

        outer.add_done_callback(cancel_inner)
        inner.add_done_callback(relay)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking tasks; with ``cancel_futures`` (or not ``wait``), cancel those left.

        The client and the cluster stay open: :func:`connect` closes them.
        """
        self._executor.shutdown(wait=wait and not cancel_futures)


@contextlib.contextmanager
def connect(
    address: str, *, workers: int | None = None, timeout: float | None = None
) -> Iterator[DaskExecutor]:
    """Connect to a Dask cluster, or start one here; yield an executor on it.

    Parameters
    ----------
    address : str
        ``"local"`` starts a :class:`distributed.LocalCluster` of worker
        processes on 127.0.0.1, one thread each, without a dashboard, closed
        again on exit. ``tcp://HOST:PORT`` (any scheme Dask knows, or a bare
        ``HOST:PORT``) connects to a running scheduler; so does the path of
        the JSON file that ``dask scheduler --scheduler-file FILE`` writes.
    workers : int, optional
        Worker processes of a local cluster (default ``os.cpu_count()``).
        Ignored for a running scheduler, whose workers are what they are.
    timeout : float, optional
        Seconds to wait for the scheduler to answer, and then for a first
        worker to join it [default: Dask's ``distributed.comm.timeouts.connect``,
        30 s unless configured, e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``].

    Yields
    ------
    DaskExecutor
        The executor; the client (and a local cluster) close when the block
        ends, however it ends.

    Raises
    ------
    ClusterError
        When ``distributed`` is not installed (the message says
        ``pip install "edgegrad[dask]"``), the address is neither of the
        above, the scheduler file cannot be read, the scheduler does not
        answer, or no worker joins it within ``timeout``.
    ValueError
        If ``workers`` is below 1 or ``timeout`` is not positive.
    """
    distributed = _import_distributed()
    if workers is not None:
        workers = check_int(workers, "workers", minimum=1)
    if timeout is None:
        timeout = _configured_timeout()
    elif not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_short_message_logs())
        if address == LOCAL:
            import logging

            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # Its workers' warnings (tasks cancelled on Ctrl-C, restarts)
                    # would fill the run's stderr; errors are still shown.
                    silence_logs=logging.ERROR,
                    # No dashboard; the scheduler's small HTTP server (health,
                    # metrics) on a free port, not 8787, which may be taken.
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                )
            )
            client = stack.enter_context(distributed.Client(cluster, timeout=timeout))
        else:
            client = stack.enter_context(_client(distributed, address, timeout))
            try:
                client.wait_for_workers(1, timeout=timeout)
            except _connection_errors() as error:
                raise ClusterError(
                    f"no Dask worker joined the scheduler at {address} within {timeout:g} s "
                    f"({error}); start workers with: dask worker {client.scheduler.address}"
                ) from None
        executor = DaskExecutor(client)
        try:
            yield executor
        finally:
            executor.shutdown(wait=False)


def _import_distributed() -> Any:
    """The ``distributed`` module, or a :class:`ClusterError` that says how to install it."""
    try:
        return importlib.import_module("distributed")
    except ImportError as error:
        raise ClusterError(
            f"running on a Dask cluster needs the optional 'distributed' package, which "
            f"cannot be imported ({error}): {DASK_INSTALL}"
        ) from None


def _short_message_logs() -> contextlib.AbstractContextManager[object]:
    """Dask's configuration, set while connected: short logs of recent messages.

    It applies to the connections made in this process (the client's, and a
    local cluster's scheduler's, its workers' restarts included); a running
    scheduler elsewhere keeps its own configuration.
    """
    import dask.config

    setting: contextlib.AbstractContextManager[object] = dask.config.set(
        {_MESSAGE_LOG_KEY: _MESSAGE_LOG}
    )
    return setting


def _connection_errors(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """What distributed raises when it cannot connect, and ``more``.

    Its time-outs are asyncio's, not the built-in ``TimeoutError`` before
    Python 3.11; asyncio is imported here, not with this module, which the
    command line loads.
    """
    import asyncio

    return TimeoutError, asyncio.TimeoutError, OSError, *more


def _configured_timeout() -> float:
    """Dask's connect timeout, in seconds (its configuration, 30 s by default)."""
    import dask.config
    import dask.utils

    seconds: float = dask.utils.parse_timedelta(
        dask.config.get("distributed.comm.timeouts.connect"), default="seconds"
    )
    return seconds


def _client(dask: Any, address: str, timeout: float) -> distributed.Client:
    """A client of the scheduler at ``address`` (a URL, ``HOST:PORT`` or a scheduler file)."""
    if "://" in address or _HOST_PORT.fullmatch(address):
        target = address
    elif Path(address).is_file():
        target = _scheduler_in(Path(address))
    else:
        raise ClusterError(
            f"--scheduler {address!r} is neither {LOCAL!r}, tcp://HOST:PORT, nor an existing "
            "scheduler file (the JSON file of dask scheduler --scheduler-file FILE)"
        )
    try:
        client: distributed.Client = dask.Client(target, timeout=timeout)
    except _connection_errors(ValueError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    return client


def _scheduler_in(path: Path) -> str:
    """The address in a scheduler file, or a :class:`ClusterError` naming the file."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ClusterError(f"{path}: cannot read the Dask scheduler file: {error}") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str):
        raise ClusterError(
            f'{path}: not a Dask scheduler file: it has no "address" (write one with '
            "dask scheduler --scheduler-file FILE)"
        )
    return address


# Whether this worker process has been prepared; set only by _on_worker.
_prepared = False


def _on_worker(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one task in a Dask worker, preparing the process first (runs in the worker)."""
    global _prepared
    if not _prepared:
        from edgegrad.batch import _prepare_worker

        _prepare_worker()
        _prepared = True
    return fn(*args, **kwargs)
