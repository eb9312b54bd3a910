"""historical_performance: growth, trend, records, seasonality and benchmarks of the latest period.

- growth over the last `num_periods`: period-over-period growth and its acceleration, average and
  overall growth, how many periods accelerated or slowed;
- trend by statistical process control (`semsync.patterns.spc`) over the last
  `trend_periods_<grain>` periods (at least `min_points` values): the chart's segments (a new one
  after consecutive signals), each upward / downward (least-squares slope over the segment as
  significant as `trend_significance` standard errors would be for a normal statistic: Student t's
  quantile for the segment's degrees of freedom, so that the chart's short segments on plain noise
  are not trends by chance), plateau (level after a rise or fall, or flat within
  `plateau_tolerance`) or stable; adjacent segments of one type make one trend, and the result has
  the current and the previous trend;
- record high / low rank of the latest value in the window, and the same as best / worst in the
  metric's direction (a record low is the best for a lower-is-better metric); a spike or drop says
  whether it is favourable;
- year-over-year seasonality: is this period's change what the same change a year ago was;
- benchmarks against a period, week, month, quarter and year ago (as the grain allows);
- spike / drop: the latest value outside the range its own history expects of it (`_exception`).
  The expectation is the series' local line over the last `exception_periods_<grain>` periods, its
  weekday rhythm (daily series) and what its noise carries over from the day before (AR(1)); the
  range is ± `exception_z` times the noise of one period's surprise (the AR(1) innovations' σ). The
  control chart's limits are not used: they sit about a half-average centre line and an average
  moving range, so a weekday rhythm, persistent noise or a level change crossed them on 3–80 % of
  change-free dates.

Benchmarks count back whole periods so that weekdays line up: for days a week, month, quarter and
year ago are 7, 28, 91 and 364 days; for weeks 4, 13 and 52 weeks; for months 3 and 12 months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy.special import ndtr, stdtrit

from semsync.partitions import Grain
from semsync.patterns.base import (
    AnalysisError,
    AnalysisResult,
    DataNeed,
    Number,
    Pattern,
    PatternData,
    PatternSettings,
    ResultModel,
    Span,
)
from semsync.patterns.changepoints import MAD_TO_SIGMA, WINSOR, WINSOR_MEAN_SQUARE, median
from semsync.patterns.periods import PeriodGrid, period_start
from semsync.patterns.series import percent_change, percent_changes, weekly_pattern
from semsync.patterns.spc import ControlChart, control_chart

BENCHMARKS: dict[Grain, dict[str, int]] = {
    Grain.DAY: {"prior_period": 1, "week_ago": 7, "month_ago": 28, "quarter_ago": 91, "year_ago": 364},
    Grain.WEEK: {"prior_period": 1, "month_ago": 4, "quarter_ago": 13, "year_ago": 52},
    Grain.MONTH: {"prior_period": 1, "quarter_ago": 3, "year_ago": 12},
}


_TOLERANCE = 1e-9  # growth changes smaller than this (in % points) are rounding, not acceleration


class TrendType(StrEnum):
    UPWARD = "upward"
    DOWNWARD = "downward"
    PLATEAU = "plateau"
    STABLE = "stable"


class HistoricalPerformanceSettings(PatternSettings):
    lookback_day: int = Field(400, ge=10)
    lookback_week: int = Field(110, ge=10)
    lookback_month: int = Field(36, ge=10)
    num_periods: int = Field(12, ge=2)
    #: the trend is charted over the last this many periods of the window
    trend_periods_day: int = Field(90, ge=10)
    trend_periods_week: int = Field(52, ge=10)
    trend_periods_month: int = Field(36, ge=10)
    half_average_point: int = Field(9, ge=2)
    consecutive_signals: int = Field(5, ge=4)
    min_points: int = Field(10, ge=4)
    control_limit_multiplier: float = Field(2.66, gt=0)
    run_length: int = Field(7, ge=2)
    trend_significance: float = Field(3.0, gt=0)
    plateau_tolerance: float = Field(0.01, ge=0)
    plateau_window: int = Field(7, ge=2)
    seasonality_tolerance_percent: float = Field(5.0, ge=0)
    #: a spike or drop is judged against the last this many periods before it
    exception_periods_day: int = Field(182, ge=10)
    exception_periods_week: int = Field(52, ge=10)
    exception_periods_month: int = Field(36, ge=10)
    #: a spike or drop lies this many σ of one period's surprise from the value expected
    exception_z: float = Field(2.7, gt=0)

    def exception_periods(self, grain: Grain) -> int:
        return getattr(self, f"exception_periods_{grain.value}")


class PeriodMetric(ResultModel):
    date: date
    value: Number
    pop_growth_percent: Number
    growth_acceleration: Number


class GrowthStats(ResultModel):
    current_pop_growth_percent: Number
    average_pop_growth_percent: Number
    overall_growth_percent: Number
    current_growth_acceleration: Number
    num_periods_accelerating: int
    num_periods_slowing: int


class TrendInfo(ResultModel):
    trend_type: TrendType
    start_date: date
    duration_periods: int
    slope: Number
    slope_percent: Number
    average_pop_growth_percent: Number


class RankSummary(ResultModel):
    value: Number
    rank: int
    periods_compared: int
    is_record: bool
    prior_record_value: Number
    prior_record_date: date | None
    absolute_delta_from_prior_record: Number
    relative_delta_from_prior_record: Number


class Seasonality(ResultModel):
    year_ago_date: date
    year_ago_value: Number
    yoy_change_percent: Number
    expected_change_percent: Number
    actual_change_percent: Number
    deviation_percent: Number
    is_following_expected_pattern: bool | None


class Benchmark(ResultModel):
    reference: str
    reference_date: date
    reference_value: Number
    absolute_change: Number
    change_percent: Number


class TrendException(ResultModel):
    type: str  # "spike" | "drop"
    favourable: bool  # a spike of a higher-is-better metric, a drop of a lower-is-better one
    current_value: Number
    normal_range_low: Number
    normal_range_high: Number
    absolute_delta_from_normal_range: Number
    magnitude_percent: Number


class HistoricalPerformanceResult(AnalysisResult):
    period_metrics: list[PeriodMetric] | None = None
    growth_stats: GrowthStats | None = None
    current_trend: TrendInfo | None = None
    previous_trend: TrendInfo | None = None
    direction: str | None = None
    high_rank: RankSummary | None = None
    low_rank: RankSummary | None = None
    #: the records in the metric's direction: best = the high rank when higher is better, else the low
    best_rank: RankSummary | None = None
    worst_rank: RankSummary | None = None
    seasonality: Seasonality | None = None
    benchmarks: list[Benchmark] | None = None
    trend_exception: TrendException | None = None


@dataclass(frozen=True)
class _Prepared:
    values: PeriodGrid
    #: (period ordinal, position in its window capped at 2) → its PeriodMetric: from the third
    #: position of a window on, a period's value, growth and acceleration depend on it and the two
    #: periods before only, so the successive windows that list it share one
    period_metrics: dict[tuple[int, int], PeriodMetric] = field(default_factory=dict, compare=False)


class HistoricalPerformance(Pattern[HistoricalPerformanceSettings, HistoricalPerformanceResult, _Prepared]):
    name: ClassVar[str] = "historical_performance"
    version: ClassVar[str] = "1.3"
    needs = frozenset({DataNeed.SERIES})
    settings_model = HistoricalPerformanceSettings
    result_model = HistoricalPerformanceResult

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        return _Prepared(PeriodGrid.from_frame(grain, data.series))

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        values = prepared.values.window(span.start, span.end)
        present = np.flatnonzero(~np.isnan(values))
        if np.isnan(values[-1]):
            raise AnalysisError.missing_latest(grain, span.end)
        if len(present) < settings.min_points:
            raise AnalysisError.insufficient("values in the window", settings.min_points, len(present))
        observed = values[present]
        charted = present >= len(values) - getattr(settings, f"trend_periods_{grain.value}")
        if np.count_nonzero(charted) < settings.min_points:
            charted[-settings.min_points :] = True
        chart = control_chart(
            observed[charted],
            half_average_point=settings.half_average_point,
            consecutive_signals=settings.consecutive_signals,
            multiplier=settings.control_limit_multiplier,
            run_length=settings.run_length,
        )
        trends = _trends(chart, observed[charted], present[charted], span, grain, settings)
        return {
            "num_periods": len(present),
            **_growth(values, span, grain, settings.num_periods, prepared.period_metrics),
            "current_trend": trends[-1],
            "previous_trend": trends[-2] if len(trends) > 1 else None,
            "direction": settings.direction.value,
            **_ranks(observed, present, span, grain, settings.direction.sign),
            "seasonality": _seasonality(values, span, grain, settings.seasonality_tolerance_percent),
            "benchmarks": [
                _benchmark(values, span, grain, reference, back) for reference, back in BENCHMARKS[grain].items()
            ],
            "trend_exception": _exception(values, span, grain, settings),
        }


def _growth(values: np.ndarray, span: Span, grain: Grain, num_periods: int,
            shared: dict[tuple[int, int], PeriodMetric]) -> dict[str, Any]:
    recent = values[-num_periods:]
    # the growth and acceleration of the recent periods need the two values before them, not the window
    tail = values[-(num_periods + 2) :]
    growth = percent_changes(tail)
    acceleration = np.full(len(tail), np.nan)
    acceleration[1:] = np.diff(growth)
    growth, acceleration = growth[-num_periods:], acceleration[-num_periods:]
    first = len(values) - len(recent)
    metrics = []
    for i in range(len(recent)):
        key = (span.start + first + i, min(first + i, 2))
        metric = shared.get(key)
        if metric is None:
            metric = shared[key] = PeriodMetric(
                date=period_start(grain, key[0]),
                value=recent[i],
                pop_growth_percent=growth[i],
                growth_acceleration=acceleration[i],
            )
        metrics.append(metric)
    valid = growth[~np.isnan(growth)]
    first_value = recent[~np.isnan(recent)][0]
    stats = GrowthStats(
        current_pop_growth_percent=growth[-1],
        average_pop_growth_percent=float(valid.mean()) if len(valid) else None,
        overall_growth_percent=percent_change(recent[-1], first_value),
        current_growth_acceleration=acceleration[-1],
        num_periods_accelerating=int(np.count_nonzero(acceleration > _TOLERANCE)),
        num_periods_slowing=int(np.count_nonzero(acceleration < -_TOLERANCE)),
    )
    return {"period_metrics": metrics, "growth_stats": stats}


def _trends(
    chart: ControlChart, observed: np.ndarray, present: np.ndarray, span: Span, grain: Grain, settings
) -> list[TrendInfo]:
    """The chart's segments classified, adjacent segments of one type merged into one trend.

    A merged trend is judged again on all its points: stable segments that together rise or fall
    significantly are that trend (the chart restarts often on a noisy steady trend, and each short
    piece alone is too uncertain); a segment that continued a rise or fall only because its own slope
    could not be told from it starts a plateau when the two together no longer rise or fall
    significantly (a chance rise on noise is not carried on for the rest of the chart)."""
    bounds = [s.start for s in chart.segments] + [len(observed)]
    merged: list[list] = []  # [start, end, type, least-squares fit of start:end]
    previous: TrendType | None = None
    previous_fit: _Fit | None = None
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        fit = _least_squares(present[start:end].astype(float), observed[start:end])
        kind = _trend_type(observed[start:end], fit, previous, previous_fit, settings)
        if merged and merged[-1][2] is kind:
            first = merged[-1][0]
            joined = _least_squares(present[first:end].astype(float), observed[first:end])
            direction = _direction(joined, end - first, settings.trend_significance)
            if kind is TrendType.STABLE and direction is not None:
                kind = direction
            if kind in (TrendType.UPWARD, TrendType.DOWNWARD) and direction is not kind:
                kind = TrendType.PLATEAU
                merged.append([start, end, kind, fit])
            else:
                merged[-1][1:] = [end, kind, joined]
        else:
            merged.append([start, end, kind, fit])
        # what a following segment is compared with: the whole trend so far, not its last piece
        previous, previous_fit = kind, merged[-1][3]
    trends = []
    for start, end, kind, fit in merged:
        changes = percent_changes(observed[start:end])[1:]
        changes = changes[~np.isnan(changes)]
        trends.append(
            TrendInfo(
                trend_type=kind,
                start_date=period_start(grain, span.start + int(present[start])),
                duration_periods=int(present[end - 1] - present[start]) + 1,
                slope=fit.slope,
                slope_percent=percent_change(fit.level + fit.slope, fit.level),
                average_pop_growth_percent=float(changes.mean()) if len(changes) else None,
            )
        )
    return trends


def _direction(fit: _Fit, n: int, significance: float) -> TrendType | None:
    """UPWARD or DOWNWARD when the slope fitted to `n` points is significant, else None."""
    critical = _t_critical(n, significance)
    if fit.t_value >= critical:
        return TrendType.UPWARD
    if fit.t_value <= -critical:
        return TrendType.DOWNWARD
    return None


def _trend_type(points: np.ndarray, fit: _Fit, previous: TrendType | None, previous_fit: _Fit | None,
                settings) -> TrendType:
    direction = _direction(fit, len(points), settings.trend_significance)
    if direction is not None:
        return direction
    if previous in (TrendType.UPWARD, TrendType.DOWNWARD) and previous_fit is not None:
        # levelled off only if the slope is clearly less steep than before: a short segment whose
        # own slope is too uncertain to be significant continues the trend it cannot be told from
        sign = 1.0 if previous is TrendType.UPWARD else -1.0
        spread = np.hypot(fit.slope_se, previous_fit.slope_se)
        if spread > 0 and sign * (previous_fit.slope - fit.slope) < settings.trend_significance * spread:
            return previous
        return TrendType.PLATEAU
    if previous is TrendType.PLATEAU:
        return TrendType.PLATEAU  # levelled off after a rise or fall, and still level
    recent = points[-settings.plateau_window :]
    mean = abs(float(recent.mean()))
    if mean > 0 and (recent.max() - recent.min()) / mean <= settings.plateau_tolerance:
        return TrendType.PLATEAU
    return TrendType.STABLE


@lru_cache(maxsize=1024)
def _t_critical(n: int, significance: float) -> float:
    """The Student t value (n − 2 degrees of freedom) as improbable as `significance` standard errors
    of a normal statistic: a slope fitted to few points has an uncertain standard error, and a short
    segment's t-value exceeds 3 by chance several times as often as a normal one does."""
    if n < 3:
        return math.inf
    return float(stdtrit(n - 2, ndtr(significance)))


