"""The pattern interface: registry, settings overrides, windows, typed errors, JSON-safe results."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from semsync.errors import InvalidInputError, NotFoundError
from semsync.partitions import Grain, Partition
from semsync.patterns import ErrorType, PatternData, analysis_date_for, get_pattern, pattern_names, run_pattern
from semsync.patterns.base import finite_or_none_list
from semsync.patterns.dimension_analysis import SliceShare

ALL = ["dimension_analysis", "drift_detection", "forecasting", "historical_performance", "performance_status"]


def dataset(days: int = 500, end: str = "2025-07-31", zeros: bool = False) -> PatternData:
    dates = pd.date_range(end=end, periods=days, freq="D")
    rng = np.random.default_rng(7)
    values = 100 + 0.05 * np.arange(days) + 5 * np.sin(np.arange(days) * 2 * np.pi / 7) + rng.normal(0, 2, days)
    if zeros:
        values[::5] = 0.0
    series = pd.DataFrame({"date": dates.date, "value": values})
    targets = pd.DataFrame({"date": pd.date_range(dates[0], "2026-12-31").date, "target_value": 100.0})
    dims = pd.DataFrame(
        [(d, dim, s, v * w) for d, v in zip(dates.date, values, strict=True)
         for dim, s, w in (("region", "eu", 0.4), ("region", "us", 0.6), ("plan", "pro", 0.7), ("plan", "free", 0.3))],
        columns=["date", "dimension_name", "dimension_slice", "value"],
    )
    return PatternData("revenue", series=series, targets=targets, dimensional=dims)


def test_registry_knows_the_five_patterns():
    assert pattern_names() == ALL
    assert get_pattern("forecasting").name == "forecasting"
    with pytest.raises(NotFoundError, match="unknown pattern 'nope'"):
        get_pattern("nope")


def test_settings_defaults_overrides_and_unknown_keys():
    pattern = get_pattern("performance_status")
    assert pattern.settings().threshold_ratio == 0.05
    settings = pattern.settings({"threshold_ratio": 0.1, "lookback_day": 30})
    assert (settings.threshold_ratio, settings.lookback_day, settings.lookback_week) == (0.1, 30, 26)
    with pytest.raises(InvalidInputError, match="threshold_ratoi") as error:
        pattern.settings({"threshold_ratoi": 0.1})
    assert error.value.part == "settings"
    with pytest.raises(InvalidInputError):
        pattern.settings({"threshold_ratio": 2})


def test_overrides_change_the_analysis():
    data = PatternData("m", series=pd.DataFrame({"date": [date(2025, 7, 1)], "value": [90.0]}),
                       targets=pd.DataFrame({"date": [date(2025, 7, 1)], "target_value": [100.0]}))
    pattern = get_pattern("performance_status")
    assert pattern.analyze(data, date(2025, 7, 2), "day").status == "off_track"
    assert pattern.analyze(data, date(2025, 7, 2), "day", {"threshold_ratio": 0.1}).status == "on_track"


@pytest.mark.parametrize(
    ("grain", "analysis_date", "start", "end"),
    [
        ("day", date(2025, 7, 2), date(2025, 1, 3), date(2025, 7, 1)),
        ("week", date(2025, 7, 14), date(2025, 1, 13), date(2025, 7, 13)),  # Monday: last week is complete
        ("week", date(2025, 7, 13), date(2025, 1, 6), date(2025, 7, 6)),  # Sunday: its week is not
        ("month", date(2025, 8, 1), date(2024, 8, 1), date(2025, 7, 31)),
        ("month", date(2025, 8, 31), date(2024, 8, 1), date(2025, 7, 31)),
    ],
)
def test_window_ends_with_the_last_complete_period(grain, analysis_date, start, end):
    window = get_pattern("performance_status").window(analysis_date, grain)
    assert (window.start, window.end, window.grain) == (start, end, Grain(grain))


def test_analysis_date_for_a_partition_is_the_day_after_it():
    assert analysis_date_for(Partition(Grain.WEEK, date(2025, 7, 7))) == date(2025, 7, 14)
    window = get_pattern("historical_performance").window(analysis_date_for(Partition(Grain.MONTH, date(2025, 7, 1))),
                                                          "month")
    assert window.end == date(2025, 7, 31)


@pytest.mark.parametrize("name", ["drift_detection", "forecasting", "historical_performance"])
def test_too_short_a_history_gives_a_typed_error_not_an_exception(name):
    result = get_pattern(name).analyze(dataset(days=6), date(2025, 8, 1), "day")
    assert result.error is not None and result.error.type is ErrorType.INSUFFICIENT_DATA
    assert result.error.available == result.num_periods < result.error.required
    assert result.analysis_window.end == date(2025, 7, 31)
    json.dumps(result.model_dump(mode="json"), allow_nan=False)


@pytest.mark.parametrize("name", ALL)
def test_no_value_for_the_latest_period_gives_a_typed_error(name):
    results = run_pattern(name, dataset(end="2025-07-20"), [date(2025, 8, 1)], "day")
    assert results
    for result in results:
        expected = ErrorType.INSUFFICIENT_DATA if name == "dimension_analysis" else ErrorType.MISSING_LATEST_VALUE
        assert result.error is not None and result.error.type is expected
        dumped = result.model_dump(mode="json")
        assert dumped["error"]["type"] == expected.value and dumped["error"]["message"]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("zeros", [False, True])
def test_results_are_json_without_nan(name, zeros):
    results = run_pattern(name, dataset(zeros=zeros), [date(2025, 8, 1)], "day")
    for result in results:
        assert result.error is None
        payload = result.model_dump(mode="json")
        text = json.dumps(payload, allow_nan=False)
        assert payload["pattern"] == name and payload["version"] == get_pattern(name).version
        assert payload["metric_id"] == "revenue"
        assert payload["analysis_window"] == {"start": payload["analysis_window"]["start"], "end": "2025-07-31",
                                              "grain": "day"}
        assert payload["num_periods"] > 0 and "evaluation_time" in payload and payload["analysis_date"] == "2025-08-01"
        assert type(result).model_validate_json(text).model_dump(mode="json") == payload


def test_dimension_analysis_runs_once_per_dimension():
    data = dataset()
    results = run_pattern("dimension_analysis", data, [date(2025, 8, 1), date(2025, 8, 2)], "day")
    assert [(r.dimension_name, r.analysis_date.day) for r in results] == [
        ("plan", 1), ("plan", 2), ("region", 1), ("region", 2)]
    with pytest.raises(InvalidInputError, match="once per dimension"):
        get_pattern("dimension_analysis").analyze(data, date(2025, 8, 1), "day")


def test_a_trusted_finding_equals_the_validated_one():
    share, previous = finite_or_none_list(np.array([12.5, np.nan]))
    fields = {"slice": "eu", "share_percent": share, "previous_slice": "us", "previous_share_percent": previous}
    trusted, validated = SliceShare.trusted(**fields), SliceShare(**fields | {"previous_share_percent": np.inf})
    assert trusted == validated and trusted.previous_share_percent is None
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert trusted.model_fields_set == validated.model_fields_set
    with pytest.raises(TypeError, match="every field"):
        SliceShare.trusted(slice="eu", share_percent=1.0)
