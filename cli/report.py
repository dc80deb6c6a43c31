"""Per-run bookkeeping: counts, failure lines and the exit code.

Exit codes (DESIGN.md): 0 everything succeeded; 1 fatal error; 2 usage error
(click's own); 3 some inputs failed and the rest were processed; 4
``--fail-under`` tripped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from click._termui_impl import ProgressBar

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_FAIL_UNDER = 4

#: Below this many inputs, work runs in-process: starting worker processes costs more.
SMALL_BATCH = 4


@dataclass
class Report:
    """Counts what a batch did and says so on stderr, as black's ``Report`` does."""

    verb: str = "done"
    done: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)

    def success(self) -> None:
        """Count one input processed."""
        self.done += 1

    def failure(self, path: Path, reason: str) -> None:
        """Count one failed input and print one line naming it."""
        self.failed += 1
        self.failures.append((path, reason))
        click.echo(
            f"error: {reason}" if str(path) in reason else f"error: {path}: {reason}", err=True
        )

    def skip(self, path: Path, reason: str) -> None:
        """Count one input left alone, and say why."""
        self.skipped += 1
        click.echo(f"skipped: {path}: {reason}", err=True)

    def summary(self) -> str:
        """Return the one-line summary, e.g. ``3 done, 1 failed, 0 skipped``."""
        line = f"{self.done} {self.verb}, {self.failed} failed, {self.skipped} skipped"
        if self.ignored:
            line += f", {self.ignored} earlier edgegrad outputs ignored"
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


def pool_size(workers: int | None, jobs: int) -> int | None:
    """Workers to use: as asked, else in-process for a few jobs (a pool costs ~0.3 s)."""
    if workers is not None:
        return workers
    return 1 if jobs < SMALL_BATCH else None
