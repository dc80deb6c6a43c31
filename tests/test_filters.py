"""Filters checked against answers worked out by hand, OpenCV, SciPy and scikit-image."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import scipy.ndimage as ndi
import skimage.filters

import edgegrad
from edgegrad import directional, gradient, laplacian, orientation, scharr, sobel, to_uint8

KINDS = [("sobel", k) for k in (1, 3, 5, 7)] + [("scharr", 3), ("gaussian", None)]
ANGLES = [0, 30, 45, 90, 135, 180, 250, -60, -135, 400, 725.5]
BORDERS = {
    "reflect101": cv2.BORDER_REFLECT_101,
    "reflect": cv2.BORDER_REFLECT,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}


def random_image(dtype: Any, shape: tuple[int, ...] = (40, 50), seed: int = 0) -> npt.NDArray[Any]:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    return rng.random(shape).astype(dtype)


def ramp(a: float, b: float, shape: tuple[int, int] = (41, 41)) -> npt.NDArray[np.float64]:
    """``I = a·x + b·y_up`` with ``y_up = -row``."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return a * cols - b * rows


def interior(a: npt.NDArray[Any], margin: int = 10) -> npt.NDArray[Any]:
    return a[margin:-margin, margin:-margin]


# --- ramps: exact answers worked out by hand ---------------------------------------------


