"""Fitting a focus curve, scores against focus positions, to its peak.

An autofocus sweep captures one scene at several focus positions (lens or
motor steps, microscope z, the times of a clip while the focus ring turns)
and scores each capture with a focus measure. :func:`fit_peak` finds the
position of best focus: not only the sharpest capture, but the peak of a
model fitted to the whole curve, between steps, with its standard error, and
it refuses to name a peak the data do not support (the sweep never reached
focus and fell again, or the curve is flat, or no model fits it well).

The models, in the direction of sharpness ``y`` (the score, or its negation
for a measure where higher is blurrier), with ``u = (z - mu) / w``:

===============  =======================================  =====================================
``gaussian``     ``B + A exp(-u²/2)``                     a Gaussian on a noise floor ``B``
``lorentzian``   ``B + A / (1 + u²)``                     gradient energy of a 1/f scene
                                                          under a defocus blur that grows
                                                          linearly with ``|z - mu|``
``moffat``       ``B + A (1 + u²)^-beta``                 the Lorentzian with a free tail
                                                          exponent (Laplacian energy falls
                                                          as ``beta`` near 2)
``hyperbola``    ``B - A (sqrt(1 + u²) - 1)``             a blur width in pixels (edge-blur,
                                                          a star's half-flux radius): the
                                                          V-curve of N.I.N.A. and Ekos
``log-parabola`` a parabola through ``log`` sharpness     a Gaussian, fitted only to the
                 of the sharpest point and its            sharpest point and its neighbours
                 neighbours                               (the classic 3-point interpolation)
===============  =======================================  =====================================

``mu`` is the peak in every model. The full-curve models are fitted with
:func:`scipy.optimize.curve_fit` to every point used, each weighted by its
relative error (``sigma`` proportional to ``|score|``): focus scores span
orders of magnitude, and an unweighted fit would be decided by the one or two
points nearest the peak, where the discrete blur of real pixels departs most
from any smooth model (the error is ``hypot(|score|, 0.05 max|score|)``, so
that a score near 0 is not taken as exact). ``model="auto"`` fits each full-curve model that has at
least two residual degrees of freedom and keeps the one with the smallest
corrected Akaike information criterion (the weighted residuals, with a
penalty for the Moffat's fifth parameter); with fewer points it uses the
log-parabola.

scipy is imported on first use, so that ``import edgegrad`` stays quick.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, get_args

import numpy as np
from numpy.typing import NDArray

from edgegrad._validate import check_bool, check_choice

__all__ = [
    "MIN_POINTS",
    "MIN_R2",
    "MODELS",
    "FocusPeak",
    "Model",
    "fit_peak",
]

Model: TypeAlias = Literal["auto", "gaussian", "lorentzian", "moffat", "hyperbola", "log-parabola"]
#: The names ``fit_peak`` takes for ``model``.
MODELS: Final[tuple[Model, ...]] = get_args(Model)

MIN_POINTS: Final = 5
"""Fewest distinct positions from which a peak is trusted."""

MIN_R2: Final = 0.9
"""Smallest weighted R² of a trusted fit (N.I.N.A.'s check before it moves the focuser)."""

#: Largest standard error of a trusted peak, as a fraction of the gap between
#: the sharpest point's neighbours: beyond it the 95 % interval spans more than
#: about half the gap, and the fit cannot tell where between them the peak lies.
_MAX_STDERR_FRACTION: Final = 0.125
#: A side of the sweep falls when some point on it is less sharp than the
#: sharpest point by this many residual standard deviations of the fit.
_FALL_SIGMAS: Final = 4.0
#: A point is one bumped capture when it lies below the curve fitted without it
#: by this many residual standard deviations of that fit...
_OUTLIER_SIGMAS: Final = 6.0
#: ...and leaving it out shrinks the residual standard deviation this much.
_OUTLIER_SHRINK: Final = 2.5
#: Bounds of the full-curve fits: the amplitude at most this many times the
#: curve's range, the width at least this many steps.
_MAX_RISE: Final = 2.0
_MIN_WIDTH: Final = 0.05
#: Absolute part of each point's error, a fraction of the largest |score|.
_SIGMA_FLOOR: Final = 0.05

FloatArray: TypeAlias = NDArray[np.float64]
_Shape: TypeAlias = Callable[..., FloatArray]


def _gaussian(z: FloatArray, b: float, a: float, mu: float, w: float) -> FloatArray:
    return b + a * np.exp(-0.5 * ((z - mu) / w) ** 2)


def _lorentzian(z: FloatArray, b: float, a: float, mu: float, w: float) -> FloatArray:
    return b + a / (1.0 + ((z - mu) / w) ** 2)


def _moffat(z: FloatArray, b: float, a: float, mu: float, w: float, beta: float) -> FloatArray:
    return b + a * (1.0 + ((z - mu) / w) ** 2) ** -beta


def _hyperbola(z: FloatArray, b: float, a: float, mu: float, w: float) -> FloatArray:
    return b - a * (np.sqrt(1.0 + ((z - mu) / w) ** 2) - 1.0)


#: The full-curve models: function, and its parameters beyond (B, A, mu, w).
_CURVES: Final[dict[str, tuple[_Shape, int]]] = {
    "gaussian": (_gaussian, 0),
    "lorentzian": (_lorentzian, 0),
    "moffat": (_moffat, 1),
    "hyperbola": (_hyperbola, 0),
}


@dataclass(frozen=True)
class FocusPeak:
    """What :func:`fit_peak` found: the peak of a focus curve, or why there is none.

    Attributes
    ----------
    position : float or None
        The position of best focus, in the units of the positions given;
        None unless the peak is trusted (see :func:`fit_peak`, Notes).
    stderr : float or None
        Its standard error, in the same units; None with ``position``.
    model : str or None
        The model fitted (a name in :data:`MODELS` other than ``"auto"``), or
        None if no model could be fitted.
    r2 : float or None
        The weighted coefficient of determination of that fit, on the points
        it used; None with ``model``.
    used : tuple of bool
        For each point given, whether the fit used it: all but a bumped
        capture left out for a full-curve model, the sharpest point and its
        neighbours for the log-parabola.
    bracketed : bool
        Whether the sharpest position lies inside the sweep and the curve
        falls on both sides of it.
    best : int
        Index, into the points given, of the sharpest capture.
    extend : {"lower", "higher"} or None
        Which way to extend a sweep that did not bracket the peak (toward
        lower or higher positions); None when it did, or when the curve is
        flat and no direction is better than the other.
    reason : str or None
        Why there is no trusted peak, in words; None when there is one.
    parameters : tuple of float
        The fitted model's parameters, in the order of its formula in the
        module docstring (for the log-parabola: the parabola's coefficients
        in ``log`` sharpness, highest power first), on the positions and
        scores given; empty with no model.
    higher_is_sharper : bool
        The direction of the scores fitted.
    """

    position: float | None
    stderr: float | None
    model: str | None
    r2: float | None
    used: tuple[bool, ...]
    bracketed: bool
    best: int
    extend: Literal["lower", "higher"] | None
    reason: str | None
    parameters: tuple[float, ...]
    higher_is_sharper: bool = True

    @property
    def trusted(self) -> bool:
        """Whether a peak was found that the data support."""
        return self.position is not None

    def interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """A ``level`` confidence interval of the peak, from its standard error.

        It is ``position ± t·stderr``, with Student's ``t`` for the degrees of
        freedom of the jackknife (points used minus one); None with no
        trusted peak.
        """
        if self.position is None or self.stderr is None:
            return None
        from scipy import stats

        dof = max(1, sum(self.used) - 1)
        half = float(stats.t.ppf(0.5 + level / 2, dof)) * self.stderr
        return self.position - half, self.position + half

    def curve(self, positions: Sequence[float] | NDArray[Any]) -> FloatArray:
        """The fitted model's scores at ``positions`` (NaN for every one with no model)."""
        z = np.asarray(positions, dtype=np.float64)
        if self.model is None:
            return np.full(z.shape, np.nan)
        if self.model == "log-parabola":
            sharpness = np.exp(np.polyval(np.asarray(self.parameters), z))
            return sharpness if self.higher_is_sharper else 1.0 / sharpness
        function, _ = _CURVES[self.model]
        y = function(z, *self.parameters)
        return y if self.higher_is_sharper else -y


def fit_peak(
    positions: Sequence[float] | NDArray[Any],
    scores: Sequence[float] | NDArray[Any],
    *,
    higher_is_sharper: bool = True,
    model: Model = "auto",
) -> FocusPeak:
    """Find the position of best focus in a sweep of focus scores.

    Parameters
    ----------
    positions : sequence of float
        Focus position of each capture, in any unit and order, unevenly
        spaced and repeated if need be (a position captured twice counts
        twice).
    scores : sequence of float
        The focus score of each capture, of one measure.
    higher_is_sharper : bool, optional
        The measure's direction: False for measures where a higher score is
        blurrier (``METHODS[m].sharper_is_higher`` gives it).
    model : {"auto", "gaussian", "lorentzian", "moffat", "hyperbola", "log-parabola"}
        The model to fit (see the module docstring); ``"auto"`` chooses by
        the residuals.

    Returns
    -------
    FocusPeak
        The peak, its standard error, the model, R², the points used and
        whether the sweep bracketed the peak; or, with ``position`` None, the
        reason there is no trusted peak and which way to extend the sweep.

    Raises
    ------
    TypeError
        If ``positions`` or ``scores`` do not hold real numbers, or an
        option has the wrong type.
    ValueError
        If they differ in length, hold fewer than 3 points, NaN or infinity,
        or ``model`` is not one of the names above.

    Notes
    -----
    *Outliers.* A capture that was bumped is blurrier than its position
    says, never sharper, and a focus curve has a single peak: a bumped
    capture shows as a dip, a point less sharp than both its neighbours
    and below the fitted curve. Each such point is left out in turn; if the
    curve fitted without it passes above it by more than 6 residual standard
    deviations of that fit, and leaving it out shrinks the residual
    deviation 2.5 times, the worst is left out (``used``) and the model is
    chosen again. At most one point is left out, only with at least 7
    points, and never the sharpest one or one at either end.

    *Standard error.* The fits of the chosen model that leave out one point
    at a time give the jackknife standard error of the peak [3]_ (or the
    covariance of the fit, if larger). Unlike the covariance, it grows when
    the model does not quite match the curve's shape, which is the larger
    error on real focus curves. To it is added, in quadrature, the spread of
    the peaks of the other full-curve models that fit well (R² of at least
    :data:`MIN_R2`) about the chosen one's: no model has exactly the shape
    of a real curve, and where they disagree the peak is that much less
    certain. (Akaike weights would give almost all the weight to the chosen
    model, as if its residuals were independent noise; they are mostly
    misfit.) :meth:`FocusPeak.interval` turns the standard error into a
    confidence interval; ``benchmarks/bench_focus.py`` measures how often it
    covers the truth.

    *Trust.* The peak is reported only when all of these hold:

    * the sweep brackets the peak: the sharpest position is neither the
      first nor the last, and on each side some point is less sharp than it
      by 4 residual standard deviations of the fit (at most a quarter of the
      curve's range);
    * at least :data:`MIN_POINTS` distinct positions are used;
    * a model could be fitted, with weighted R² of at least :data:`MIN_R2`;
    * its peak lies between the sharpest position's neighbours, and its
      standard error is at most an eighth of the gap between them (so that
      its 95 % interval spans at most about half that gap).

    ``reason`` names what failed. A sweep that falls on one side only, with
    a fit good enough to trust its shape, gets ``extend``: the side toward
    which it still rises (that reason comes first, as it says what to do).
    A curve that falls on neither side, or that no model fits well, is
    flat (no focus anywhere) or too noisy, and ``extend`` is None.

    References
    ----------
    .. [1] S. Pertuz, D. Puig and M. A. Garcia, "Analysis of focus measure
       operators for shape-from-focus", Pattern Recognition 46(5),
       pp. 1415-1432, 2013. https://doi.org/10.1016/j.patcog.2012.11.011
    .. [2] N.I.N.A. autofocus, hyperbolic and parabolic fits with an R² check:
       https://nighttime-imaging.eu/docs/master/site/tabs/options/autofocus/
    .. [3] B. Efron and C. Stein, "The jackknife estimate of variance", The
       Annals of Statistics 9(3), pp. 586-596, 1981.
       https://doi.org/10.1214/aos/1176345462
    .. [4] H. Akaike, "A new look at the statistical model identification",
       IEEE Transactions on Automatic Control 19(6), pp. 716-723, 1974.
       https://doi.org/10.1109/TAC.1974.1100705

    Examples
    --------
    A Gaussian curve on a floor, sampled at whole steps, peaks between them:

    >>> import numpy as np
    >>> z = np.arange(9.0)
    >>> scores = 10 + 100 * np.exp(-0.5 * ((z - 4.4) / 1.5) ** 2)
    >>> peak = fit_peak(z, scores, model="gaussian")
    >>> round(peak.position, 6), peak.bracketed, peak.model
    (4.4, True, 'gaussian')
    >>> peak.stderr < 1e-6
    True

    A measure where lower is sharper, such as a blur width in pixels:

    >>> width = np.sqrt(1.0 + (1.2 * (z - 3.3)) ** 2)
    >>> round(fit_peak(z, width, higher_is_sharper=False, model="hyperbola").position, 6)
    3.3

    A sweep that stops before the peak says which way to go:

    >>> rising = fit_peak(z, 10 + 100 * np.exp(-0.5 * ((z - 9.5) / 2.0) ** 2))
    >>> rising.position, rising.bracketed, rising.extend
    (None, False, 'higher')
    >>> rising.reason
    'not bracketed: the sharpest capture is the last; extend the sweep toward higher positions'
    """
    z, s = _points(positions, scores)
    higher_is_sharper = check_bool(higher_is_sharper, "higher_is_sharper")
    check_choice(model, "model", MODELS)
    return _Sweep(z, s, higher_is_sharper).fit(model)


def _points(positions: object, scores: object) -> tuple[FloatArray, FloatArray]:
    z = _vector(positions, "positions")
    s = _vector(scores, "scores")
    if z.size != s.size:
        raise ValueError(
            f"positions and scores must have one value per capture; got {z.size} "
            f"positions and {s.size} scores"
        )
    if z.size < 3:
        raise ValueError(f"a focus curve needs at least 3 points; got {z.size}")
    return z, s


def _vector(value: object, name: str) -> FloatArray:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence or 1-D array of real numbers; got {type(value).__name__}"
        )
    array = np.asarray(value)
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


