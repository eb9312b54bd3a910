"""drift_detection: level shifts and trend changes in the window, with date, size and direction.

Binary segmentation over piecewise models (`semsync.patterns.changepoints`): a change is a *level
shift* (two levels, or a line with a jump) or a *trend change* (a line that bends without a jump),
models compared by residual sum of squares with a slope paying its way, so that a fitted trend
cannot swallow a step. A change is accepted when its statistic beats a critical value simulated so
that a series without change raises a false alarm with probability `false_alarm_rate`, for the
series' length and the persistence of its noise. Each change is reported with the first period of
the new regime, its size re-estimated between its neighbouring changes (level units for a shift,
per period for a trend change), size relative to the level before, direction and z-score. The
metric is *drifting* when the latest change is within the last `recent_periods` periods (default
2 × `min_segment`).

The noise: daily series are first cleared of their weekday pattern (levels are then
weekday-adjusted); σ and the lag-one autocorrelation ρ come from the residuals of a line on each
part between the large changes, σ widened to the noise's long-run scale, and the critical value is
the one simulated for that ρ, so that neither a weekly rhythm nor persistent noise reads as drift.

From one date to the next: a recent step is dated where its evidence peaks (a step seen 3 days
after it is dated 3 days ago, as a level shift: a trend change needs 2 × `min_segment` periods to
show), and a change that a window ending up to `keep_periods` periods earlier found (recomputed
inside this window) stays reported while its statistic is above `keep_ratio` × the critical
value, so that a borderline change does not come and go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

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
from semsync.patterns.changepoints import (
    Change,
    GainsCache,
    critical_value,
    detect,
    local_estimate,
    median,
    noise_scale,
    piecewise_residuals,
    residual_scale,
    top_statistic,
)
from semsync.patterns.periods import PeriodGrid, period_start

#: an earlier window, recomputed inside this one, counts as having found a change from this share of
#: its critical value: it lacks the periods before this window, so it is not exactly what was seen then
KEPT_EARLIER = 1.0
#: the changes that σ is estimated around are those beyond this many times the critical value
PROVISIONAL_FACTOR = 3.0


class DriftDetectionSettings(PatternSettings):
    lookback_day: int = Field(180, ge=10)
    lookback_week: int = Field(104, ge=10)
    lookback_month: int = Field(60, ge=10)
    #: the fewest periods a regime may last (on either side of a change)
    min_segment_day: int = Field(7, ge=2)
    min_segment_week: int = Field(4, ge=2)
    min_segment_month: int = Field(3, ge=2)
    #: probability of reporting a change on a series without one
    false_alarm_rate: float = Field(0.005, gt=0, le=0.2)
    recent_periods: int | None = Field(None, ge=1)
    max_changes: int = Field(10, ge=1)
    #: a change found in a window ending up to `keep_periods` periods earlier is kept while its
    #: statistic stays above `keep_ratio` × the critical value
    keep_periods: int = Field(14, ge=0)
    keep_ratio: float = Field(0.5, gt=0, le=1)
    #: daily series: take out the weekday pattern before looking for changes
    remove_weekly_pattern: bool = True

    def min_segment(self, grain: Grain) -> int:
        return getattr(self, f"min_segment_{grain.value}")


class Shift(ResultModel):
    kind: str  # "level_shift" | "trend_change"
    date: date  # first period of the new regime
    periods_ago: int  # from the latest period
    direction: str  # "up" | "down"
    size: Number  # level units (shift) or change of slope per period (trend change)
    size_percent: Number  # size relative to the level before the change
    z_score: Number
    level_before: Number
    level_after: Number
    slope_before: Number
    slope_after: Number


class DriftDetectionResult(AnalysisResult):
    shifts: list[Shift] | None = None
    latest_shift: Shift | None = None
    is_drifting: bool | None = None
    current_level: Number = None
    current_slope: Number = None
    noise_sigma: Number = None  # long-run scale of the noise (widened for autocorrelation)
    noise_autocorrelation: Number = None
    critical_z: Number = None
    false_alarm_rate: Number = None


@dataclass(frozen=True)
class _Line:
    slope: float
    intercept: float  # at t = 0

    def at(self, t: float) -> float:
        return self.intercept + self.slope * t


def _line(t: np.ndarray, y: np.ndarray) -> _Line:
    y_mean = y.sum() / len(y)  # = y.mean(), without its overhead
    if len(t) < 2:
        return _Line(0.0, float(y_mean))
    t_mean = t.sum() / len(t)
    tc = t - t_mean
    slope = float(tc @ (y - y_mean) / (tc @ tc))
    return _Line(slope, float(y_mean - slope * t_mean))


def _weekly_pattern(values: np.ndarray, first_weekday: int) -> np.ndarray:
    """The weekday effect at each position: the median deviation of that weekday from the centred
    7-day mean, centred on zero. Medians, so a step or an outlier barely moves it."""
    missing = np.isnan(values)
    kernel = np.ones(7)
    sums = np.convolve(np.where(missing, 0.0, values), kernel, mode="same")
    counts = np.convolve((~missing).astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        deviation = values - np.where(counts >= 5, sums / counts, np.nan)
    weekday = (first_weekday + np.arange(len(values))) % 7
    effect = np.zeros(7)
    for day in range(7):
        same_day = deviation[(day - first_weekday) % 7 :: 7]  # every 7th position from the first such day
        observed = same_day[~np.isnan(same_day)]
        effect[day] = median(observed)[0] if len(observed) else 0.0
    return (effect - effect.mean())[weekday]


class DriftDetection(Pattern[DriftDetectionSettings, DriftDetectionResult, PeriodGrid]):
    name: ClassVar[str] = "drift_detection"
    version: ClassVar[str] = "2.0"
    needs = frozenset({DataNeed.SERIES})
    settings_model = DriftDetectionSettings
    result_model = DriftDetectionResult

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> PeriodGrid:
        return PeriodGrid.from_frame(grain, data.series)

    def evaluate(self, prepared: PeriodGrid, span: Span, grain: Grain, settings) -> dict[str, Any]:
        values = prepared.window(span.start, span.end)
        if np.isnan(values[-1]):
            raise AnalysisError.missing_latest(grain, span.end)
        present = np.flatnonzero(~np.isnan(values))
        min_segment = settings.min_segment(grain)
        required = max(3 * min_segment, 10)
        if len(present) < required:
            raise AnalysisError.insufficient("values in the window", required, len(present))
        if grain is Grain.DAY and settings.remove_weekly_pattern and len(present) >= 21:
            values = values - _weekly_pattern(values, period_start(grain, span.start).weekday())
        t, y = present.astype(float), values[present]
        alpha = settings.false_alarm_rate
        latest = len(values) - 1
        changes, sigma, persistence, critical = self._changes(t, y, values, present, min_segment, settings)
        bounds = [0] + [c.index for c in changes] + [len(y)]
        shifts = [
            self._shift(t, y, change, bounds[i], bounds[i + 2], latest, span, grain)
            for i, change in enumerate(changes)
        ]
        last_regime = _line(t[bounds[-2] :], y[bounds[-2] :])
        recent = settings.recent_periods or 2 * min_segment
        return {
            "num_periods": len(present),
            "shifts": shifts,
            "latest_shift": shifts[-1] if shifts else None,
            "is_drifting": bool(shifts and shifts[-1].periods_ago < recent),
            "current_level": last_regime.at(t[-1]),
            "current_slope": last_regime.slope,
            "noise_sigma": sigma,
            "noise_autocorrelation": persistence,
            "critical_z": float(np.sqrt(critical)),
            "false_alarm_rate": alpha,
        }

    @staticmethod
    def _noise(t, y, min_segment, settings, cache: GainsCache) -> tuple[float, float, float, list[Change] | None]:
        """(σ, ρ, critical value) of `y`, from the residuals of a line on each part between changes.

        Large changes are found first with the scale from differences (which a step barely moves)
        at `PROVISIONAL_FACTOR` × the critical value, so that a big step does not read as persistent
        noise; on a series without them this is the residuals of one line, as the critical values
        were simulated. If the changes found with that scale differ, σ and ρ are estimated once
        more between them. Last, the changes found with the σ returned (None if σ was estimated
        again after them)."""
        alpha = settings.false_alarm_rate
        provisional: list[Change] = []
        sigma, rho = (float(x) for x in noise_scale(y))
        if sigma > 0:
            provisional = detect(t, y, sigma=sigma, min_segment=min_segment,
                                 critical=PROVISIONAL_FACTOR * critical_value(len(y), min_segment, alpha, rho),
                                 max_changes=settings.max_changes, cache=cache)
        sigma, rho = (float(x) for x in residual_scale(piecewise_residuals(t, y, provisional)))
        critical = critical_value(len(y), min_segment, alpha, rho)
        changes: list[Change] | None = []
        if sigma > 0:
            changes = detect(t, y, sigma=sigma, min_segment=min_segment, critical=critical,
                             max_changes=settings.max_changes, cache=cache)
            if [c.index for c in changes] != [c.index for c in provisional]:
                sigma, rho = (float(x) for x in residual_scale(piecewise_residuals(t, y, changes)))
                critical = critical_value(len(y), min_segment, alpha, rho)
                changes = None
        return sigma, rho, critical, changes

    def _changes(self, t, y, values, present, min_segment, settings):
        """The changes in the window, their noise scale σ, its persistence ρ and the critical value.

        A change found in a window ending up to `keep_periods` periods earlier (inside this one,
        as that window saw it) is kept while its statistic stays above `keep_ratio` × the critical
        value, so that a borderline change does not come and go from one day to the next. Only the
        window's own values are read."""
        cache: GainsCache = {}  # the segments' gains, shared by every pass over this window
        sigma, rho, critical, changes = self._noise(t, y, min_segment, settings, cache)
        if not sigma > 0:
            return [], sigma, rho, critical
        if changes is None:
            changes = detect(t, y, sigma=sigma, min_segment=min_segment, critical=critical,
                             max_changes=settings.max_changes, cache=cache)
        if changes:  # the whole window's best change beats the critical value: nothing to keep
            return changes, sigma, rho, critical
        first_critical = None
        statistic = top_statistic(t, y, sigma=sigma, min_segment=min_segment, cache=cache)
        if settings.keep_ratio * critical <= statistic < critical:
            for back in range(1, settings.keep_periods + 1):
                shown = int(np.searchsorted(present, len(values) - back))  # values up to `back` periods ago
                if shown < 2 * min_segment + 1:
                    break
                earlier: GainsCache = {}
                earlier_sigma, _, earlier_bar, found = self._noise(t[:shown], y[:shown], min_segment, settings, earlier)
                if not earlier_sigma > 0:
                    continue
                if found is not None and KEPT_EARLIER == 1.0:
                    # detect, at this σ and bar, began with the whole window's best change: the top
                    # statistic; it split there exactly when that reached the bar
                    kept = bool(found)
                else:
                    kept = top_statistic(t[:shown], y[:shown], sigma=earlier_sigma, min_segment=min_segment,
                                         cache=earlier) >= KEPT_EARLIER * earlier_bar
                if kept:
                    first_critical = settings.keep_ratio * critical
                    break
        if first_critical is not None:
            changes = detect(t, y, sigma=sigma, min_segment=min_segment, critical=critical,
                             max_changes=settings.max_changes, first_critical=first_critical, cache=cache)
        return changes, sigma, rho, critical

    @staticmethod
    def _shift(t, y, change: Change, lo: int, hi: int, latest: int, span: Span, grain: Grain) -> Shift:
        size = local_estimate(t, y, change, lo, hi)
        k = change.index
        before, after = _line(t[lo:k], y[lo:k]), _line(t[k:hi], y[k:hi])
        # a level shift on flat levels is measured from the mean before it, a sloped one from the line
        level_before = before.at(t[k]) if change.sloped else float(y[lo:k].mean())
        level_after = level_before + size if change.kind == "level_shift" else after.at(t[k])
        scale = abs(level_before)
        return Shift(
            kind=change.kind,
            date=period_start(grain, span.start + int(t[k])),
            periods_ago=latest - int(t[k]),
            direction="up" if size > 0 else "down",
            size=size,
            size_percent=size / scale * 100 if scale > 0 else None,
            z_score=float(np.sqrt(change.score)),
            level_before=level_before,
            level_after=level_after,
            slope_before=before.slope,
            slope_after=after.slope,
        )
