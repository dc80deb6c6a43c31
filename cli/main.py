"""The ``edgegrad`` click group: global options, error handling, exit codes.

Each command's module is imported only when that command runs (or when
``--help`` lists them all), and a command that fans out over a process pool
starts the pool's fork server first, so that the server's imports (NumPy,
OpenCV, the jobs) run on another core while this process imports the command.
The console script (:mod:`edgegrad_cli.launch`) starts it earlier still,
before click.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType, ModuleType
from typing import Any

import click

from edgegrad_cli.launch import pooled_command, start_fork_server

# Command name -> (module of this package, attribute), imported on first use.
_COMMANDS = {
    "sobel": ("filter_cmds", "sobel_cmd"),
    "scharr": ("filter_cmds", "scharr_cmd"),
    "laplacian": ("filter_cmds", "laplacian_cmd"),
    "directional": ("filter_cmds", "directional_cmd"),
    "canny": ("edge_cmds", "canny_cmd"),
    "blur-score": ("score_cmds", "blur_score_cmd"),
    "focus-map": ("score_cmds", "focus_map_cmd"),
    "focus-sweep": ("focus_cmds", "focus_sweep_cmd"),
    "frames": ("frames_cmd", "frames_cmd"),
}


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


def _report() -> ModuleType:
    """``cli/report.py`` (``say``, the exit codes), which each command imports anyway."""
    return importlib.import_module(f"{__package__}.report")


class _Group(click.Group):
    """Loads commands on first use; turns unexpected errors into one line and exit code 1.

    The traceback is shown only with ``--debug``. SIGTERM is treated as Ctrl-C.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[cmd_name]
        command: click.Command = getattr(
            importlib.import_module(f"{__package__}.{module}"), attribute
        )
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Started already when edgegrad_cli.launch ran this command line
        # (the console script and python -m edgegrad); not when a caller runs
        # this group itself (click's test runner, another program).
        if pooled_command(args) and not ctx.resilient_parsing:
            start_fork_server()
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # First: the fork server must not be handed a closed standard descriptor.
        _reserve_standard_descriptors()
        with _sigterm_as_ctrl_c():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            _report().say("interrupted")
            ctx.exit(_report().EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader of stdout went away (``edgegrad ... | head``): stop
            # quietly, with stdout pointed at devnull so that Python's own
            # flush at exit does not complain again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            ctx.exit(_report().EXIT_FATAL)
        except Exception as exc:
            if ctx.meta.get("edgegrad.debug"):
                raise
            from edgegrad.errors import EdgegradError

            if isinstance(exc, EdgegradError):
                _report().say(f"error: {exc}")
            else:
                _report().say(
                    f"error: {type(exc).__name__}: {exc} (run with --debug for a traceback)"
                )
            ctx.exit(_report().EXIT_FATAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgegrad", prog_name="edgegrad")
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