@pytest.mark.parametrize("angle", ANGLES)
@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_ramp_gives_directional_derivative(kind: str, ksize: int | None, angle: float) -> None:
    a, b = 0.75, -1.25
    out = directional(ramp(a, b), angle, kernel=kind, ksize=ksize, normalize=True)  # type: ignore[arg-type]
    theta = np.radians(angle)
    expected = a * np.cos(theta) + b * np.sin(theta)
    np.testing.assert_allclose(interior(out), expected, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_integer_and_float32_ramps(dtype: Any) -> None:
    image = (ramp(2.0, 1.0) + 200.0).astype(dtype)
    out = directional(image, 30, normalize=True)
    assert out.dtype == np.float32
    # float32 arithmetic on values near 255: error ~ 255 · 2**-24 per tap.
    expected = 2 * np.cos(np.pi / 6) + np.sin(np.pi / 6)
    np.testing.assert_allclose(interior(out), expected, rtol=0, atol=2e-5)


def test_raw_scale_matches_opencv_weights() -> None:
    unit = ramp(1.0, 0.0).astype(np.float32)
    assert np.all(interior(sobel(unit, 0)) == 8.0)
    assert np.all(interior(sobel(unit, 0, ksize=1)) == 2.0)
    assert np.all(interior(scharr(unit, 0)) == 32.0)
    assert np.all(interior(sobel(unit)) == 8.0)


@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_flat_image_gives_zero(kind: str, ksize: int | None) -> None:
    flat = np.full((20, 30, 3), 77, np.uint8)
    integer_weights = kind != "gaussian"
    for angle in (0, 90, 180, 270):
        out = directional(flat, angle, kernel=kind, ksize=ksize)  # type: ignore[arg-type]
        if integer_weights:
            assert np.all(out == 0)
        else:
            assert np.abs(out).max() < 1e-5
    gx, gy_up = gradient(flat, kind=kind, ksize=ksize)  # type: ignore[arg-type]
    for g in (gx, gy_up):
        if integer_weights:
            assert np.all(g == 0)
        else:
            assert np.abs(g).max() < 1e-5
    assert np.all(laplacian(flat, ksize=5) == 0)
    # Off-axis weights are irrational: a flat image answers 0 up to float32 rounding
    # of the kernel's 1-norm times the intensity.
    tilted = directional(flat, 33, kernel=kind, ksize=ksize)  # type: ignore[arg-type]
    kernel = edgegrad.directional_kernel(33, kind=kind, ksize=ksize)  # type: ignore[arg-type]
    assert np.abs(tilted).max() <= 4 * 2.0**-24 * 77 * np.abs(kernel).sum()


# --- step edges: sign kept, nothing saturated ----------------------------------------------


def step(dtype: Any, high: int, falling: bool = False) -> npt.NDArray[Any]:
    image = np.zeros((15, 20), dtype)
    image[:, 10:] = high
    return image[:, ::-1].copy() if falling else image


def test_falling_uint8_edge_keeps_its_sign() -> None:
    out = sobel(step(np.uint8, 255, falling=True), 0)
    row = out[7]
    assert row.min() == -1020.0
    assert row.max() == 0.0
    np.testing.assert_array_equal(np.flatnonzero(row), [9, 10])
    assert np.all(sobel(step(np.uint8, 255, falling=True), 90) == 0)


@pytest.mark.parametrize(
    ("dtype", "high", "peak"),
    [(np.uint8, 255, 163200.0), (np.uint16, 65535, 640.0 * 65535)],
)
def test_ksize7_steps_reach_their_exact_peaks(dtype: Any, high: int, peak: float) -> None:
    rising = sobel(step(dtype, high), 0, ksize=7)
    falling = sobel(step(dtype, high, falling=True), 0, ksize=7)
    assert rising.dtype == np.float32
    assert rising.max() == peak
    assert falling.min() == -peak
    # The only values are the kernel's cumulative sums times ``high``: 64·(1, 5, 10) each side.
    expected = {0.0, 64.0 * high, 320.0 * high, peak}
    assert set(np.unique(rising[7]).tolist()) == expected
    # OpenCV's int16 output would overflow here; the float result agrees with CV_64F.
    reference = cv2.Sobel(step(dtype, high), cv2.CV_64F, 1, 0, ksize=7)
    np.testing.assert_array_equal(rising, reference.astype(np.float32))


def test_uint16_laplacian_ksize7_is_exact() -> None:
    image = random_image(np.uint16, seed=3)
    kernel = edgegrad.laplacian_kernel(7).astype(np.int64)
    exact = ndi.correlate(image.astype(np.int64), kernel, mode="mirror")
    ours = laplacian(image, ksize=7)
    np.testing.assert_array_equal(ours, exact.astype(np.float32))
    # cv2.Laplacian itself rounds here (it accumulates in float32): off by up to 1.
    np.testing.assert_allclose(ours, cv2.Laplacian(image, cv2.CV_64F, ksize=7), rtol=0, atol=1)


# --- agreement with OpenCV -------------------------------------------------------------


@pytest.mark.parametrize("border", list(BORDERS))
@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_axis_angles_equal_cv2_sobel(dtype: Any, ksize: int, border: str) -> None:
    image = random_image(dtype)
    depth = cv2.CV_64F if dtype in (np.uint16, np.float64) else cv2.CV_32F
    dx = cv2.Sobel(image, depth, 1, 0, ksize=ksize, borderType=BORDERS[border])
    dy = cv2.Sobel(image, depth, 0, 1, ksize=ksize, borderType=BORDERS[border])
    out_dtype = np.float64 if dtype == np.float64 else np.float32
    # Integer input is exact; float input differs only by summation order.
    eps = {np.float32: 1e-6, np.float64: 1e-14}.get(dtype, 0.0)
    tol = {"rtol": 0, "atol": eps * float(np.abs(dx).max())}
    at0 = sobel(image, 0, ksize=ksize, border=border)  # type: ignore[arg-type]
    at90 = sobel(image, 90, ksize=ksize, border=border)  # type: ignore[arg-type]
    gx, gy_up = gradient(image, ksize=ksize, border=border)  # type: ignore[arg-type]
    for ours, theirs in ((at0, dx), (at90, -dy), (gx, dx), (gy_up, -dy)):
        assert ours.dtype == out_dtype
        np.testing.assert_allclose(ours, theirs.astype(out_dtype), **tol)


def test_scharr_equals_cv2_scharr() -> None:
    image = random_image(np.uint8)
    np.testing.assert_array_equal(scharr(image, 0), cv2.Scharr(image, cv2.CV_32F, 1, 0))
    np.testing.assert_array_equal(scharr(image, 90), -cv2.Scharr(image, cv2.CV_32F, 0, 1))
    magnitude = np.hypot(cv2.Scharr(image, cv2.CV_64F, 1, 0), cv2.Scharr(image, cv2.CV_64F, 0, 1))
    np.testing.assert_allclose(scharr(image), magnitude, rtol=1e-6)


@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_laplacian_equals_cv2_laplacian(dtype: Any, ksize: int) -> None:
    image = random_image(dtype, seed=ksize)
    ours = laplacian(image, ksize=ksize)
    theirs = cv2.Laplacian(image, cv2.CV_64F, ksize=ksize)
    assert ours.min() < 0 < ours.max()
    if dtype == np.float64:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-14 * np.abs(theirs).max())
    elif dtype == np.uint16 and ksize == 7:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1)  # see the exact test above
    else:
        np.testing.assert_array_equal(ours, theirs.astype(np.float32))


