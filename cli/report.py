"""Per-run bookkeeping: counts, every line on stderr, progress and the exit code.

Exit codes (see the ``edgegrad`` group's help): 0 everything succeeded; 1 fatal
error; 2 usage error (click's own); 3 some inputs failed and the rest were
processed; 4 ``--fail-under`` tripped (it wins over 3); 130 interrupted.
"""

from __future__ import annotations

import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 3
EXIT_FAIL_UNDER = 4
EXIT_INTERRUPTED = 130

# Carriage return and "erase line": a message replaces the progress bar's line.
_CLEAR_LINE = "\r\x1b[K"

#: Below this many inputs, work runs in-process: starting worker processes costs more.
SMALL_BATCH = 16


def say(line: str, *, over_bar: bool = False) -> None:
    """Write one line on stderr (the one place the command line writes there)."""
    click.echo(f"{_CLEAR_LINE if over_bar else ''}{line}", err=True)


class Fatal(click.ClickException):
    """A run that cannot go on: ``error: message`` on stderr, exit code 1."""

    exit_code = EXIT_FATAL

    def show(self, file: object = None) -> None:
        """Print ``error: message`` on stderr."""
        say(f"error: {self.format_message()}")


@dataclass
class Report:
    """Counts what a batch did, says so on stderr, and decides the exit code.

    As black's ``Report`` does: every failure gets one stderr line naming the
    file; skips are only counted unless ``verbose``, since a resumed run over
    thousands of files would otherwise print a line for each. ``recorded``
    counts the inputs a resumed run found already done in its log, and
    ``recorded_failed`` the failures among the log's records, which keep the
    exit code at 3. ``blurry``, when set, is added to the summary.
    :meth:`fell_under` notes an image that trips ``--fail-under``. While a
    progress bar is drawn (``over_bar``), each line first clears the bar's
    line; the bar redraws itself below.
    """

    verb: str = "done"
    verbose: bool = False
    done: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0
    recorded: int = 0
    recorded_failed: int = 0
    blurry: int | None = None
    under: list[str] = field(default_factory=list)
    over_bar: bool = False

    def success(self) -> None:
        """Count one input processed."""
        self.done += 1

    def failure(self, path: Path | str, reason: str) -> None:
        """Count one failed input and print one line naming it."""
        self.failed += 1
        self.say(f"error: {_naming(path, reason)}")

    def recorded_failure(self, path: str, reason: str) -> None:
        """Count one failure an earlier run recorded and print one line naming it."""
        self.recorded_failed += 1
        self.say(f"error: {_naming(path, reason)} (recorded earlier)")

    def skip(self, path: Path, reason: str) -> None:
        """Count one input left alone; say why with ``verbose``."""
        self.skipped += 1
        if self.verbose:
            self.say(f"skipped: {path}: {reason}")

    def fell_under(self, line: str) -> None:
        """Note an image less sharp than ``--fail-under``; ``line`` is said at the end."""
        self.under.append(line)

    def say(self, line: str) -> None:
        """Print one line on stderr, above the progress bar if one is drawn."""
        say(line, over_bar=self.over_bar)

    def summary(self) -> str:
        """Return the one-line summary, e.g. ``3 done, 1 failed, 0 skipped``."""
        line = f"{self.done} {self.verb}, {self.failed} failed, {self.skipped} skipped"
        if self.recorded or self.recorded_failed:
            line += f", {self.recorded} already recorded"
            if self.recorded_failed:
                line += f" ({self.recorded_failed} recorded as failed)"
        if self.ignored:
            line += f", {self.ignored} earlier outputs ignored"
        if self.skipped and not self.verbose:
            line += " (-v lists the skipped files)"
        if self.blurry is not None:
            line += f", {self.blurry} blurry"
        return line

    def finish(self) -> int:
        """Say the summary and each ``--fail-under`` line; return :attr:`exit_code`.

        It comes after the progress bar has closed, so the lines clear nothing.
        """
        for line in (self.summary(), *self.under):
            say(line)
        return self.exit_code

    @property
    def exit_code(self) -> int:
        """4 when ``--fail-under`` tripped, else 3 when some inputs failed, else 0."""
        if self.under:
            return EXIT_FAIL_UNDER
        if self.failed or self.recorded_failed:
            return EXIT_PARTIAL
        return EXIT_OK


def _naming(path: Path | str, reason: str) -> str:
    """The reason, prefixed with the path unless it names the path already."""
    return reason if str(path) in reason else f"{path}: {reason}"


def progress(
    length: int, label: str, *, hidden: bool = False, report: Report | None = None
) -> ProgressBar[int]:
    """A progress bar on stderr with the count, the time left and the rate.

    For example ``scoring  [####---]  120/400  00:00:09  31.2 img/s``. It is
    drawn only when stderr is a terminal and not ``hidden``; then ``report``,
    if given, prints its lines above it. The rate is inputs per second since
    the bar was made; the time left is click's estimate, shown once about a
    second of progress has been seen.
    """

    def rate(_: int | None) -> str | None:
        elapsed = time.time() - bar.start
        return f"{bar.pos / elapsed:.1f} img/s" if bar.pos and elapsed > 0 else None

    drawn = not hidden and sys.stderr.isatty()
    if report is not None:
        report.over_bar = drawn
    bar: ProgressBar[int] = click.progressbar(
        length=length,
        label=label,
        # Not hidden=, which click 8.1 lacks: a bar on a non-terminal file is never drawn.
        file=sys.stderr if drawn else io.StringIO(),
        show_pos=True,
        show_eta=True,
        item_show_func=rate,
    )
    return bar


def pool_plan(workers: int | None, jobs: int) -> tuple[int | None, int]:
    """``(workers, chunksize)`` for ``run_batch``: processes, and inputs per task.

    A few jobs run in-process (starting a pool costs more than they do).
    Otherwise each worker gets about 16 tasks of up to 32 inputs: fewer round
    trips between processes for thousands of small images, and still an even
    spread of a short batch of large ones.
    """
    if workers is None and jobs < SMALL_BATCH:
        return 1, 1
    per_task = jobs // ((workers or os.cpu_count() or 1) * 16)
    return workers, max(1, min(32, per_task))
