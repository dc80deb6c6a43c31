"""The CLI's bookkeeping: pool sizing, the summary line and the progress bar."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from edgegrad_cli.report import SMALL_BATCH, Report, pool_plan, progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_pool_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pool_plan(None, SMALL_BATCH - 1) == (1, 1)
    assert pool_plan(3, 5) == (3, 1)
    assert pool_plan(2, 2000) == (2, 32)
    assert pool_plan(2, 320) == (2, 10)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert pool_plan(None, 1000) == (None, 15)  # 1000 // (4 workers * 16 tasks)
    assert pool_plan(None, 40) == (None, 1)


def test_summary_and_exit_code() -> None:
    report = Report(verb="scored")
    report.success()
    report.skip(Path("a.png"), "duplicate")
    assert report.exit_code == 0
    report.failure(Path("b.png"), "b.png: broken")
    report.ignored = 2
    assert report.summary() == (
        "1 scored, 1 failed, 1 skipped, 2 earlier outputs ignored (-v lists the skipped files)"
    )
    assert report.exit_code == 3


def test_fail_under_wins_over_failures_and_is_said_after_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = Report(verb="scored", blurry=0)
    report.failure(Path("b.png"), "broken")
    report.fell_under("fail-under: a.png scores below 150")
    report.blurry = 1
    assert report.finish() == 4 == report.exit_code
    assert capsys.readouterr().err.splitlines() == [
        "error: b.png: broken",
        "0 scored, 1 failed, 0 skipped, 1 blurry",
        "fail-under: a.png scores below 150",
    ]


def test_summary_counts_what_a_resumed_log_holds(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report(verb="scored", recorded=188)
    report.success()
    assert report.summary() == "1 scored, 0 failed, 0 skipped, 188 already recorded"
    assert report.exit_code == 0
    report.recorded_failure("x.png", "x.png: truncated PNG")
    assert capsys.readouterr().err == "error: x.png: truncated PNG (recorded earlier)\n"
    assert report.summary() == (
        "1 scored, 0 failed, 0 skipped, 188 already recorded (1 recorded as failed)"
    )
    assert report.exit_code == 3


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_count_elapsed_time_left_and_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    clock = Clock()
    with progress(10, "scoring", clock=clock) as bar:
        for _ in range(4):
            clock.now += 0.5
            bar.update(1)
        drawn = terminal.getvalue().split("\r")[-1]
    assert "scoring" in drawn
    assert "4/10" in drawn
    assert "elapsed 00:00:02" in drawn
    assert "left 00:00:03" in drawn  # 6 left at 0.5 s each
    assert "2.0 img/s" in drawn


def test_progress_redraws_a_few_times_a_second_not_per_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    clock = Clock()
    files = 100_000
    with progress(files, "scoring", clock=clock) as bar:
        for _ in range(files):
            clock.now += 10e-6  # 100,000 files in one second
            bar.update(1)
    drawings = terminal.getvalue().count("\r")
    assert 5 <= drawings <= 7  # every 0.2 s, and once at the end
    assert f"{files}/{files}" in terminal.getvalue().split("\r")[-1]
    assert len(terminal.getvalue()) < 1000


def test_time_left_follows_the_recent_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    clock = Clock()
    with progress(100, "scoring", clock=clock) as bar:
        clock.now += 10.0  # starting the workers, then the first file
        bar.update(1)
        for _ in range(49):  # then 10 files a second
            clock.now += 0.1
            bar.update(1)
        rate = bar.rate()
        line = bar.line(clock.now)
    assert rate == pytest.approx(10.0)
    # 50 left at 10 a second; the run's average (50 in 14.9 s) would say 15 s.
    assert "left 00:00:05" in line


@pytest.mark.parametrize(("tty", "hidden"), [(False, False), (True, True)])
def test_progress_is_silent_off_a_terminal_or_when_hidden(
    monkeypatch: pytest.MonkeyPatch, tty: bool, hidden: bool
) -> None:
    stream = FakeTerminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with progress(3, "scoring", hidden=hidden) as bar:
        for _ in range(3):
            bar.update(1)
    assert stream.getvalue() == ""


def test_lines_printed_during_a_drawn_bar_clear_its_line_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    report = Report(verb="scored")
    with progress(3, "scoring", report=report) as bar:
        bar.update(1)
        report.failure(Path("bad.jpg"), "truncated JPEG")
        bar.update(1)
    text = terminal.getvalue()
    before, _, after = text.partition("\r\x1b[Kerror: bad.jpg: truncated JPEG\n")
    assert "1/3" in before  # the bar was on this line, and is erased first
    assert "2/3" in after  # then drawn again below the message


def test_lines_are_plain_when_no_bar_is_drawn(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report(verb="scored")
    with progress(3, "scoring", report=report):
        report.failure(Path("bad.jpg"), "truncated JPEG")
    assert capsys.readouterr().err == "error: bad.jpg: truncated JPEG\n"
