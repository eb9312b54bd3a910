"""performance_status: is the latest period on track against its target, and for how long.

On track when value ≥ target − `threshold_ratio` × |target| (i.e. ≥ target × 0.95 for a positive
target and the default 5 %), off track below, ``no_target`` without a target. Alongside: the prior
value and the period-over-period change, the gap to (or over-performance against) the target, a
status change and how long the previous status held, a streak of ≥ 2 moves in one direction, and
whether the metric is holding steady just above its target. A gap in the series breaks runs and
streaks; no value for the latest period is a ``missing_latest_value`` error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
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
from semsync.patterns.periods import PeriodGrid, period_start
from semsync.patterns.series import meets_target, percent_change, run_start

TARGET_COLUMNS = ("target_value", "target_upper_bound", "target_lower_bound")


class Status(StrEnum):
    ON_TRACK = "on_track"
    OFF_TRACK = "off_track"
    NO_TARGET = "no_target"


_CODES = {1: Status.ON_TRACK, 0: Status.OFF_TRACK, -1: Status.NO_TARGET}
_NO_VALUE = -2


class PerformanceStatusSettings(PatternSettings):
    lookback_day: int = Field(180, ge=2)
    lookback_week: int = Field(26, ge=2)
    lookback_month: int = Field(12, ge=2)
    #: how far below target still counts as on track, as a fraction of |target|
    threshold_ratio: float = Field(0.05, ge=0, lt=1)
    #: on track and at most this far above target (fraction of |target|) is "holding steady"
    hold_steady_ratio: float = Field(0.05, ge=0)
    #: a streak is reported from this many consecutive moves in one direction
    min_streak_periods: int = Field(2, ge=1)


class StatusChange(ResultModel):
    old_status: Status
    new_status: Status
    old_status_duration_periods: int


class Streak(ResultModel):
    direction: str  # "up" | "down"
    length_periods: int  # consecutive moves in `direction`, ending with the latest period
    start_date: date
    start_value: Number
    total_change_percent: Number
    average_change_percent: Number


class HoldSteady(ResultModel):
    is_currently_at_or_above_target: bool
    current_margin_percent: Number
    periods_at_or_above_target: int


class PerformanceStatusResult(AnalysisResult):
    status: Status | None = None
    current_value: Number = None
    target_value: Number = None
    target_threshold: Number = None
    target_upper_bound: Number = None
    target_lower_bound: Number = None
    prior_value: Number = None
    prior_status: Status | None = None
    absolute_change: Number = None
    pop_change_percent: Number = None
    gap_value: Number = None
    gap_percent: Number = None
    over_performance_value: Number = None
    over_performance_percent: Number = None
    current_status_duration_periods: int | None = None
    status_change: StatusChange | None = None
    streak: Streak | None = None
    hold_steady: HoldSteady | None = None


@dataclass(frozen=True)
class _Prepared:
    values: PeriodGrid
    targets: dict[str, PeriodGrid]


class PerformanceStatus(Pattern[PerformanceStatusSettings, PerformanceStatusResult, _Prepared]):
    name: ClassVar[str] = "performance_status"
    version: ClassVar[str] = "1.0"
    needs = frozenset({DataNeed.SERIES_WITH_TARGETS})
    settings_model = PerformanceStatusSettings
    result_model = PerformanceStatusResult

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        targets = {}
        frame = data.targets
        for column in TARGET_COLUMNS:
            has = frame is not None and column in frame.columns
            targets[column] = PeriodGrid.from_frame(grain, frame if has else None, column)
        return _Prepared(PeriodGrid.from_frame(grain, data.series), targets)

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        values = prepared.values.window(span.start, span.end)
        targets = prepared.targets["target_value"].window(span.start, span.end)
        observed = int(np.count_nonzero(~np.isnan(values)))
        current = values[-1]
        if np.isnan(current):
            raise AnalysisError.missing_latest(grain, span.end)
        codes = _status_codes(values, targets, settings.threshold_ratio)
        status = _CODES[int(codes[-1])]
        target = targets[-1]
        last = len(values) - 1
        fields: dict[str, Any] = {
            "num_periods": observed,
            "status": status,
            "current_value": current,
            "target_value": target,
            "target_threshold": target - settings.threshold_ratio * abs(target),
            "target_upper_bound": prepared.targets["target_upper_bound"].value_at(span.end),
            "target_lower_bound": prepared.targets["target_lower_bound"].value_at(span.end),
            "current_status_duration_periods": last - run_start(codes, last) + 1,
        }
        if status is not Status.NO_TARGET:
            if current < target:
                fields["gap_value"] = target - current
                fields["gap_percent"] = percent_change(current, target) * -1
            elif current > target:
                fields["over_performance_value"] = current - target
                fields["over_performance_percent"] = percent_change(current, target)
        if status is Status.ON_TRACK and current >= target:
            margin = percent_change(current, target)
            if margin <= settings.hold_steady_ratio * 100:
                at_or_above = (values >= targets).astype(np.int8)
                fields["hold_steady"] = HoldSteady(
                    is_currently_at_or_above_target=True,
                    current_margin_percent=margin,
                    periods_at_or_above_target=last - run_start(at_or_above, last) + 1,
                )
        if last >= 1 and codes[last - 1] != _NO_VALUE:
            prior = values[last - 1]
            fields["prior_value"] = prior
            fields["prior_status"] = _CODES[int(codes[last - 1])]
            fields["absolute_change"] = current - prior
            fields["pop_change_percent"] = percent_change(current, prior)
            if codes[last - 1] != codes[last]:
                old_start = run_start(codes, last - 1)
                fields["status_change"] = StatusChange(
                    old_status=fields["prior_status"],
                    new_status=status,
                    old_status_duration_periods=last - old_start,
                )
        fields["streak"] = _streak(values, span, grain, settings.min_streak_periods)
        return fields


def _status_codes(values: np.ndarray, targets: np.ndarray, threshold_ratio: float) -> np.ndarray:
    """Per period: 1 on track, 0 off track, −1 no target, −2 no value."""
    on_track = meets_target(values, targets, threshold_ratio)
    codes = np.where(on_track, 1, 0).astype(np.int8)
    codes[np.isnan(targets)] = -1
    codes[np.isnan(values)] = _NO_VALUE
    return codes


def _streak(values: np.ndarray, span: Span, grain: Grain, min_periods: int) -> Streak | None:
    """Consecutive moves in one direction that end with the latest period."""
    if len(values) < 2:
        return None
    moves = np.sign(np.diff(values))  # NaN where a period is missing: breaks the streak
    last = len(moves) - 1
    if np.isnan(moves[last]) or moves[last] == 0:
        return None
    start = run_start(moves, last)
    length = last - start + 1
    if length < min_periods:
        return None
    run = values[start : last + 2]
    changes = [percent_change(b, a) for a, b in zip(run[:-1], run[1:], strict=True)]
    finite = [c for c in changes if np.isfinite(c)]
    return Streak(
        direction="up" if moves[last] > 0 else "down",
        length_periods=length,
        start_date=period_start(grain, span.start + start),
        start_value=run[0],
        total_change_percent=percent_change(run[-1], run[0]),
        average_change_percent=float(np.mean(finite)) if finite else None,
    )
