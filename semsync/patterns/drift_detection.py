"""drift_detection: level shifts and trend changes in the window, with date, size and direction.

Binary segmentation over piecewise models (`semsync.patterns.changepoints`): a change is a *level
shift* (two levels, or a line with a jump) or a *trend change* (a line that bends without a jump),
models compared by residual sum of squares with a slope paying its way, so that a fitted trend
cannot swallow a step. A change is accepted when its statistic beats a critical value simulated so
that a window without change raises a false alarm with probability `false_alarm_rate`, for the
window's length and the persistence of its noise. Each change is reported with the first period of
the new regime, its size re-estimated between its neighbouring changes (level units for a shift,
per period for a trend change), size relative to the level before, direction and z-score. The
metric is *drifting* when the latest change is within the last `recent_periods` periods (default
2 × `min_segment`).

Outliers: before anything else, a value further than `outlier_z` robust σ from the running median
of the 7 values around it is clipped to that distance (`changepoints.despike`), so that a one-day
spike or drop (×3, or 0.3×) reads as one large value rather than a level shift or trend change of
hundreds; a step, which holds the running median's majority within 3 periods, and a trend pass
unclipped.

The noise: daily series are first cleared of their weekday pattern (levels are then
weekday-adjusted); σ and the lag-one autocorrelation ρ come from the residuals of a line on each
part between the large changes, σ widened to the noise's long-run scale, and the critical value is
the one simulated for that ρ, so that neither a weekly rhythm nor persistent noise reads as drift.

From one date to the next: a recent step is dated where its evidence points (a step seen 3 days
after it is dated 3 days ago, as a level shift: a trend change needs 2 × `min_segment` periods to
show). A change's date is the one least likely to be off by more than `min_segment` periods under
the posterior of its position (`changepoints.date_change`), not merely the best-fitting split: for a
small step the likelihood is flat over a fortnight, and its mass, not its peak, says where the step
most likely is. The statistic of a real but modest change wanders about the critical value as the
window moves, so a window's own detection alone would report it on some dates and not on others. A
date therefore also looks at the changes that the windows of the previous `keep_periods_<grain>`
dates (60 days, 26 weeks, 12 months) found by themselves (each window's own detection, read from
the data before this window, so a date gives the same answer alone as in a backfill): such a change
stays reported while this window still shows it there, its statistic at least `keep_ratio` × the
critical value, dated by this window's data, which hold the most periods after it (an earlier
window's date, from fewer periods after the change, is the worse estimate and would stay wrong),
and only while this window can date it: at least `keep_share` (half) of its posterior within
`min_segment` periods of that date (`changepoints.date_share`). A change kept on weak evidence
whose position this window spreads over a month is more often a misdated or a false one than a
change this window could place (1σ steps, 240 series 60 days on: 5.4 % of dates with a shift
elsewhere instead of 6.7 %, the step itself reported as often, 92.5 %). The same holds for a level
shift that this window finds by itself: it is reported only while at least `date_share_min` (half)
of its posterior lies within `min_segment` periods of its date (the same 240 series: 5.0 % of dates
with a shift elsewhere, the step reported on 92.1 %); a trend change is not held to it.
A window's own false-alarm rate is 0.25 % by default, so that with what the memory adds a date of
a change-free series reports a change about 1 % of the time or less (`bench/pattern_accuracy.py`:
white, weekday and AR(1) noise).
"""

from __future__ import annotations

from collections.abc import Iterable
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
from semsync.patterns.changepoint_table import ALPHA
from semsync.patterns.changepoints import (
    MIN_EDGE,
    Change,
    GainsCache,
    change_near,
    critical_value,
    date_share,
    despike,
    detect,
    local_estimate,
    noise_scale,
    piecewise_residuals,
    redate,
    residual_scale,
)
from semsync.patterns.periods import PeriodGrid, ordinal, period_start
from semsync.patterns.series import weekly_pattern

#: the changes that σ is estimated around are those beyond this many times the critical value
PROVISIONAL_FACTOR = 3.0
#: a change an earlier window found and one this window finds within this many × `min_segment`
#: periods of it are one change, dated by this window
SAME_CHANGE = 3
#: an earlier window's change is looked for in this window within this many periods of its date
KEPT_TOLERANCE = MIN_EDGE


