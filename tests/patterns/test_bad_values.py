"""Bad values where data enters the patterns: infinities are missing values, text and duplicate
periods are an `invalid_data` result for every date, never an exception or a silent choice."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from semsync.patterns import ErrorType, PatternData, get_pattern, run_pattern

LAST = date(2025, 7, 1)
ANALYSIS = LAST + timedelta(days=1)
DATES = [ANALYSIS - timedelta(days=2), ANALYSIS]


def series(values) -> pd.DataFrame:
    days = pd.date_range(end=LAST, periods=len(values), freq="D").date
    return pd.DataFrame({"date": days, "value": values})


def noise(n: int = 180) -> np.ndarray:
    return 100 + np.random.default_rng(7).normal(0, 1, n)


def test_an_infinite_latest_value_is_a_missing_value():
    values = noise(30)
    values[-1] = np.inf
    targets = pd.DataFrame({"date": series(values)["date"], "target_value": 100.0})
    result = get_pattern("performance_status").analyze(PatternData("m", series=series(values), targets=targets),
                                                       ANALYSIS, "day")
    assert result.error.type is ErrorType.MISSING_LATEST_VALUE and result.status is None


def test_infinities_inside_the_window_are_gaps_not_drift():
    values = noise()
    with_inf = values.copy()
    with_inf[[20, 60, 61, 100, 150]] = [np.inf, -np.inf, np.inf, np.nan, np.inf]
    drift = get_pattern("drift_detection")
    dirty = drift.analyze(PatternData("m", series=series(with_inf)), ANALYSIS, "day")
    gaps = series(values).drop(index=[20, 60, 61, 100, 150])
    clean = drift.analyze(PatternData("m", series=gaps), ANALYSIS, "day")
    assert dirty.error is None and dirty.shifts == [] and dirty.num_periods == 175
    assert dirty.model_dump(exclude={"evaluation_time"}) == clean.model_dump(exclude={"evaluation_time"})


def test_an_infinite_slice_is_absent_not_the_whole_share():
    rows = [(LAST - timedelta(days=1), "region", "eu", 10.0), (LAST - timedelta(days=1), "region", "us", 30.0),
            (LAST, "region", "eu", np.inf), (LAST, "region", "us", 40.0)]
    frame = pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice", "value"])
    result = get_pattern("dimension_analysis").analyze(PatternData("m", dimensional=frame), ANALYSIS, "day")
    shares = {s.slice: s.current_share_percent for s in result.slices}
    assert shares == {"eu": 0.0, "us": 100.0}  # eu has no value today (counts 0), us all of the total


@pytest.mark.parametrize("name", ["performance_status", "historical_performance", "forecasting", "drift_detection"])
def test_text_in_the_series_is_invalid_data_for_every_date(name):
    frame = series(noise(400).astype(object))
    frame.loc[390, "value"] = "12,5"
    data = PatternData("m", series=frame, targets=pd.DataFrame({"date": frame["date"], "target_value": 90.0}))
    results = get_pattern(name).analyze_many(data, DATES, "day")
    assert [r.error.type for r in results] == [ErrorType.INVALID_DATA] * 2
    assert "'12,5'" in results[0].error.message and "2025-06-22" in results[0].error.message


@pytest.mark.parametrize("name", ["performance_status", "drift_detection"])
def test_two_rows_for_one_period_are_invalid_data(name):
    frame = series(noise(200))
    frame = pd.concat([frame, frame.iloc[[150]].assign(value=5.0)], ignore_index=True)
    data = PatternData("m", series=frame, targets=pd.DataFrame({"date": frame["date"].unique(), "target_value": 1.0}))
    results = get_pattern(name).analyze_many(data, DATES, "day")
    assert [r.error.type for r in results] == [ErrorType.INVALID_DATA] * 2
    assert "2 rows share a period" in results[0].error.message


def test_duplicate_slices_and_text_in_one_dimension_leave_the_others_and_the_series_alone():
    rows = []
    for day in (LAST - timedelta(days=1), LAST):
        rows += [(day, "region", "eu", 10.0), (day, "region", "us", 20.0),
                 (day, "plan", "free", 1.0), (day, "plan", "pro", 2.0)]
    rows += [(LAST, "region", "eu", 11.0), (LAST, "plan", "pro", "n/a")]
    frame = pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice", "value"])
    data = PatternData("m", series=series(noise(30)), dimensional=frame)
    by_dimension = {r.dimension_name: r for r in run_pattern("dimension_analysis", data, [ANALYSIS], "day")}
    assert by_dimension["region"].error.type is ErrorType.INVALID_DATA
    assert "dimension_slice eu" in by_dimension["region"].error.message
    assert by_dimension["plan"].error.type is ErrorType.INVALID_DATA and "'n/a'" in by_dimension["plan"].error.message
    # the series patterns do not read the dimensional rows
    assert get_pattern("historical_performance").analyze(data, ANALYSIS, "day").error is None
