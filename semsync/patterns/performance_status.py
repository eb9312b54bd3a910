"""performance_status: is the latest period on track against its target, and for how long.

Three levels, by how far the value falls short of the target in the metric's direction, as a
share of |target| (so a negative target is judged the same way):

- higher is better: **on track** when value ≥ target − yellow × |target|; **at risk** when not on
  track but value ≥ target − red × |target|; **off track** below;
- lower is better (churn, cost): the mirror image, value ≤ target + yellow × |target| and so on.

yellow and red are the target's `yellow_buffer` and `red_buffer` (percent of |target|); without a
yellow buffer, `threshold_ratio` (default 5 %) takes its place, and without a red buffer there is no
"at risk" band (a value is on or off track). ``no_target`` without a target. Alongside: the prior
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

TARGET_COLUMNS = ("target_value", "target_upper_bound", "target_lower_bound", "yellow_buffer", "red_buffer")


class Status(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_TARGET = "no_target"


_CODES = {1: Status.ON_TRACK, 2: Status.AT_RISK, 0: Status.OFF_TRACK, -1: Status.NO_TARGET}
_NO_VALUE = -2


class PerformanceStatusSettings(PatternSettings):
    lookback_day: int = Field(180, ge=2)
    lookback_week: int = Field(26, ge=2)
    lookback_month: int = Field(12, ge=2)
    #: how far short of target still counts as on track, as a fraction of |target|, for targets
    #: without a yellow buffer
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
    direction: str | None = None
    current_value: Number = None
    target_value: Number = None
    target_threshold: Number = None  # the on-track bound
    at_risk_threshold: Number = None  # the at-risk bound (None without a red buffer)
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
    """Per period from `first` to the last of any window: a period's status depends on its own value,
    target and buffers only, so each period's is computed once for every window that shows it."""

    first: int
    values: np.ndarray
    targets: np.ndarray
    yellow: np.ndarray  # the buffers as fractions of |target| (`_buffers`)
    red: np.ndarray
    codes: np.ndarray  # `_status_codes`
    upper_bounds: PeriodGrid
    lower_bounds: PeriodGrid


class PerformanceStatus(Pattern[PerformanceStatusSettings, PerformanceStatusResult, _Prepared]):
    name: ClassVar[str] = "performance_status"
    version: ClassVar[str] = "1.1"
    needs = frozenset({DataNeed.SERIES_WITH_TARGETS})
    settings_model = PerformanceStatusSettings
    result_model = PerformanceStatusResult

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        targets = {}
        frame = data.targets
        for column in TARGET_COLUMNS:
            has = frame is not None and column in frame.columns
            targets[column] = PeriodGrid.from_frame(grain, frame if has else None, column)
        first = min((span.start for span in spans), default=0)
        last = max((span.end for span in spans), default=first - 1)
        values = PeriodGrid.from_frame(grain, data.series).window(first, last)
        target_values = targets["target_value"].window(first, last)
        yellow, red = _buffers(targets["yellow_buffer"].window(first, last), targets["red_buffer"].window(first, last),
                               settings.threshold_ratio)
        codes = _status_codes(values, target_values, yellow, red, settings.direction.sign)
        return _Prepared(first, values, target_values, yellow, red, codes, targets["target_upper_bound"],
                         targets["target_lower_bound"])

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        window = slice(span.start - prepared.first, span.end - prepared.first + 1)
        values, targets, codes = prepared.values[window], prepared.targets[window], prepared.codes[window]
        observed = int(np.count_nonzero(~np.isnan(values)))
        current = values[-1]
        if np.isnan(current):
            raise AnalysisError.missing_latest(grain, span.end)
        yellow, red = prepared.yellow[window.stop - 1], prepared.red[window.stop - 1]
        sign = settings.direction.sign
        status = _CODES[int(codes[-1])]
        target = targets[-1]
        last = len(values) - 1
        fields: dict[str, Any] = {
            "num_periods": observed,
            "status": status,
            "direction": settings.direction.value,
            "current_value": current,
            "target_value": target,
            "target_threshold": target - sign * yellow * abs(target),
            "at_risk_threshold": target - sign * red * abs(target) if red > yellow else None,
            "target_upper_bound": prepared.upper_bounds.value_at(span.end),
            "target_lower_bound": prepared.lower_bounds.value_at(span.end),
            "current_status_duration_periods": last - run_start(codes, last) + 1,
        }
        # gap: how far the value is on the wrong side of the target; over-performance: the right side
        better = sign * (current - target)
        if status is not Status.NO_TARGET:
            if better < 0:
                fields["gap_value"] = abs(target - current)
                fields["gap_percent"] = abs(percent_change(current, target))
            elif better > 0:
                fields["over_performance_value"] = abs(current - target)
                fields["over_performance_percent"] = abs(percent_change(current, target))
        if status is Status.ON_TRACK and better >= 0:
            margin = abs(percent_change(current, target)) if better > 0 else 0.0
            if margin <= settings.hold_steady_ratio * 100:
                at_or_above = (sign * (values - targets) >= 0).astype(np.int8)
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


def _buffers(yellow: np.ndarray, red: np.ndarray, threshold_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Per period: the yellow and red buffers (percent) as fractions of |target| (the yellow one
    `threshold_ratio` where a target has none; the red one the yellow one where it has none)."""
    yellow, red = yellow / 100.0, red / 100.0
    yellow = np.where(np.isnan(yellow), threshold_ratio, yellow)
    red = np.where(np.isnan(red), yellow, np.maximum(red, yellow))
    return yellow, red


def _status_codes(values: np.ndarray, targets: np.ndarray, yellow: np.ndarray, red: np.ndarray,
                  sign: int) -> np.ndarray:
    """Per period: 1 on track, 2 at risk, 0 off track, −1 no target, −2 no value."""
    on_track = meets_target(values, targets, yellow, sign)
    at_risk = ~on_track & meets_target(values, targets, red, sign)
    codes = np.where(on_track, 1, np.where(at_risk, 2, 0)).astype(np.int8)
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