def test_sobel_magnitude_equals_hypot_of_cv2_sobel() -> None:
    image = random_image(np.uint8, (30, 31, 3))
    gx = cv2.Sobel(image, cv2.CV_64F, 1, 0, ksize=5)
    gy = cv2.Sobel(image, cv2.CV_64F, 0, 1, ksize=5)
    np.testing.assert_allclose(sobel(image, ksize=5), np.hypot(gx, gy), rtol=1e-6)


# --- steering, orientation, rotated edges ----------------------------------------------


@pytest.mark.parametrize("angle", [17, 45, 120, 200, -30, 390])
@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_steering_identity(kind: str, ksize: int | None, angle: float) -> None:
    image = random_image(np.float64, seed=5)
    d0 = directional(image, 0, kernel=kind, ksize=ksize)  # type: ignore[arg-type]
    d90 = directional(image, 90, kernel=kind, ksize=ksize)  # type: ignore[arg-type]
    theta = np.radians(angle)
    expected = np.cos(theta) * d0 + np.sin(theta) * d90
    out = directional(image, angle, kernel=kind, ksize=ksize)  # type: ignore[arg-type]
    np.testing.assert_allclose(out, expected, atol=1e-12 * np.abs(d0).max())


def test_directional_is_one_filter2d_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[npt.NDArray[Any]] = []
    real = cv2.filter2D

    def counting(src: Any, ddepth: int, kernel: Any, **kw: Any) -> Any:
        calls.append(kernel)
        return real(src, ddepth, kernel, **kw)

    monkeypatch.setattr(cv2, "filter2D", counting)
    directional(random_image(np.uint8), 33.0)
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], edgegrad.directional_kernel(33.0))


def test_orientation_points_where_the_response_is_largest() -> None:
    rows, cols = np.mgrid[0:48, 0:48].astype(np.float64)
    image = np.sin(cols / 5.0) * np.cos(rows / 7.0) * 100 + 0.02 * (cols - rows) ** 2
    theta = orientation(image)
    magnitude = sobel(image)
    rng = np.random.default_rng(1)
    for r, c in rng.integers(5, 43, size=(12, 2)):
        at_orientation = directional(image, float(theta[r, c]))[r, c]
        assert at_orientation == pytest.approx(magnitude[r, c], rel=1e-9, abs=1e-9)
        assert directional(image, float(theta[r, c]) + 90)[r, c] == pytest.approx(0.0, abs=1e-6)
    assert theta.min() >= 0.0
    assert theta.max() < 360.0


@pytest.mark.parametrize("phi", [0.0, 20.0, 45.0, 110.0, 160.0, 250.0, 330.0])
def test_rotated_edge(phi: float) -> None:
    """An anti-aliased edge rotated by ``phi`` rises along ``phi``."""
    n, supersample = 65, 8
    fine = (np.arange(n * supersample) + 0.5) / supersample - n / 2
    y_up, x = -fine[:, None], fine[None, :]
    t = np.radians(phi)
    bright = (x * np.cos(t) + y_up * np.sin(t) > 0).astype(np.float64)
    image = bright.reshape(n, supersample, n, supersample).mean(axis=(1, 3)) * 200.0
    c = n // 2
    theta = orientation(image, kind="gaussian", sigma=2.0)
    delta = (theta[c, c] - phi + 180.0) % 360.0 - 180.0
    assert abs(delta) < 1.0
    along = directional(image, phi, kernel="gaussian", sigma=2.0, normalize=True)
    across = directional(image, phi + 90, kernel="gaussian", sigma=2.0, normalize=True)
    against = directional(image, phi + 180, kernel="gaussian", sigma=2.0, normalize=True)
    assert along[c, c] > 0.9 * along.max()
    assert abs(across[c, c]) < 0.02 * along[c, c]
    np.testing.assert_allclose(against, -along, atol=1e-9)
    centres = np.arange(n) - n // 2
    distance = centres[None, :] * np.cos(t) - centres[:, None] * np.sin(t)
    far = np.abs(distance) > 12
    far[:10], far[-10:], far[:, :10], far[:, -10:] = False, False, False, False
    assert far.sum() > 100
    assert np.abs(along[far]).max() < 1e-3 * along[c, c]


