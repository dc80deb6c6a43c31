"""Per-run bookkeeping: counts, every line on stderr, progress and the exit code.

Exit codes (see the ``edgegrad`` group's help): 0 everything succeeded; 1 fatal
error; 2 usage error (click's own); 3 some inputs failed and the rest were
processed; 4 ``--fail-under`` tripped (it wins over 3); 130 interrupted.
"""

from __future__ import annotations

import collections
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from edgegrad.io import Location

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_PARTIAL = 3
EXIT_FAIL_UNDER = 4
EXIT_INTERRUPTED = 130

# Carriage return and "erase line": a message replaces the progress bar's line.
_CLEAR_LINE = "\r\x1b[K"

#: ``-o -``: write to stdout, as click and most tools read it.
STDOUT = Path("-")

#: Below this many inputs, work runs in-process: starting worker processes costs more.
SMALL_BATCH = 16


def say(line: str, *, over_bar: bool = False) -> None:
    """Write one line on stderr (the one place the command line writes there).

    Nothing is written when stderr is closed (``2>&-``): the run goes on, and
    its exit code still tells how it went.
    """
    if sys.stderr is None:  # click 8.1.0 raises there instead of writing nothing
        return
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

    def failure(self, path: Location | str, reason: str) -> None:
        """Count one failed input and print one line naming it."""
        self.failed += 1
        self.say(f"error: {_naming(path, reason)}")

    def recorded_failure(self, path: str, reason: str) -> None:
        """Count one failure an earlier run recorded and print one line naming it."""
        self.recorded_failed += 1
        self.say(f"error: {_naming(path, reason)} (recorded earlier)")

    def skip(self, path: Location, reason: str) -> None:
        """Count one input left alone; say why with ``verbose``."""
        self.skipped += 1
        if self.verbose:
            self.say(f"skipped: {path}: {reason}")

    def pass_over(self, path: Location, reason: str) -> None:
        """Note a file a folder walk did not take; say why with ``verbose``.

        Only earlier outputs (``ignored``) are counted in the summary: a
        folder of photos holds other files too, and they need no mention.
        """
        if self.verbose:
            self.say(f"passed over: {path}: {reason}")

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


def _naming(path: Location | str, reason: str) -> str:
    """The reason, prefixed with the path unless it names the path already."""
    return reason if str(path) in reason else f"{path}: {reason}"


class Progress:
    """A progress line on stderr: count, elapsed time, time left and rate.

    For example ``scoring  [#####-----]  120/400  elapsed 00:00:09  left
    00:00:21  31.2 img/s``. It is drawn only on a terminal, at most every
    ``interval`` seconds (and once more at the end), so a run over millions of
    small files writes a few lines a second, not one per file. The rate, and
    the time left from it, are measured over the last ``window`` seconds: the
    first images of a run, which also pay for starting the workers, do not
    hold the estimate back once the run is going. Without a ``total`` (inputs
    read from a pipe, which cannot be counted first), the line has no bar and
    no time left: ``scoring  120  elapsed 00:00:09  31.2 img/s``.
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        drawn: bool,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.2,
        window: float = 5.0,
    ) -> None:
        self.total = total
        self.label = label
        self.drawn = drawn
        self.position = 0
        self._clock = clock
        self._interval = interval
        self._window = window
        self._start = clock()
        self._drawn_at = -math.inf
        self._samples: collections.deque[tuple[float, int]] = collections.deque([(self._start, 0)])

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.drawn and self.position:
            self._draw(self._clock())
            sys.stderr.write("\n")
            sys.stderr.flush()

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more inputs done; redraw if the last drawing is old enough."""
        self.position += steps
        now = self._clock()
        self._samples.append((now, self.position))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        last = self.total is not None and self.position >= self.total
        if self.drawn and (now - self._drawn_at >= self._interval or last):
            self._draw(now)

    def rate(self) -> float | None:
        """Inputs per second over the recent window, or None before any input is done."""
        then, done_then = self._samples[0]
        now, done_now = self._samples[-1]
        if done_now == done_then or now <= then:
            return None
        return (done_now - done_then) / (now - then)

    def line(self, now: float) -> str:
        """The text of the progress line at time ``now``."""
        if self.total is None:
            parts = [self.label, str(self.position)]
        else:
            width = 24
            filled = width * self.position // self.total if self.total else width
            parts = [
                self.label,
                f"[{'#' * filled}{'-' * (width - filled)}]",
                f"{self.position}/{self.total}",
            ]
        parts.append(f"elapsed {_clock_time(now - self._start)}")
        rate = self.rate()
        if rate is not None:
            if self.total is not None and self.position < self.total:
                parts.append(f"left {_clock_time((self.total - self.position) / rate)}")
            parts.append(f"{rate:.1f} img/s")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        sys.stderr.write(f"{_CLEAR_LINE}{self.line(now)}")
        sys.stderr.flush()


def _clock_time(seconds: float) -> str:
    """``HH:MM:SS``."""
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def stderr_is_terminal() -> bool:
    """Whether stderr is open and a terminal (it is ``None`` when closed, ``2>&-``)."""
    return sys.stderr is not None and sys.stderr.isatty()


def progress(
    length: int | None,
    label: str,
    *,
    hidden: bool = False,
    report: Report | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """A :class:`Progress` line, drawn when stderr is a terminal and not ``hidden``.

    While it is drawn, ``report``, if given, prints its lines above it.
    ``length`` is the number of inputs, or ``None`` when it is not known.
    """
    drawn = not hidden and stderr_is_terminal()
    if report is not None:
        report.over_bar = drawn
    return Progress(length, label, drawn=drawn, clock=clock)


def write_results(text: str) -> None:
    """Write results to stdout, a name's undecodable bytes as they are in the name.

    Raises
    ------
    Fatal
        When stdout is closed (``>&-``): results that cannot be written must
        not end in success.
    """
    stream = sys.stdout
    if stream is None:
        raise Fatal("cannot write the results: standard output is closed")
    binary = getattr(stream, "buffer", None)
    if binary is None:
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    binary.write(text.encode("utf-8", "surrogateescape"))
    binary.flush()


def check_results_writable() -> None:
    """Refuse at once, before any work, a run whose results go to a closed stdout."""
    if sys.stdout is None:
        raise Fatal("cannot write the results: standard output is closed (give -o FILE)")


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
