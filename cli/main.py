"""The ``edgegrad`` click group: global options, error handling, exit codes."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from edgegrad import __version__
from edgegrad.errors import EdgegradError

from .filter_cmds import directional_cmd, laplacian_cmd, scharr_cmd, sobel_cmd
from .report import EXIT_FATAL, EXIT_INTERRUPTED, say
from .score_cmds import blur_score_cmd, focus_map_cmd


class _Group(click.Group):
    """Turns unexpected errors into one line on stderr and exit code 1.

    The traceback is shown only with ``--debug``.
    """

    def invoke(self, ctx: click.Context) -> Any:
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
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
    130 interrupted (Ctrl-C), with every record written so far intact.
    """
    ctx.meta["edgegrad.debug"] = debug


main.add_command(sobel_cmd)
main.add_command(scharr_cmd)
main.add_command(laplacian_cmd)
main.add_command(directional_cmd)
main.add_command(blur_score_cmd)
main.add_command(focus_map_cmd)
