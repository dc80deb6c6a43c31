"""The filter commands, end to end through click's CliRunner."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from conftest import CliRun

import edgegrad
from edgegrad.batch import run_batch
from edgegrad.jobs import FilterSpec, Placement, filter_file
from edgegrad_cli.filter_cmds import filter_planned


def read_gray(path: Path) -> npt.NDArray[Any]:
    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def photo(tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]) -> Path:
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), sample("camera.png")[:96, :128])
    return path


def test_sobel_angle_writes_next_to_input(cli: CliRun, photo: Path) -> None:
    result = cli("sobel", "--angle", "45", photo)
    assert result.exit_code == 0, result.stderr
    out = photo.with_name("photo.sobel-a45.png")
    gray = read_gray(photo)
    expected = edgegrad.to_uint8(edgegrad.directional(gray, 45), "signed")
    np.testing.assert_array_equal(read_gray(out), expected)
    assert "1 written, 0 failed, 0 skipped" in result.stderr


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["sobel"], "photo.sobel.png"),
        (["sobel", "--ksize", "5", "--angle", "-30"], "photo.sobel-a-30-k5.png"),
        (["scharr", "--angle", "90", "--normalize"], "photo.scharr-a90-n.png"),
        (["laplacian", "--ksize", "3"], "photo.laplacian-k3.png"),
        (["laplacian", "--display", "normalize"], "photo.laplacian-normalize.png"),
        (
            ["directional", "--angle", "22.5", "--kernel", "gaussian", "--sigma", "2"],
            "photo.gaussian-a22.5-s2.png",
        ),
        (["sobel", "--angle", "0", "--display", "raw"], "photo.sobel-a0-raw.npy"),
    ],
)
def test_output_names_the_operation(cli: CliRun, photo: Path, args: list[str], name: str) -> None:
    result = cli(*args, photo)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in photo.parent.iterdir()) == sorted(["photo.png", name])


def test_raw_npy_is_lossless(cli: CliRun, photo: Path) -> None:
    result = cli("sobel", "--angle", "30", "--ksize", "7", "--display", "raw", photo)
    assert result.exit_code == 0, result.stderr
    raw = np.load(photo.with_name("photo.sobel-a30-k7-raw.npy"))
    np.testing.assert_array_equal(raw, edgegrad.sobel(read_gray(photo), 30, ksize=7))
    assert raw.dtype == np.float32
    assert raw.min() < 0


def test_raw_float_tiff_by_extension(cli: CliRun, photo: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "lap.tif"
    result = cli("laplacian", "--display", "raw", photo, "-o", target)
    assert result.exit_code == 0, result.stderr
    back = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, edgegrad.laplacian(read_gray(photo)))


def test_raw_refuses_a_lossy_extension(cli: CliRun, photo: Path, tmp_path: Path) -> None:
    result = cli("sobel", "--display", "raw", photo, "-o", tmp_path / "x.png")
    assert result.exit_code == 2
    assert "--display raw writes float32: .tif, .tiff, .npy" in result.stderr


def test_existing_output_is_kept_without_overwrite(cli: CliRun, photo: Path) -> None:
    out = photo.with_name("photo.sobel.png")
    out.write_bytes(b"precious")
    result = cli("sobel", photo)
    assert result.exit_code == 0
    assert out.read_bytes() == b"precious"
    assert "0 written, 0 failed, 1 skipped (-v lists the skipped files)" in result.stderr
    listed = cli("sobel", photo, "-v")
    assert f"skipped: {photo}: output {out} exists (use --overwrite" in listed.stderr
    assert out.read_bytes() == b"precious"
    result = cli("sobel", "--overwrite", photo)
    assert result.exit_code == 0, result.stderr
    assert read_gray(out).shape == read_gray(photo).shape


def test_never_writes_onto_an_input(cli: CliRun, photo: Path) -> None:
    before = photo.read_bytes()
    result = cli("sobel", "--overwrite", photo, "-o", photo)
    assert result.exit_code == 3
    assert "is an input of this run" in result.stderr
    assert str(photo) in result.stderr
    assert photo.read_bytes() == before


def test_non_ascii_path(cli: CliRun, tmp_path: Path, photo: Path) -> None:
    folder = tmp_path / "снимки été"
    folder.mkdir()
    source = folder / "фото café 1.png"
    source.write_bytes(photo.read_bytes())
    result = cli("scharr", "--angle", "10", source)
    assert result.exit_code == 0, result.stderr
    assert (folder / "фото café 1.scharr-a10.png").is_file()


def test_folder_mirrors_subfolders_and_reports_failures(
    cli: CliRun, tmp_path: Path, photo: Path
) -> None:
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "one.PNG").write_bytes(photo.read_bytes())
    (src / "a" / "b" / "two.png").write_bytes(photo.read_bytes())
    (src / "broken.jpg").write_bytes(b"this is not a jpeg")
    before = tree_hashes(src)
    result = cli("sobel", "--angle", "45", src, "-o", tmp_path / "out", "-j", "1")
    assert result.exit_code == 3
    assert "broken.jpg" in result.stderr
    assert "2 written, 1 failed, 0 skipped" in result.stderr
    assert (tmp_path / "out" / "a" / "one.sobel-a45.png").is_file()
    assert (tmp_path / "out" / "a" / "b" / "two.sobel-a45.png").is_file()
    assert tree_hashes(src) == before
    rerun = cli("sobel", "--angle", "45", src, "-o", tmp_path / "out", "-j", "2")
    assert rerun.exit_code == 3
    assert "0 written, 1 failed, 2 skipped" in rerun.stderr


def test_usage_errors_exit_2(cli: CliRun, photo: Path, tmp_path: Path) -> None:
    assert cli("sobel", "--ksize", "4", photo).exit_code == 2
    assert cli("sobel", "--angle", "nan", photo).exit_code == 2
    assert cli("sobel", tmp_path / "missing.png").exit_code == 2
    bad = cli("directional", "--angle", "10", "--kernel", "scharr", "--ksize", "5", photo)
    assert bad.exit_code == 2
    assert "ksize" in bad.stderr
    two = cli("sobel", photo, photo, "-o", tmp_path / "one.png")
    assert two.exit_code == 2


def test_fatal_errors_show_a_traceback_only_with_debug(
    cli: CliRun, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("edgegrad_cli.filter_cmds.run_batch", explode)
    quiet = cli("sobel", photo)
    assert quiet.exit_code == 1
    assert "RuntimeError: disk on fire" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = cli("--debug", "sobel", photo)
    assert isinstance(loud.exception, RuntimeError)
    # --debug also works after the command's name.
    assert isinstance(cli("sobel", photo, "--debug").exception, RuntimeError)


def test_python_dash_m_runs_the_command_line() -> None:
    help_run = subprocess.run(
        [sys.executable, "-m", "edgegrad", "--help"], capture_output=True, text=True, check=True
    )
    assert "sobel" in help_run.stdout


def test_rerun_in_place_ignores_earlier_outputs(cli: CliRun, tmp_path: Path, photo: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    for name in ("one.png", "two.png"):
        (folder / name).write_bytes(photo.read_bytes())
    first = cli("sobel", "--angle", "45", folder, "-j", "1")
    assert first.exit_code == 0, first.stderr
    assert "2 written, 0 failed, 0 skipped" in first.stderr
    again = cli("sobel", "--angle", "45", folder, "-j", "1")
    assert again.exit_code == 0, again.stderr
    assert "0 written, 0 failed, 2 skipped, 2 earlier outputs ignored" in again.stderr
    other = cli("laplacian", folder, "-j", "1")
    assert "2 written, 0 failed, 0 skipped, 2 earlier outputs ignored" in other.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "one.laplacian.png",
        "one.png",
        "one.sobel-a45.png",
        "two.laplacian.png",
        "two.png",
        "two.sobel-a45.png",
    ]
    named = cli("scharr", folder / "one.sobel-a45.png")
    assert named.exit_code == 0, named.stderr
    assert (folder / "one.sobel-a45.scharr.png").is_file()


def test_sixteen_bit_and_float_inputs_look_like_eight_bit(
    cli: CliRun, tmp_path: Path, photo: Path
) -> None:
    gray = read_gray(photo)
    (tmp_path / "u16.png").write_bytes(cv2.imencode(".png", gray.astype(np.uint16) * 257)[1])
    assert cv2.imwrite(str(tmp_path / "f32.tif"), gray.astype(np.float32) / 255)
    for name in ("u16.png", "f32.tif"):
        assert cli("sobel", tmp_path / name, "-o", tmp_path / "out").exit_code == 0
    assert cli("sobel", photo, "-o", tmp_path / "out").exit_code == 0
    eight = read_gray(tmp_path / "out" / "photo.sobel.png").astype(int)
    for name in ("u16.sobel.png", "f32.sobel.png"):
        other = read_gray(tmp_path / "out" / name).astype(int)
        assert np.abs(other - eight).max() <= 1, name


def test_output_extension_must_be_writable(cli: CliRun, photo: Path, tmp_path: Path) -> None:
    result = cli("sobel", photo, "-o", tmp_path / "out.gif")
    assert result.exit_code == 2
    assert "cannot write '.gif' files" in result.stderr
    assert not (tmp_path / "out.gif").exists()


def test_output_folder_inside_the_input_is_not_read_back(
    cli: CliRun, tmp_path: Path, photo: Path
) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "one.png").write_bytes(photo.read_bytes())
    for _ in range(2):
        result = cli("scharr", folder, "-o", folder / "edges", "--display", "normalize")
        assert result.exit_code == 0, result.stderr
    assert "0 written, 0 failed, 1 skipped, 1 earlier outputs ignored" in result.stderr
    assert sorted(p.name for p in (folder / "edges").iterdir()) == ["one.scharr-normalize.png"]


def test_color_filters_each_channel(
    cli: CliRun, tmp_path: Path, sample: Callable[..., npt.NDArray[Any]]
) -> None:
    source = tmp_path / "coffee.png"
    bgr = sample("coffee.png")[:80, :120]
    cv2.imwrite(str(source), bgr)
    result = cli("sobel", "--angle", "30", "--color", "--display", "raw", source)
    assert result.exit_code == 0, result.stderr
    raw = np.load(tmp_path / "coffee.sobel-a30-color-raw.npy")
    assert raw.shape == bgr.shape
    np.testing.assert_array_equal(raw, edgegrad.directional(bgr, 30))


def test_max_pixels_refuses_large_images(
    cli: CliRun, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("sobel", photo, "--max-pixels", "100")
    assert result.exit_code == 3
    assert str(photo) in result.stderr
    assert "max" in result.stderr.lower()
    monkeypatch.setenv("EDGEGRAD_MAX_PIXELS", "100")
    assert cli("blur-score", photo).exit_code == 3
    assert cli("blur-score", photo, "--max-pixels", "1000000").exit_code == 0


@pytest.mark.parametrize("command", ["sobel", "blur-score"])
def test_an_empty_folder_is_a_fatal_error(cli: CliRun, tmp_path: Path, command: str) -> None:
    (tmp_path / "notes.txt").write_text("no images here", encoding="utf-8")
    result = cli(command, tmp_path)
    assert result.exit_code == 1
    assert "no images found" in result.stderr


def test_output_collisions_are_reported_on_every_run(
    cli: CliRun, tmp_path: Path, photo: Path
) -> None:
    folder = tmp_path / "clash"
    folder.mkdir()
    (folder / "x.png").write_bytes(photo.read_bytes())
    cv2.imwrite(str(folder / "x.JPG"), read_gray(photo))
    for _ in range(2):
        result = cli("sobel", folder, "-j", "1")
        assert result.exit_code == 3
        assert "is also the output of another input" in result.stderr


def filter_or_die(source: Path, **options: Any) -> Path:
    """The sobel command's job, in a worker that dies on input 3."""
    if source.stem == "3":
        os._exit(1)
    return filter_planned(source, **options)