class DriftDetectionSettings(PatternSettings):
    lookback_day: int = Field(180, ge=10)
    lookback_week: int = Field(104, ge=10)
    lookback_month: int = Field(60, ge=10)
    #: the fewest periods a regime may last (on either side of a change)
    min_segment_day: int = Field(7, ge=2)
    min_segment_week: int = Field(4, ge=2)
    min_segment_month: int = Field(3, ge=2)
    #: probability that a window's own detection reports a change on a series without one
    false_alarm_rate: float = Field(ALPHA, gt=0, le=0.2)
    recent_periods: int | None = Field(None, ge=1)
    max_changes: int = Field(10, ge=1)
    #: a change that the window of one of the previous `keep_periods_<grain>` dates found stays
    #: reported while this window's statistic at its date is at least `keep_ratio` × the critical value
    keep_periods_day: int = Field(60, ge=0)
    keep_periods_week: int = Field(26, ge=0)
    keep_periods_month: int = Field(12, ge=0)
    keep_ratio: float = Field(0.5, gt=0, le=1)
    #: ... and while this window's posterior of its position puts at least this share of its mass
    #: within `min_segment` periods of the date it gives it (0: whatever the share)
    keep_share: float = Field(0.5, ge=0, lt=1)
    #: a level shift that this window finds by itself is reported only while its posterior puts at
    #: least this share of its mass within `min_segment` periods of its date (0: whatever the share)
    date_share_min: float = Field(0.5, ge=0, lt=1)
    #: daily series: take out the weekday pattern before looking for changes
    remove_weekly_pattern: bool = True
    #: a value further than this many robust σ from the running median of its neighbours is clipped
    #: to that distance before changes are looked for (0: not at all), so that a one-period spike or
    #: drop cannot read as a change of level or trend
    outlier_z: float = Field(4.0, ge=0)

    def min_segment(self, grain: Grain) -> int:
        return getattr(self, f"min_segment_{grain.value}")

    def keep_periods(self, grain: Grain) -> int:
        return getattr(self, f"keep_periods_{grain.value}")


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


@dataclass(frozen=True)
class _Detection:
    """One window's own detection: its values on their positions, noise and changes."""

    present: np.ndarray  # positions (from the window's start) that have a value
    t: np.ndarray
    y: np.ndarray  # the values there, weekday-adjusted for daily series
    sigma: float
    persistence: float
    critical: float
    changes: list[Change]
    cache: GainsCache  # the segments' gains, shared by every pass over this window


@dataclass(frozen=True)
class _Prepared:
    grid: PeriodGrid
    #: per window end: the ordinals at which that window's own detection found a change (filled as
    #: the dates of a call are evaluated, so a backfill detects each window once)
    found: dict[int, tuple[int, ...]]


