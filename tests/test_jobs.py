"""Tests of edgegrad.jobs.score_file: the per-file job behind ``blur-score``."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from hostile import photo, with_exif_orientation
from scenes import CAPTURES, render_scene

from edgegrad.errors import ImageReadError
from edgegrad.io import read_image_checked
from edgegrad.jobs import FileScore, score_file
from edgegrad.metrics import FAITHFUL_WORKING_FRACTION, METHODS, blur_score

ALL_METHODS = list(METHODS)


@pytest.fixture(scope="module")
def scene_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 5 MP rendered scene saved as a quality-95 JPEG."""
    path = tmp_path_factory.mktemp("scene") / "scene.jpg"
    cv2.imwrite(str(path), render_scene(2580, 1935), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("name", ["astronaut.jpg", "coffee.png", "camera.png"])
def test_the_score_is_blur_score_on_the_gray_image_read(
    samples_dir: Path, name: str, method: str
) -> None:
    path = samples_dir / name
    gray = read_image_checked(path, mode="gray").array
    result = score_file(path, method=method)
    assert result == FileScore(blur_score(gray, method), gray.shape[1], gray.shape[0], None)


def test_a_jpeg_is_scored_on_its_own_luma(samples_dir: Path) -> None:
    path = samples_dir / "astronaut.jpg"
    luma = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    score = score_file(path).score
    assert score == blur_score(luma)
    assert score == pytest.approx(cv2.Laplacian(luma, cv2.CV_64F).var(), rel=1e-12)
    via_colour = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
    assert not np.array_equal(luma, via_colour)  # the two grays do differ by rounding


def test_regions_are_passed_on(samples_dir: Path) -> None:
    path = samples_dir / "coffee.png"
    gray = read_image_checked(path).array
    roi = (10, 20, 100, 80)
    assert score_file(path, method="teng", roi=roi).score == blur_score(gray, "teng", roi=roi)
    assert score_file(path, center=0.5).score == blur_score(gray, center=0.5)


# edge-blur: see test_reduced_decoding_keeps_one_scene_alike_across_resolutions.
@pytest.mark.parametrize("method", [m for m in ALL_METHODS if m != "edge-blur"])
def test_working_size_decodes_a_large_jpeg_at_reduced_scale(scene_jpeg: Path, method: str) -> None:
    working_size = 300_000
    reduced = read_image_checked(scene_jpeg, reduce_to=round(working_size / 0.4))
    assert reduced.reduction == 2  # 1290x968 keeps 750 000 pixels; 645x484 would not
    result = score_file(scene_jpeg, method=method, working_size=working_size)
    assert result.score == blur_score(reduced.array, method, working_size=working_size)
    assert (result.width, result.height) == (2580, 1935)
    full = read_image_checked(scene_jpeg).array
    assert result.score == pytest.approx(
        blur_score(full, method, working_size=working_size), rel=0.005
    )


def test_a_roi_turns_reduced_decoding_off(scene_jpeg: Path) -> None:
    full = read_image_checked(scene_jpeg).array
    roi = (100, 100, 1600, 1200)
    assert score_file(scene_jpeg, roi=roi, working_size=30_000).score == blur_score(
        full, roi=roi, working_size=30_000
    )


def test_a_centre_crop_keeps_enough_pixels_for_the_working_size(scene_jpeg: Path) -> None:
    # The centred half holds a quarter of the pixels: 1.25 MP, too few to halve
    # for 300 000 working pixels (it needs 750 000 after halving), so it is
    # decoded in full.
    full = read_image_checked(scene_jpeg).array
    expected = blur_score(full, center=0.5, working_size=300_000)
    assert score_file(scene_jpeg, center=0.5, working_size=300_000).score == expected


@pytest.fixture(scope="module")
def capture_jpegs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One scene captured at 0.75, 2, 5 and 12 MP, saved as quality-95 JPEGs."""
    folder = tmp_path_factory.mktemp("captures")
    paths = []
    for width, height in CAPTURES:
        path = folder / f"{width}x{height}.jpg"
        cv2.imwrite(str(path), render_scene(width, height), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


# The scene is a 1/f texture without isolated edges, on which edge-blur's
# values spread by up to 10 % (tests/test_edge_blur.py holds it to edge scenes).
@pytest.mark.parametrize("method", [m for m in ALL_METHODS if m != "edge-blur"])
@pytest.mark.parametrize(
    ("working_size", "reductions"),
    [(300_000, [1, 1, 2, 4]), (30_000, [2, 4, 8, 8]), (10_000, [4, 8, 8, 8])],
)
def test_reduced_decoding_keeps_one_scene_alike_across_resolutions(
    capture_jpegs: list[Path], method: str, working_size: int, reductions: list[int]
) -> None:
    reduce_to = round(working_size / FAITHFUL_WORKING_FRACTION)
    assert [read_image_checked(p, reduce_to=reduce_to).reduction for p in capture_jpegs] == (
        reductions
    )
    scores = [score_file(p, method=method, working_size=working_size).score for p in capture_jpegs]
    assert max(scores) / min(scores) <= 1.03, scores  # measured up to 1.024 (lapv at 10 000)
    # Against a full decode, a score moves by up to 4.1 % here (lapv of the
    # 0.75 MP capture at 30 000 working pixels, halved), no more than the
    # full decodes differ from one another at that size.
    for path, score in zip(capture_jpegs, scores, strict=True):
        full = blur_score(read_image_checked(path).array, method, working_size=working_size)
        assert score == pytest.approx(full, rel=0.05)


def test_size_is_reported_after_orientation_even_when_reduced(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    path.write_bytes(with_exif_orientation(photo(400, 600), "JPEG", 6))
    result = score_file(path, working_size=1_000)
    assert (result.width, result.height) == (400, 600)
    loaded = read_image_checked(path, reduce_to=2_500)
    assert loaded.reduction == 8
    assert result.score == blur_score(loaded.array, working_size=1_000)


def test_a_bad_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    with pytest.raises(ImageReadError, match=r"notes\.jpg"):
        score_file(path)


def test_the_result_is_small_and_picklable(samples_dir: Path) -> None:
    result = score_file(samples_dir / "camera.png")
    assert pickle.loads(pickle.dumps(result)) == result
    assert len(pickle.dumps(result)) < 200
