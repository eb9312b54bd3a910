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

import warnings
from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.exponential_smoothing.ets import ETSModel


@dataclass(frozen=True)
class EtsFit:
    alpha: float
    beta: float
    gamma: float  # 0 without a season
    phi: float  # 1 undamped
    seasonal_periods: int  # 0 = no season
    sigma2: float  # mean squared one-step error in the sample (statsmodels' scale)
    initial_level: float
    initial_trend: float
    initial_seasonal: np.ndarray  # s(−m) … s(−1)
    nobs: int

    def name(self) -> str:
        return f"ETS(A,{'Ad' if self.phi < 1 else 'A'},{'A' if self.seasonal_periods else 'N'})"


def min_seasonal_observations(seasonal_periods: int) -> int:
    """Observations the heuristic initialisation needs for a season of `seasonal_periods`."""
    return max(2 * seasonal_periods, 10 + 2 * (seasonal_periods // 2))


def fit_ets(y: np.ndarray, *, seasonal_periods: int, damped: bool) -> EtsFit:
    """Estimate an additive ETS with a (damped) trend and, when `seasonal_periods` > 1, a season."""
    seasonal = seasonal_periods > 1
    model = ETSModel(
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
        result = model.fit(disp=False)
    fit = EtsFit(
        alpha=float(result.smoothing_level),
        beta=float(result.smoothing_trend),
        gamma=float(result.smoothing_seasonal) if seasonal else 0.0,
        phi=float(result.damping_trend) if damped else 1.0,
        seasonal_periods=seasonal_periods if seasonal else 0,
        sigma2=float(result.mse),
        initial_level=float(result.initial_level),
        initial_trend=float(result.initial_trend),
        initial_seasonal=np.asarray(result.initial_seasonal, dtype=float) if seasonal else np.zeros(0),
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