@dataclass(frozen=True)
class _Fit:
    slope: float
    level: float  # the fitted line at the segment's first point
    t_value: float
    slope_se: float = 0.0


def _least_squares(t: np.ndarray, y: np.ndarray) -> _Fit:
    """The least-squares line of a segment and the t-value of its slope (0 when not estimable)."""
    if len(y) < 3:
        return _Fit(0.0, float(y[0]), 0.0)
    n = len(y)
    t_mean, y_mean = t.sum() / n, y.sum() / n
    tc = t - t_mean
    sxx = float(tc @ tc)
    slope = float(tc @ y) / sxx
    residuals = y - y_mean - slope * tc
    se = float(np.sqrt(residuals @ residuals / (n - 2) / sxx))
    t_value = slope / se if se > 0 else (0.0 if slope == 0 else float(np.sign(slope)) * np.inf)
    return _Fit(slope, float(y_mean + slope * (t[0] - t_mean)), t_value, se)


def _ranks(observed: np.ndarray, present: np.ndarray, span: Span, grain: Grain, sign: int) -> dict[str, Any]:
    high = _rank(observed, present, span, grain, high=True)
    low = _rank(observed, present, span, grain, high=False)
    best, worst = (high, low) if sign > 0 else (low, high)
    return {"high_rank": high, "low_rank": low, "best_rank": best, "worst_rank": worst}