# --- independent references --------------------------------------------------------------


def test_interior_agrees_with_scipy_ndimage_sobel() -> None:
    image = random_image(np.float64, (60, 70), seed=7)
    gx, gy_up = gradient(image)
    np.testing.assert_allclose(interior(gx, 1), interior(ndi.sobel(image, axis=1), 1), atol=1e-12)
    np.testing.assert_allclose(
        interior(gy_up, 1), interior(-ndi.sobel(image, axis=0), 1), atol=1e-12
    )


def test_interior_agrees_with_scikit_image() -> None:
    image = random_image(np.float64, (60, 70), seed=8)
    # scikit-image's kernels are ours divided by their absolute sum (4 for Sobel,
    # 16 for Scharr); its "h" kernel points down and its magnitude is divided by √2.
    np.testing.assert_allclose(
        interior(sobel(image, 0), 1), interior(4 * skimage.filters.sobel_v(image), 1), atol=1e-12
    )
    np.testing.assert_allclose(
        interior(sobel(image, 90), 1), interior(-4 * skimage.filters.sobel_h(image), 1), atol=1e-12
    )
    np.testing.assert_allclose(
        interior(scharr(image, 0), 1), interior(16 * skimage.filters.scharr_v(image), 1), atol=1e-12
    )
    np.testing.assert_allclose(
        interior(sobel(image), 1),
        interior(4 * np.sqrt(2) * skimage.filters.sobel(image), 1),
        atol=1e-12,
    )


# --- borders ----------------------------------------------------------------------------


def test_constant_border_uses_cval() -> None:
    flat = np.full((10, 12), 40, np.uint8)
    assert np.all(sobel(flat, 0, border="constant", cval=40) == 0)
    edge = sobel(flat, 0, border="constant", cval=0)
    assert edge[5, 0] == 4 * 40
    assert edge[5, -1] == -4 * 40
    assert np.all(edge[:, 1:-1] == 0)
    raised = sobel(flat, 0, border="constant", cval=100)
    assert raised[5, 0] == -4 * 60
    # cval need not fit the input's dtype: it is padded in floating point.
    assert sobel(flat, 0, border="constant", cval=300)[5, 0] == -4 * 260
    assert sobel(flat, 0, border="constant", cval=-5)[5, 0] == 4 * 45
    assert sobel(flat, 0, border="constant", cval=0.5)[5, 0] == 4 * 39.5


@pytest.mark.parametrize("border", ["reflect101", "reflect", "replicate"])
def test_other_borders_keep_a_flat_image_flat(border: str) -> None:
    flat = np.full((9, 9), 3.0)
    out = directional(flat, 12, border=border)  # type: ignore[arg-type]
    # The steered weights sum to about 2e-16, not 0; OpenCV's order of adding differs.
    assert np.abs(out).max() <= 1e-12


# --- the input matrix --------------------------------------------------------------------


FILTERS: list[tuple[str, Callable[[npt.NDArray[Any]], npt.NDArray[Any]]]] = [
    ("sobel", lambda im: sobel(im)),
    ("sobel45", lambda im: sobel(im, 45)),
    ("scharr", lambda im: scharr(im, -30)),
    ("gaussian", lambda im: directional(im, 10, kernel="gaussian", sigma=1.5)),
    ("laplacian", lambda im: laplacian(im, ksize=3)),
    ("orientation", lambda im: orientation(im)),
]


@pytest.mark.parametrize("channels", [None, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize(("name", "apply"), FILTERS)
def test_dtype_channel_matrix(
    name: str, apply: Callable[[npt.NDArray[Any]], npt.NDArray[Any]], dtype: Any, channels: int
) -> None:
    shape = (24, 30) if channels is None else (24, 30, channels)
    image = random_image(dtype, shape, seed=11)
    out = apply(image)
    assert out.shape == image.shape
    assert out.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert np.isfinite(out).all()
    if channels is not None:
        # cv2.magnitude's SIMD and scalar paths may differ by one float32 ulp.
        eps = 1e-12 if dtype == np.float64 else 1e-6
        for ch in range(channels):
            single = apply(image[..., ch].copy())
            np.testing.assert_allclose(out[..., ch], single, atol=eps * np.abs(single).max())


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a[::2, ::3],
        lambda a: a.T,
        lambda a: a[::-1, ::-1],
        lambda a: a[5:30, 7:40],
    ],
)
def test_non_contiguous_views(view: Callable[[npt.NDArray[Any]], npt.NDArray[Any]]) -> None:
    base = random_image(np.uint8, (60, 80), seed=13)
    v = view(base)
    assert v.base is base
    for _, apply in FILTERS:
        expected = apply(np.ascontiguousarray(v))
        np.testing.assert_allclose(apply(v), expected, rtol=0, atol=1e-6 * np.abs(expected).max())


