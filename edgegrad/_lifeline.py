"""A worker process that ends when the process it works for ends.

A pool's workers are forked by the ``forkserver``, not by the process that
made the pool, and each holds the fork server's "alive" pipe and the resource
tracker's pipe open; the fork server and the tracker exit only once every
holder has closed them. So when the process that made the pool is killed, its
workers do not notice: they wait for work forever, keep the fork server and
the tracker alive, hold the stdout and stderr pipes they inherited (a reader
of ``edgegrad ... | cmd`` never sees the end) and finish the tasks already
queued to them. :func:`watch` makes a worker end instead; the fork server and
the tracker then follow on their own.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

__all__ = ["watch"]

#: Exit status of a process ended by force: a shell's status for one ended by SIGTERM.
_FORCED_EXIT = 128 + signal.SIGTERM


def watch(owner: int, *, grace: float = 1.0) -> bool:
    """End this process soon after process ``owner`` has ended.

    A daemon thread waits on a pidfd of ``owner`` [1]_, which becomes readable
    when that process terminates, however it ends (``kill -9`` included).
    The thread then sends SIGTERM to this process's main thread, so that a
    SIGTERM handler can unwind the job in progress (an atomic write removes
    its temporary file), and ends the process with ``os._exit`` if it is
    still running ``grace`` seconds later. If ``owner`` has already ended,
    that happens at once. The thread itself never takes SIGTERM or SIGINT,
    so that they always interrupt the main thread.

    Parameters
    ----------
    owner : int
        The process id to outlive by at most ``grace`` seconds; a worker is
        given its pool's creator, whose id it cannot get from ``os.getppid``
        since its parent is the fork server.
    grace : float, optional
        Seconds between the SIGTERM and the forced exit (default 1).

    Returns
    -------
    bool
        Whether this process is watching ``owner``. ``False`` where pidfds
        are missing (other systems than Linux, or a kernel before 5.3): there
        this does nothing, and a worker outlives a killed owner.

    Notes
    -----
    ``prctl(PR_SET_PDEATHSIG)`` [2]_ does not fit here. It signals a process
    when its *parent thread* ends, and a worker's parent is the fork server,
    which stays alive as long as any worker does. Set on the fork server, it
    would tie the server, shared by every pool of the process, to whichever
    thread happened to make the first pool, so a library user's short-lived
    thread would take all later pools' workers down with it.

    The owner's id is opened here, in the worker, while the owner is normally
    alive, since it is waiting for its pool to start. Only if the owner ended
    in those few milliseconds and its id were at once given to a new process
    would the wrong process be watched.

    References
    ----------
    .. [1] pidfd_open(2), Linux man-pages.
       https://man7.org/linux/man-pages/man2/pidfd_open.2.html
    .. [2] prctl(2), Linux man-pages: ``PR_SET_PDEATHSIG``.
       https://man7.org/linux/man-pages/man2/prctl.2.html
    """
    if sys.platform != "linux":
        return False
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:
        pidfd = None
    except OSError:
        return False
    thread = threading.Thread(
        target=_end_after, args=(pidfd, grace), name="edgegrad-lifeline", daemon=True
    )
    # The thread starts with SIGTERM and SIGINT blocked (a new thread inherits
    # the mask), so the kernel hands them to the main thread: one taken by
    # this thread would leave the main thread blocked where it is, its Python
    # handler never run. Signals that come meanwhile wait for the unblocking.
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return True


def _end_after(pidfd: int | None, grace: float) -> None:
    """Wait until the pidfd is readable (at once if ``None``), then end this process."""
    if pidfd is not None:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll()
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGTERM)
    time.sleep(grace)
    os._exit(_FORCED_EXIT)
