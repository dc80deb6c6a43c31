"""Kernel builders: OpenCV agreement, invariants and option checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgegrad.kernels import (
    derivative_factors,
    derivative_kernels,
    directional_kernel,
    laplacian_kernel,
    ramp_gain,
    steering_weights,
)

SOBEL_SIZES = (1, 3, 5, 7)
KINDS = [("sobel", k) for k in SOBEL_SIZES] + [("scharr", 3), ("gaussian", None)]


@pytest.mark.parametrize("ksize", SOBEL_SIZES)
def test_sobel_kernels_are_opencvs(ksize: int) -> None:
    kx, ky_up = derivative_kernels("sobel", ksize)
    d, s = cv2.getDerivKernels(1, 0, ksize, normalize=False, ktype=cv2.CV_64F)
    expected_x = np.outer(s, d)
    pad = (kx.shape[0] - expected_x.shape[0]) // 2
    np.testing.assert_array_equal(kx[pad : kx.shape[0] - pad], expected_x)
    np.testing.assert_array_equal(ky_up, -kx.T)


def test_scharr_kernel_by_hand() -> None:
    kx, ky_up = derivative_kernels("scharr")
    np.testing.assert_array_equal(kx, [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])
    np.testing.assert_array_equal(ky_up, [[3, 10, 3], [0, 0, 0], [-3, -10, -3]])


@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_derivative_kernel_invariants(kind: str, ksize: int | None) -> None:
    kx, ky_up = derivative_kernels(kind, ksize)  # type: ignore[arg-type]
    assert kx.dtype == np.float32
    assert kx.shape == ky_up.shape
    assert kx.shape[0] == kx.shape[1]
    assert kx.shape[0] % 2 == 1
    assert float(kx.sum()) == pytest.approx(0.0, abs=1e-6)
    assert float(ky_up.sum()) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(kx[:, ::-1], -kx, atol=1e-7)
    np.testing.assert_allclose(ky_up, -kx.T, atol=1e-7)
    assert ramp_gain(kx) > 0
    assert ramp_gain(kx, 90) == pytest.approx(0.0, abs=1e-6)
    assert ramp_gain(ky_up, 90) == pytest.approx(ramp_gain(kx), rel=1e-6)


@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_normalized_kernels_have_unit_ramp_gain(kind: str, ksize: int | None) -> None:
    kx, ky_up = derivative_kernels(kind, ksize, normalize=True, dtype=np.float64)  # type: ignore[arg-type]
    assert ramp_gain(kx) == pytest.approx(1.0, rel=1e-12)
    assert ramp_gain(ky_up, 90) == pytest.approx(1.0, rel=1e-12)


def test_ramp_gains_by_hand() -> None:
    assert ramp_gain(derivative_kernels("sobel", 1)[0]) == 2.0
    assert ramp_gain(derivative_kernels("sobel", 3)[0]) == 8.0
    assert (
        ramp_gain(derivative_kernels("sobel", 5)[0]) == 16.0 * 8.0
    )  # smoothing sum 16, derivative [-1,-2,0,2,1] gain 8
    assert (
        ramp_gain(derivative_kernels("sobel", 7)[0]) == 64.0 * 32.0
    )  # smoothing sum 64, derivative gain 3+8+5+5+8+3
    assert ramp_gain(derivative_kernels("scharr")[0]) == 32.0
    assert ramp_gain(derivative_kernels("gaussian", sigma=2.0)[0]) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_gaussian_factors(sigma: float) -> None:
    d, s = derivative_factors("gaussian", sigma=sigma)
    assert d.size == s.size == 2 * max(1, round(4 * sigma)) + 1
    assert s.sum() == pytest.approx(1.0)
    x = np.arange(d.size) - d.size // 2
    assert float(np.dot(d, x)) == pytest.approx(1.0)
    np.testing.assert_allclose(d, -d[::-1])
    assert derivative_factors("gaussian", 7, sigma=sigma)[0].size == 7


@pytest.mark.parametrize("angle", [0, 30, 45, 90, 135, 200, -60, 400])
@pytest.mark.parametrize(("kind", "ksize"), KINDS)
def test_steered_kernel_is_cos_kx_plus_sin_ky(kind: str, ksize: int | None, angle: float) -> None:
    kx, ky_up = derivative_kernels(kind, ksize, dtype=np.float64)  # type: ignore[arg-type]
    steered = directional_kernel(angle, kind=kind, ksize=ksize, dtype=np.float64)  # type: ignore[arg-type]
    theta = np.radians(angle)
    np.testing.assert_allclose(steered, np.cos(theta) * kx + np.sin(theta) * ky_up, atol=1e-12)
    assert float(steered.sum()) == pytest.approx(0.0, abs=1e-9)
    gain = ramp_gain(kx)
    assert ramp_gain(steered, angle) == pytest.approx(gain, rel=1e-9)
    assert ramp_gain(steered, angle + 90) == pytest.approx(0.0, abs=1e-9 * gain)


def test_steering_is_exact_on_axes() -> None:
    assert steering_weights(0) == (1.0, 0.0)
    assert steering_weights(90) == (0.0, 1.0)
    assert steering_weights(-270) == (0.0, 1.0)
    assert steering_weights(180.0) == (-1.0, 0.0)
    assert steering_weights(630) == (0.0, -1.0)
    np.testing.assert_array_equal(directional_kernel(90), derivative_kernels()[1])
    np.testing.assert_array_equal(directional_kernel(180), -derivative_kernels()[0])


@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
def test_laplacian_kernel_matches_opencv(ksize: int) -> None:
    kernel = laplacian_kernel(ksize)
    assert float(kernel.sum()) == 0.0
    impulse = np.zeros((15, 15), np.float32)
    impulse[7, 7] = 1.0
    response = cv2.Laplacian(impulse, cv2.CV_32F, ksize=ksize, borderType=cv2.BORDER_CONSTANT)
    r = kernel.shape[0] // 2
    # Correlation of an impulse gives the kernel flipped; the Laplacian is symmetric.
    np.testing.assert_array_equal(response[7 - r : 8 + r, 7 - r : 8 + r], kernel[::-1, ::-1])


@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
def test_normalized_laplacian_answers_two_on_a_paraboloid(ksize: int) -> None:
    kernel = laplacian_kernel(ksize, normalize=True, dtype=np.float64)
    r = kernel.shape[0] // 2
    rows, cols = np.mgrid[-r : r + 1, -r : r + 1]
    assert float(np.sum(kernel * (cols**2 + rows**2) / 2.0)) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: derivative_kernels("prewitt"), ValueError, "kind must be one of"),  # type: ignore[arg-type]
        (lambda: derivative_kernels("sobel", 9), ValueError, "ksize must be one of"),
        (lambda: derivative_kernels("scharr", 5), ValueError, "ksize must be one of"),
        (lambda: derivative_kernels("gaussian", 4), ValueError, "ksize must be an odd"),
        (lambda: derivative_kernels("gaussian", sigma=0), ValueError, "sigma"),
        (lambda: derivative_kernels("gaussian", sigma=float("nan")), ValueError, "sigma"),
        (lambda: directional_kernel(float("inf")), ValueError, "angle must be finite"),
        (lambda: directional_kernel("45"), TypeError, "angle must be a real number"),  # type: ignore[arg-type]
        (lambda: derivative_kernels("sobel", sigma="1"), TypeError, "sigma must be a real"),  # type: ignore[arg-type]
        (lambda: derivative_kernels("sobel", 3.0), TypeError, "ksize must be an integer"),  # type: ignore[arg-type]
        (lambda: laplacian_kernel(2), ValueError, "ksize must be one of"),
        (lambda: laplacian_kernel(normalize="yes"), TypeError, "normalize must be True or"),  # type: ignore[arg-type]
        (lambda: ramp_gain(np.ones((2, 2))), ValueError, "kernel must be 2-D"),
    ],
)
def test_bad_options_name_the_parameter(call: object, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=words):
        call()  # type: ignore[operator]
