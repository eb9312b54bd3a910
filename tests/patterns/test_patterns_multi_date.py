"""Many analysis dates in one call give what each date gives alone, however its data was read."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from semsync.partitions import Grain
from semsync.patterns import PatternData, get_pattern, pattern_names, run_pattern

FREQ = {"day": "D", "week": "W-MON", "month": "MS"}
PERIODS = {"day": 800, "week": 170, "month": 70}


def dataset(grain: str) -> PatternData:
    dates = pd.date_range(end="2025-12-01", periods=PERIODS[grain], freq=FREQ[grain])
    n = len(dates)
    rng = np.random.default_rng(11)
    t = np.arange(n)
    values = 200 + 0.2 * t + 20 * np.sin(t * 2 * np.pi / 7) + rng.normal(0, 6, n)
    values[n // 2 :] += 40  # a level shift, so drift has something to find on some dates
    keep = rng.random(n) > 0.03  # a few gaps
    keep[-40:] = True
    series = pd.DataFrame({"date": dates.date, "value": values})[keep]
    targets = pd.DataFrame({"date": pd.date_range(dates[0], "2026-12-31", freq=FREQ[grain]).date})
    targets["target_value"] = 230.0 + 0.1 * np.arange(len(targets))
    rows = []
    for d, v in zip(dates.date, values, strict=True):
        shares = rng.dirichlet(np.ones(5))
        rows += [(d, "region", f"r{i}", v * s) for i, s in enumerate(shares) if rng.random() > 0.05]
    dims = pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice", "value"])
    return PatternData("revenue", series=series, targets=targets, dimensional=dims)


def read_for_one_date(pattern, data: PatternData, analysis_date: date, grain: str) -> PatternData:
    """What the data organiser reads for one analysis date: the pattern's range, nothing more."""
    start, end, target_end = pattern.data_range([analysis_date], grain)

    def cut(frame, last):
        days = pd.to_datetime(frame["date"]).dt.date
        return frame[(days >= start) & (days <= last)]

    return PatternData(data.metric_id, series=cut(data.series, end), targets=cut(data.targets, target_end),
                       dimensional=cut(data.dimensional, end))


def dumped(results):
    return [r.model_dump(exclude={"evaluation_time"}) for r in results]


DATES = {
    "day": [date(2025, 9, 1) + timedelta(days=i) for i in range(0, 61, 3)],
    "week": [date(2025, 6, 2) + timedelta(weeks=i) for i in range(0, 20, 2)],
    "month": [date(2024, 12, 1) + pd.DateOffset(months=i) for i in range(0, 12, 2)],
}


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("name", pattern_names())
def test_multi_date_equals_single_date(name, grain):
    pattern = get_pattern(name)
    data = dataset(grain)
    dates = [d.date() if isinstance(d, pd.Timestamp) else d for d in DATES[grain]]
    if name == "forecasting":
        dates = dates[::2]  # each date alone fits its own model: keep the test quick
    many = run_pattern(pattern, data, dates, grain)
    assert len(many) == len(dates) * (len(data.dimension_names()) if pattern.per_dimension else 1)
    assert sum(r.error is None for r in many) >= len(many) - 1
    alone, read_alone = [], []
    for d in dates:
        alone += run_pattern(pattern, data, [d], grain)
        read_alone += run_pattern(pattern, read_for_one_date(pattern, data, d, grain), [d], grain)
    assert dumped(many) == dumped(alone)
    assert dumped(many) == dumped(read_alone)


def test_a_backfill_shares_forecast_estimations():
    pattern = get_pattern("forecasting")
    settings = pattern.settings()
    data = dataset("day")
    dates = DATES["day"]  # 21 dates over two months
    spans = [pattern.span(d, Grain.DAY, settings) for d in dates]
    prepared = pattern.prepare(data, Grain.DAY, settings, spans)
    every = settings.refit_every_day
    assert len(prepared.models) <= 60 // every + 2 < len(dates)
    # parameters in force at a date were estimated on data up to its anchor, a Sunday
    results = pattern.analyze_many(data, dates, "day")
    for d, result in zip(dates, results, strict=True):
        fit_end = result.model.fit_end
        assert fit_end.weekday() == 6 and timedelta(0) <= d - timedelta(days=1) - fit_end < timedelta(days=every)
    per_date = pattern.analyze_many(data, dates[:3], "day", {"refit_every_day": 1})
    assert [r.model.fit_end for r in per_date] == [d - timedelta(days=1) for d in dates[:3]]
