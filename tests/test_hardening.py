"""The promises of the README under odd names, special files, closed streams and bad values.

Each test reproduces one way an outside test broke a promise (issue 10) and
checks the promise now holds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, CliRun

import edgegrad
from edgegrad.errors import ImageReadError
from edgegrad.io import open_record_log, read_image

CAMERA = SAMPLES / "camera.png"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX names, FIFOs and fds")


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    """A folder of the camera under a name with a carriage return, and one of invalid UTF-8."""
    folder = tmp_path / "odd"
    folder.mkdir()
    shutil.copy(CAMERA, folder / "b\rc.png")
    shutil.copy(CAMERA, os.fsdecode(os.fsencode(folder) + b"/a\xff\xfe.png"))
    return folder


def edgegrad_shell(script: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a shell line where ``EG`` is this Python's ``edgegrad``."""
    command = f"EG() {{ '{sys.executable}' -m edgegrad \"$@\"; }}; {script}"
    return subprocess.run(["sh", "-c", command], cwd=cwd, capture_output=True, timeout=120)


@posix_only
def test_a_carriage_return_in_a_name_is_quoted_and_resume_reads_it(
    cli: CliRun, odd: Path, tmp_path: Path
) -> None:
    log = tmp_path / "scores.csv"
    assert cli("blur-score", odd / "b\rc.png", "-o", log).exit_code == 0
    with open(log, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert len(rows) == 2
    assert rows[1][0] == str(odd / "b\rc.png")
    assert b'"' + os.fsencode(odd) + b'/b\rc.png"' in log.read_bytes()
    resumed = cli("blur-score", odd / "b\rc.png", "-o", log, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert "1 already recorded" in resumed.stderr


@posix_only
def test_jsonl_is_strict_utf8_and_gives_back_the_real_name(
    cli: CliRun, odd: Path, tmp_path: Path
) -> None:
    log = tmp_path / "scores.jsonl"
    assert cli("blur-score", odd, "-o", log).exit_code == 0
    raw = log.read_bytes()
    raw.decode("utf-8")  # strict: raises on a raw \xff
    assert b"\\udcff\\udcfe" in raw
    paths = [json.loads(line)["path"] for line in raw.decode("utf-8").splitlines()]
    assert os.fsencode(paths[0]) == os.fsencode(odd) + b"/a\xff\xfe.png"
    assert all(os.path.exists(os.fsencode(p)) for p in paths)
    resumed = cli("blur-score", odd, "-o", log, "--resume")
    assert "2 already recorded" in resumed.stderr
    assert resumed.exit_code == 0


def test_csv_cells_that_look_like_formulas_are_exact_and_noted(cli: CliRun, tmp_path: Path) -> None:
    shutil.copy(CAMERA, tmp_path / "=1+2.png")
    os.chdir(tmp_path)
    result = cli("blur-score", "=1+2.png", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("=1+2.png,")
    assert "a cell begins with =, +, - or @ in 1 CSV record (first: =1+2.png)" in result.stderr
    assert "formula" not in cli("blur-score", "=1+2.png", "--format", "jsonl").stderr


def test_paths_beyond_path_max_are_named_failures(cli: CliRun, tmp_path: Path) -> None:
    image = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for level in range(60):  # 60 levels of 100 characters: beyond PATH_MAX (4096)
            os.mkdir("d" * 100, dir_fd=fd)
            inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
            if level in (5, 55):
                out = os.open(f"at{level}.png", os.O_WRONLY | os.O_CREAT, 0o666, dir_fd=fd)
                os.write(out, image[1].tobytes())
                os.close(out)
    finally:
        os.close(fd)
    result = cli("blur-score", tmp_path)
    assert result.exit_code == 3
    assert "1 scored, 1 failed" in result.stderr
    assert "longer than the system allows (PATH_MAX)" in result.stderr


def test_a_second_run_on_a_log_in_use_refuses(cli: CliRun, tmp_path: Path) -> None:
    log = tmp_path / "scores.jsonl"
    with open_record_log(log):
        result = cli("blur-score", CAMERA, "-o", log, "--resume")
    assert result.exit_code == 1
    assert "is in use by another run" in result.stderr
    assert log.read_bytes() == b""


def test_resume_counts_a_record_written_twice_once(cli: CliRun, tmp_path: Path) -> None:
    log = tmp_path / "scores.jsonl"
    assert cli("blur-score", CAMERA, SAMPLES / "brick.png", "-o", log).exit_code == 0
    first = log.read_text().splitlines()[0]
    with open(log, "a") as file:
        file.write(first + "\n")
    result = cli("blur-score", CAMERA, SAMPLES / "brick.png", "-o", log, "--resume")
    assert result.exit_code == 0
    assert "1 records in" in result.stderr
    assert f"repeat an input recorded before (first: {CAMERA})" in result.stderr
    assert "2 already recorded" in result.stderr


@posix_only
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_special_file_named_directly_fails_the_run(
    cli: CliRun, tmp_path: Path, special: str
) -> None:
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "pipe.png"
        os.mkfifo(path)
    result = cli("blur-score", path, "--fail-under", 150)
    assert result.exit_code == 3
    assert "0 scored, 1 failed" in result.stderr
    assert "not a regular file" in result.stderr


def test_an_explicit_output_file_that_exists_is_an_error(cli: CliRun, tmp_path: Path) -> None:
    target = tmp_path / "b.png"
    target.write_bytes(b"mine")
    result = cli("sobel", CAMERA, "-o", target)
    assert result.exit_code == 2
    assert f"{target} exists; pass --overwrite to replace it" in result.stderr
    assert target.read_bytes() == b"mine"
    assert cli("sobel", CAMERA, "-o", target, "--overwrite").exit_code == 0
    assert target.read_bytes() != b"mine"


@posix_only
@pytest.mark.parametrize("command", [["blur-score"], ["blur-score", "-o", "log.jsonl"], ["sobel"]])
def test_commands_work_with_stderr_closed(tmp_path: Path, command: list[str]) -> None:
    shutil.copy(CAMERA, tmp_path / "camera.png")
    line = " ".join(["EG", *command[:1], "camera.png", *command[1:]])
    done = edgegrad_shell(f"{line} 2>&-", tmp_path)
    assert done.returncode == 0
    if command == ["blur-score"]:
        assert b"camera.png" in done.stdout
    elif command[0] == "sobel":
        assert (tmp_path / "camera.sobel.png").is_file()
    else:
        assert json.loads((tmp_path / "log.jsonl").read_text())["score"] > 0


@posix_only
@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl"])
def test_results_to_a_closed_stdout_fail(tmp_path: Path, fmt: str) -> None:
    done = edgegrad_shell(f"EG blur-score '{CAMERA}' --format {fmt} >&-", tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr
        == b"error: cannot write the results: standard output is closed (give -o FILE)\n"
    )


@pytest.mark.parametrize("option", ["--threshold", "--fail-under", "--percentile", "--sigma"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_thresholds_must_be_finite(cli: CliRun, option: str, value: str) -> None:
    result = cli("blur-score", CAMERA, option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr
    if value == "nan" or option in ("--threshold", "--fail-under"):
        assert f"must be a finite number; got '{value}'" in result.stderr


def test_a_large_file_is_judged_by_its_header_before_it_is_read(tmp_path: Path) -> None:
    small = cv2.imencode(".jpg", np.full((64, 64), 128, np.uint8))[1].tobytes()
    sparse = tmp_path / "sparse.jpg"
    with open(sparse, "wb") as file:
        file.write(small)
        file.truncate(2 * 1024**3)  # 2 GB, almost all a hole: nothing is written
    with pytest.raises(ImageReadError, match=r"2,147,483,648 bytes, more than the 64x64 JPEG"):
        read_image(sparse)
    with open(tmp_path / "zeros.png", "wb") as file:
        file.truncate(100 * 1024**2)
    with pytest.raises(ImageReadError, match="unsupported or unrecognised format"):
        read_image(tmp_path / "zeros.png")


def test_a_large_file_its_image_explains_is_read(tmp_path: Path) -> None:
    # 4,800 x 4,800 x 3 uncompressed: 69 MB, above the size where the header is checked first.
    image = np.random.default_rng(1).integers(0, 255, (4800, 4800, 3), np.uint8)
    path = tmp_path / "big.bmp"
    assert cv2.imwrite(str(path), image)
    assert path.stat().st_size > 64 * 1024**2
    np.testing.assert_array_equal(read_image(path, mode="color"), image)


def test_an_output_of_unknown_format_is_an_error(cli: CliRun, tmp_path: Path) -> None:
    for name in ("out.xlsx", "out.png", "out"):
        result = cli("blur-score", CAMERA, "-o", tmp_path / name)
        assert result.exit_code == 2
        assert "cannot tell the format of" in result.stderr
        assert (
            ".csv (csv), .jsonl (jsonl), .json (json), .txt (table), .parquet (parquet)"
            in result.stderr
        )
    assert not list(tmp_path.iterdir())
    assert cli("blur-score", CAMERA, "-o", tmp_path / "out.xlsx", "--format", "csv").exit_code == 0


def test_dash_is_stdout(cli: CliRun, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    result = cli("blur-score", CAMERA, "-o", "-", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.startswith("path,score,")
    assert not (tmp_path / "-").exists()


def test_verbose_names_every_file_passed_over(cli: CliRun, tmp_path: Path) -> None:
    for name in ("a.png", "team.sobel.png", ".hidden.png", "sub/x.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(CAMERA, tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    result = cli("blur-score", tmp_path, "-v", "--exclude", "sub")
    assert result.exit_code == 0
    said = result.stderr
    assert f"passed over: {tmp_path / 'team.sobel.png'}: its name is that of an earlier" in said
    assert f"passed over: {tmp_path / '.hidden.png'}: hidden" in said
    assert f"passed over: {tmp_path / 'notes.txt'}: not an image by its extension (.txt)" in said
    assert f"passed over: {tmp_path / 'sub'}: matches an exclude pattern" in said
    assert "passed over" not in cli("blur-score", tmp_path).stderr


def test_a_working_size_above_an_input_is_warned_once(cli: CliRun) -> None:
    result = cli("blur-score", CAMERA, SAMPLES / "brick.png", "--working-size", 2_000_000)
    assert result.exit_code == 0
    assert result.stderr.count("warning: --working-size 2000000 is larger than 2 inputs ") == 1
    assert f"(first: {CAMERA}, 512x512)" in result.stderr
    assert "warning" not in cli("blur-score", CAMERA, "--working-size", 100_000).stderr


def test_a_region_outside_the_image_is_said_in_words(cli: CliRun) -> None:
    result = cli("blur-score", CAMERA, "--roi", "600,0,10,10")
    assert result.exit_code == 3
    assert "ValueError" not in result.stderr
    assert (
        f"{CAMERA}: cannot be scored: the region roi=600,0,10,10 (x, y, width, height) "
        "reaches beyond the 512x512 image"
    ) in result.stderr


def test_focus_map_of_an_unreadable_file_exits_3_as_filters_do(cli: CliRun, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    for command in ("focus-map", "sobel"):
        result = cli(command, bad)
        assert result.exit_code == 3, command
        assert f"error: {bad}: not a recognised image format" in result.stderr


def test_dry_run_without_an_action_says_there_is_nothing_to_do(cli: CliRun) -> None:
    result = cli("blur-score", CAMERA, "--threshold", 100, "--dry-run")
    assert result.exit_code == 2
    assert "--dry-run has nothing to do without --move-to, --copy-to or --link-to" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("name", "method"), [("tenengrad", "teng"), ("blur_effect", "blur-effect")]
)
def test_a_function_name_as_method_points_at_the_method_name(name: str, method: str) -> None:
    image = np.zeros((9, 9), np.uint8)
    with pytest.raises(
        ValueError, match=f"the function edgegrad.{name}, whose method is '{method}'"
    ):
        edgegrad.blur_score(image, method=name)


def test_an_image_path_given_to_blur_score_points_at_read_image() -> None:
    with pytest.raises(TypeError, match=r"not a path \('x.png'\); read the file first with "):
        edgegrad.blur_score("x.png")  # type: ignore[arg-type]


def test_csv_written_whole_quotes_carriage_returns_too() -> None:
    from edgegrad_cli.records import Row, render

    row = Row("a\rb.png", 1.5, "lapv", 2, 3, None, None, None)
    text = render([row], "csv")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        [
            "path",
            "score",
            "method",
            "width",
            "height",
            "blurry",
            "warning",
            "error",
            "frame",
            "time",
        ],
        ["a\rb.png", "1.5", "lapv", "2", "3", "", "", "", "", ""],
    ]