class DriftDetection(Pattern[DriftDetectionSettings, DriftDetectionResult, _Prepared]):
    name: ClassVar[str] = "drift_detection"
    version: ClassVar[str] = "2.5"
    needs = frozenset({DataNeed.SERIES})
    settings_model = DriftDetectionSettings
    result_model = DriftDetectionResult

    def data_range(self, analysis_dates: Iterable[date], grain, settings=None) -> tuple[date, date, date]:
        """As for any pattern, but from `keep_periods_<grain>` periods earlier: a date also reads the
        windows of the previous dates, whose changes it keeps."""
        grain, settings = Grain(grain), self.settings(settings)
        start, end, targets_end = super().data_range(analysis_dates, grain, settings)
        return period_start(grain, ordinal(grain, start) - settings.keep_periods(grain)), end, targets_end

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        return _Prepared(PeriodGrid.from_frame(grain, data.series), {})

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        window = self._detection(prepared, span, grain, settings)
        prepared.found[span.end] = self._ordinals(window, span)
        changes = self._kept(prepared, window, span, grain, settings) if window.sigma > 0 else []
        t, y = window.t, window.y
        latest = len(span) - 1
        bounds = [0] + [c.index for c in changes] + [len(y)]
        shifts = [
            self._shift(window, change, bounds[i], bounds[i + 2], latest, span, grain)
            for i, change in enumerate(changes)
        ]
        last_regime = _line(t[bounds[-2] :], y[bounds[-2] :])
        recent = settings.recent_periods or 2 * settings.min_segment(grain)
        return {
            "num_periods": len(window.present),
            "shifts": shifts,
            "latest_shift": shifts[-1] if shifts else None,
            "is_drifting": bool(shifts and shifts[-1].periods_ago < recent),
            "current_level": last_regime.at(t[-1]),
            "current_slope": last_regime.slope,
            "noise_sigma": window.sigma,
            "noise_autocorrelation": window.persistence,
            "critical_z": float(np.sqrt(window.critical)),
            "false_alarm_rate": settings.false_alarm_rate,
        }

    def _detection(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> _Detection:
        """The window's own detection (raises `AnalysisError` when it cannot be analysed)."""
        values = prepared.grid.window(span.start, span.end)
        if np.isnan(values[-1]):
            raise AnalysisError.missing_latest(grain, span.end)
        present = np.flatnonzero(~np.isnan(values))
        min_segment = settings.min_segment(grain)
        required = max(3 * min_segment, 10)
        if len(present) < required:
            raise AnalysisError.insufficient("values in the window", required, len(present))
        if grain is Grain.DAY and settings.remove_weekly_pattern and len(present) >= 21:
            values = values - weekly_pattern(values, period_start(grain, span.start).weekday())
        t, y = present.astype(float), values[present]
        if settings.outlier_z:
            y = despike(y, settings.outlier_z)
        cache: GainsCache = {}
        sigma, rho, critical, changes = self._noise(t, y, min_segment, settings, cache)
        if not sigma > 0:
            changes = []
        elif changes is None:
            changes = detect(t, y, sigma=sigma, min_segment=min_segment, critical=critical,
                             max_changes=settings.max_changes, cache=cache)
        return _Detection(present, t, y, sigma, rho, critical, changes, cache)

    @staticmethod
    def _ordinals(window: _Detection, span: Span) -> tuple[int, ...]:
        return tuple(span.start + int(window.present[c.index]) for c in window.changes)

    def _found(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> tuple[int, ...]:
        """The ordinals of the changes the window `span` found by itself (none if it has no result)."""
        if span.end not in prepared.found:
            try:
                prepared.found[span.end] = self._ordinals(self._detection(prepared, span, grain, settings), span)
            except AnalysisError:
                prepared.found[span.end] = ()
        return prepared.found[span.end]

    def _kept(self, prepared: _Prepared, window: _Detection, span: Span, grain: Grain, settings) -> list[Change]:
        """The window's own changes (less the level shifts it cannot date, `_datable`) and those that
        the windows of the previous `keep_periods_<grain>` dates found and this window still shows
        at their date (statistic ≥ `keep_ratio` × the critical value) and can date (its posterior
        share within `min_segment` of its date at least `keep_share`, `changepoints.date_share`).

        An earlier window's change within `SAME_CHANGE` × `min_segment` periods of one of this
        window's is that change, as this window dates it: the window with the most periods after a
        change dates it best. One that this window does not find by itself is looked for within
        `KEPT_TOLERANCE` of the earlier date and, when kept, dated on this window's data between
        its neighbours (`changepoints.redate`)."""
        min_segment = settings.min_segment(grain)
        t, y, n = window.t, window.y, len(window.y)
        bar = settings.keep_ratio * window.critical
        changes = self._datable(window, min_segment, settings.date_share_min)
        seen: set[int] = set()
        memo = prepared.found
        for back in range(settings.keep_periods(grain), 0, -1):
            end = span.end - back
            earlier = memo[end] if end in memo else self._found(prepared, Span(span.start - back, end), grain, settings)
            for found in earlier:
                position = found - span.start
                if position <= 0 or found in seen:
                    continue
                seen.add(found)
                k = int(np.searchsorted(window.present, position))
                if any(abs(c.index - k) <= SAME_CHANGE * min_segment for c in changes):
                    continue  # the same change, dated by this window
                lo = max([0] + [c.index for c in changes if c.index <= k])
                hi = min([n] + [c.index for c in changes if c.index > k])
                kept = change_near(t, y, lo=lo, hi=hi, near=k, tolerance=KEPT_TOLERANCE, sigma=window.sigma,
                                   min_segment=min_segment, cache=window.cache)
                if kept is None or kept.score < bar:
                    continue
                kept = redate(t, y, kept, lo=lo, hi=hi, sigma=window.sigma, min_segment=min_segment,
                              cache=window.cache)
                if settings.keep_share and date_share(t, y, kept, lo=lo, hi=hi, sigma=window.sigma,
                                                      min_segment=min_segment,
                                                      cache=window.cache) < settings.keep_share:
                    continue  # this window cannot say where it is: the earlier date is no longer borne out
                changes = sorted([*changes, kept], key=lambda c: c.index)
        return changes

    @staticmethod
    def _datable(window: _Detection, min_segment: int, share: float) -> list[Change]:
        """The window's own changes, less the level shifts that it cannot date: under `share` of
        their posterior within `min_segment` periods of their date, between the neighbouring changes
        (`changepoints.date_share`)."""
        changes = list(window.changes)
        if not share:
            return changes
        bounds = [0] + [c.index for c in changes] + [len(window.y)]
        return [
            change for i, change in enumerate(changes)
            if change.kind != "level_shift"
            or date_share(window.t, window.y, change, lo=bounds[i], hi=bounds[i + 2], sigma=window.sigma,
                          min_segment=min_segment, cache=window.cache) >= share
        ]

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

    @staticmethod
    def _shift(window: _Detection, change: Change, lo: int, hi: int, latest: int, span: Span, grain: Grain) -> Shift:
        t, y = window.t, window.y
        size = local_estimate(t, y, change, lo, hi, cache=window.cache)
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
