"""Per-run bookkeeping: counts, failure lines, progress and the exit code.

Exit codes (DESIGN.md): 0 everything succeeded; 1 fatal error; 2 usage error
(click's own); 3 some inputs failed and the rest were processed; 4
``--fail-under`` tripped.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from click._termui_impl import ProgressBar

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 3
EXIT_FAIL_UNDER = 4

# Carriage return and "erase line": a message replaces the progress bar's line.
_CLEAR_LINE = "\r\x1b[K"

#: Below this many inputs, work runs in-process: starting worker processes costs more.
SMALL_BATCH = 16


@dataclass
class Report:
    """Counts what a batch did and says so on stderr, as black's ``Report`` does.

    Every failure gets one stderr line naming the file. Skips are only counted
    unless ``verbose``: a resumed run over thousands of files would otherwise
    print a line for each. ``recorded`` counts the inputs a resumed run found
    already done in its log, and ``recorded_failed`` the failures among the
    log's records, which keep the exit code at 3. While a progress bar is
    drawn (``over_bar``), each line first clears the bar's line; the bar
    redraws itself below.
    """

    verb: str = "done"
    verbose: bool = False
    done: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0
    recorded: int = 0
    recorded_failed: int = 0
    over_bar: bool = False

    def success(self) -> None:
        """Count one input processed."""
        self.done += 1

    def failure(self, path: Path, reason: str) -> None:
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

    def say(self, line: str) -> None:
        """Print one line on stderr, above the progress bar if one is drawn."""
        click.echo(f"{_CLEAR_LINE if self.over_bar else ''}{line}", err=True)

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
        return line

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 3 when some inputs failed (in this run or a resumed log)."""
        return EXIT_PARTIAL if self.failed or self.recorded_failed else EXIT_OK


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
        file=sys.stderr,
        hidden=not drawn,
        show_pos=True,
        show_eta=True,
        item_show_func=rate,
    )
    return bar


def pool_plan(workers: int | None, jobs: int) -> tuple[int | None, int]:
    """``(workers, chunksize)`` for ``run_batch``: processes, and inputs per task.

    A few jobs run in-process (a pool costs ~0.3 s to start). Otherwise each
    worker gets about 16 tasks of up to 32 inputs: fewer round trips between
    processes for thousands of small images, and still an even spread of a
    short batch of large ones.
    """
    if workers is None and jobs < SMALL_BATCH:
        return 1, 1
    per_task = jobs // ((workers or os.cpu_count() or 1) * 16)
    return workers, max(1, min(32, per_task))