def _rank(observed: np.ndarray, present: np.ndarray, span: Span, grain: Grain, *, high: bool) -> RankSummary:
    current = observed[-1]
    history = observed[:-1]
    if high:
        rank = 1 + int(np.count_nonzero(history > current))
        prior = int(np.argmax(history)) if len(history) else None
    else:
        rank = 1 + int(np.count_nonzero(history < current))
        prior = int(np.argmin(history)) if len(history) else None
    prior_value = float(history[prior]) if prior is not None else float("nan")
    is_record = prior is None or (current > prior_value if high else current < prior_value)
    return RankSummary(
        value=current,
        rank=rank,
        periods_compared=len(observed),
        is_record=bool(is_record),
        prior_record_value=prior_value,
        prior_record_date=period_start(grain, span.start + int(present[prior])) if prior is not None else None,
        absolute_delta_from_prior_record=current - prior_value,
        relative_delta_from_prior_record=percent_change(current, prior_value),
    )


def _seasonality(values: np.ndarray, span: Span, grain: Grain, tolerance: float) -> Seasonality | None:
    back = BENCHMARKS[grain]["year_ago"]
    last = len(values) - 1
    if last - back - 1 < 0:
        return None
    actual = percent_change(values[last], values[last - 1])
    expected = percent_change(values[last - back], values[last - back - 1])
    deviation = actual - expected
    return Seasonality(
        year_ago_date=period_start(grain, span.end - back),
        year_ago_value=values[last - back],
        yoy_change_percent=percent_change(values[last], values[last - back]),
        expected_change_percent=expected,
        actual_change_percent=actual,
        deviation_percent=deviation,
        is_following_expected_pattern=bool(abs(deviation) <= tolerance) if np.isfinite(deviation) else None,
    )


