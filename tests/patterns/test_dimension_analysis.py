"""dimension_analysis: shares, changes, top and bottom slices, leaders, rankings."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from semsync.patterns import ErrorType, PatternData, get_pattern

DIMENSIONS = get_pattern("dimension_analysis")
LAST = date(2025, 7, 1)
ANALYSIS = LAST + timedelta(days=1)


def by_slice(periods: list[dict[str, float]], dimension: str = "country") -> PatternData:
    """One dict of slice → value per day, the last dict for `LAST`."""
    rows = [
        (LAST - timedelta(days=len(periods) - 1 - i), dimension, name, value)
        for i, values in enumerate(periods)
        for name, value in values.items()
    ]
    frame = pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice", "value"])
    return PatternData("revenue", dimensional=frame.sample(frac=1, random_state=1))  # row order must not matter


PRIOR = {"de": 30.0, "fr": 20.0, "it": 10.0, "es": 25.0, "nl": 5.0, "pl": 10.0}
CURRENT = {"de": 25.0, "fr": 30.0, "it": 12.0, "es": 20.0, "nl": 3.0, "pl": 10.0}


def test_shares_sum_to_100_and_changes():
    result = DIMENSIONS.analyze(by_slice([PRIOR, CURRENT]), ANALYSIS, "day")
    assert result.dimension_name == "country" and result.error is None
    assert sum(s.current_share_percent for s in result.slices) == pytest.approx(100.0)
    assert sum(s.prior_share_percent for s in result.slices) == pytest.approx(100.0)
    fr = next(s for s in result.slices if s.slice == "fr")
    assert (fr.rank, fr.current_value, fr.prior_value, fr.absolute_change) == (1, 30.0, 20.0, 10.0)
    assert fr.change_percent == pytest.approx(50.0)
    assert fr.current_share_percent == pytest.approx(30.0) and fr.share_change_percent == pytest.approx(10.0)
    assert fr.difference_from_average == pytest.approx(30.0 - 100.0 / 6)
    assert [s.rank for s in result.slices] == list(range(1, 7))


def test_top_and_bottom_slices():
    result = DIMENSIONS.analyze(by_slice([PRIOR, CURRENT]), ANALYSIS, "day")
    assert [s.slice for s in result.top_slices] == ["fr", "de", "es", "it"]
    assert [s.slice for s in result.bottom_slices] == ["nl", "pl", "it", "es"]
    assert result.largest_slice.slice == "fr" and result.largest_slice.previous_slice == "de"
    assert result.largest_slice.share_percent == pytest.approx(30.0)
    assert result.largest_slice.previous_share_percent == pytest.approx(30.0)
    assert result.smallest_slice.slice == "nl" and result.smallest_slice.previous_slice == "nl"
    assert result.new_strongest_slice.current_slice == "fr" and result.new_strongest_slice.previous_slice == "de"
    assert result.new_weakest_slice is None
    top_two = result.top_two_comparison
    assert (top_two.slice_a, top_two.slice_b) == ("fr", "de")
    assert top_two.gap_percent == pytest.approx(20.0)
    assert top_two.prior_gap_percent == pytest.approx(-100 / 3)


def test_ties_are_ordered_by_name_and_a_missing_slice_counts_zero():
    current = {"b": 10.0, "a": 10.0, "c": 5.0}
    prior = {"a": 4.0, "b": 4.0, "c": 1.0, "gone": 1.0}
    result = DIMENSIONS.analyze(by_slice([prior, current]), ANALYSIS, "day")
    assert [s.slice for s in result.slices] == ["a", "b", "c", "gone"]
    gone = result.slices[-1]
    assert (gone.current_value, gone.prior_value, gone.current_share_percent) == (0.0, 1.0, 0.0)
    assert sum(s.current_share_percent for s in result.slices) == pytest.approx(100.0)
    assert result.new_weakest_slice is None  # "gone" was and is the weakest


def test_without_a_prior_period():
    result = DIMENSIONS.analyze(by_slice([{}, CURRENT]), ANALYSIS, "day")
    assert result.error is None and result.num_periods == 1
    assert all(s.prior_value is None and s.change_percent is None for s in result.slices)
    assert result.new_strongest_slice is None and result.largest_slice.previous_slice is None
    json_ok = result.model_dump(mode="json")
    assert json_ok["slices"][0]["prior_share_percent"] is None


def test_historical_rankings_over_the_window():
    rng = np.random.default_rng(0)
    periods = [{name: float(v) for name, v in zip("abcdef", rng.integers(1, 100, 6), strict=True)} for _ in range(10)]
    result = DIMENSIONS.analyze(by_slice(periods), ANALYSIS, "day", {"top_n": 3})
    assert len(result.historical_rankings) == 8  # the window: 8 days
    for ranking, values in zip(result.historical_rankings, periods[-8:], strict=True):
        expected = sorted(values, key=lambda name: (-values[name], name))[:3]
        assert ranking.slices == expected and ranking.values == [values[name] for name in expected]
    assert result.historical_rankings[-1].date == LAST
    assert len(result.top_slices) == len(result.bottom_slices) == 3


def test_no_slices_in_the_latest_period():
    result = DIMENSIONS.analyze(by_slice([CURRENT, {}]), ANALYSIS, "day")
    assert result.error.type is ErrorType.INSUFFICIENT_DATA and result.slices is None


def test_zero_total_has_no_shares():
    result = DIMENSIONS.analyze(by_slice([PRIOR, {"a": 5.0, "b": -5.0}]), ANALYSIS, "day")
    assert result.error is None and all(s.current_share_percent is None for s in result.slices)
