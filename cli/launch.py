"""The ``edgegrad`` console script: the worker pool's fork server first, then the command line.

Most of a short run is imports: click and the commands in this process, and
NumPy, OpenCV and the jobs in the fork server that forks the pool's workers
(``edgegrad.batch``). For a command that fans out over the pool, :func:`main`
starts that server before it imports anything else, so that its imports run
on another core, alongside this process's own. This module imports nothing
heavy itself: the server and every worker it forks import the console
script that calls it, as the pool's ``__main__``.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

# Commands that may fan out over edgegrad.batch's private process pool.
POOLED = frozenset(
    {"sobel", "scharr", "laplacian", "directional", "canny", "blur-score", "focus-sweep"}
)
# What the pool's fork server preloads besides the caller's list (Python's
# default is "__main__", the console script, which imports only this module).
FORK_SERVER_PRELOAD = "edgegrad.jobs"
# Options of the group that end the run before any command.
_EXITING = frozenset({"--help", "-h", "--version"})


def start_fork_server() -> None:
    """Start the fork server of edgegrad's worker pools now, if this platform has one.

    It is the process that imports what the jobs need once and forks every
    worker (``iter_batch``'s Notes). A run that ends up scoring in this
    process (a small batch, a Dask scheduler) leaves it idle; it ends with
    this process, as always. ``edgegrad.jobs`` joins the process's preload
    list (``["__main__"]`` unless the caller set another), as
    ``edgegrad.batch`` would add it.
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    # The list lives on a private attribute of multiprocessing; without it, keep the default.
    preload = list(getattr(forkserver._forkserver, "_preload_modules", ["__main__"]))
    if FORK_SERVER_PRELOAD not in preload:
        multiprocessing.set_forkserver_preload([*preload, FORK_SERVER_PRELOAD])
    forkserver.ensure_running()


def pooled_command(arguments: Sequence[str]) -> bool:
    """Whether a command line runs a pooled command: its first word that is not an option.

    The group's own options take no values; ``--help`` or ``--version``
    before the command end the run there.
    """
    for argument in arguments:
        if argument in _EXITING:
            return False
        if not argument.startswith("-"):
            return argument in POOLED
    return False


def main(prog_name: str | None = None) -> None:
    """Run ``edgegrad`` on ``sys.argv``; first the fork server, if the command needs it.

    ``prog_name`` is the name the help shows (by default the script's).
    """
    # Shell completion (click's _EDGEGRAD_COMPLETE) runs no command.
    if "_EDGEGRAD_COMPLETE" not in os.environ and pooled_command(sys.argv[1:]):
        start_fork_server()
    from edgegrad_cli.main import main as command_line

    try:
        command_line(prog_name=prog_name)
    finally:
        # Everything is written and closed by now. At exit the interpreter
        # collects again and again while it clears the modules, each time
        # through every object of NumPy, OpenCV and click: frozen, they are
        # skipped, which saves some 30 ms of a run (freed by the exit all the same).
        gc.freeze()
