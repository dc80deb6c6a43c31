"""``edgegrad.focus.fit_peak``: peaks worked out by hand, scipy itself, and rendered sweeps."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from scipy.optimize import curve_fit
from sweeps import bump, gray, render_sweep

import edgegrad
from edgegrad.display import render_focus_curve
from edgegrad.focus import MIN_POINTS, MODELS, FocusPeak, fit_peak
from edgegrad.metrics import METHODS, blur_score

Z = np.arange(9.0)


def gaussian(z: Any, b: float, a: float, mu: float, w: float) -> Any:
    return b + a * np.exp(-0.5 * ((z - mu) / w) ** 2)


def lorentzian(z: Any, b: float, a: float, mu: float, w: float) -> Any:
    return b + a / (1 + ((z - mu) / w) ** 2)


def moffat(z: Any, b: float, a: float, mu: float, w: float, beta: float) -> Any:
    return b + a * (1 + ((z - mu) / w) ** 2) ** -beta


def blur_width(z: Any, mu: float) -> Any:
    """A blur width in pixels (lower is sharper): sqrt(1 + (1.2 (z - mu))²), a hyperbola."""
    return np.sqrt(1.0 + (1.2 * (np.asarray(z) - mu)) ** 2)


# --- answers worked out by hand ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "curve", "truth"),
    [
        ("gaussian", lambda z: gaussian(z, 10, 100, 4.4, 1.5), (10, 100, 4.4, 1.5)),
        ("lorentzian", lambda z: lorentzian(z, 5, 80, 3.7, 1.1), (5, 80, 3.7, 1.1)),
        ("moffat", lambda z: moffat(z, 5, 80, 4.25, 1.3, 2.0), (5, 80, 4.25, 1.3, 2.0)),
    ],
)
def test_each_model_recovers_its_own_curve(
    model: str, curve: Callable[[Any], Any], truth: tuple[float, ...]
) -> None:
    peak = fit_peak(Z, curve(Z), model=model)  # type: ignore[arg-type]
    assert peak.model == model
    assert peak.position == pytest.approx(truth[2], abs=1e-7)
    np.testing.assert_allclose(peak.parameters, truth, rtol=1e-6)
    assert peak.r2 == pytest.approx(1.0, abs=1e-12)
    assert peak.bracketed
    assert peak.stderr is not None
    assert peak.stderr < 1e-6
    np.testing.assert_allclose(peak.curve(Z), curve(Z), rtol=1e-8)


def test_log_parabola_is_the_vertex_of_the_parabola_through_log_scores() -> None:
    # log s = 2 - 0.5 (z - 2.3)²: the vertex is 2.3 exactly, whatever points are taken.
    z = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    scores = np.exp(2 - 0.5 * (z - 2.3) ** 2)
    peak = fit_peak(z, scores, model="log-parabola")
    assert peak.position == pytest.approx(2.3, abs=1e-12)
    # The sharpest capture (z = 2) and two positions each side of it.
    assert peak.used == (True, True, True, True, True, False)
    np.testing.assert_allclose(peak.parameters, [-0.5, 2.3, 2 - 0.5 * 2.3**2], rtol=1e-12)


def test_a_gaussian_fit_equals_scipy_on_the_same_problem() -> None:
    rng = np.random.default_rng(1)
    scores = gaussian(Z, 20, 300, 4.37, 1.4) * (1 + 0.01 * rng.standard_normal(Z.size))
    peak = fit_peak(Z, scores, model="gaussian")
    # The same weighted problem, posed to scipy directly: each point's error is
    # hypot(score, 5 % of the largest score).
    sigma = np.hypot(scores, 0.05 * scores.max())
    popt, _ = curve_fit(gaussian, Z, scores, p0=[20, 300, 4, 1], sigma=sigma)
    assert peak.position == pytest.approx(popt[2], abs=1e-6)
    np.testing.assert_allclose(peak.parameters, popt, rtol=1e-5)
    assert peak.position == pytest.approx(4.37, abs=0.02)


def test_lower_is_sharper_finds_the_bottom_of_the_v_curve() -> None:
    widths = blur_width(Z, 3.3)
    peak = fit_peak(Z, widths, higher_is_sharper=False, model="hyperbola")
    assert peak.position == pytest.approx(3.3, abs=1e-7)
    np.testing.assert_allclose(peak.curve(Z), widths, rtol=1e-8)
    auto = fit_peak(Z, widths, higher_is_sharper=False)
    assert auto.model == "hyperbola"
    assert auto.position == pytest.approx(3.3, abs=1e-7)
    assert auto.best == 3
    # The same widths read as "higher is sharper" have their sharpest capture at an end.
    wrong = fit_peak(Z, widths)
    assert not wrong.trusted
    assert not wrong.bracketed


def test_uneven_spacing_and_repeated_positions() -> None:
    z = np.array([-20.0, -11.0, -5.0, -2.0, 0.0, 0.0, 1.5, 4.0, 9.0, 17.0])
    scores = lorentzian(z, 3, 50, 0.8, 3.0)
    peak = fit_peak(z, scores)
    assert peak.position == pytest.approx(0.8, abs=1e-5)
    shuffled = np.random.default_rng(0).permutation(z.size)
    again = fit_peak(z[shuffled], scores[shuffled])
    assert again.position == pytest.approx(peak.position, abs=1e-9)


def test_one_bumped_capture_is_left_out() -> None:
    clean = gaussian(Z, 10, 100, 4.4, 1.5)
    bumped = clean.copy()
    bumped[3] *= 0.4  # below both neighbours, far below the curve
    peak = fit_peak(Z, bumped)
    assert peak.used == tuple(i != 3 for i in range(Z.size))
    assert peak.position == pytest.approx(4.4, abs=1e-6)
    # The sharpest capture is never taken for a bumped one.
    assert fit_peak(Z, clean).used == (True,) * Z.size


def test_a_sweep_that_stops_short_says_which_way_to_extend() -> None:
    rising = fit_peak(Z, gaussian(Z, 10, 100, 9.5, 2.0))
    assert (rising.position, rising.bracketed, rising.extend) == (None, False, "higher")
    assert rising.reason is not None
    assert "toward higher positions" in rising.reason
    falling = fit_peak(Z, gaussian(Z, 10, 100, -1.2, 2.0))
    assert (falling.position, falling.bracketed, falling.extend) == (None, False, "lower")
    assert falling.reason is not None
    assert "toward lower positions" in falling.reason
    # The sharpest capture inside, but the curve does not fall above it.
    plateau = gaussian(Z, 10, 100, 7.0, 1.0)
    plateau[8] = plateau[7] - 1e-9
    shoulder = fit_peak(Z, plateau)
    assert (shoulder.trusted, shoulder.extend) == (False, "higher")


def test_a_flat_curve_has_no_peak_and_no_direction() -> None:
    flat = 100 + np.random.default_rng(3).normal(0, 0.5, Z.size)
    peak = fit_peak(Z, flat)
    assert not peak.trusted
    assert peak.extend is None
    assert peak.reason is not None
    assert "the curve is flat" in peak.reason


def test_too_few_positions_are_not_trusted() -> None:
    z = np.arange(4.0)
    peak = fit_peak(z, gaussian(z, 1, 10, 1.6, 1.0))
    assert MIN_POINTS == 5
    assert not peak.trusted
    assert peak.reason is not None
    assert "too few positions" in peak.reason


def test_the_interval_uses_student_t_for_the_jackknife() -> None:
    rng = np.random.default_rng(5)
    peak = fit_peak(Z, gaussian(Z, 10, 100, 4.4, 1.5) * (1 + 0.02 * rng.standard_normal(9)))
    assert peak.position is not None
    assert peak.stderr is not None
    low, high = peak.interval() or (0.0, 0.0)
    # t(0.975, 8 degrees of freedom) = 2.306.
    assert (high - low) / 2 == pytest.approx(2.306 * peak.stderr, rel=1e-3)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        (("0123", [1.0, 2.0, 3.0]), {}, TypeError, "positions must be a sequence"),
        (([0, 1, 2], ["a", "b", "c"]), {}, TypeError, "scores must hold real numbers"),
        (([0, 1, 2], [1.0, 2.0]), {}, ValueError, "one value per capture"),
        (([0, 1], [1.0, 2.0]), {}, ValueError, "at least 3 points"),
        (([0, 1, np.nan], [1.0, 2.0, 3.0]), {}, ValueError, "positions contains NaN"),
        (([0, 1, 2], [1.0, 2.0, 3.0]), {"model": "spline"}, ValueError, "model must be one of"),
        (([0, 1, 2], [1.0, 2.0, 3.0]), {"higher_is_sharper": 1}, TypeError, "higher_is_sharper"),
    ],
)
def test_arguments_are_checked_at_entry(
    args: tuple[Any, Any], kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        fit_peak(*args, **kwargs)


def test_models_listed_and_exported_lazily() -> None:
    assert MODELS == ("auto", "gaussian", "lorentzian", "moffat", "hyperbola", "log-parabola")
    assert edgegrad.fit_peak is fit_peak
    assert edgegrad.FocusPeak is FocusPeak


# --- sweeps rendered from the sample photos ----------------------------------------


def _method(name: str) -> Any:
    return pytest.param(
        name,
        marks=pytest.mark.skipif(name not in METHODS, reason=f"{name} is not registered yet"),
    )


TARGET_METHODS = [_method("lapv"), _method("teng"), _method("edge-blur")]

#: 11-step sweeps: (photo, first position, step, true focus, px of blur radius per step).
SWEEPS = [
    ("camera.png", 0.0, 1.0, 5.3, 1.0),
    ("coffee.png", -10.0, 2.5, 1.45, 0.8),
    ("astronaut.jpg", 100.0, 0.5, 102.71, 1.3),
]


def _scores(frames: list[npt.NDArray[np.uint8]], method: str) -> list[float]:
    return [blur_score(frame, method) for frame in frames]


def _scored(
    z: npt.NDArray[np.float64], frames: list[npt.NDArray[np.uint8]], method: str
) -> tuple[npt.NDArray[np.float64], list[float]]:
    """The positions and scores of the frames the method can score, as focus-sweep keeps them.

    edge-blur refuses a frame with too few reliable edges (the most blurred).
    """
    kept, scores = [], []
    for position, frame in zip(z, frames, strict=True):
        try:
            scores.append(blur_score(frame, method))
        except ValueError:
            continue
        kept.append(position)
    return np.array(kept), scores


def _sweep(sample: Callable[..., Any], case: tuple[str, float, float, float, float]) -> Any:
    photo, start, step, z0, px_per_step = case
    sharp = gray(sample(photo))[96:352, 96:352]
    z = start + step * np.arange(11)
    return z, render_sweep(sharp, z, z0, px_per_unit=px_per_step / step, noise=2.0, seed=7)


@pytest.fixture(scope="module")
def rendered(sample: Callable[..., Any]) -> list[Any]:
    return [_sweep(sample, case) for case in SWEEPS]


@pytest.mark.parametrize("method", TARGET_METHODS)
@pytest.mark.parametrize("case", range(len(SWEEPS)))
def test_rendered_sweeps_find_the_peak_between_steps(
    rendered: list[Any], case: int, method: str
) -> None:
    z, frames = rendered[case]
    _, _, step, z0, _ = SWEEPS[case]
    measure = METHODS[method]
    z, scores = _scored(z, frames, method)
    peak = fit_peak(z, scores, higher_is_sharper=measure.sharper_is_higher)
    assert peak.position is not None, peak.reason
    # Target 0.25 step. Measured: lapv and teng at most 0.07 step on these
    # sweeps, edge-blur 0.083 (coffee).
    assert abs(peak.position - z0) / step < 0.1
    assert peak.bracketed


def test_a_bumped_frame_in_a_rendered_sweep_is_left_out(rendered: list[Any]) -> None:
    z, frames = rendered[0]
    frames = list(frames)
    frames[6] = bump(frames[6])  # z = 6, next to the sharpest captures
    peak = fit_peak(z, _scores(frames, "teng"))
    assert not peak.used[6]
    assert sum(peak.used) == 10
    assert peak.position == pytest.approx(5.3, abs=0.1)


def test_an_unbracketed_rendered_sweep_says_extend_higher(rendered: list[Any]) -> None:
    z, frames = rendered[0]
    peak = fit_peak(z[:5], _scores(frames[:5], "lapv"))
    assert (peak.trusted, peak.bracketed, peak.extend) == (False, False, "higher")


def test_a_rendered_sweep_of_one_blur_is_flat(sample: Callable[..., Any]) -> None:
    sharp = gray(sample("brick.png"))[:256, :256]
    # Every capture equally out of focus: noise alone differs.
    frames = render_sweep(sharp, [3.0] * 9, 0.0, px_per_unit=1.0, noise=2.0, seed=1)
    peak = fit_peak(np.arange(9.0), _scores(frames, "lapv"))
    assert not peak.trusted
    assert peak.extend is None


#: edge-blur meets the goal on the 40 of these 50 sweeps where fit_peak trusts
#: its curve (median 0.025 step, worst 0.088, the 95 % interval covers all 40),
#: but none of the 10 brick.png sweeps gets a peak: the wall's dense texture
#: has few isolated step edges, so edge-blur refuses 7 or more of the 11
#: captures, and fit_peak rightly finds too few positions to trust. Letting
#: edge-blur score such captures gave numbers that do not follow the blur and
#: trusted peaks up to 2 steps off. Strict: the day it passes, this mark must
#: go.
EDGE_BLUR_MISSES = pytest.mark.xfail(
    strict=True, reason="edge-blur refuses most captures of brick.png's dense texture"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "method",
    [
        _method("lapv"),
        _method("teng"),
        pytest.param(
            "edge-blur",
            marks=[
                pytest.mark.skipif("edge-blur" not in METHODS, reason="not registered yet"),
                EDGE_BLUR_MISSES,
            ],
        ),
    ],
)
def test_fifty_random_sweeps_meet_the_goal(sample: Callable[..., Any], method: str) -> None:
    """Median error under 0.1 step, all under 0.25, and the 95 % interval covers ≥ 90 %."""
    rng = np.random.default_rng(11)
    photos = ["camera.png", "brick.png", "coffee.png", "astronaut.jpg", "rocket.jpg"]
    measure = METHODS[method]
    errors, covered = [], []
    for i in range(50):
        sharp = gray(sample(photos[i % len(photos)]))[64:448, 64:448]
        step = float(rng.choice([0.5, 1.0, 2.5]))
        z = step * np.arange(11)
        z0 = step * float(rng.uniform(3.0, 7.0))
        px_per_step = float(rng.uniform(0.7, 1.5))
        frames = render_sweep(sharp, z, z0, px_per_unit=px_per_step / step, seed=i)
        z, scores = _scored(z, frames, method)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            peak = fit_peak(z, scores, higher_is_sharper=measure.sharper_is_higher)
        assert peak.position is not None, peak.reason
        errors.append(abs(peak.position - z0) / step)
        low, high = peak.interval() or (0.0, 0.0)
        covered.append(low <= z0 <= high)
    assert np.median(errors) < 0.1
    assert max(errors) < 0.25
    assert np.mean(covered) >= 0.9


# --- the plot -----------------------------------------------------------------------


def test_the_plot_draws_the_peak_where_the_fit_puts_it() -> None:
    scores = gaussian(Z, 10, 100, 4.4, 1.5)
    peak = fit_peak(Z, scores)
    picture = render_focus_curve(Z, scores, peak, method="lapv")
    assert picture.shape == (520, 860, 3)
    assert picture.dtype == np.uint8
    # The peak line is green (40, 160, 40 in BGR) and stands at 4.4 on the x axis.
    green = np.all(picture == (40, 160, 40), axis=2)
    columns = np.flatnonzero(green.sum(axis=0) > 200)
    assert columns.size
    # x axis: 0..8 padded by 5 % each side, drawn between pixels 92 and 836.
    expected = 92 + (4.4 + 0.4) / 8.8 * (860 - 92 - 24)
    assert abs(columns.mean() - expected) <= 2


def test_the_plot_of_an_unbracketed_sweep_has_no_model_and_no_peak() -> None:
    scores = gaussian(Z, 10, 100, 9.5, 2.0)
    picture = render_focus_curve(Z, scores, fit_peak(Z, scores), method="lapv")
    assert not np.all(picture == (40, 160, 40), axis=2).any()
    assert not np.all(picture == (30, 140, 230), axis=2).any()


def test_the_plot_checks_its_arguments() -> None:
    peak = fit_peak(Z, gaussian(Z, 10, 100, 4.4, 1.5))
    with pytest.raises(TypeError, match="peak must be a FocusPeak"):
        render_focus_curve(Z, Z, "peak", method="lapv")
    with pytest.raises(ValueError, match="fitted to 9 points"):
        render_focus_curve(Z[:5], Z[:5], peak, method="lapv")
    with pytest.raises(ValueError, match="method must be one of"):
        render_focus_curve(Z, Z, peak, method="sharpness")


def test_the_sample_sweep_peaks_between_its_files(sample: Callable[..., Any]) -> None:
    """sample_images/focus_sweep/: files at z = 0..8, best focus at z = 4.4."""
    frames = [sample(f"focus_sweep/focus_{i:02d}.png", cv2.IMREAD_GRAYSCALE) for i in range(9)]
    for method, tolerance in (("lapv", 0.06), ("teng", 0.04), ("blur-effect", 0.04)):
        measure = METHODS[method]
        peak = fit_peak(Z, _scores(frames, method), higher_is_sharper=measure.sharper_is_higher)
        assert peak.position is not None, (method, peak.reason)
        assert abs(peak.position - 4.4) < tolerance, method
        assert peak.best == 4
