"""Tests for edgegrad.edges: Canny edge maps, their steps and orientation bands, and the CLI.

References are cv2.Canny and skimage.feature.canny on the bundled photos, and
edge positions worked out by hand on synthetic steps, bars and squares.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun
from numpy.typing import NDArray
from scipy.special import ndtr
from skimage import feature

import edgegrad
from edgegrad.edges import canny, hysteresis, non_maximum_suppression, orientation_band

PHOTOS = ["camera.png", "brick.png", "coffee.png", "astronaut.jpg", "rocket.jpg"]
THRESHOLDS = [(20, 60), (50, 150), (100, 200)]


def _iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 1.0


def _coordinates(size: int, angle: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Signed distance along the unit vector at ``angle`` (y up) and across it, from the centre."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    theta = math.radians(angle)
    along = x * math.cos(theta) - y * math.sin(theta)
    across = x * math.sin(theta) + y * math.cos(theta)
    return along, across


def _step(size: int, angle: float, sigma: float, offset: float = 0.3) -> NDArray[np.uint8]:
    """A step rising along ``angle`` (its gradient points at ``angle``), blurred by ``sigma``."""
    along, _ = _coordinates(size, angle)
    return np.round(40 + 160 * ndtr((along - offset) / sigma)).astype(np.uint8)


# --- agreement with the references ---------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_equals_cv2_canny_on_uint8_photos(
    sample: Callable[..., NDArray[np.uint8]], name: str
) -> None:
    gray = sample(name, cv2.IMREAD_GRAYSCALE)
    for low, high in THRESHOLDS:
        reference = cv2.Canny(gray, low, high, L2gradient=True) > 0
        np.testing.assert_array_equal(canny(gray, low, high), reference)
        l1 = cv2.Canny(gray, low, high) > 0
        np.testing.assert_array_equal(canny(gray, low, high, l2=False), l1)
    wide = cv2.Canny(gray, 200, 600, apertureSize=5, L2gradient=True) > 0
    np.testing.assert_array_equal(canny(gray, 200, 600, ksize=5), wide)


def test_colour_uses_the_strongest_channel_as_cv2_does(
    sample: Callable[..., NDArray[np.uint8]],
) -> None:
    bgr = sample("coffee.png", cv2.IMREAD_COLOR)
    reference = cv2.Canny(bgr, 50, 150, L2gradient=True) > 0
    np.testing.assert_array_equal(canny(bgr, 50, 150), reference)
    bgra = np.dstack([bgr, np.zeros(bgr.shape[:2], np.uint8)])
    np.testing.assert_array_equal(canny(bgra, 50, 150), reference)


@pytest.mark.parametrize("name", PHOTOS)
def test_agrees_with_scikit_image_after_the_same_smoothing(
    sample: Callable[..., NDArray[np.uint8]], name: str
) -> None:
    # scikit-image interpolates between neighbours in its suppression where
    # OpenCV (and edgegrad) use four sectors; measured IoU 0.81-0.97 here.
    gray = sample(name, cv2.IMREAD_GRAYSCALE)
    for low, high in THRESHOLDS:
        theirs = feature.canny(
            gray, sigma=1.0, low_threshold=low, high_threshold=high, mode="nearest"
        )
        assert _iou(canny(gray, low, high, sigma=1.0), theirs) >= 0.80, (name, low, high)


@pytest.mark.parametrize("name", PHOTOS)
def test_every_bit_depth_gives_the_same_map(
    sample: Callable[..., NDArray[np.uint8]], name: str
) -> None:
    gray = sample(name, cv2.IMREAD_GRAYSCALE)
    versions = [
        gray.astype(np.uint16) * np.uint16(257),
        (gray / 255.0).astype(np.float32),
        gray / 255.0,
    ]
    for low, high in THRESHOLDS:
        reference = canny(gray, low, high)
        for version in versions:
            np.testing.assert_array_equal(canny(version, low, high), reference)
        # Smoothing makes the arithmetic inexact; ties within rounding are ties.
        smoothed = canny(gray, low, high, sigma=1.5)
        for version in versions:
            assert _iou(canny(version, low, high, sigma=1.5), smoothed) >= 0.999


def test_quantile_thresholds_are_quantiles_of_the_magnitude(
    sample: Callable[..., NDArray[np.uint8]],
) -> None:
    gray = sample("camera.png", cv2.IMREAD_GRAYSCALE)
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, borderType=cv2.BORDER_REPLICATE)
    low, high = np.quantile(np.hypot(gx, gy), [0.8, 0.95])
    expected = canny(gray, float(low), float(high))
    np.testing.assert_array_equal(canny(gray, 0.8, 0.95, use_quantiles=True), expected)
    depth16 = gray.astype(np.uint16) * np.uint16(257)
    np.testing.assert_array_equal(canny(depth16, 0.8, 0.95, use_quantiles=True), expected)


# --- known answers ------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0, 10, 30, 45, 60, 90, 120, 135, 170, 200, 290])
@pytest.mark.parametrize("sigma", [0.7, 1.5, 3.0])
def test_a_step_gives_one_line_on_the_edge(angle: float, sigma: float) -> None:
    size = 96
    image = _step(size, angle, sigma)
    edges = canny(image, 2, 8, kernel="gaussian", sigma=1.0)
    along, across = _coordinates(size, angle)
    interior = (np.abs(across) < size / 2 - 8) & (np.abs(along) < size / 2 - 8)
    found = edges & interior
    # Every edge pixel lies within a pixel of the true edge (at along = 0.3) ...
    assert np.abs(along[found] - 0.3).max() <= 1.0
    # ... and the edge is one connected line, one maximum per line of its
    # suppression sector: one per row or column in the x and y sectors, one
    # per diagonal (twice as many per row at 45°) in the diagonal sectors.
    count, _ = cv2.connectedComponents(found.view(np.uint8), connectivity=8)
    assert count == 2
    theta = math.radians(angle)
    length = float(np.ptp(across[found]))
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    diagonal = math.tan(math.radians(22.5)) <= min(c, s) / max(c, s)
    crossings = length * ((c + s) if diagonal else max(c, s))
    assert found.sum() == pytest.approx(crossings + 1, abs=2)
    # Nothing but the edge.
    assert not (edges & interior & (np.abs(along) > 2)).any()


def test_a_bar_gives_two_parallel_edges_and_a_square_its_four_sides() -> None:
    along, across = _coordinates(80, 30)
    bar = np.round(40 + 160 * ndtr((6.5 - np.abs(along)) / 1.0)).astype(np.uint8)
    edges = canny(bar, 10, 40)
    inside = np.abs(across) < 30
    sides = np.round(np.abs(along[edges & inside]))
    assert set(np.unique(sides).tolist()) <= {6.0, 7.0}
    assert (along[edges & inside] > 0).sum() == pytest.approx(
        (along[edges & inside] < 0).sum(), rel=0.1
    )

    square = np.zeros((40, 40), np.uint8)
    square[10:30, 10:30] = 200
    edges = canny(square, 100, 200)
    ys, xs = np.nonzero(edges)
    # Sobel's response is largest on the dark side's last pixel or the bright
    # side's first: the map keeps one of the two on every side, and reaches the corners.
    assert set(ys.tolist()) <= set(range(9, 31))
    assert set(xs.tolist()) <= set(range(9, 31))
    for line in (ys, xs):
        assert np.isin(line, [9, 10]).sum() >= 18
        assert np.isin(line, [29, 30]).sum() >= 18
    assert edges[9:12, 9:12].any()
    assert edges[28:31, 28:31].any()
    count, _ = cv2.connectedComponents(edges.view(np.uint8), connectivity=8)
    assert count == 2


def test_flat_and_tiny_images_have_no_edges() -> None:
    assert not canny(np.full((20, 30), 77, np.uint8), 1, 2).any()
    assert not canny(np.full((1, 1), 0.5), 0, 0).any()
    assert canny(np.eye(3, dtype=np.uint8) * 255, 10, 20).shape == (3, 3)


def test_hysteresis_keeps_weak_pixels_joined_to_strong_ones() -> None:
    image = np.zeros((40, 60), np.uint8)
    image[:20, 20:] = 200  # a strong edge (Sobel magnitude 800) ...
    image[20:, 20:] = 60  # ... continued by a weak one (240) ...
    image[:, 45:] = 0
    image[:, 50:] = 60  # ... and a weak edge on its own
    edges = canny(image, 100, 500)
    assert edges[2:18, 19].all()
    assert edges[22:38, 19].all()  # the weak part, joined to the strong one, stays
    assert not edges[:, 49].any()  # the weak edge alone goes
    assert edges[:, 44].all()  # the falling side, strong above and joined below


def test_the_steps_on_their_own() -> None:
    weak = np.array([[1, 1, 0, 1], [0, 1, 0, 1]], bool)
    strong = np.array([[0, 0, 0, 0], [0, 1, 0, 0]], bool)
    assert hysteresis(weak, strong).tolist() == [
        [True, True, False, False],
        [False, True, False, False],
    ]
    step = np.zeros((5, 8), np.float32)
    step[:, 4:] = 1.0
    gx, gy_up = edgegrad.gradient(step, border="replicate")
    maxima = non_maximum_suppression(gx, gy_up)
    assert maxima[:, 3].all()
    assert maxima.sum() == 5
    with pytest.raises(TypeError, match="bool"):
        hysteresis(weak.astype(np.uint8), strong)
    with pytest.raises(ValueError, match="one shape"):
        non_maximum_suppression(gx, gy_up[:, :4])


# --- orientation bands -----------------------------------------------------------------


def _diagonal_line(size: int = 64) -> NDArray[np.uint8]:
    """A bright line running down to the right on screen, 5 pixels wide."""
    rows, cols = np.mgrid[0:size, 0:size]
    return np.where(np.abs(rows - cols) <= 2, 200, 20).astype(np.uint8)


def test_a_line_running_down_to_the_right_is_selected_at_45_degrees() -> None:
    line = _diagonal_line()
    full = canny(line, 50, 150)
    assert full.sum() > 100
    inner = (slice(4, -4), slice(4, -4))  # away from the corners, where the line is cut
    banded = canny(line, 50, 150, angle=45, tolerance=10)
    np.testing.assert_array_equal(banded[inner], full[inner])
    np.testing.assert_array_equal(canny(line, 50, 150, angle=225, tolerance=10), banded)
    assert not canny(line, 50, 150, angle=135, tolerance=10)[inner].any()
    assert not canny(line, 50, 150, angle=0, tolerance=30)[inner].any()


def test_a_directed_band_tells_the_two_sides_apart() -> None:
    image = _step(64, 45, 1.0)  # brighter towards the upper right: gradients at 45°
    inner = (slice(4, -4), slice(4, -4))  # the image's corners cut the edge
    full = canny(image, 5, 20)[inner]
    assert full.sum() > 40
    towards = canny(image, 5, 20, angle=45, tolerance=5, directed=True)[inner]
    np.testing.assert_array_equal(towards, full)
    assert not canny(image, 5, 20, angle=225, tolerance=5, directed=True)[inner].any()
    np.testing.assert_array_equal(canny(image, 5, 20, angle=225, tolerance=5)[inner], full)


def test_the_band_is_the_map_masked_by_the_orientation_of_its_gradient(
    sample: Callable[..., NDArray[np.uint8]],
) -> None:
    gray = sample("camera.png", cv2.IMREAD_GRAYSCALE)
    full = canny(gray, 50, 150)
    degrees = edgegrad.orientation(gray)  # same Sobel; borders differ (replicate)
    for angle, tolerance, directed in [(0, 20, False), (100, 30, False), (300, 45, True)]:
        band = canny(gray, 50, 150, angle=angle, tolerance=tolerance, directed=directed)
        expected = full & orientation_band(degrees, angle, tolerance, directed=directed)
        np.testing.assert_array_equal(band[1:-1, 1:-1], expected[1:-1, 1:-1])
        assert band.sum() < full.sum()
    default = canny(gray, 50, 150, angle=0)
    np.testing.assert_array_equal(default, canny(gray, 50, 150, angle=0, tolerance=22.5))


def test_orientation_band_by_hand() -> None:
    degrees = np.array([0.0, 10.0, 11.0, 170.0, 190.0, 350.0, 359.9])
    assert orientation_band(degrees, 0, 10).tolist() == [True, True, False, True, True, True, True]
    assert orientation_band(degrees, 360, 10, directed=True).tolist() == [
        True,
        True,
        False,
        False,
        False,
        True,
        True,
    ]
    assert orientation_band(degrees, -180, 90).all()


# --- argument checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"low": 200, "high": 100}, ValueError, "low must be at most high"),
        ({"low": -1, "high": 100}, ValueError, "low and high must be >= 0"),
        ({"low": "1", "high": 100}, TypeError, "low must be a real number"),
        ({"low": 0.1, "high": 2, "use_quantiles": True}, ValueError, "high must be a quantile"),
        ({"low": 1, "high": 2, "tolerance": 10}, ValueError, "give angle too"),
        (
            {"low": 1, "high": 2, "angle": 0, "tolerance": 100},
            ValueError,
            "tolerance must be from 0 to 90",
        ),
        ({"low": 1, "high": 2, "angle": float("nan")}, ValueError, "angle must be finite"),
        ({"low": 1, "high": 2, "kernel": "prewitt"}, ValueError, "kernel must be one of"),
        ({"low": 1, "high": 2, "ksize": 4}, ValueError, "ksize must be one of"),
        ({"low": 1, "high": 2, "sigma": 0}, ValueError, "sigma must be a number > 0"),
        ({"low": 1, "high": 2, "l2": 1}, TypeError, "l2 must be True or False"),
    ],
)
def test_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        canny(np.zeros((8, 8), np.uint8), **kwargs)


def test_bad_images_are_refused_naming_image() -> None:
    with pytest.raises(TypeError, match="image dtype must be one of"):
        canny(np.zeros((8, 8), np.int32), 1, 2)
    with pytest.raises(ValueError, match="image contains NaN"):
        canny(np.full((8, 8), np.nan), 1, 2)


def test_non_contiguous_input_maps_as_its_copy(sample: Callable[..., NDArray[np.uint8]]) -> None:
    gray = sample("camera.png", cv2.IMREAD_GRAYSCALE)
    view = gray[::2, 1::3]
    np.testing.assert_array_equal(canny(view, 50, 150), canny(view.copy(), 50, 150))
    assert canny(view, 50, 150).dtype == np.bool_


# --- command line ------------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path: Path, sample: Callable[..., NDArray[np.uint8]]) -> Path:
    path = tmp_path / "camera.png"
    cv2.imwrite(str(path), sample("camera.png", cv2.IMREAD_GRAYSCALE))
    return path


def test_cli_writes_the_map_as_0_255_beside_the_input(cli: CliRun, photo: Path) -> None:
    result = cli("canny", photo, "--low", "50", "--high", "150")
    assert result.exit_code == 0, result.stderr
    written = photo.with_name("camera.canny-l50-h150.png")
    pixels = cv2.imread(str(written), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(pixels).tolist()) == {0, 255}
    gray = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(pixels == 255, canny(gray, 50, 150))
    # A rerun skips the existing output; the folder walk does not take it for an input.
    again = cli("canny", photo.parent, "--low", "50", "--high", "150")
    assert again.exit_code == 0
    assert "0 written, 0 failed, 1 skipped" in again.stderr


def test_cli_options_reach_the_library_and_the_name(
    cli: CliRun, photo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "maps"
    args = ["--low", "0.8", "--high", "0.95", "--quantiles", "--angle", "45", "--tolerance", "15"]
    result = cli("canny", photo, *args, "--kernel", "gaussian", "--sigma", "2", "-o", out)
    assert result.exit_code == 0, result.stderr
    written = out / "camera.canny-l0.8-h0.95-a45-s2-t15-q-gaussian.png"
    gray = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    expected = canny(
        gray, 0.8, 0.95, use_quantiles=True, angle=45, tolerance=15, kernel="gaussian", sigma=2
    )
    np.testing.assert_array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED) == 255, expected)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--low", "200", "--high", "100"], "low must be at most high"),
        (["--low", "1", "--high", "2", "--tolerance", "5"], "give --angle too"),
        (["--low", "1", "--high", "2", "--directed"], "give --angle too"),
        (["--low", "1", "--high", "2", "--angle", "0", "--tolerance", "120"], "from 0 to 90"),
        (["--low", "nan", "--high", "2"], "finite"),
        (["--high", "2"], "Missing option '--low'"),
    ],
)
def test_cli_usage_errors_exit_2(cli: CliRun, photo: Path, args: list[str], words: str) -> None:
    result = cli("canny", photo, *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert not list(photo.parent.glob("*.canny*"))