# --- display mapping ---------------------------------------------------------------------


def test_to_uint8_modes() -> None:
    response = sobel(step(np.uint8, 255, falling=True), 0)
    shown = to_uint8(response, "abs")
    assert shown.dtype == np.uint8
    assert shown.max() == 255
    signed = to_uint8(response, "signed")
    assert signed[7, 0] == 128
    assert signed[7, 10] == 1
    assert to_uint8(-response, "signed")[7, 10] == 255
    stretched = to_uint8(response, "normalize")
    assert stretched.min() == 0
    assert stretched.max() == 255
    assert stretched[7, 0] == 255
    np.testing.assert_array_equal(to_uint8(response, "abs", scale=0.1)[7, 10], 102)
    assert np.all(to_uint8(np.zeros((4, 4), np.float32), "signed") == 128)
    assert np.all(to_uint8(np.full((4, 4), 5.0), "normalize") == 0)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: sobel([[1, 2], [3, 4]]), TypeError, "image must be a numpy.ndarray"),  # type: ignore[arg-type]
        (lambda: sobel(np.zeros((4, 4), np.int32)), TypeError, "image dtype must be one of"),
        (lambda: sobel(np.zeros((4, 4), bool)), TypeError, "image dtype"),
        (lambda: sobel(np.zeros(4, np.uint8)), ValueError, "image must have shape"),
        (lambda: sobel(np.zeros((4, 4, 2), np.uint8)), ValueError, "image must have shape"),
        (lambda: sobel(np.zeros((0, 4), np.uint8)), ValueError, "image is empty"),
        (lambda: sobel(np.array([[np.nan, 1.0]])), ValueError, "image contains NaN"),
        (lambda: sobel(np.array([[np.inf, 1.0]])), ValueError, "image contains NaN"),
        (lambda: sobel(np.float32([[1, np.nan]])), ValueError, "image contains NaN"),
        (lambda: sobel(np.float32([[np.inf, -np.inf]])), ValueError, "image contains NaN"),
        (lambda: sobel(np.full((3, 3, 4), np.inf, np.float32)), ValueError, "contains NaN"),
        (lambda: sobel(np.zeros((4, 4)), ksize=4), ValueError, "ksize must be one of"),
        (lambda: sobel(np.zeros((4, 4)), border="wrap"), ValueError, "border must be one of"),  # type: ignore[arg-type]
        (lambda: sobel(np.zeros((4, 4)), float("nan")), ValueError, "angle must be finite"),
        (lambda: sobel(np.zeros((4, 4)), border="constant", cval=np.nan), ValueError, "cval"),
        (lambda: directional(np.zeros((4, 4)), 0, kernel="roberts"), ValueError, "kernel must be"),  # type: ignore[arg-type]
        (
            lambda: directional(np.zeros((4, 4)), 0, kernel="gaussian", sigma=-1),
            ValueError,
            "sigma",
        ),
        (lambda: gradient(np.zeros((4, 4)), kind="box"), ValueError, "kind must be one of"),  # type: ignore[arg-type]
        (lambda: laplacian(np.zeros((4, 4)), ksize=9), ValueError, "ksize must be one of"),
        (lambda: to_uint8(np.zeros((4, 4)), "clip"), ValueError, "mode must be one of"),  # type: ignore[arg-type]
        (lambda: to_uint8(np.zeros((4, 4)), "normalize", scale=2), ValueError, "scale"),
        (lambda: to_uint8(np.zeros((4, 4)), "abs", scale=np.inf), ValueError, "scale"),
        (lambda: to_uint8(np.zeros((4, 4), np.int64)), TypeError, "response dtype"),
    ],
)
def test_bad_input_names_the_parameter(call: object, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=words):
        call()  # type: ignore[operator]
