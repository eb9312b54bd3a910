"""Period arithmetic of the pattern grid, against the partitions module, with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from semsync.partitions import Grain, partition_for_date
from semsync.patterns import PatternData, get_pattern
from semsync.patterns.periods import PeriodGrid, ordinal, ordinals, period_end, period_start, period_starts

days = st.dates(min_value=date(1960, 1, 1), max_value=date(2100, 12, 31))
grains = st.sampled_from(list(Grain))


@given(grains, days)
def test_ordinals_name_the_partition_of_a_day(grain, day):
    partition = partition_for_date(grain, day)
    o = ordinal(grain, day)
    assert period_start(grain, o) == partition.start and period_end(grain, o) == partition.end
    assert ordinal(grain, partition.next().start) == o + 1
    assert int(ordinals(grain, np.array([day], dtype="datetime64[D]"))[0]) == o
    assert period_starts(grain, np.array([o]))[0].item() == partition.start


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=1, max_size=40), st.integers(-50, 50),
       st.integers(0, 60))
def test_a_window_is_a_slice_with_gaps_as_nan(values, shift, length):
    start = date(2025, 1, 1)
    frame = pd.DataFrame({"date": [start + timedelta(days=i) for i in range(len(values))], "value": values})
    grid = PeriodGrid.from_frame(Grain.DAY, frame.dropna())
    first = ordinal(Grain.DAY, start) + shift
    window = grid.window(first, first + length)
    for i, got in enumerate(window):
        position = shift + i
        expected = values[position] if 0 <= position < len(values) else None
        assert (np.isnan(got) and expected is None) or got == expected


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.floats(0.01, 1e6), min_size=1, max_size=12),
       st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.floats(0.01, 1e6), max_size=12))
def test_dimension_shares_always_sum_to_100(current, prior):
    rows = [(date(2025, 6, 30), "d", k, v) for k, v in prior.items()]
    rows += [(date(2025, 7, 1), "d", k, v) for k, v in current.items()]
    data = PatternData("m", dimensional=pd.DataFrame(rows, columns=["date", "dimension_name", "dimension_slice",
                                                                    "value"]))
    result = get_pattern("dimension_analysis").analyze(data, date(2025, 7, 2), "day")
    assert abs(sum(s.current_share_percent for s in result.slices) - 100.0) < 1e-6
    values = [s.current_value for s in result.slices]
    assert values == sorted(values, reverse=True)
    best = max(current.values())
    assert result.top_slices[0].slice == min(k for k, v in current.items() if v == best)  # ties: by name
