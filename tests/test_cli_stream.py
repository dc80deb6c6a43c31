"""``blur-score`` streams CSV/JSONL records as images finish, and ``--resume`` continues a log."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun

#: The ``shots`` below in walk order, and from sharpest to blurriest.
WALKED = ["a.png", "b.png", "c.png", "d.png", "f.png", "sub/e.png"]
SHARPEST_FIRST = ["c.png", "a.png", "sub/e.png", "b.png", "d.png", "f.png"]
CORPUS_SIZE = 240
#: Runs started as subprocesses are killed with their workers through a process group.
posix_only = pytest.mark.skipif(os.name != "posix", reason="uses process groups and SIGKILL")


def names(records: list[dict[str, Any]], root: Path) -> list[str]:
    return [Path(r["path"]).relative_to(root).as_posix() for r in records]


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Six shots of one texture, Gaussian-blurred by sigma 0-5, under shuffled names."""
    folder = tmp_path / "shots"
    (folder / "sub").mkdir(parents=True)
    texture = np.random.default_rng(3).integers(0, 256, (60, 80), dtype=np.uint8)
    for name, sigma in zip(SHARPEST_FIRST, range(6), strict=True):
        blurred = cv2.GaussianBlur(texture, (0, 0), sigma) if sigma else texture
        cv2.imwrite(str(folder / name), blurred)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Enough noise images that scoring them with blur-effect takes a couple of seconds."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(7)
    paths = [folder / f"img_{i:04d}.png" for i in range(CORPUS_SIZE)]
    for path in paths:
        cv2.imwrite(str(path), rng.integers(0, 256, (192, 256), dtype=np.uint8))
    return paths


