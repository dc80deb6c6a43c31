"""``edgegrad blur-score`` and ``edgegrad focus-map`` through click's CliRunner."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from conftest import CliRun

import edgegrad

#: The sample focus sweep, sharpest first: z = 0..8, best focus at z = 4.4.
SWEEP = [f"focus_sweep/focus_{z:02d}.png" for z in sorted(range(9), key=lambda z: abs(z - 4.4))]


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def disk_blur(image: npt.NDArray[Any], radius: float) -> npt.NDArray[np.uint8]:
    if radius == 0:
        return image.copy()
    r = int(np.ceil(radius))
    fine = (np.arange(-r * 8, (r + 1) * 8) + 0.5) / 8 - 0.5
    inside = (fine[None, :] ** 2 + fine[:, None] ** 2) <= radius**2
    kernel = inside.reshape(2 * r + 1, 8, 2 * r + 1, 8).mean(axis=(1, 3))
    kernel /= kernel.sum()
    return np.clip(np.rint(cv2.filter2D(image.astype(np.float32), -1, kernel)), 0, 255).astype(
        np.uint8
    )


@pytest.fixture
def shots(tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]) -> Path:
    """Five shots of one scene, blurred by radius 0, 1, 2, 4, 8, in shuffled names."""
    folder = tmp_path / "shots"
    (folder / "day2").mkdir(parents=True)
    base = sample("camera.png")[100:260, 120:320]
    names = ["c.png", "a.png", "day2/e.png", "b.png", "d.png"]
    for name, radius in zip(names, (0, 1, 2, 4, 8), strict=True):
        cv2.imwrite(str(folder / name), disk_blur(base, radius))
    return folder


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_table_ranks_the_focus_sweep_sharpest_first(cli: CliRun, samples_dir: Path) -> None:
    result = cli("blur-score", samples_dir / "focus_sweep", "-j", "1")
    assert result.exit_code == 0, result.stderr
    listed = [line.split()[-1] for line in result.stdout.splitlines()[1:]]
    assert [Path(p).name for p in listed] == [Path(n).name for n in SWEEP]
    assert "9 scored, 0 failed" in result.stderr


def test_scores_match_the_library(cli: CliRun, shots: Path) -> None:
    result = cli("blur-score", shots, "--format", "jsonl", "--sort", "name", "-j", "2")
    assert result.exit_code == 0, result.stderr
    records = parse_jsonl(result.stdout)
    assert [Path(r["path"]).relative_to(shots).as_posix() for r in records] == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
        "day2/e.png",
    ]
    for r in records:
        gray = cv2.imread(r["path"], cv2.IMREAD_GRAYSCALE)
        assert r["score"] == pytest.approx(cv2.Laplacian(gray, cv2.CV_64F).var(), rel=1e-9)
        assert (r["width"], r["height"]) == (200, 160)
        assert r["method"] == "lapv"
        assert r["error"] is None
        assert r["warning"] is None
        assert r["blurry"] is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_machine_formats_share_one_schema(
    cli: CliRun, shots: Path, tmp_path: Path, fmt: str
) -> None:
    (shots / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / f"scores.{fmt}"
    result = cli("blur-score", shots, "--format", fmt, "-o", out, "--threshold", "50", "-j", "1")
    assert result.exit_code == 3
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "jsonl":
        rows = parse_jsonl(text)
    else:
        rows = json.loads(text)
    assert len(rows) == 6
    expected = {"path", "score", "method", "width", "height", "blurry", "warning", "error"}
    # Still images leave a video frame's place empty.
    assert all(set(r) == expected | {"frame", "time"} for r in rows)
    assert all(r["frame"] in (None, "") and r["time"] in (None, "") for r in rows)
    broken = [r for r in rows if r["path"].endswith("broken.png")]
    assert len(broken) == 1
    assert broken[0]["error"]
    assert broken[0]["score"] in (None, "")
    assert "broken.png" in result.stderr
    assert "5 scored, 1 failed, " in result.stderr


def test_threshold_modes(cli: CliRun, shots: Path) -> None:
    def blurry(*args: str) -> set[str]:
        result = cli("blur-score", shots, "--format", "json", "-j", "1", *args)
        assert result.exit_code == 0, result.stderr
        return {Path(r["path"]).name for r in json.loads(result.stdout) if r["blurry"]}

    records = json.loads(cli("blur-score", shots, "--format", "json").stdout)
    scores = {Path(r["path"]).name: r["score"] for r in records}
    assert scores["c.png"] > scores["a.png"] > scores["e.png"] > scores["b.png"] > scores["d.png"]
    assert blurry("--threshold", str((scores["b.png"] + scores["e.png"]) / 2)) == {"b.png", "d.png"}
    assert blurry("--threshold", str((scores["b.png"] + scores["d.png"]) / 2)) == {"d.png"}
    assert blurry("--threshold", "0") == set()
    assert blurry("--percentile", "40") == {"d.png", "b.png"}
    values = np.array(list(scores.values()))
    k = 0.5
    expected = {n for n, s in scores.items() if s < values.mean() - k * values.std()}
    assert blurry("--sigma", str(k)) == expected
    assert expected


def test_blur_effect_direction_is_reversed(cli: CliRun, shots: Path) -> None:
    result = cli("blur-score", shots, "-m", "blur-effect", "--format", "json", "--percentile", "20")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [Path(r["path"]).name for r in records] == ["c.png", "a.png", "e.png", "b.png", "d.png"]
    assert [r["blurry"] for r in records] == [False, False, False, False, True]
    assert records[0]["score"] < records[-1]["score"]


def test_best_n(cli: CliRun, shots: Path) -> None:
    result = cli("blur-score", shots, "--best", "2", "--format", "json")
    assert [Path(r["path"]).name for r in json.loads(result.stdout)] == ["c.png", "a.png"]


def test_roi_and_center(cli: CliRun, shots: Path) -> None:
    image = shots / "c.png"
    gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
    roi = json.loads(cli("blur-score", image, "--roi", "10,20,50,40", "--format", "json").stdout)
    assert roi[0]["score"] == pytest.approx(edgegrad.laplacian_variance(gray[20:60, 10:60]))
    centred = json.loads(cli("blur-score", image, "--center", "0.5", "--format", "json").stdout)
    assert centred[0]["score"] == pytest.approx(edgegrad.blur_score(gray, center=0.5))
    assert cli("blur-score", image, "--roi", "1,2,3").exit_code == 2
    assert cli("blur-score", image, "--roi", "0,0,5,5", "--center", "0.5").exit_code == 2


def test_fail_under_exit_codes(cli: CliRun, shots: Path) -> None:
    sharp = shots / "c.png"
    score = json.loads(cli("blur-score", sharp, "--format", "json").stdout)[0]["score"]
    assert cli("blur-score", sharp, "--fail-under", str(score * 0.9)).exit_code == 0
    tripped = cli("blur-score", sharp, "--fail-under", str(score * 1.1))
    assert tripped.exit_code == 4
    assert "fail-under" in tripped.stderr
    assert cli("blur-score", shots, "--fail-under", "1e-9").exit_code == 0


@pytest.mark.parametrize("action", ["move", "copy", "link"])
def test_actions_lose_nothing(cli: CliRun, shots: Path, tmp_path: Path, action: str) -> None:
    before = hashes(shots)
    dest = tmp_path / "blurry"
    dest.mkdir()
    (dest / "d.png").write_bytes(b"an earlier file with the same name")
    args = ["blur-score", shots, "--percentile", "40", f"--{action}-to", dest, "-j", "1"]

    dry = cli(*args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert hashes(shots) == before
    assert sorted(p.name for p in dest.iterdir()) == ["d.png"]
    announced = sorted(line.split(" -> ")[1] for line in dry.stderr.splitlines() if " -> " in line)
    assert len(announced) == 2

    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    done = sorted(line.split(" -> ")[1] for line in result.stderr.splitlines() if " -> " in line)
    assert done == announced
    assert (dest / "d.png").read_bytes() == b"an earlier file with the same name"
    arrived = sorted(p.name for p in dest.iterdir())
    assert arrived == ["b.png", "d-1.png", "d.png"]
    assert result.stderr.count(" -> ") == 2
    for name, target in (("b.png", "b.png"), ("d.png", "d-1.png")):
        assert hashlib.sha256((dest / target).read_bytes()).hexdigest() == before[name]
    remaining = hashes(shots)
    if action == "move":
        assert set(remaining) == set(before) - {"b.png", "d.png"}
    else:
        assert remaining == before
    if action == "link":
        assert (dest / "b.png").is_symlink()
        assert (dest / "b.png").resolve() == (shots / "b.png").resolve()
    everything = set(remaining.values()) | {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in dest.iterdir()
    }
    assert set(before.values()) <= everything


def test_actions_need_a_threshold(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    result = cli("blur-score", shots, "--move-to", tmp_path / "x")
    assert result.exit_code == 2
    assert "--threshold" in result.stderr


def test_output_file_never_overwrites(cli: CliRun, shots: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    out.write_text("keep me", encoding="utf-8")
    result = cli("blur-score", shots, "--format", "csv", "-o", out)
    assert result.exit_code == 2
    assert "exists; pass --overwrite" in result.stderr
    assert "scored" not in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    assert cli("blur-score", shots, "--format", "csv", "-o", out, "--overwrite").exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("path,score,")


def test_focus_map(cli: CliRun, tmp_path: Path) -> None:
    texture = np.random.default_rng(2).integers(0, 256, (256, 512), dtype=np.uint8)
    half = texture.copy()
    half[:, 256:] = disk_blur(texture, 4)[:, 256:]
    source = tmp_path / "half.png"
    cv2.imwrite(str(source), half)
    result = cli("focus-map", source, "--tile", "64")
    assert result.exit_code == 0, result.stderr
    picture = cv2.imread(str(tmp_path / "half.focus-map.png"))
    assert picture.shape[0] == half.shape[0]
    assert picture.shape[1] > half.shape[1]
    overlay = cv2.cvtColor(picture[:, : half.shape[1]], cv2.COLOR_BGR2GRAY).astype(np.float64)
    # Both halves have the same mean gray; viridis is brighter (in luma) where sharper.
    assert overlay[:, :256].mean() > overlay[:, 256:].mean() + 40
    again = cli("focus-map", source)
    assert again.exit_code == 2
    assert "exists; pass --overwrite" in again.stderr


def test_actions_keep_subfolders_and_never_rescan_the_destination(
    cli: CliRun, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    texture = np.random.default_rng(5).integers(0, 256, (64, 80), dtype=np.uint8)
    for sub in ("a", "b"):
        (photos / sub).mkdir(parents=True)
        cv2.imwrite(str(photos / sub / "x.png"), disk_blur(texture, 6))
        cv2.imwrite(str(photos / sub / "sharp.png"), texture)
    dest = photos / "blurry"
    args = ["blur-score", photos, "--threshold", "100", "--move-to", dest, "-j", "1"]
    dry = cli(*args, "--dry-run")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    assert dry.stderr.replace("would have moved", "moved") == first.stderr
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.png")) == [
        "a/x.png",
        "b/x.png",
    ]
    again = cli(*args)
    assert again.exit_code == 0, again.stderr
    assert " -> " not in again.stderr
    assert "2 scored" in again.stderr
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.png")) == [
        "a/x.png",
        "b/x.png",
    ]


def test_truncated_files_fail_unless_allowed(cli: CliRun, shots: Path) -> None:
    data = cv2.imencode(".jpg", cv2.imread(str(shots / "c.png")))[1].tobytes()
    cut = shots / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    strict = cli("blur-score", cut, "--format", "json")
    assert strict.exit_code == 3
    assert "cut.jpg" in strict.stderr
    assert json.loads(strict.stdout)[0]["error"]
    lenient = cli("blur-score", cut, "--format", "json", "--allow-partial")
    assert lenient.exit_code == 0, lenient.stderr
    record = json.loads(lenient.stdout)[0]
    assert record["score"] > 0
    assert record["warning"]
    assert record["error"] is None


def test_fail_under_names_the_images_and_follows_the_method(cli: CliRun, shots: Path) -> None:
    sharp = shots / "c.png"
    blurry = shots / "d.png"
    effect = {
        Path(r["path"]).name: r["score"]
        for r in json.loads(
            cli("blur-score", shots, "-m", "blur-effect", "--format", "json").stdout
        )
    }
    cut = (effect["c.png"] + effect["d.png"]) / 2
    tripped = cli("blur-score", sharp, blurry, "-m", "blur-effect", "--fail-under", str(cut))
    assert tripped.exit_code == 4
    assert f"fail-under: {blurry} scores above" in tripped.stderr
    assert str(sharp) not in tripped.stderr.split("fail-under")[1]
    assert cli("blur-score", sharp, "-m", "blur-effect", "--fail-under", str(cut)).exit_code == 0


def test_working_size_and_walk_options(cli: CliRun, shots: Path) -> None:
    plain = json.loads(cli("blur-score", shots / "c.png", "--format", "json").stdout)
    small = json.loads(
        cli("blur-score", shots / "c.png", "--working-size", "8000", "--format", "json").stdout
    )
    gray = cv2.imread(str(shots / "c.png"), cv2.IMREAD_GRAYSCALE)
    assert small[0]["score"] == pytest.approx(edgegrad.blur_score(gray, working_size=8000))
    assert small[0]["score"] < plain[0]["score"]
    names = {
        Path(r["path"]).name
        for r in json.loads(
            cli("blur-score", shots, "--no-recursive", "--exclude", "a*", "--format", "json").stdout
        )
    }
    assert names == {"b.png", "c.png", "d.png"}
    only = cli("blur-score", shots, "--include", "day2/*", "--format", "json")
    assert [Path(r["path"]).name for r in json.loads(only.stdout)] == ["e.png"]


def test_csv_booleans_match_json(cli: CliRun, shots: Path) -> None:
    text = cli("blur-score", shots, "--format", "csv", "--percentile", "50").stdout
    assert {row["blurry"] for row in csv.DictReader(io.StringIO(text))} == {"true", "false"}


def test_focus_map_handles_float64_colour_and_aligns_tiles(cli: CliRun, tmp_path: Path) -> None:
    image = np.zeros((70, 150, 3))
    image[:, 128:] = np.random.default_rng(1).random((70, 22, 3))
    source = tmp_path / "f64.tif"
    assert cv2.imwrite(str(source), image)  # a float64 TIFF
    result = cli("focus-map", source, "--tile", "64", "-o", tmp_path / "map.png")
    assert result.exit_code == 0, result.stderr
    picture = cv2.imread(str(tmp_path / "map.png")).astype(int)
    # Tiles are columns 0-63 and 64-149 (the last absorbs the rest): one colour each.
    overlay = picture[:, :150]
    first, last = overlay[:, :64], overlay[:, 64:128]
    assert (np.abs(first - first[0, 0]).max(), np.abs(last - last[0, 0]).max()) == (0, 0)
    assert np.abs(first[0, 0] - last[0, 0]).max() > 50


def test_dry_run_names_match_for_same_named_files(cli: CliRun, tmp_path: Path) -> None:
    texture = np.random.default_rng(6).integers(0, 256, (40, 50), dtype=np.uint8)
    files = []
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "x.png"), disk_blur(texture, 5))
        files.append(tmp_path / sub / "x.png")
    dest = tmp_path / "D"
    args = ["blur-score", *files, "--threshold", "1e9", "--copy-to", dest]
    dry = cli(*args, "--dry-run")
    real = cli(*args)
    assert real.exit_code == 0, real.stderr
    assert dry.stderr.replace("would have copied", "copied") == real.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["x-1.png", "x.png"]


def test_an_output_folder_holding_the_inputs_fences_nothing(
    cli: CliRun, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shots.parent)
    result = cli("blur-score", "shots", "--threshold", "0", "--move-to", ".", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    filtered = cli("sobel", "shots", "-o", ".", "-j", "1")
    assert filtered.exit_code == 0, filtered.stderr
    assert "5 written, 0 failed, 0 skipped" in filtered.stderr


def test_unreadable_entries_count_as_failures(cli: CliRun, shots: Path) -> None:
    (shots / "gone.png").symlink_to(shots / "missing.png")
    result = cli("blur-score", shots, "--fail-under", "0")
    assert result.exit_code == 3
    assert "gone.png" in result.stderr
    assert "5 scored, 1 failed" in result.stderr


def test_include_ignores_case(cli: CliRun, shots: Path) -> None:
    (shots / "c.png").rename(shots / "C.PNG")
    result = cli("blur-score", shots, "--include", "*.png", "--format", "json")
    assert len(json.loads(result.stdout)) == 5


def test_non_utf8_names_survive_the_report(cli: CliRun, tmp_path: Path, shots: Path) -> None:
    odd = os.fsencode(shots) + b"/odd\xff.png"
    os.rename(shots / "c.png", odd)
    out = tmp_path / "scores.json"
    result = cli("blur-score", shots, "-o", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert odd in [
        os.fsencode(r["path"])
        for r in json.loads(out.read_bytes().decode("utf-8", "surrogateescape"))
    ]


@pytest.mark.parametrize(("name", "first"), [("s.csv", "path,score"), ("s.jsonl", '{"path"')])
def test_format_follows_the_output_extension(
    cli: CliRun, shots: Path, tmp_path: Path, name: str, first: str
) -> None:
    assert cli("blur-score", shots, "-o", tmp_path / name).exit_code == 0
    assert (tmp_path / name).read_text(encoding="utf-8").startswith(first)


def test_focus_map_refuses_an_unwritable_extension_early(
    cli: CliRun, shots: Path, tmp_path: Path
) -> None:
    result = cli("focus-map", shots / "c.png", "-o", tmp_path / "map.gif")
    assert result.exit_code == 2
    assert "cannot write '.gif'" in result.stderr
