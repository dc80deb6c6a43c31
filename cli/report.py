"""Per-run bookkeeping: counts, failure lines, progress and the exit code.

Exit codes (DESIGN.md): 0 everything succeeded; 1 fatal error; 2 usage error
(click's own); 3 some inputs failed and the rest were processed; 4
``--fail-under`` tripped.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from click._termui_impl import ProgressBar

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 3
EXIT_FAIL_UNDER = 4

#: Below this many inputs, work runs in-process: starting worker processes costs more.
SMALL_BATCH = 16


@dataclass
class Report:
    """Counts what a batch did and says so on stderr, as black's ``Report`` does.

    Every failure gets one stderr line naming the file. Skips are only counted
    unless ``verbose``: a resumed run over thousands of files would otherwise
    print a line for each.
    """

    verb: str = "done"
    verbose: bool = False
    done: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0

    def success(self) -> None:
        """Count one input processed."""
        self.done += 1

    def failure(self, path: Path, reason: str) -> None:
        """Count one failed input and print one line naming it."""
        self.failed += 1
        line = reason if str(path) in reason else f"{path}: {reason}"
        click.echo(f"error: {line}", err=True)

    def skip(self, path: Path, reason: str) -> None:
        """Count one input left alone; say why with ``verbose``."""
        self.skipped += 1
        if self.verbose:
            click.echo(f"skipped: {path}: {reason}", err=True)

    def summary(self) -> str:
        """Return the one-line summary, e.g. ``3 done, 1 failed, 0 skipped``."""
        line = f"{self.done} {self.verb}, {self.failed} failed, {self.skipped} skipped"
        if self.ignored:
            line += f", {self.ignored} earlier outputs ignored"
        if self.skipped and not self.verbose:
            line += " (-v lists the skipped files)"
        return line

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 3 when some inputs failed."""
        return EXIT_PARTIAL if self.failed else EXIT_OK


def progress(length: int, label: str) -> ProgressBar[int]:
    """A progress bar on stderr, drawn only when stderr is a terminal."""
    return click.progressbar(
        length=length, label=label, file=sys.stderr, hidden=not sys.stderr.isatty()
    )


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