def start(*args: str | Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Run ``python -m edgegrad ARGS`` in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "edgegrad", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGKILL the process and its workers; return the rest of its stdout (if piped) and stderr."""
    with contextlib.suppress(ProcessLookupError):  # it may have ended already
        os.killpg(process.pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=30)
    return stdout or "", stderr


def complete_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text("utf-8").splitlines(True) if line.endswith("\n")]


def wait_for_lines(path: Path, count: int, process: subprocess.Popen[str]) -> int:
    """Wait until ``path`` holds at least ``count`` complete lines; return how many."""
    deadline = time.monotonic() + 60
    while (lines := len(complete_lines(path))) < count:
        if process.poll() is not None:
            pytest.fail(f"the run ended before {path} had {count} lines: {process.communicate()}")
        assert time.monotonic() < deadline, f"{path} has only {lines} lines"
        time.sleep(0.01)
    return lines


@posix_only
@pytest.mark.parametrize("jobs", [["-j", "1"], []], ids=["in-process", "pool"])
def test_a_killed_run_keeps_its_records_and_resume_finishes_it(
    corpus: list[Path], tmp_path: Path, jobs: list[str]
) -> None:
    log = tmp_path / "run.jsonl"
    args: list[str | Path] = ["blur-score", corpus[0].parent, "-m", "blur-effect", "-o", log, *jobs]
    process = start(*args)
    try:
        first = wait_for_lines(log, 1, process)
        wait_for_lines(log, first + 1, process)
        assert process.poll() is None  # the file grew while the run went on
    finally:
        _, stderr = kill(process)
    assert process.returncode == -signal.SIGKILL
    assert stderr == ""  # no progress bar when stderr is not a terminal
    done = [json.loads(line)["path"] for line in complete_lines(log)]
    assert 0 < len(done) < len(corpus)
    assert done == [str(p) for p in corpus[: len(done)]]

    resumed = subprocess.run(
        [sys.executable, "-m", "edgegrad", *map(str, args), "--resume"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    left = len(corpus) - len(done)
    assert f"{left} scored, 0 failed, 0 skipped, {len(done)} already recorded" in resumed.stderr
    records = parse_jsonl(log.read_text("utf-8"))
    assert [r["path"] for r in records] == [str(p) for p in corpus]
    assert all(r["score"] > 0 and r["error"] is None for r in records)


@posix_only
def test_records_reach_stdout_as_images_finish(corpus: list[Path]) -> None:
    process = start(
        "blur-score", corpus[0].parent, "-m", "blur-effect", "--format", "csv", "-j", "1",
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        header = process.stdout.readline()
        first = process.stdout.readline()
        assert process.poll() is None
    finally:
        rest, _ = kill(process)
    assert header == "path,score,method,width,height,blurry,warning,error,frame,time\n"
    assert first.startswith(f"{corpus[0]},")
    assert first.endswith(",blur-effect,256,192,,,,,\n")
    assert len(rest.splitlines()) < len(corpus) // 2  # the run was far from done


@pytest.mark.parametrize(("fmt", "kept"), [("jsonl", 2), ("csv", 3)])
def test_resume_redoes_a_last_line_cut_short(
    cli: CliRun, shots: Path, tmp_path: Path, fmt: str, kept: int
) -> None:
    log = tmp_path / f"run.{fmt}"
    assert cli("blur-score", shots, "-o", log).exit_code == 0
    whole = log.read_text("utf-8")
    lines = whole.splitlines(True)
    log.write_text("".join(lines[:kept]) + lines[kept][:20], encoding="utf-8")
    result = cli("blur-score", shots, "-o", log, "--resume")
    assert result.exit_code == 0, result.stderr
    assert f"dropped the incomplete last line of {log} (20 bytes" in result.stderr
    recorded = kept - (fmt == "csv")
    assert f"{6 - recorded} scored, 0 failed, 0 skipped, {recorded} already recorded" in (
        result.stderr
    )
    assert log.read_text("utf-8") == whole


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_continues_a_log_to_the_same_bytes(
    cli: CliRun, shots: Path, tmp_path: Path, fmt: str
) -> None:
    whole = tmp_path / f"whole.{fmt}"
    assert cli("blur-score", shots, "-o", whole, "--threshold", "500").exit_code == 0
    log = tmp_path / f"run.{fmt}"
    lines = whole.read_text("utf-8").splitlines(True)
    log.write_text("".join(lines[:3]), encoding="utf-8")
    result = cli("blur-score", shots, "-o", log, "--threshold", "500", "--resume")
    assert result.exit_code == 0, result.stderr
    assert log.read_text("utf-8") == whole.read_text("utf-8")
    assert "dropped" not in result.stderr


def test_resume_starts_a_missing_log_and_reruns_do_nothing(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    log = tmp_path / "new" / "run.jsonl"
    first = cli("blur-score", shots, "-o", log, "--resume")
    assert first.exit_code == 0, first.stderr
    assert "6 scored, 0 failed, 0 skipped\n" in first.stderr
    text = log.read_text("utf-8")
    assert names(parse_jsonl(text), shots) == WALKED
    again = cli("blur-score", shots, "-o", log, "--resume")
    assert again.exit_code == 0, again.stderr
    assert "0 scored, 0 failed, 0 skipped, 6 already recorded" in again.stderr
    assert log.read_text("utf-8") == text


def test_resume_keeps_earlier_failures_in_the_exit_code(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    broken = shots / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    log = tmp_path / "run.csv"
    assert cli("blur-score", shots, "-o", log).exit_code == 3
    again = cli("blur-score", shots, "-o", log, "--resume")
    assert again.exit_code == 3
    assert f"error: {broken}: " in again.stderr
    assert "(recorded earlier)" in again.stderr
    assert "0 scored, 0 failed, 0 skipped, 7 already recorded (1 recorded as failed)" in (
        again.stderr
    )


def test_fail_under_and_threshold_count_earlier_records(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.jsonl"
    assert cli("blur-score", shots, "-o", log).exit_code == 0
    scores = {Path(r["path"]).name: r["score"] for r in parse_jsonl(log.read_text("utf-8"))}
    cut = (scores["b.png"] + scores["d.png"]) / 2
    again = cli("blur-score", shots, "-o", log, "--resume", "--fail-under", cut)
    assert again.exit_code == 4
    assert "0 scored" in again.stderr
    assert [line.split()[1] for line in again.stderr.splitlines() if "fail-under" in line] == [
        str(shots / "d.png"),
        str(shots / "f.png"),
    ]
    judged = cli("blur-score", shots, "-o", log, "--resume", "--threshold", cut)
    assert judged.exit_code == 0, judged.stderr
    assert "6 already recorded, 2 blurry" in judged.stderr


def test_resume_refuses_a_log_of_another_method(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    assert cli("blur-score", shots, "-o", log).exit_code == 0
    before = log.read_bytes()
    result = cli("blur-score", shots, "-o", log, "--resume", "-m", "teng")
    assert result.exit_code == 2
    assert f"cannot resume {log}: line 1 holds a lapv score" in result.stderr
    assert "scores with teng" in result.stderr
    assert log.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("run.csv", "a,b,c\n1,2,3\n", "its header is 'a,b,c', not 'path,score,method,"),
        ("run.jsonl", '{"path": "x.png"}\n', "line 1 is not a blur-score record"),
        ("run.jsonl", '{"notes": "no newline at the end"}', "its last line is neither"),
        (
            "run.csv",
            "path,score,method,width,height,blurry,warning,error,frame,time\n"
            "x.png,1,lapv,2,2,maybe,,,,\n",
            "line 2 is not a blur-score record (blurry must be true, false or empty",
        ),
    ],
)
def test_resume_refuses_a_file_it_did_not_write(
    cli: CliRun, shots: Path, tmp_path: Path, name: str, content: str, message: str
) -> None:
    log = tmp_path / name
    log.write_text(content, encoding="utf-8")
    result = cli("blur-score", shots, "-o", log, "--resume")
    assert result.exit_code == 2
    assert f"cannot resume {log}: {message}" in result.stderr
    assert log.read_text("utf-8") == content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--resume needs -o FILE in CSV or JSONL"),
        (["-o", "scores.json"], "--resume needs -o FILE in CSV or JSONL"),
        (["-o", "scores.jsonl", "--format", "table"], "--resume needs -o FILE in CSV or JSONL"),
        (["-o", "scores.jsonl", "--overwrite"], "give --resume or --overwrite, not both"),
        (["-o", "scores.jsonl", "--sort", "score"], "combined with --sort score: they need"),
        (["-o", "scores.csv", "--best", "2"], "combined with --best: they need"),
        (["-o", "scores.csv", "--percentile", "10"], "combined with --percentile: they need"),
        (["-o", "scores.csv", "--sigma", "1"], "combined with --sigma: they need"),
        (
            ["-o", "scores.csv", "--threshold", "5", "--move-to", "blurry"],
            "combined with --move-to/--copy-to/--link-to: images recorded by the earlier run",
        ),
    ],
)
def test_resume_usage_errors(
    cli: CliRun,
    shots: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("blur-score", shots, "--resume", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shots"]


def test_machine_formats_default_to_input_order(cli: CliRun, shots: Path) -> None:
    streamed = cli("blur-score", shots, "--format", "jsonl")
    assert names(parse_jsonl(streamed.stdout), shots) == WALKED
    rows = list(csv.DictReader(io.StringIO(cli("blur-score", shots, "--format", "csv").stdout)))
    assert names(rows, shots) == WALKED
    table = cli("blur-score", shots).stdout.splitlines()[1:]
    assert [Path(line.split()[-1]).relative_to(shots).as_posix() for line in table] == (
        SHARPEST_FIRST
    )
    ranked = cli("blur-score", shots, "--format", "csv", "--sort", "score").stdout
    assert names(list(csv.DictReader(io.StringIO(ranked))), shots) == SHARPEST_FIRST
    # --best is a ranking: sharpest first unless --sort name asks otherwise.
    best = cli("blur-score", shots, "--format", "jsonl", "--best", "3")
    assert names(parse_jsonl(best.stdout), shots) == SHARPEST_FIRST[:3]
    best = cli("blur-score", shots, "--format", "jsonl", "--best", "3", "--sort", "name")
    assert names(parse_jsonl(best.stdout), shots) == ["a.png", "c.png", "sub/e.png"]


def test_a_threshold_is_judged_per_streamed_record(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    scores = parse_jsonl(cli("blur-score", shots, "--format", "jsonl").stdout)
    cut = (scores[1]["score"] + scores[5]["score"]) / 2  # between b.png and sub/e.png
    out = tmp_path / "scores.jsonl"
    result = cli("blur-score", shots, "-o", out, "--threshold", cut)
    assert result.exit_code == 0, result.stderr
    flags = {Path(r["path"]).name: r["blurry"] for r in parse_jsonl(out.read_text("utf-8"))}
    assert flags == {n: n in ("b.png", "d.png", "f.png") for n in flags}
    assert "3 blurry" in result.stderr


@pytest.mark.parametrize("option", ["--jobs", "--workers", "-j"])
@pytest.mark.parametrize("count", ["1", "2"])
def test_jobs_is_an_alias_of_workers(cli: CliRun, shots: Path, option: str, count: str) -> None:
    result = cli("blur-score", shots, "--format", "jsonl", option, count)
    assert result.exit_code == 0, result.stderr
    assert names(parse_jsonl(result.stdout), shots) == WALKED
    assert cli("blur-score", shots, option, "0").exit_code == 2


def test_a_streamed_log_never_lands_on_an_input(cli: CliRun, shots: Path) -> None:
    target = shots / "c.png"
    before = target.read_bytes()
    result = cli("blur-score", shots, "--format", "jsonl", "-o", target, "--overwrite")
    assert result.exit_code == 1
    assert "is an input of this run" in result.stderr
    resumed = cli("blur-score", shots, "--format", "jsonl", "-o", target, "--resume")
    assert resumed.exit_code == 2
    assert f"cannot resume {target}: line 1 is not a blur-score record" in resumed.stderr
    assert target.read_bytes() == before
    empty = shots / "sub" / "empty.png"
    empty.touch()  # nothing to parse, and still an input: refused when opened
    result = cli("blur-score", shots, "--format", "jsonl", "-o", empty, "--resume")
    assert result.exit_code == 1
    assert "is an input of this run" in result.stderr
    assert empty.read_bytes() == b""


def test_overwrite_replaces_a_linked_log_without_writing_through(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "elsewhere.jsonl"
    kept.write_text("keep me\n", encoding="utf-8")
    log = tmp_path / "run.jsonl"
    log.symlink_to(kept)
    refused = cli("blur-score", shots, "-o", log)
    assert refused.exit_code == 2
    assert "pass --overwrite to replace it (or --resume to continue it)" in refused.stderr
    result = cli("blur-score", shots, "-o", log, "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert not log.is_symlink()
    assert names(parse_jsonl(log.read_text("utf-8")), shots) == WALKED
    assert kept.read_text("utf-8") == "keep me\n"


@posix_only
def test_a_reader_that_goes_away_stops_the_run_quietly(corpus: list[Path]) -> None:
    process = start(
        "blur-score",
        corpus[0].parent,
        "-m",
        "blur-effect",
        "--format",
        "jsonl",
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["path"] == str(corpus[0])
        process.stdout.close()  # as `| head -1` does
        started = time.monotonic()
        _, stderr = process.communicate(timeout=60)
    finally:
        kill(process)
    assert process.returncode == 1
    assert stderr == ""  # no traceback, no BrokenPipeError message
    assert time.monotonic() - started < 20


@posix_only
def test_records_can_go_to_a_named_pipe(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "scores.jsonl"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text("utf-8")))
    reader.start()
    result = cli("blur-score", shots, "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert names(parse_jsonl(received[0]), shots) == WALKED
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    refused = subprocess.run(
        [sys.executable, "-m", "edgegrad", "blur-score", str(shots), "-o", str(fifo), "--resume"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "cannot read it to resume: it is a pipe or device" in refused.stderr


def test_resume_says_when_log_records_match_no_input(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.jsonl"
    assert cli("blur-score", shots / "sub", "-o", log).exit_code == 0
    result = cli("blur-score", shots, "-o", log, "--resume")
    assert result.exit_code == 0, result.stderr
    assert "5 scored, 0 failed, 0 skipped, 1 already recorded" in result.stderr
    assert "records in" not in result.stderr
    moved = tmp_path / "moved"
    shots.rename(moved)
    result = cli("blur-score", moved, "-o", log, "--resume")
    assert f"resume: 6 records in {log} match no input of this run" in result.stderr
    assert len(parse_jsonl(log.read_text("utf-8"))) == 12
