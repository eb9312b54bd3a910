"""Additive exponential smoothing, ETS(A,Ad,A) (or without damping / season), for forecasting.

statsmodels' `ETSModel` estimates the parameters and initial states (heuristic initialisation, one
fixed configuration, no model search). Past the fitted sample the states are carried forward by the
same error-correction recursion with the parameters held, so a model estimated once serves every
later analysis date up to the next re-estimation; forecasts and their variances are the closed forms
of Hyndman et al. (2008), identical to `ETSResults.get_prediction` (checked in the tests).

    ŷ(t)  = l(t−1) + φ b(t−1) + s(t−m)          ε(t) = y(t) − ŷ(t)
    l(t)  = l(t−1) + φ b(t−1) + α ε(t)
    b(t)  = φ b(t−1) + β ε(t)
    s(t)  = s(t−m) + γ ε(t)
    Var[y(n+h) − ŷ(n+h)] = σ² (1 + Σ_{j<h} c_j²),   c_j = α + β (φ + … + φ^j) + γ [j mod m = 0]
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit


@dataclass(frozen=True)
class EtsFit:
    alpha: float
    beta: float
    gamma: float  # 0 without a season
    phi: float  # 1 undamped
    seasonal_periods: int  # 0 = no season
    sigma2: float  # one-step error variance: the sample's sum of squares over its degrees of freedom
    initial_level: float
    initial_trend: float
    initial_seasonal: np.ndarray  # s(−m) … s(−1)
    nobs: int

    def name(self) -> str:
        return f"ETS(A,{'Ad' if self.phi < 1 else 'A'},{'A' if self.seasonal_periods else 'N'})"


def _parameter_count(seasonal_periods: int, damped: bool) -> int:
    """Smoothing parameters, damping and initial states an ETS(A,A(d),A) fit estimates."""
    seasonal = seasonal_periods > 1
    return 2 + 2 + damped + (1 + seasonal_periods if seasonal else 0)


def min_seasonal_observations(seasonal_periods: int) -> int:
    """Observations the heuristic initialisation needs for a season of `seasonal_periods`."""
    return max(2 * seasonal_periods, 10 + 2 * (seasonal_periods // 2))


def estimator() -> type:
    """statsmodels' `ETSModel`, imported on first use: statsmodels and scipy.stats take most of a
    second to load, which every command that only lists patterns or shows results would pay. The
    pattern processes load it up front (`semsync.services.prepare_pattern_process`)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel


def fit_ets(y: np.ndarray, *, seasonal_periods: int, damped: bool) -> EtsFit:
    """Estimate an additive ETS with a (damped) trend and, when `seasonal_periods` > 1, a season."""
    seasonal = seasonal_periods > 1
    model = estimator()(
        y,
        error="add",
        trend="add",
        damped_trend=damped,
        seasonal="add" if seasonal else None,
        seasonal_periods=seasonal_periods if seasonal else None,
        initialization_method="heuristic",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the parameters alone: a full `ETSResults` (likelihood, standardised errors, …) costs a fifth
        # of the fit, and only the one-step predictions are needed, for the sum of squares
        params = model.fit(disp=False, return_params=True)
    predicted, _ = model.smooth(params, return_raw=True)
    named = dict(zip(model.param_names, params.tolist(), strict=True))
    fit = EtsFit(
        alpha=named["smoothing_level"],
        beta=named["smoothing_trend"],
        gamma=named["smoothing_seasonal"] if seasonal else 0.0,
        phi=named["damping_trend"] if damped else 1.0,
        seasonal_periods=seasonal_periods if seasonal else 0,
        # the sample's mean squared error understates the error of estimated parameters and initial
        # states: divide the sum of squares by the degrees of freedom left, not by n
        sigma2=float(np.sum((y - predicted) ** 2))
        / max(len(y) - _parameter_count(seasonal_periods if seasonal else 0, damped), 1),
        # heuristic initialisation: the initial states are the model's, held during the fit
        initial_level=float(model.initial_level),
        initial_trend=float(model.initial_trend),
        initial_seasonal=np.asarray(model.initial_seasonal, dtype=float) if seasonal else np.zeros(0),
        nobs=len(y),
    )
    numbers = [fit.alpha, fit.beta, fit.gamma, fit.phi, fit.sigma2, fit.initial_level, fit.initial_trend]
    if not np.all(np.isfinite(numbers)) or not np.all(np.isfinite(fit.initial_seasonal)):
        raise ValueError("the ETS fit did not converge to finite parameters")
    return fit


@dataclass(frozen=True)
class EtsStates:
    """States after each observation: `level[t]`, `trend[t]`; `season[t + m]` is s(t) (0..m−1: initial)."""

    level: np.ndarray
    trend: np.ndarray
    season: np.ndarray


def filter_states(fit: EtsFit, y: np.ndarray) -> EtsStates:
    """Run the recursion over `y` (no missing values) from the fit's initial states."""
    alpha, beta, gamma, phi, m = fit.alpha, fit.beta, fit.gamma, fit.phi, fit.seasonal_periods
    n = len(y)
    levels, trends = np.empty(n), np.empty(n)
    season = np.zeros(n + m)
    season[:m] = fit.initial_seasonal
    level, trend = fit.initial_level, fit.initial_trend
    seasonal = m > 0
    for t, value in enumerate(y.tolist()):
        base = level + phi * trend
        lagged = season[t] if seasonal else 0.0
        error = value - base - lagged
        level = base + alpha * error
        trend = phi * trend + beta * error
        if seasonal:
            season[t + m] = lagged + gamma * error
        levels[t], trends[t] = level, trend
    return EtsStates(levels, trends, season)


@dataclass(frozen=True)
class ForecastWeights:
    """Per horizon h = 1..H: the damped trend multiplier and the error-variance multipliers."""

    trend_multiplier: np.ndarray  # φ + … + φ^h
    variance: np.ndarray  # 1 + Σ_{j<h} c_j²: Var[e(n+h)] / σ²
    cumulative_variance: np.ndarray  # Var[e(n+1) + … + e(n+h)] / σ²


def forecast_weights(fit: EtsFit, horizon: int) -> ForecastWeights:
    h = np.arange(1, horizon + 1)
    trend_multiplier = np.cumsum(fit.phi ** h.astype(float))
    j = h[:-1]  # c_1 … c_{H−1}
    c = fit.alpha + fit.beta * trend_multiplier[:-1]
    if fit.seasonal_periods:
        c = c + fit.gamma * (j % fit.seasonal_periods == 0)
    variance = 1.0 + np.concatenate(([0.0], np.cumsum(c**2)))
    # e(n+1) + … + e(n+H) = Σ_i ε(n+i) (1 + c_1 + … + c_{H−i}): the weights accumulate
    weights = 1.0 + np.concatenate(([0.0], np.cumsum(c)))
    cumulative_variance = np.cumsum(weights**2)
    return ForecastWeights(trend_multiplier, variance, cumulative_variance)


def point_forecasts(fit: EtsFit, states: EtsStates, t: int, weights: ForecastWeights, horizon: int) -> np.ndarray:
    """Forecasts for t+1 … t+horizon from the states after observation `t`."""
    mean = states.level[t] + weights.trend_multiplier[:horizon] * states.trend[t]
    m = fit.seasonal_periods
    if m:
        last_cycle = states.season[t + 1 : t + 1 + m]  # s(t−m+1) … s(t)
        mean = mean + last_cycle[np.arange(horizon) % m]
    return mean


Z_95 = 1.959963984540054
#: ratios are not narrowed below this share of the model's variance
MIN_VARIANCE_RATIO = 0.01


@dataclass(frozen=True)
class ErrorCalibration:
    """Per horizon h = 1..H: the observed variance of the h-step error, and of the sum of the errors
    of steps 1..h, as multiples of the model's (`ForecastWeights.variance`, `.cumulative_variance`)."""

    point: np.ndarray
    total: np.ndarray
    bias: np.ndarray  # mean h-step error (actual − forecast), added to the forecasts
    z_95: np.ndarray  # the two-sided 95 % quantile for the spread's small-sample error (Student t)
    #: > 0: the errors were measured in proportion to the level forecast, and `point` and `total` are
    #: for a level of this size; a forecast's spread scales with its level over this (`level_scale`).
    #: 0: the errors are taken as they are, whatever the level
    reference_level: float = 0.0
    #: the lowest level the errors were measured at: a falling level's spread shrinks no further
    lowest_level: float = 0.0
    #: the errors' spread grows as the level to this power (`_level_power`)
    level_power: float = 0.0

    def level_scale(self, levels: np.ndarray | float) -> np.ndarray | float:
        """What the spread of errors at these forecast levels is, as a multiple of the calibrated one."""
        if not self.reference_level > 0:
            return 1.0
        return (np.maximum(levels, self.lowest_level) / self.reference_level) ** self.level_power


#: the powers of the level that the errors' spread may grow with (0: not at all, 1: in proportion)
LEVEL_POWERS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def _level_power(errors: np.ndarray, levels: np.ndarray) -> float:
    """The power κ of the level that the one-step errors' spread grows with, by maximum likelihood
    over `LEVEL_POWERS` (normal errors with standard deviation s ℓ^κ, s profiled out): a metric
    whose noise grows with it (κ ≈ 1) and one whose noise does not (κ ≈ 0) are told apart by their
    own errors; where the level barely moved, the choice barely matters."""
    log_levels = np.log(levels)
    squares = errors * errors
    scaled = squares[None, :] * np.exp(-2.0 * LEVEL_POWERS[:, None] * log_levels[None, :])
    mean_square = scaled.mean(axis=1)
    if not (mean_square > 0).all():
        return 0.0
    likelihood = np.log(mean_square) + 2.0 * LEVEL_POWERS * log_levels.mean()
    return float(LEVEL_POWERS[int(np.argmin(likelihood))])


#: the initial states count as forgotten once their weight in the level and trend is below 1/e:
#: one time constant of the states' memory
FORGOTTEN = math.exp(-1.0)


def converged_after(fit: EtsFit, limit: int) -> int:
    """The periods after which the level and trend have forgotten their initial values (their weight
    below `FORGOTTEN`: one time constant), at most `limit`.

    The heuristic initial trend comes from the first few periods, so it is far less certain than the
    trend the states settle on; with a small β the states take months to forget it. A forecast from
    an origin before then errs by the initialisation, not as the forecasts from the end of the sample
    do. In error-correction form the initial (level, trend) is carried by the powers of the discount
    matrix D = F − g w' (Hyndman et al. 2008, ch. 3), D = [[1 − α, φ(1 − α)], [−β, φ(1 − β)]]."""
    discount = np.array([[1.0 - fit.alpha, fit.phi * (1.0 - fit.alpha)], [-fit.beta, fit.phi * (1.0 - fit.beta)]])
    weight = np.eye(2)
    for k in range(1, limit + 1):
        weight = discount @ weight
        if np.abs(weight).max() < FORGOTTEN:
            return k
    return limit


def level_forecasts(states: EtsStates, t: int, weights: ForecastWeights, horizon: int) -> np.ndarray:
    """The level part of the forecasts for t+1 … t+horizon (trend, no season) from the states after `t`."""
    return states.level[t] + weights.trend_multiplier[:horizon] * states.trend[t]


#: errors are taken in proportion to the level when every level forecast they were measured at is at
#: least this share of their median (a level near or below zero has no proportion to speak of)
PROPORTIONAL_FLOOR = 0.1


def calibrate_errors(fit: EtsFit, states: EtsStates, y: np.ndarray, weights: ForecastWeights) -> ErrorCalibration:
    """Rolling-origin errors over the fitted sample `y`: from every origin after a burn-in (two
    seasons, and the states' time to forget their initial values, `converged_after`, at most a
    third of the sample) forecast up to half the rest ahead, compare with what came, and divide the
    mean squared error of each horizon (and of the running sums of errors, for period totals) by the
    model's variance for it. Beyond that reach the spread grows as it did over its second half.

    The model's variance assumes its own structure is right; these errors show how far the
    forecasts really stray on this series (a trend that bends, a season that drifts), so intervals
    scaled by them cover what they claim.

    A metric's noise and season usually grow with its level: on a series that doubles in a year the
    errors of the last months are twice those of the first. When the level stays well above zero
    (`PROPORTIONAL_FLOOR`), the errors are therefore measured in proportion to the level forecast
    at their horizon (for a total, the mean level over it) and the spreads are stated for the level
    at the end of the sample (`ErrorCalibration.reference_level`); a forecast scales them by its
    own level forecast. On a series whose level barely moves this is the same as before."""
    n = len(y)
    horizon = len(weights.variance)
    m = fit.seasonal_periods
    first = max(2 * m, 10, converged_after(fit, limit=n // 3))
    reach = min(horizon, max((n - first) // 2, 1))
    ones = np.ones(horizon)
    if n - first < 4:
        return ErrorCalibration(ones, ones, 0 * ones, np.full(horizon, Z_95))
    origins = np.arange(first, n - 1)
    h = np.arange(1, reach + 1)
    forecasts = states.level[origins, None] + weights.trend_multiplier[None, :reach] * states.trend[origins, None]
    if m:
        forecasts = forecasts + states.season[origins[:, None] + 1 + (h[None, :] - 1) % m]
    targets = origins[:, None] + h[None, :]
    valid = targets < n
    errors = np.where(valid, y[np.minimum(targets, n - 1)] - forecasts, 0.0)
    sums = np.cumsum(errors, axis=1)
    levels = states.level[origins, None] + weights.trend_multiplier[None, :reach] * states.trend[origins, None]
    measured = levels[valid]
    reference, lowest = float(states.level[n - 1]), float(measured.min())
    proportional = reference > 0 and lowest >= PROPORTIONAL_FLOOR * float(np.median(measured))
    power = _level_power(errors[:, 0], levels[:, 0]) if proportional else 0.0
    proportional = power > 0
    if proportional:
        # the errors as they would be at the reference level
        relative = errors * (reference / levels) ** power
        relative_sums = sums * (reference * h / np.cumsum(levels, axis=1)) ** power
    else:
        relative, relative_sums = errors, sums
    # the errors are in-sample (parameters estimated on them): widen them as σ² is, by the degrees
    # of freedom the estimation used
    count = valid.sum(axis=0)
    dof = 1 - _parameter_count(m, fit.phi < 1) / n
    point_bias = errors.sum(axis=0) / np.maximum(count, 1)
    total_bias = sums.sum(axis=0) / np.maximum(count, 1)
    # spread about the bias; the errors are in-sample (parameters estimated on them): widen them as
    # σ² is, by the degrees of freedom the estimation used
    if proportional:
        point_centre = relative.sum(axis=0) / np.maximum(count, 1)
        total_centre = relative_sums.sum(axis=0) / np.maximum(count, 1)
    else:
        point_centre, total_centre = point_bias, total_bias
    point_spread = ((relative - point_centre) ** 2 * valid).sum(axis=0) / np.maximum(count * dof, 1)
    total_spread = ((relative_sums - total_centre) ** 2 * valid).sum(axis=0) / np.maximum(count * dof, 1)
    later = np.arange(reach + 1, horizon + 1)

    def extended(spread: np.ndarray, model: np.ndarray) -> np.ndarray:
        """The observed spread as a multiple of the model's; beyond the sample's reach the spread
        grows as it did over the second half of the reach (a power of h)."""
        if horizon > reach:
            half = max(reach // 2, 1)
            ratio = spread[-1] / spread[half - 1] if spread[half - 1] > 0 else 1.0
            power = np.log(ratio) / np.log(reach / half) if reach > half and ratio > 0 else 1.0
            spread = np.concatenate([spread, spread[-1] * (later / reach) ** np.clip(power, 0.0, 2.0)])
        return spread / (fit.sigma2 * model)

    # beyond the sample's reach a bias grows as a missed trend does, linearly in h
    bias = np.concatenate([point_bias, point_bias[-1] * later / reach])
    # the spread of h-step errors is estimated from (n − burn-in) / h non-overlapping windows (h up
    # to a season: beyond it the windows repeat the same seasons): a Student t with that many degrees
    # of freedom, not the normal quantile, so that a short sample's spread is not taken as exact
    windows = (n - first) / np.minimum(np.arange(1, horizon + 1), max(m, 1))
    # beyond a season every horizon has as many windows: the quantile (Student t's, `stdtrit`) of
    # each distinct count once, not of each of up to a year of horizons
    counts, horizon_count = np.unique(np.maximum(windows - 1, 1.0), return_inverse=True)
    z_95 = stdtrit(counts, 0.975)[horizon_count]
    return ErrorCalibration(np.maximum(extended(point_spread, weights.variance), MIN_VARIANCE_RATIO),
                            np.maximum(extended(total_spread, weights.cumulative_variance), MIN_VARIANCE_RATIO),
                            bias, z_95, reference if proportional else 0.0, lowest if proportional else 0.0,
                            power)
