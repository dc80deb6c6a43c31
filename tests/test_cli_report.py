"""The CLI's bookkeeping: pool sizing and the summary line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgegrad_cli.report import SMALL_BATCH, Report, pool_plan


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
