"""The ``edgegrad`` click group: global options, error handling, exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from edgegrad import __version__
from edgegrad.errors import EdgegradError

from .edge_cmds import canny_cmd
from .filter_cmds import directional_cmd, laplacian_cmd, scharr_cmd, sobel_cmd
from .focus_cmds import focus_sweep_cmd
from .frames_cmd import frames_cmd
from .report import EXIT_FATAL, EXIT_INTERRUPTED, say
from .score_cmds import blur_score_cmd, focus_map_cmd


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: stop the command as Ctrl-C does."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`KeyboardInterrupt`, as Ctrl-C does.

    So ``kill``, ``timeout`` or a service manager stop a run the way Ctrl-C
    does: the records written so far are flushed and closed, the worker pool
    is stopped, ``interrupted`` is said and the exit code is 130. The handler
    before is put back afterwards. Only the main thread can set a handler; a
    command run from another thread keeps the one it has.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back from here.
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _reserve_standard_descriptors() -> None:
    """Point closed descriptors 0, 1 and 2 at the null device.

    A command started with a stream closed (``2>&-``) would otherwise hand that
    number to the next file it opens, and whatever writes to the stream (a
    decoder's warnings) would write into that file. ``sys.stdout`` and
    ``sys.stderr`` stay ``None``, so the commands still know the stream is
    closed.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class _Group(click.Group):
    """Turns unexpected errors into one line on stderr and exit code 1.

    The traceback is shown only with ``--debug``. SIGTERM is treated as Ctrl-C.
    """

    def invoke(self, ctx: click.Context) -> Any:
        with _sigterm_as_ctrl_c():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            say("interrupted")
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader of stdout went away (``edgegrad ... | head``): stop
            # quietly, with stdout pointed at devnull so that Python's own
            # flush at exit does not complain again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            ctx.exit(EXIT_FATAL)
        except Exception as exc:
            if ctx.meta.get("edgegrad.debug"):
                raise
            if isinstance(exc, EdgegradError):
                say(f"error: {exc}")
            else:
                say(f"error: {type(exc).__name__}: {exc} (run with --debug for a traceback)")
            ctx.exit(EXIT_FATAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgegrad")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Signed edge filters at any angle, and sharpness scores, for images and folders.

    \b
    Exit codes: 0 success; 1 fatal error; 2 usage error;
    3 some inputs failed (listed on stderr); 4 --fail-under tripped;
    5 focus-sweep found no trustworthy peak;
    130 interrupted (Ctrl-C or SIGTERM), with every record written so far intact.
    """
    ctx.meta["edgegrad.debug"] = debug
    _reserve_standard_descriptors()


main.add_command(sobel_cmd)
main.add_command(scharr_cmd)
main.add_command(laplacian_cmd)
main.add_command(directional_cmd)
main.add_command(canny_cmd)
main.add_command(blur_score_cmd)
main.add_command(focus_map_cmd)
main.add_command(focus_sweep_cmd)
main.add_command(frames_cmd)
