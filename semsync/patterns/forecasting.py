"""forecasting: where the metric is heading, against its targets, for all three grains.

An additive ETS with a damped trend (`semsync.patterns.ets`) is estimated on `lookback_<grain>`
periods, with a season of 7 for days, 52 for weeks and 12 for months when the window holds enough of
them (else none). Parameters are re-estimated every `refit_every_<grain>` periods (four weeks
for days and weeks, every month for months), at fixed "anchor" periods (for days every 28th day, a
Sunday), on the window ending there; between anchors the states are carried forward period by period
with the parameters held. So a date's forecast depends only on data up to it, the states are always
current, and a backfill shares one estimation among the dates of an anchor instead of refitting
for each. `refit_every_<grain>=1` re-estimates for every date.

From the states after the last complete period: point forecasts with 95 % intervals to the end of
the quarter; for each longer period (week, month, quarter, year, as the grain allows) the actuals so
far (from the period's start, even where the lookback is shorter) plus the projection of the rest,
with its interval, against the period's cumulative target; straight-line pacing; and the growth per
period required to reach the target at the period's end, (target / current)^(1/n) − 1. On track
means within `threshold_ratio` of the target on the metric's good side (`direction`). Gaps are
carried forward from the last value.

Intervals and long projections are calibrated on the series itself (`semsync.patterns.ets.
calibrate_errors`): rolling-origin errors over the fitted sample (from origins where the states have
forgotten their heuristic initial values) give, per horizon, the mean error
(added to the forecasts, so that a damped trend does not under-project a sustained trend's long
totals) and the spread of the h-step errors and of their running sums (the interval widths of
points and of period totals, with a Student t quantile for the number of windows behind them). Where the noise grows
with the level (the errors' spread as a power of the level, estimated from the one-step errors), the
errors are measured in proportion to the level and a forecast's intervals scale with its own level
forecast, so that a metric that doubles in a year is not forecast with its first months' spread.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import Field

from semsync.partitions import Grain
from semsync.patterns.base import (
    AnalysisError,
    AnalysisResult,
    DataNeed,
    ErrorType,
    Number,
    Pattern,
    PatternData,
    PatternError,
    PatternSettings,
    ResultModel,
    Span,
    finite_or_none_list,
)
from semsync.patterns.ets import (
    ErrorCalibration,
    EtsFit,
    EtsStates,
    ForecastWeights,
    calibrate_errors,
    filter_states,
    fit_ets,
    forecast_weights,
    level_forecasts,
    min_seasonal_observations,
    point_forecasts,
)
from semsync.patterns.periods import PeriodGrid, last_complete_ordinal, ordinal, period_start, period_starts
from semsync.patterns.series import meets_target, percent_change

SEASONAL_PERIODS = {Grain.DAY: 7, Grain.WEEK: 52, Grain.MONTH: 12}
#: anchors fall where (ordinal − base) is a multiple of refit_every: Sundays for days, Decembers for months
_ANCHOR_BASE = {Grain.DAY: 3, Grain.WEEK: 0, Grain.MONTH: 11}
PERIOD_KINDS = {
    Grain.DAY: ("week", "month", "quarter", "year"),
    Grain.WEEK: ("month", "quarter", "year"),
    Grain.MONTH: ("quarter", "year"),
}


class ForecastingSettings(PatternSettings):
    lookback_day: int = Field(365, ge=12)
    lookback_week: int = Field(156, ge=12)
    lookback_month: int = Field(60, ge=12)
    refit_every_day: int = Field(28, ge=1)
    refit_every_week: int = Field(4, ge=1)
    refit_every_month: int = Field(1, ge=1)
    min_periods: int = Field(12, ge=10)
    seasonal: bool = True
    damped_trend: bool = True
    #: how a period's value follows from its grain's values (revenue: sum; a rate: mean)
    aggregation: Literal["sum", "mean", "last"] = "sum"
    #: a forecast or pace this far short of target (fraction of |target|, in the metric's direction)
    #: is still on track
    threshold_ratio: float = Field(0.05, ge=0, lt=1)

    def refit_every(self, grain: Grain) -> int:
        return getattr(self, f"refit_every_{grain.value}")


class ForecastSeries(ResultModel):
    dates: list[date]
    forecast: list[Number]
    lower: list[Number]
    upper: list[Number]
    confidence: float = 0.95


class Pacing(ResultModel):
    percent_elapsed: Number
    projected_value: Number
    gap_percent: Number
    status: str | None  # "on_track" | "off_track", None without target


class RequiredGrowth(ResultModel):
    remaining_periods: int
    target_at_period_end: Number
    required_pop_growth_percent: Number


class PeriodForecast(ResultModel):
    period: str
    period_start: date
    period_end: date
    periods_elapsed: int
    periods_remaining: int
    actual_to_date: Number
    forecast_remaining: Number
    forecasted_value: Number
    lower: Number
    upper: Number
    target_value: Number
    gap_value: Number
    gap_percent: Number
    status: str | None
    pacing: Pacing | None
    required_growth: RequiredGrowth | None


class ModelInfo(ResultModel):
    method: str
    seasonal_periods: int
    alpha: Number
    beta: Number
    gamma: Number
    phi: Number
    sigma: Number
    fit_start: date
    fit_end: date
    fit_periods: int


class ForecastingResult(AnalysisResult):
    forecast: ForecastSeries | None = None
    period_forecasts: list[PeriodForecast] | None = None
    model: ModelInfo | None = None


@dataclass(frozen=True)
class _Model:
    fit: EtsFit
    start: int  # ordinal of the first fitted value
    anchor: int
    states: EtsStates  # from `start` through the latest date that uses this model
    weights: ForecastWeights
    calibration: ErrorCalibration
    #: per horizon, half the 95 % interval of a point forecast (the same for every date of the model)
    point_half_width: np.ndarray


@dataclass(frozen=True)
class _Prepared:
    values: PeriodGrid
    #: `values` with 0 for a missing period: a period's actuals to date are a plain sum of a window
    zeroed: PeriodGrid
    targets: PeriodGrid
    models: dict[int, _Model | PatternError]  # by anchor ordinal
    #: (first, last ordinal of a period) → (its aggregated target, the target of its last period):
    #: the same for every date inside the period
    period_targets: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict, compare=False)


class Forecasting(Pattern[ForecastingSettings, ForecastingResult, _Prepared]):
    name: ClassVar[str] = "forecasting"
    version: ClassVar[str] = "2.2"
    needs = frozenset({DataNeed.SERIES, DataNeed.FUTURE_TARGETS})
    settings_model = ForecastingSettings
    result_model = ForecastingResult

    def anchor(self, latest: int, grain: Grain, settings: ForecastingSettings) -> int:
        """The ordinal whose window the parameters in force at `latest` were estimated on."""
        return latest - (latest - _ANCHOR_BASE[grain]) % settings.refit_every(grain)

    def span(self, analysis_date: date, grain: Grain, settings: ForecastingSettings) -> Span:
        latest = last_complete_ordinal(grain, analysis_date)
        return Span(self.anchor(latest, grain, settings) - settings.lookback(grain) + 1, latest)

    def target_end(self, span: Span, grain: Grain, settings) -> int:
        return _horizon_end(grain, span.end)

    def data_range(self, analysis_dates, grain, settings=None) -> tuple[date, date, date]:
        """As for any pattern, but from the start of the longest period compared (the year) when
        that is before the window: its actuals to date and its targets count however short the
        lookback is."""
        grain, settings = Grain(grain), self.settings(settings)
        dates = list(analysis_dates)
        start, end, targets_end = super().data_range(dates, grain, settings)
        longest = PERIOD_KINDS[grain][-1]
        for analysis_date in dates:
            latest = last_complete_ordinal(grain, analysis_date)
            start = min(start, _period(grain, longest, latest + 1).start)
        return start, end, targets_end

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        values = PeriodGrid.from_frame(grain, data.series)
        targets = PeriodGrid.from_frame(grain, data.targets, "target_value")
        latest_by_anchor: dict[int, int] = {}
        for span in spans:
            anchor = self.anchor(span.end, grain, settings)
            latest_by_anchor[anchor] = max(latest_by_anchor.get(anchor, span.end), span.end)
        models = {
            anchor: self._model(values, anchor, latest, grain, settings)
            for anchor, latest in latest_by_anchor.items()
        }
        zeroed = PeriodGrid(grain, values.first, np.where(np.isnan(values.values), 0.0, values.values))
        return _Prepared(values, zeroed, targets, models)

    def _model(self, values: PeriodGrid, anchor: int, latest: int, grain: Grain, settings) -> _Model | PatternError:
        start = anchor - settings.lookback(grain) + 1
        window = values.window(start, latest)
        fit_part = window[: anchor - start + 1]
        observed = np.flatnonzero(~np.isnan(fit_part))
        if len(observed) < settings.min_periods:
            return AnalysisError.insufficient("values to fit the model on", settings.min_periods, len(observed)).error
        first = int(observed[0])
        filled = _carry_forward(window[first:])
        fit_values = filled[: anchor - start + 1 - first]
        seasonal_periods = SEASONAL_PERIODS[grain] if settings.seasonal else 0
        if len(fit_values) < min_seasonal_observations(seasonal_periods):
            seasonal_periods = 0
        try:
            fit = fit_ets(fit_values, seasonal_periods=seasonal_periods, damped=settings.damped_trend)
        except (ValueError, np.linalg.LinAlgError) as error:
            return PatternError(type=ErrorType.MODEL_ERROR, message=f"ETS estimation failed: {error}")
        horizon = _horizon_end(grain, latest) - anchor
        states, weights = filter_states(fit, filled), forecast_weights(fit, horizon)
        fitted = EtsStates(states.level[: len(fit_values)], states.trend[: len(fit_values)], states.season)
        calibration = calibrate_errors(fit, fitted, fit_values, weights)
        half_width = calibration.z_95 * float(np.sqrt(fit.sigma2)) * np.sqrt(weights.variance * calibration.point)
        return _Model(fit, start + first, anchor, states, weights, calibration, half_width)

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        model = prepared.models[self.anchor(span.end, grain, settings)]
        if isinstance(model, PatternError):
            raise AnalysisError(model)
        latest = span.end
        if np.isnan(prepared.values.value_at(latest)):
            raise AnalysisError.missing_latest(grain, latest)
        fit, t = model.fit, latest - model.start
        sigma = float(np.sqrt(fit.sigma2))
        horizon = _horizon_end(grain, latest) - latest
        means = point_forecasts(fit, model.states, t, model.weights, horizon) + model.calibration.bias[:horizon]
        shown = _period(grain, "quarter", latest + 1).last - latest
        # the spread in proportion to the level forecast, when the calibration measured it so
        levels = level_forecasts(model.states, t, model.weights, horizon)
        points = means[:shown]
        half_width = model.point_half_width[:shown] * model.calibration.level_scale(levels[:shown])
        forecast, lower, upper = finite_or_none_list(np.stack([points, points - half_width, points + half_width]))
        observed = prepared.values.window(span.start, latest)
        return {
            "num_periods": int(np.count_nonzero(~np.isnan(observed))),
            # built by the thousand in a backfill, with up to three 90-point lists: validating them
            # costs more than computing them
            "forecast": ForecastSeries.trusted(
                dates=period_starts(grain, np.arange(latest + 1, latest + shown + 1)).tolist(),
                forecast=forecast,
                lower=lower,
                upper=upper,
                confidence=0.95,
            ),
            "period_forecasts": [
                self._period_forecast(kind, prepared, model, means, levels, span, grain, settings)
                for kind in PERIOD_KINDS[grain]
            ],
            "model": ModelInfo(
                method=fit.name(),
                seasonal_periods=fit.seasonal_periods,
                alpha=fit.alpha,
                beta=fit.beta,
                gamma=fit.gamma,
                phi=fit.phi,
                sigma=sigma,
                fit_start=period_start(grain, model.start),
                fit_end=period_start(grain, model.anchor),
                fit_periods=fit.nobs,
            ),
        }

    def _period_forecast(self, kind, prepared: _Prepared, model: _Model, means, levels, span: Span, grain, settings):
        latest = span.end
        period = _period(grain, kind, latest + 1)
        first, last = period.first, period.last
        elapsed, remaining = latest - first + 1, last - latest
        # from the period's start, even before the window; missing periods count 0 (`np.nansum`)
        actual_sum = float(prepared.zeroed.window(first, latest, fill=0.0).sum())
        forecast_sum = float(means[:remaining].sum())
        sigma2 = model.fit.sigma2
        aggregation = settings.aggregation
        total_variance = model.weights.cumulative_variance[remaining - 1] * model.calibration.total[remaining - 1]
        if aggregation == "sum":
            value, variance = actual_sum + forecast_sum, total_variance
        elif aggregation == "mean":
            count = elapsed + remaining
            value = (actual_sum + forecast_sum) / count
            variance = total_variance / count**2
        else:
            value = float(means[remaining - 1])
            variance = model.weights.variance[remaining - 1] * model.calibration.point[remaining - 1]
        # a total's spread scales with the mean level over what remains, a last value's with its own
        scale = model.calibration.level_scale(
            levels[remaining - 1] if aggregation == "last" else levels[:remaining].sum() / remaining)
        half_width = float(model.calibration.z_95[remaining - 1] * np.sqrt(sigma2 * variance) * scale)
        if (first, last) not in prepared.period_targets:
            prepared.period_targets[(first, last)] = (
                _aggregate(prepared.targets.window(first, last), aggregation), prepared.targets.value_at(last))
        target, target_end = prepared.period_targets[(first, last)]
        threshold = settings.threshold_ratio
        pacing = None
        if elapsed > 0:
            fraction = elapsed / (elapsed + remaining)
            if aggregation == "sum":
                projected = actual_sum / fraction
            elif aggregation == "mean":
                actual = prepared.values.window(first, latest)
                observed = actual[~np.isnan(actual)]
                projected = float(observed.mean()) if len(observed) else float("nan")
            else:
                projected = prepared.values.value_at(latest)
            pacing = Pacing(
                percent_elapsed=fraction * 100,
                projected_value=projected,
                gap_percent=percent_change(projected, target),
                status=_status(projected, target, threshold, settings.direction.sign),
            )
        current = prepared.values.value_at(latest)
        required = None
        if math.isfinite(target_end):
            growth = float("nan")
            if current > 0 and target_end > 0:
                growth = ((target_end / current) ** (1.0 / remaining) - 1.0) * 100
            required = RequiredGrowth(
                remaining_periods=remaining, target_at_period_end=target_end, required_pop_growth_percent=growth
            )
        return PeriodForecast(
            period=kind,
            period_start=period.start,
            period_end=period.end,
            periods_elapsed=elapsed,
            periods_remaining=remaining,
            actual_to_date=actual_sum if elapsed > 0 else None,
            forecast_remaining=forecast_sum,
            forecasted_value=value,
            lower=value - half_width,
            upper=value + half_width,
            target_value=target,
            gap_value=value - target,
            gap_percent=percent_change(value, target),
            status=_status(value, target, threshold, settings.direction.sign),
            pacing=pacing,
            required_growth=required,
        )


def _carry_forward(values: np.ndarray) -> np.ndarray:
    """Fill gaps with the last value before them (causal: nothing later is used)."""
    index = np.where(np.isnan(values), 0, np.arange(len(values)))
    return values[np.maximum.accumulate(index)]


def _aggregate(targets: np.ndarray, aggregation: str) -> float:
    if len(targets) == 0 or np.isnan(targets).any():
        return float("nan")
    return {"sum": float(targets.sum()), "mean": float(targets.mean()), "last": float(targets[-1])}[aggregation]


def _status(value: float, target: float, threshold: float, sign: int) -> str | None:
    if not (math.isfinite(value) and math.isfinite(target)):
        return None
    return "on_track" if meets_target(value, target, threshold, sign) else "off_track"


def _calendar_period(kind: str, day: date) -> tuple[date, date]:
    """The calendar week (Monday-based), month, quarter or year that contains `day`."""
    if kind == "week":
        monday = date.fromordinal(day.toordinal() - day.weekday())
        return monday, date.fromordinal(monday.toordinal() + 6)
    if kind == "month":
        first_month = last_month = day.month
    elif kind == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        last_month = first_month + 2
    else:
        first_month, last_month = 1, 12
    return date(day.year, first_month, 1), date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def _horizon_end(grain: Grain, latest: int) -> int:
    """The last ordinal forecast after `latest`: the end of the longest period compared (a week may
    reach into the next year)."""
    return max(_period(grain, kind, latest + 1).last for kind in PERIOD_KINDS[grain])


class _Period(NamedTuple):
    first: int  # ordinal of the first grain period that starts inside the `kind` period
    last: int
    start: date  # the first day of `first`
    end: date  # the calendar period's last day


@lru_cache(maxsize=4096)
def _period(grain: Grain, kind: str, ord_: int) -> _Period:
    """The grain periods that start inside the `kind` period of `ord_`, and that period's end."""
    start, end = _calendar_period(kind, period_start(grain, ord_))
    first = ordinal(grain, start)
    if period_start(grain, first) < start:
        first += 1  # a week belongs to the month, quarter or year of its Monday
    return _Period(first, ordinal(grain, end), period_start(grain, first), end)
