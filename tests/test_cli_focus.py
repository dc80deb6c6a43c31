"""``edgegrad focus-sweep`` through click's CliRunner, against the library."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun
from sweeps import bump, gray, render_sweep

from edgegrad.focus import fit_peak
from edgegrad.io import read_image
from edgegrad.metrics import METHODS, blur_score

SAMPLE_Z = np.arange(9.0)


def sample_sweep(samples_dir: Path) -> list[Path]:
    return [samples_dir / "focus_sweep" / f"focus_{i:02d}.png" for i in range(9)]


def run_json(cli: CliRun, *args: object) -> tuple[Any, Any]:
    result = cli("focus-sweep", *args, "--format", "json", "-j", "1")
    return result, json.loads(result.stdout) if result.stdout else None


@pytest.fixture(scope="module")
def rendered(sample: Callable[..., Any]) -> list[Any]:
    """11 captures of camera.png at z = 0..10, best focus at z = 5.3, 1 px of radius a step."""
    sharp = gray(sample("camera.png"))[96:352, 96:352]
    return render_sweep(sharp, np.arange(11.0), 5.3, px_per_unit=1.0, noise=2.0, seed=3)


def write_frames(folder: Path, frames: list[Any], names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for frame, name in zip(frames, names, strict=True):
        path = folder / name
        assert cv2.imwrite(str(path), frame)
        paths.append(path)
    return paths


@pytest.mark.parametrize("method", ["lapv", "teng", "blur-effect"])
def test_the_sample_sweep_matches_the_library(cli: CliRun, samples_dir: Path, method: str) -> None:
    result, answer = run_json(cli, samples_dir / "focus_sweep", "-m", method)
    assert result.exit_code == 0, result.stderr
    measure = METHODS[method]
    files = sample_sweep(samples_dir)
    # Read as the command reads them (a colour PNG through cv2.cvtColor).
    scores = [blur_score(read_image(p), method) for p in files]
    peak = fit_peak(SAMPLE_Z, scores, higher_is_sharper=measure.sharper_is_higher)
    assert answer["peak"]["position"] == pytest.approx(peak.position, abs=1e-9)
    assert answer["peak"]["stderr"] == pytest.approx(peak.stderr, abs=1e-9)
    assert answer["peak"]["model"] == peak.model
    assert answer["peak"]["r2"] == pytest.approx(peak.r2, abs=1e-12)
    assert abs(answer["peak"]["position"] - 4.4) < 0.06
    assert answer["bracketed"] is True
    assert Path(answer["best"]["path"]).name == "focus_04.png"
    assert answer["best"]["position"] == 4.0
    assert [p["position"] for p in answer["points"]] == SAMPLE_Z.tolist()
    assert [p["score"] for p in answer["points"]] == pytest.approx(scores, rel=1e-12)
    assert "9 scored, 0 failed" in result.stderr


def test_the_table_says_the_same_for_people(cli: CliRun, samples_dir: Path) -> None:
    result = cli("focus-sweep", samples_dir / "focus_sweep")
    assert result.exit_code == 0, result.stderr
    _, answer = run_json(cli, samples_dir / "focus_sweep")
    peak = answer["peak"]
    assert f"peak:      {peak['position']:.3f} ± {peak['stderr']:.3f}" in result.stdout
    assert "bracketed: yes" in result.stdout
    assert "focus_04.png at 4 (score 410.18), marked *" in result.stdout
    assert "*         4  410.18  " in result.stdout


def test_an_unbracketed_sweep_exits_5_and_says_which_way(
    cli: CliRun, samples_dir: Path, tmp_path: Path
) -> None:
    for path in sample_sweep(samples_dir)[:4]:
        shutil.copy(path, tmp_path / path.name)
    result, answer = run_json(cli, tmp_path)
    assert result.exit_code == 5
    assert answer["peak"] is None
    assert answer["bracketed"] is False
    assert answer["extend"] == "higher"
    assert Path(answer["best"]["path"]).name == "focus_03.png"
    assert "no trustworthy peak: not bracketed" in result.stderr
    assert "extend the sweep toward higher positions" in result.stderr
    table = cli("focus-sweep", tmp_path)
    assert table.exit_code == 5
    assert "peak:      none: not bracketed" in table.stdout


def test_positions_from_a_csv_in_any_order(
    cli: CliRun, rendered: list[Any], tmp_path: Path
) -> None:
    # Shuffled names; positions in micrometres: z = 40 + 2.5 * step.
    order = np.random.default_rng(0).permutation(11)
    names = [f"shot-{k}.png" for k in order]
    paths = write_frames(tmp_path / "shots", rendered, names)
    microns = 40 + 2.5 * np.arange(11)
    table = "path,position\n" + "".join(
        f"{p.name},{z}\n" for p, z in zip(paths, microns, strict=True)
    )
    (tmp_path / "shots" / "z.csv").write_text(table, encoding="utf-8")
    result, answer = run_json(
        cli, *paths, "--positions", tmp_path / "shots" / "z.csv", "-m", "teng"
    )
    assert result.exit_code == 0, result.stderr
    assert [p["position"] for p in answer["points"]] == microns.tolist()
    peak = fit_peak(microns, [blur_score(f, "teng") for f in rendered])
    assert answer["peak"]["position"] == pytest.approx(peak.position, abs=1e-9)
    assert abs(answer["peak"]["position"] - (40 + 2.5 * 5.3)) / 2.5 < 0.1


def test_positions_from_the_file_names(cli: CliRun, rendered: list[Any], tmp_path: Path) -> None:
    z = -3.0 + 0.5 * np.arange(11)
    write_frames(tmp_path, rendered, [f"stack_z{v:+.1f}um.png" for v in z])
    result, answer = run_json(cli, tmp_path, "--position-regex", r"z([-+]?\d+(?:\.\d+)?)um")
    assert result.exit_code == 0, result.stderr
    assert [p["position"] for p in answer["points"]] == z.tolist()
    assert abs(answer["peak"]["position"] - (-3.0 + 0.5 * 5.3)) / 0.5 < 0.1
    bad = cli("focus-sweep", tmp_path, "--position-regex", r"q(\d+)")
    assert bad.exit_code == 2
    assert "no number found" in bad.stderr


def test_natural_order_of_names(cli: CliRun, rendered: list[Any], tmp_path: Path) -> None:
    # f2 before f10: a plain sort would put f10 second.
    write_frames(tmp_path, rendered, [f"f{i}.png" for i in range(11)])
    result, answer = run_json(cli, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert [Path(p["path"]).name for p in answer["points"]] == [f"f{i}.png" for i in range(11)]
    assert abs(answer["peak"]["position"] - 5.3) < 0.1


def test_an_unreadable_image_is_an_error_and_the_fit_uses_the_rest(
    cli: CliRun, rendered: list[Any], tmp_path: Path
) -> None:
    paths = write_frames(tmp_path, rendered, [f"f{i:02d}.png" for i in range(11)])
    paths[9].write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result, answer = run_json(cli, tmp_path)
    assert result.exit_code == 3
    assert f"error: {paths[9]}" in result.stderr
    assert "10 scored, 1 failed" in result.stderr
    assert len(answer["points"]) == 10
    kept = [i for i in range(11) if i != 9]
    peak = fit_peak(np.array(kept, float), [blur_score(rendered[i], "lapv") for i in kept])
    assert answer["peak"]["position"] == pytest.approx(peak.position, abs=1e-9)


def test_a_flat_sweep_exits_5(cli: CliRun, sample: Callable[..., Any], tmp_path: Path) -> None:
    sharp = gray(sample("brick.png"))[:256, :256]
    frames = render_sweep(sharp, [2.0] * 9, 0.0, px_per_unit=1.0, noise=2.0, seed=2)
    write_frames(tmp_path, frames, [f"f{i}.png" for i in range(9)])
    result, answer = run_json(cli, tmp_path)
    assert result.exit_code == 5
    assert answer["peak"] is None
    assert answer["extend"] is None
    assert "no trustworthy peak" in result.stderr


def test_a_bumped_capture_is_left_out(cli: CliRun, rendered: list[Any], tmp_path: Path) -> None:
    frames = list(rendered)
    frames[6] = bump(frames[6])
    write_frames(tmp_path, frames, [f"f{i:02d}.png" for i in range(11)])
    result, answer = run_json(cli, tmp_path, "-m", "teng")
    assert result.exit_code == 0, result.stderr
    assert [p["used"] for p in answer["points"]] == [i != 6 for i in range(11)]
    assert abs(answer["peak"]["position"] - 5.3) < 0.1
    table = cli("focus-sweep", tmp_path, "-m", "teng")
    assert "not used by the fit" in table.stdout


def _write_video(path: Path, frames: list[Any]) -> None:
    height, width = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def test_a_video_sweep(cli: CliRun, rendered: list[Any], tmp_path: Path) -> None:
    pytest.importorskip("av")
    video = tmp_path / "ring.avi"
    _write_video(video, rendered)
    result, answer = run_json(cli, video, "-m", "teng")
    assert result.exit_code == 0, result.stderr
    assert [p["frame"] for p in answer["points"]] == list(range(11))
    assert [p["position"] for p in answer["points"]] == [float(i) for i in range(11)]
    assert abs(answer["peak"]["position"] - 5.3) < 0.1
    timed, by_time = run_json(cli, video, "-m", "teng", "--time")
    assert timed.exit_code == 0, timed.stderr
    assert [p["position"] for p in by_time["points"]] == pytest.approx([i / 10 for i in range(11)])
    assert by_time["peak"]["position"] == pytest.approx(answer["peak"]["position"] / 10, abs=1e-6)
    mixed = cli("focus-sweep", video, tmp_path / "ring.avi", "--positions", video)
    assert mixed.exit_code == 2


def test_the_plot(cli: CliRun, samples_dir: Path, tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    result = cli("focus-sweep", samples_dir / "focus_sweep", "--plot", plot)
    assert result.exit_code == 0, result.stderr
    picture = cv2.imread(str(plot))
    assert picture.shape == (520, 860, 3)
    assert f"wrote {plot}" in result.stderr
    again = cli("focus-sweep", samples_dir / "focus_sweep", "--plot", plot)
    assert again.exit_code == 2
    assert "pass --overwrite" in again.stderr
    wrong = cli("focus-sweep", samples_dir / "focus_sweep", "--plot", tmp_path / "curve.txt")
    assert wrong.exit_code == 2


def test_usage_errors(cli: CliRun, samples_dir: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "z.csv"
    csv_file.write_text("path,position\n", encoding="utf-8")
    both = cli(
        "focus-sweep", samples_dir / "focus_sweep", "--positions", csv_file, "--position-regex", "x"
    )
    assert both.exit_code == 2
    assert "not both" in both.stderr
    timed = cli("focus-sweep", samples_dir / "focus_sweep", "--time")
    assert timed.exit_code == 2
    assert "--time is for a video input" in timed.stderr
    short = tmp_path / "short.csv"
    first = samples_dir / "focus_sweep" / "focus_00.png"
    short.write_text(f"path,position\n{first},1\n", encoding="utf-8")
    missing = cli("focus-sweep", samples_dir / "focus_sweep", "--positions", short)
    assert missing.exit_code == 2
    assert "gives no position for 8 inputs" in missing.stderr