@dataclass(frozen=True)
class _Fit:
    """One model fitted to some of the points, in normalised units."""

    model: str
    parameters: tuple[float, ...]
    peak: float
    rss: float
    tss: float
    count: int
    covariance_stderr: float

    @property
    def r2(self) -> float:
        return 1.0 - self.rss / self.tss if self.tss > 0 else 0.0

    @property
    def residual_sd(self) -> float:
        """Residual standard deviation, in relative units (a fraction of the score)."""
        dof = max(1, self.count - len(self.parameters))
        return math.sqrt(self.rss / dof)

    def aicc(self) -> float:
        k = len(self.parameters)
        n = self.count
        return n * math.log(max(self.rss, 1e-300) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


class _Sweep:
    """The points of one sweep, normalised: positions to steps around 0, scores to sharpness.

    ``y`` is the sharpness (the score, negated when higher is blurrier) over
    the largest ``|score|``; ``sigma`` its relative error, ``|score|`` over the
    same scale. Positions are ``(z - centre) / step``, with ``step`` the median
    gap between distinct positions.
    """

    def __init__(self, z: FloatArray, scores: FloatArray, higher_is_sharper: bool) -> None:
        self.z_raw = z
        self.scores = scores
        self.higher_is_sharper = higher_is_sharper
        distinct = np.unique(z)
        self.centre = float((distinct[0] + distinct[-1]) / 2)
        self.step = float(np.median(np.diff(distinct))) if distinct.size > 1 else 1.0
        self.x = (z - self.centre) / self.step
        self.scale = float(np.abs(scores).max()) or 1.0
        self.y = (scores if higher_is_sharper else -scores) / self.scale
        self.sigma = np.hypot(np.abs(scores) / self.scale, _SIGMA_FLOOR)
        #: Variance of the peak across the candidate models (see _choose).
        self.model_variance = 0.0

    # --- the answer ---------------------------------------------------------

    def fit(self, model: Model) -> FocusPeak:
        used = np.ones(self.x.size, dtype=bool)
        best = self._best(used)
        fitted = self._choose(model, used)
        if fitted is not None and model != "log-parabola":
            dropped = self._outlier(fitted, used)
            if dropped is not None:
                used[dropped] = False
                best = self._best(used)
                fitted = self._choose(model, used)
        if fitted is not None and fitted.model == "log-parabola":
            used = self._neighbourhood(used)
        reason, extend, bracketed = self._judge(fitted, used, best)
        stderr = None
        if reason is None and fitted is not None:
            stderr = self._stderr(fitted, used)
            reason = self._judge_stderr(stderr, used, best)
        trusted = reason is None and fitted is not None and stderr is not None
        return FocusPeak(
            position=self._position(fitted.peak) if trusted and fitted else None,
            stderr=stderr * self.step if trusted and stderr is not None else None,
            model=fitted.model if fitted else None,
            r2=fitted.r2 if fitted else None,
            used=tuple(bool(u) for u in used),
            bracketed=bracketed,
            best=best,
            extend=extend,
            reason=reason,
            parameters=self._parameters(fitted) if fitted else (),
            higher_is_sharper=self.higher_is_sharper,
        )

    def _position(self, x: float) -> float:
        return self.centre + x * self.step

    def _parameters(self, fitted: _Fit) -> tuple[float, ...]:
        """The fitted parameters on the positions and scores given."""
        p = fitted.parameters
        if fitted.model == "log-parabola":
            # log(sharpness / scale) = c2 x² + c1 x + c0, with x = (z - centre) / step.
            c2, c1, c0 = p
            a2 = c2 / self.step**2
            a1 = c1 / self.step - 2 * c2 * self.centre / self.step**2
            a0 = c0 - c1 * self.centre / self.step + c2 * self.centre**2 / self.step**2
            a0 += math.log(self.scale) if self.higher_is_sharper else -math.log(self.scale)
            return (a2, a1, a0)
        b, a, mu, w, *rest = p
        return (b * self.scale, a * self.scale, self._position(mu), w * self.step, *rest)

    def _best(self, used: NDArray[np.bool_]) -> int:
        """Index of the sharpest capture among those used (the first, on a tie)."""
        candidates = np.flatnonzero(used)
        return int(candidates[np.argmax(self.y[candidates])])

    # --- trust --------------------------------------------------------------

    def _judge(
        self, fitted: _Fit | None, used: NDArray[np.bool_], best: int
    ) -> tuple[str | None, Literal["lower", "higher"] | None, bool]:
        """``(reason, extend, bracketed)`` from everything but the standard error."""
        x = self.x[used]
        y = self.y[used]
        distinct = np.unique(x)
        top = self.y[best]
        xb = self.x[best]
        drop = top - self._noise(fitted, best, used)
        falls_below = bool((y[x < xb] < drop).any())
        falls_above = bool((y[x > xb] < drop).any())
        bracketed = falls_below and falls_above
        extend: Literal["lower", "higher"] | None = None
        if falls_below != falls_above:
            extend = "lower" if not falls_below else "higher"
        # A sweep that clearly rises toward one end says so first: it is what to act on.
        if extend is not None and (fitted is None or fitted.r2 >= MIN_R2):
            return self._unbracketed(xb, distinct, extend), extend, bracketed
        if distinct.size < MIN_POINTS:
            return (
                f"too few positions: {distinct.size} used, at least {MIN_POINTS} are needed",
                extend,
                bracketed,
            )
        if fitted is None:
            return "no model could be fitted to the curve", extend, bracketed
        if fitted.r2 < MIN_R2 or not bracketed:
            fit = (
                f"the {fitted.model} fit explains too little of it (R² {fitted.r2:.3f} < {MIN_R2})"
            )
            return (
                "no peak: the curve is flat (no focus anywhere) or too noisy: "
                + (fit if fitted.r2 < MIN_R2 else "it does not fall on either side"),
                None,
                bracketed,
            )
        below, above = self._neighbours(used, best)
        if not below <= fitted.peak <= above:
            return (
                f"the {fitted.model} fit puts the peak at {self._position(fitted.peak):g}, "
                f"outside the sharpest capture's neighbours {self._position(below):g} and "
                f"{self._position(above):g}",
                None,
                bracketed,
            )
        return None, None, bracketed

    def _unbracketed(
        self, xb: float, distinct: FloatArray, extend: Literal["lower", "higher"]
    ) -> str:
        toward = f"extend the sweep toward {extend} positions"
        if xb == distinct[0] or xb == distinct[-1]:
            end = "first" if xb == distinct[0] else "last"
            return f"not bracketed: the sharpest capture is the {end}; {toward}"
        side = "below" if extend == "lower" else "above"
        return f"not bracketed: the curve does not fall {side} the sharpest capture; {toward}"

    def _judge_stderr(self, stderr: float | None, used: NDArray[np.bool_], best: int) -> str | None:
        if stderr is None or not math.isfinite(stderr):
            return "the peak's standard error cannot be estimated"
        below, above = self._neighbours(used, best)
        limit = _MAX_STDERR_FRACTION * (above - below)
        if stderr > limit:
            return (
                f"the peak is uncertain (standard error {stderr * self.step:.3g} > "
                f"{limit * self.step:.3g}, an eighth of the gap between the sharpest "
                "capture's neighbours)"
            )
        return None

    def _neighbours(self, used: NDArray[np.bool_], best: int) -> tuple[float, float]:
        """The nearest used positions below and above the sharpest one."""
        x = self.x[used]
        xb = self.x[best]
        lower = x[x < xb]
        higher = x[x > xb]
        return (
            float(lower.max()) if lower.size else xb,
            float(higher.min()) if higher.size else xb,
        )

    def _noise(self, fitted: _Fit | None, best: int, used: NDArray[np.bool_]) -> float:
        """How far below the sharpest point a point must lie to count as lower.

        4 residual standard deviations of the fit at the sharpest point's
        level, but never more than a quarter of the curve's range: a model
        that fits the shape poorly must not hide the fall of a real curve.
        """
        contrast = float(self.y[best] - self.y[used].min())
        if fitted is None or fitted.model == "log-parabola":
            return 0.1 * contrast
        noise = _FALL_SIGMAS * fitted.residual_sd * float(self.sigma[best])
        return min(noise, 0.25 * contrast)

    # --- fitting ------------------------------------------------------------

    def _choose(self, model: Model, used: NDArray[np.bool_]) -> _Fit | None:
        self.model_variance = 0.0
        if model == "log-parabola":
            return self._log_parabola(used)
        if model != "auto":
            return self._curve(model, used)
        count = int(used.sum())
        fits = [
            fit
            for name, (_, extra) in _CURVES.items()
            if count - (4 + extra) >= 2
            for fit in (self._curve(name, used),)
            if fit is not None
        ]
        if not fits:
            return self._log_parabola(used)
        chosen = min(fits, key=_Fit.aicc)
        # The candidates that fit well disagree about the peak because none has
        # exactly the curve's shape; their spread about the chosen one is part of
        # the error. Akaike weights would give it almost all to the chosen model,
        # as if its residuals were independent noise, which they are not.
        peaks = np.array([f.peak for f in fits if f.r2 >= MIN_R2])
        if peaks.size:
            self.model_variance = float(np.mean((peaks - chosen.peak) ** 2))
        return chosen

    def _curve(
        self, name: str, used: NDArray[np.bool_], start: Sequence[float] | None = None
    ) -> _Fit | None:
        """Fit one full-curve model to the used points; None if it does not converge.

        ``start``, the parameters of a fit to nearly the same points, is the
        one first guess if given (the leave-one-out refits).
        """
        from scipy.optimize import curve_fit

        function, extra = _CURVES[name]
        x = self.x[used]
        y = self.y[used]
        sigma = self.sigma[used]
        if x.size < 4 + extra or np.unique(x).size < 3:
            return None
        span = float(np.ptp(x)) or 1.0
        top = int(np.argmax(y))
        b0 = float(y.min())
        a0 = float(y.max() - y.min()) or 1.0
        mu0 = float(x[top])
        w0 = _half_width(x, y, top)
        # The peak may rise above the sharpest capture, but not without bound:
        # a spike of no width and endless height would fit any curve's tails.
        lower = [-np.inf, 0.0, float(x.min()) - span, _MIN_WIDTH]
        upper = [np.inf, _MAX_RISE * a0, float(x.max()) + span, 10.0 * span]
        if name == "hyperbola":
            reach = float(np.abs(x - mu0).max()) or 1.0
            guesses = [[float(y.max()), a0 * w0 / reach, mu0, w0]]
        else:
            guesses = [[b0, a0, mu0, w0], [b0, a0, mu0, 2.0 * w0]]
        if extra:
            lower.append(0.2)
            upper.append(20.0)
            guesses = [[*g, beta] for g in guesses for beta in (1.0, 3.0)]
        if start is not None:
            guesses = [list(start)]
        best: _Fit | None = None
        for guess in guesses:
            initial = np.clip(guess, np.add(lower, 1e-9), np.subtract(upper, 1e-9))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    popt, pcov = curve_fit(
                        function,
                        x,
                        y,
                        p0=initial,
                        sigma=sigma,
                        bounds=(lower, upper),
                        method="trf",
                        max_nfev=400,
                    )
            except (RuntimeError, ValueError):
                continue
            residual = (y - function(x, *popt)) / sigma
            rss = float(residual @ residual)
            if best is not None and rss >= best.rss:
                continue
            mean = float(np.average(y, weights=sigma**-2))
            tss = float((((y - mean) / sigma) ** 2).sum())
            variance = float(pcov[2, 2]) if np.isfinite(pcov[2, 2]) else math.inf
            best = _Fit(
                name, tuple(float(p) for p in popt), float(popt[2]), rss, tss, x.size,
                math.sqrt(max(variance, 0.0)),
            )  # fmt: skip
        return best

    def _neighbourhood(self, used: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """The sharpest position and up to two distinct positions on each side of it."""
        best = self._best(used)
        distinct = np.unique(self.x[used])
        k = int(np.searchsorted(distinct, self.x[best]))
        return used & np.isin(self.x, distinct[max(0, k - 2) : k + 3])

    def _log_parabola(self, used: NDArray[np.bool_]) -> _Fit | None:
        """A parabola through log sharpness at the sharpest point and its neighbours."""
        near = self._neighbourhood(used)
        x = self.x[near]
        sharpness = self.y[near] if self.higher_is_sharper else 1.0 / -self.y[near]
        if np.unique(x).size < 3 or (sharpness <= 0).any():
            return None
        log_y = np.log(sharpness)
        coefficients, residuals, *_ = np.polyfit(x, log_y, 2, full=True)
        c2, c1, _ = (float(c) for c in coefficients)
        if c2 >= 0:
            return None
        rss = float(residuals[0]) if len(residuals) else 0.0
        tss = float(((log_y - log_y.mean()) ** 2).sum())
        return _Fit(
            "log-parabola", tuple(float(c) for c in coefficients), -c1 / (2 * c2), rss, tss,
            x.size, math.nan,
        )  # fmt: skip

    def _refit(self, fitted: _Fit, used: NDArray[np.bool_]) -> _Fit | None:
        if fitted.model == "log-parabola":
            return self._log_parabola(used)
        return self._curve(fitted.model, used, fitted.parameters)

    def _leave_one_out(self, fitted: _Fit, used: NDArray[np.bool_]) -> dict[int, _Fit]:
        fits: dict[int, _Fit] = {}
        for i in np.flatnonzero(used):
            keep = used.copy()
            keep[i] = False
            refit = self._refit(fitted, keep)
            if refit is not None:
                fits[int(i)] = refit
        return fits

    def _outlier(self, fitted: _Fit, used: NDArray[np.bool_]) -> int | None:
        """The one bumped capture to leave out, or None (see fit_peak, Notes)."""
        if used.sum() < 7:
            return None
        function, _ = _CURVES[fitted.model]
        below = self.y < function(self.x, *fitted.parameters)
        candidates = [i for i in np.flatnonzero(used & below) if self._dip(int(i), used)]
        worst: tuple[float, int] | None = None
        for i in candidates:
            keep = used.copy()
            keep[i] = False
            refit = self._curve(fitted.model, keep, fitted.parameters)
            if refit is None:
                continue
            predicted = float(function(self.x[i : i + 1], *refit.parameters)[0])
            gap = (predicted - self.y[i]) / self.sigma[i] / refit.residual_sd
            shrink = fitted.residual_sd / refit.residual_sd
            if (
                gap > _OUTLIER_SIGMAS
                and shrink > _OUTLIER_SHRINK
                and (worst is None or gap > worst[0])
            ):
                worst = (gap, int(i))
        return None if worst is None else worst[1]

    def _dip(self, i: int, used: NDArray[np.bool_]) -> bool:
        """Whether point ``i`` is less sharp than the points at both neighbouring positions.

        A focus curve has one peak, so it has no such dip but by noise; the
        sharpest point, and a point at either end, never is one.
        """
        x = self.x[used]
        y = self.y[used]
        lower = x[x < self.x[i]]
        higher = x[x > self.x[i]]
        if not lower.size or not higher.size:
            return False
        before = y[x == lower.max()].mean()
        after = y[x == higher.min()].mean()
        return bool(self.y[i] < min(before, after))

    def _stderr(self, fitted: _Fit, used: NDArray[np.bool_]) -> float | None:
        """Jackknife standard error of the peak, in normalised units."""
        if fitted.model == "log-parabola" and used.sum() < 4:
            return None
        peaks = np.array([f.peak for f in self._leave_one_out(fitted, used).values()])
        n = peaks.size
        if n < 3:
            return None
        jackknife = (n - 1) / n * float(((peaks - peaks.mean()) ** 2).sum())
        if math.isfinite(fitted.covariance_stderr):
            jackknife = max(jackknife, fitted.covariance_stderr**2)
        return math.sqrt(jackknife + self.model_variance)


def _half_width(x: FloatArray, y: FloatArray, top: int) -> float:
    """A first guess of the curve's half width: where it falls half way to its floor."""
    half = (float(y.max()) + float(y.min())) / 2
    far = np.abs(x - x[top])[y < half]
    return float(max(far.min(), 0.5)) if far.size else max(float(np.ptp(x)) / 4, 0.5)
