"""drift_detection: level shifts and trend changes in the window, with date, size and direction.

Binary segmentation over a piecewise-linear model (`semsync.patterns.changepoints`): a split is a
*level shift* (a jump, slope shared) or a *trend change* (a bend without a jump), accepted when its
score beats a critical value calibrated so that a series without change raises a false alarm with
probability `false_alarm_rate`. Each change is reported with the first period of the new regime, its
size re-estimated between its neighbouring changes (level units for a shift, per period for a
trend change), size relative to the level before, direction and z-score. The metric is *drifting*
when the latest change is within the last `recent_periods` periods (default 2 × `min_segment`).

Daily series are first cleared of their weekday pattern (levels are then weekday-adjusted), and
the noise scale allows for autocorrelation, so that neither a weekly rhythm nor persistent noise
reads as drift.
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
from semsync.patterns.changepoints import Change, critical_value, detect, local_estimate, noise_scale
from semsync.patterns.periods import PeriodGrid, period_start


class DriftDetectionSettings(PatternSettings):
    lookback_day: int = Field(180, ge=10)
    lookback_week: int = Field(104, ge=10)
    lookback_month: int = Field(60, ge=10)
    #: the fewest periods a regime may last (on either side of a change)
    min_segment_day: int = Field(7, ge=2)
    min_segment_week: int = Field(4, ge=2)
    min_segment_month: int = Field(3, ge=2)
    #: probability of reporting a change on a series without one
    false_alarm_rate: float = Field(0.01, gt=0, le=0.2)
    recent_periods: int | None = Field(None, ge=1)
    max_changes: int = Field(10, ge=1)
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
    if len(t) < 2:
        return _Line(0.0, float(y.mean()))
    tc = t - t.mean()
    slope = float(tc @ (y - y.mean()) / (tc @ tc))
    return _Line(slope, float(y.mean() - slope * t.mean()))


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
        observed = deviation[(weekday == day) & ~np.isnan(deviation)]
        effect[day] = np.median(observed) if len(observed) else 0.0
    return (effect - effect.mean())[weekday]


class DriftDetection(Pattern[DriftDetectionSettings, DriftDetectionResult, PeriodGrid]):
    name: ClassVar[str] = "drift_detection"
    version: ClassVar[str] = "1.0"
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
        sigma, persistence = (float(x) for x in noise_scale(y))
        if not sigma > 0:
            sigma = float(np.std(y - _line(t, y).at(t)))
        alpha = settings.false_alarm_rate
        latest = len(values) - 1
        changes = []
        if sigma > 0:
            changes = detect(t, y, sigma=sigma, min_segment=min_segment, alpha=alpha,
                             max_changes=settings.max_changes)
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
            "critical_z": float(np.sqrt(critical_value(len(y), min_segment, alpha))),
            "false_alarm_rate": alpha,
        }

    @staticmethod
    def _shift(t, y, change: Change, lo: int, hi: int, latest: int, span: Span, grain: Grain) -> Shift:
        size = local_estimate(t, y, change, lo, hi)
        k = change.index
        before, after = _line(t[lo:k], y[lo:k]), _line(t[k:hi], y[k:hi])
        level_before = before.at(t[k])
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
