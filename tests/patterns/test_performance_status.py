"""performance_status at its boundaries: exactly target × 0.95, no target, gaps, changes, streaks."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from semsync.patterns import ErrorType, PatternData, get_pattern

STATUS = get_pattern("performance_status")
LAST = date(2025, 7, 1)
ANALYSIS = LAST + timedelta(days=1)


def daily(values, targets=None, last: date = LAST) -> PatternData:
    """`values` (None = a gap) and `targets` (None = no target) for the days ending on `last`."""
    days = [last - timedelta(days=len(values) - 1 - i) for i in range(len(values))]
    series = pd.DataFrame({"date": days, "value": values}).dropna()
    frame = None
    if targets is not None:
        frame = pd.DataFrame({"date": days, "target_value": targets}).dropna()
    return PatternData("revenue", series=series, targets=frame)


@pytest.mark.parametrize("target", [100.0, 123.45, 0.37, 1e7 / 3])
def test_exactly_target_times_095_is_on_track(target):
    on_edge = STATUS.analyze(daily([target * 0.95], [target]), ANALYSIS, "day")
    assert on_edge.status == "on_track"
    assert on_edge.target_threshold == pytest.approx(target * 0.95)
    assert on_edge.gap_percent == pytest.approx(5.0)
    below = STATUS.analyze(daily([target * 0.9499], [target]), ANALYSIS, "day")
    assert below.status == "off_track"


def test_negative_target_threshold_is_below_it():
    assert STATUS.analyze(daily([-105.0], [-100.0]), ANALYSIS, "day").status == "on_track"
    assert STATUS.analyze(daily([-105.1], [-100.0]), ANALYSIS, "day").status == "off_track"


def test_no_target():
    result = STATUS.analyze(daily([10.0, 12.0], [None, None]), ANALYSIS, "day")
    assert result.error is None
    assert result.status == "no_target" and result.target_value is None
    assert result.gap_value is result.gap_percent is result.over_performance_percent is None
    assert result.pop_change_percent == pytest.approx(20.0)
    no_targets_at_all = STATUS.analyze(daily([10.0, 12.0]), ANALYSIS, "day")
    assert no_targets_at_all.status == "no_target"


def test_gap_for_the_prior_period():
    result = STATUS.analyze(daily([90.0, 100.0, None, 101.0], [100.0] * 4), ANALYSIS, "day")
    assert result.status == "on_track" and result.current_value == 101.0
    assert result.prior_value is None and result.pop_change_percent is None and result.prior_status is None
    assert result.status_change is None and result.streak is None
    assert result.current_status_duration_periods == 1
    assert result.over_performance_percent == pytest.approx(1.0)


def test_gap_in_the_latest_period_is_a_typed_error():
    result = STATUS.analyze(daily([100.0, 100.0, None], [100.0] * 3), ANALYSIS, "day")
    assert result.error.type is ErrorType.MISSING_LATEST_VALUE
    assert result.status is None and result.num_periods == 0


def test_status_change_and_how_long_the_old_status_held():
    result = STATUS.analyze(daily([99.0, 80.0, 81.0, 82.0, 97.0], [100.0] * 5), ANALYSIS, "day")
    assert (result.status, result.prior_status) == ("on_track", "off_track")
    assert result.status_change.old_status == "off_track" and result.status_change.new_status == "on_track"
    assert result.status_change.old_status_duration_periods == 3
    assert result.current_status_duration_periods == 1
    assert result.gap_value == pytest.approx(3.0) and result.gap_percent == pytest.approx(3.0)


def test_streak_of_increases_and_a_gap_breaking_it():
    result = STATUS.analyze(daily([50.0, 40.0, 44.0, 48.0, 60.0], [100.0] * 5), ANALYSIS, "day")
    streak = result.streak
    assert (streak.direction, streak.length_periods) == ("up", 3)
    assert streak.start_date == LAST - timedelta(days=3) and streak.start_value == 40.0
    assert streak.total_change_percent == pytest.approx(50.0)
    assert streak.average_change_percent == pytest.approx(np.mean([10.0, 100 * 4 / 44, 100 * 12 / 48]))
    broken = STATUS.analyze(daily([40.0, 44.0, None, 48.0, 60.0], [100.0] * 5), ANALYSIS, "day")
    assert broken.streak is None  # one move since the gap
    down = STATUS.analyze(daily([60.0, 50.0, 40.0], [100.0] * 3), ANALYSIS, "day").streak
    assert (down.direction, down.length_periods) == ("down", 2)


def test_hold_steady_just_above_target():
    result = STATUS.analyze(daily([99.0, 101.0, 102.0, 103.0], [100.0] * 4), ANALYSIS, "day")
    assert result.hold_steady.is_currently_at_or_above_target
    assert result.hold_steady.current_margin_percent == pytest.approx(3.0)
    assert result.hold_steady.periods_at_or_above_target == 3
    assert STATUS.analyze(daily([120.0], [100.0]), ANALYSIS, "day").hold_steady is None


def test_weekly_grain_uses_the_last_complete_week():
    mondays = [date(2025, 6, 16), date(2025, 6, 23), date(2025, 6, 30), date(2025, 7, 7)]
    data = PatternData(
        "revenue",
        series=pd.DataFrame({"date": mondays, "value": [10.0, 20.0, 30.0, 1.0]}),
        targets=pd.DataFrame({"date": mondays, "target_value": [25.0] * 4}),
    )
    result = STATUS.analyze(data, date(2025, 7, 9), "week")  # the week of 07-07 is not over
    assert result.analysis_window.end == date(2025, 7, 6)
    assert (result.current_value, result.status, result.prior_value) == (30.0, "on_track", 20.0)
    assert result.status_change.old_status_duration_periods == 2
