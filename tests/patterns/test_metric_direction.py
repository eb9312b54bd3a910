"""Metric direction and the target's buffers: lower-is-better metrics (churn, cost) read the other
way in every pattern, and the yellow and red buffers make a three-level status."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from semsync.catalog.models import MetricDef, TargetDef, TenantDef
from semsync.patterns import PatternData, get_pattern
from semsync.patterns.catalog_settings import PatternSettingsTable, pattern_overrides

LAST = date(2025, 7, 1)
ANALYSIS = LAST + timedelta(days=1)
LOWER = {"direction": "lower_is_better"}


def daily(values, targets=None, yellow=None, red=None) -> PatternData:
    days = [LAST - timedelta(days=len(values) - 1 - i) for i in range(len(values))]
    frame = None
    if targets is not None:
        frame = pd.DataFrame({"date": days, "target_value": targets, "yellow_buffer": yellow, "red_buffer": red})
    return PatternData("churn", series=pd.DataFrame({"date": days, "value": values}), targets=frame)


STATUS = get_pattern("performance_status")


@pytest.mark.parametrize(
    ("value", "target", "direction", "status"),
    [
        (104.9, 100.0, "lower_is_better", "on_track"),  # up to 5 % above a ceiling is on track
        (105.1, 100.0, "lower_is_better", "off_track"),
        (60.0, 100.0, "lower_is_better", "on_track"),
        (60.0, 100.0, "higher_is_better", "off_track"),
        (-95.0, -100.0, "lower_is_better", "on_track"),  # |target|: −100 + 5
        (-94.9, -100.0, "lower_is_better", "off_track"),
    ],
)
def test_on_track_follows_the_direction(value, target, direction, status):
    result = STATUS.analyze(daily([value], [target]), ANALYSIS, "day", {"direction": direction})
    assert result.status == status and result.direction == direction


def test_yellow_and_red_buffers_make_three_levels():
    def status(value, direction="higher_is_better"):
        data = daily([value], [200.0], yellow=[10.0], red=[25.0])
        return STATUS.analyze(data, ANALYSIS, "day", {"direction": direction})

    assert [status(v).status for v in (181.0, 180.0, 179.0, 150.0, 149.9)] == [
        "on_track", "on_track", "at_risk", "at_risk", "off_track"]
    assert [status(v, "lower_is_better").status for v in (219.0, 221.0, 250.0, 250.1)] == [
        "on_track", "at_risk", "at_risk", "off_track"]
    edge = status(179.0)
    assert (edge.target_threshold, edge.at_risk_threshold) == (180.0, 150.0)
    assert edge.gap_value == pytest.approx(21.0) and edge.gap_percent == pytest.approx(10.5)


def test_without_a_red_buffer_there_is_no_at_risk_band_and_status_changes_count_levels():
    values = [190.0, 175.0, 175.0, 140.0]
    data = daily(values, [200.0] * 4, yellow=[10.0] * 4, red=[None, 20.0, 20.0, 20.0])
    result = STATUS.analyze(data, ANALYSIS, "day")
    assert result.status == "off_track" and result.prior_status == "at_risk"
    assert result.status_change.old_status == "at_risk" and result.status_change.old_status_duration_periods == 2
    plain = STATUS.analyze(daily([175.0], [200.0], yellow=[10.0]), ANALYSIS, "day")
    assert plain.status == "off_track" and plain.at_risk_threshold is None


def test_lower_is_better_over_performance_and_hold_steady():
    result = STATUS.analyze(daily([97.0, 98.0], [100.0, 100.0]), ANALYSIS, "day", LOWER)
    assert result.over_performance_value == pytest.approx(2.0) and result.gap_value is None
    assert result.hold_steady.periods_at_or_above_target == 2  # "at or above" = on the good side


def test_records_and_exceptions_follow_the_direction():
    values = np.concatenate([100 + np.random.default_rng(1).normal(0, 1, 59), [80.0]])
    history = get_pattern("historical_performance")
    lower = history.analyze(daily(values), ANALYSIS, "day", {"lookback_day": 60, **LOWER})
    higher = history.analyze(daily(values), ANALYSIS, "day", {"lookback_day": 60})
    assert lower.best_rank == lower.low_rank and lower.best_rank.is_record and lower.best_rank.rank == 1
    assert higher.best_rank == higher.high_rank and higher.best_rank.rank == 60
    assert lower.trend_exception.type == "drop" and lower.trend_exception.favourable
    assert not higher.trend_exception.favourable


def test_strongest_slices_follow_the_direction():
    rows = [(LAST - timedelta(days=1), "region", s, v) for s, v in {"eu": 5.0, "us": 9.0, "apac": 7.0}.items()]
    rows += [(LAST, "region", s, v) for s, v in {"eu": 8.0, "us": 6.0, "apac": 7.0}.items()]
    frame = pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice", "value"])
    dimensions = get_pattern("dimension_analysis")
    result = dimensions.analyze(PatternData("latency", dimensional=frame), ANALYSIS, "day", LOWER)
    assert [s.slice for s in result.top_slices] == ["us", "apac", "eu"]  # lowest latency first
    assert result.new_strongest_slice.current_slice == "us" and result.new_strongest_slice.previous_slice == "eu"
    assert result.largest_slice.slice == "eu"  # by share: the largest value, whatever the direction
    assert result.historical_rankings[-1].slices == ["us", "apac", "eu"]


def test_forecast_status_follows_the_direction():
    days = pd.date_range(end=LAST, periods=400, freq="D")
    values = 50 + np.random.default_rng(2).normal(0, 1, 400)
    series = pd.DataFrame({"date": days.date, "value": values})
    targets = pd.DataFrame({"date": pd.date_range(days[0], "2025-12-31").date, "target_value": 60.0})
    forecasting = get_pattern("forecasting")
    data = PatternData("cost", series=series, targets=targets)
    month = {p.period: p for p in forecasting.analyze(data, ANALYSIS, "day", LOWER).period_forecasts}["month"]
    assert month.status == "on_track" and month.pacing.status == "on_track"
    month = {p.period: p for p in forecasting.analyze(data, ANALYSIS, "day").period_forecasts}["month"]
    assert month.status == "off_track"


def test_the_catalog_carries_the_direction_into_every_pattern():
    metric = MetricDef.model_validate({
        "id": "churn", "label": "Churn", "direction": "lower_is_better",
        "source": {"type": "sql", "table": "t", "value": "sum(x)", "time_column": "day"},
        "patterns": {"performance_status": {"threshold_ratio": 0.1}},
    })
    tenant = TenantDef(identifier="acme", name="Acme", patterns={"performance_status": {"threshold_ratio": 0.2,
                                                                                        "hold_steady_ratio": 0.01}})
    overrides = pattern_overrides(tenant, metric, "performance_status")
    assert overrides == {"threshold_ratio": 0.1, "hold_steady_ratio": 0.01, "direction": "lower_is_better"}
    table = PatternSettingsTable.build(tenant, [metric], ["performance_status", "forecasting"])
    assert table.get("churn", "forecasting").direction == "lower_is_better"
    assert table.get("churn", "performance_status").threshold_ratio == 0.1
    assert MetricDef.model_validate({**metric.model_dump(), "direction": "higher_is_better"}).direction
    with pytest.raises(ValueError, match="direction"):
        MetricDef.model_validate({**metric.model_dump(), "direction": "sideways"})
    with pytest.raises(ValueError, match="red_buffer 5.0 is below yellow_buffer 10.0"):
        TargetDef(grain="day", target_date=LAST, target_value=1.0, yellow_buffer=10.0, red_buffer=5.0)