def _benchmark(values: np.ndarray, span: Span, grain: Grain, reference: str, back: int) -> Benchmark:
    last = len(values) - 1
    reference_value = values[last - back] if last - back >= 0 else float("nan")
    return Benchmark(
        reference=reference,
        reference_date=period_start(grain, span.end - back),
        reference_value=reference_value,
        absolute_change=values[last] - reference_value,
        change_percent=percent_change(values[last], reference_value),
    )


#: an earlier value this many times beyond the noise's bounds is an outlier (a one-day ×3 of a 3 % noise
#: is some 60 σ; an AR(1) excursion rarely twice the bounds): it neither bends the local line nor is
#: carried over into the next period's expected value
OUTLIER = 2.0


def _exception(values: np.ndarray, span: Span, grain: Grain, settings) -> TrendException | None:
    """A spike or drop: the latest value against what the periods before it expect of it.

    Daily values are first cleared of their weekday rhythm (medians over the window, which a spike or
    a step barely moves). Over the last `exception_periods_<grain>` periods before the latest, a
    least-squares line gives the local level; its residuals d give the noise's persistence φ (their
    lag-one correlation, within [0, 0.9]) and the innovations u(t) = d(t) − φ d(t − 1), whose σ
    (winsorised, so that earlier spikes do not widen it) is the spread of one period's surprise. The
    latest value is expected at the line + its weekday + φ × the previous residual; it is a spike or
    a drop when it lies more than `exception_z` σ from that."""
    history = settings.exception_periods(grain)
    count = min(history, len(values) - 1)
    adjusted = values
    if grain is Grain.DAY and np.count_nonzero(~np.isnan(values)) >= 21:
        adjusted = values - weekly_pattern(values, period_start(grain, span.start).weekday())
    recent = adjusted[-count - 1 : -1]
    present = np.flatnonzero(~np.isnan(recent))
    if len(present) < settings.min_points:
        return None
    t, y = present.astype(float), recent[present]
    n = len(y)
    t_mean, y_mean = t.sum() / n, y.sum() / n
    tc = t - t_mean
    slope = float(tc @ (y - y_mean)) / float(tc @ tc)
    d = y - y_mean - slope * tc
    bound = WINSOR * MAD_TO_SIGMA * float(median(np.abs(d - median(d)))[0])
    if not bound > 0:
        return None
    clipped = np.clip(d, -bound, bound)
    if np.any(np.abs(d) > OUTLIER * bound):
        # an earlier spike pulls a least-squares line towards it (a ×3 day moves a 4-week line's level
        # by a tenth): the line again through the values with such outliers winsorised
        y = y - d + clipped
        y_mean = y.sum() / n
        slope = float(tc @ (y - y_mean)) / float(tc @ tc)
        d = y - y_mean - slope * tc
        clipped = np.clip(d, -bound, bound)
    follows = np.flatnonzero(np.diff(present) == 1)  # pairs of consecutive periods
    square = float(clipped[follows] @ clipped[follows])
    phi = min(max(float(clipped[follows + 1] @ clipped[follows]) / square, 0.0), 0.9) if square > 0 else 0.0
    u = d[follows + 1] - phi * d[follows]
    centre = median(u)
    u_bound = WINSOR * MAD_TO_SIGMA * float(median(np.abs(u - centre))[0])
    u_clipped = np.clip(u - centre, -u_bound, u_bound)
    # the winsorised mean square of normal noise is `WINSOR_MEAN_SQUARE` of its variance; the line and
    # φ cost three degrees of freedom
    sigma = math.sqrt(float(u_clipped @ u_clipped) / max(len(u) - 3, 1) / WINSOR_MEAN_SQUARE)
    if not sigma > 0:
        return None
    last = count  # the latest value's position in `recent`'s coordinates
    carried = 0.0
    if present[-1] == last - 1:
        previous = float(d[-1])
        if n > 1 and present[-2] == last - 2:
            # the previous period an outlier (a surprise `OUTLIER` times an exception's): what it
            # was expected to be is carried over, not the spike (which read the ordinary next day
            # as a drop)
            expected_previous = phi * float(d[-2])
            if abs(previous - expected_previous) > OUTLIER * settings.exception_z * sigma:
                previous = expected_previous
        carried = phi * previous
    seasonal = float(values[-1] - adjusted[-1])
    expected = y_mean + slope * (last - t_mean) + carried + seasonal
    current = float(values[-1])
    low, high = expected - settings.exception_z * sigma, expected + settings.exception_z * sigma
    if low <= current <= high:
        return None
    spike = current > high
    bound_value = high if spike else low
    return TrendException(
        type="spike" if spike else "drop",
        favourable=spike == (settings.direction.sign > 0),
        current_value=current,
        normal_range_low=low,
        normal_range_high=high,
        absolute_delta_from_normal_range=current - bound_value,
        magnitude_percent=percent_change(current, bound_value),
    )