def test_outputs_written_before_a_worker_died_count_as_written(tmp_path: Path, photo: Path) -> None:
    # One chunk of six: its worker writes 0-2, dies on 3, and every input is
    # then run again alone; 0-2 find their outputs from the first attempt.
    folder = tmp_path / "in"
    folder.mkdir()
    sources = [folder / f"{index}.png" for index in range(6)]
    for source in sources:
        source.write_bytes(photo.read_bytes())
    placement = Placement("sobel", ".png", folder=tmp_path / "out", roots=(folder,))
    options = {"placement": placement, "spec": FilterSpec("sobel"), "overwrite": False}
    job = functools.partial(filter_or_die, max_pixels=None, **options)
    records = run_batch(job, sources, workers=2, chunksize=6)
    assert [r.ok for r in records] == [True, True, True, False, True, True]
    assert "the worker process died while processing this file" in (records[3].error or "")
    reference = filter_file(photo, placement=Placement("sobel", ".png"), spec=options["spec"])
    for record in records[:3] + records[4:]:
        assert record.result == placement.target(record.path)
        assert record.result.read_bytes() == reference.read_bytes()
    assert not placement.target(sources[3]).exists()


def test_an_output_that_is_the_input_still_fails(tmp_path: Path, photo: Path) -> None:
    placement = Placement("sobel", ".png", file=photo)
    with pytest.raises(edgegrad.errors.OutputExistsError, match=r"photo\.png"):
        filter_planned(
            photo, placement=placement, spec=FilterSpec("sobel"), overwrite=False, max_pixels=None
        )
