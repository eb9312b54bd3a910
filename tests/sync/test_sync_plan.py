"""The FULL/INCREMENTAL decision and its windows, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from semsync.partitions import Grain, parse_partition
from semsync.sync.plan import ComponentHistory, SyncType, advance_settled, plan_component, shift_periods

DONE = ComponentHistory(has_successful_full=True)


def plan(grain, key, history=DONE, force=False, last=None):
    first = parse_partition(grain, key)
    return plan_component(Grain(grain), first, parse_partition(grain, last) if last else first, history,
                          force_full=force)


@pytest.mark.parametrize(
    ("history", "force", "expected", "reason"),
    [
        (ComponentHistory(), False, SyncType.FULL, "no successful FULL sync yet"),
        (DONE, True, SyncType.FULL, "forced"),
        (ComponentHistory(has_successful_full=True, last_attempt_failed=True), False, SyncType.FULL,
         "last attempt failed"),
        (DONE, False, SyncType.INCREMENTAL, "INCREMENTAL lookback of 90 days"),
    ],
)
def test_sync_type_decision(history, force, expected, reason):
    decided = plan("day", "2025-07-01", history, force)
    assert (decided.sync_type, decided.reason) == (expected, reason)


@pytest.mark.parametrize(
    ("grain", "key", "full_start", "incremental_start", "end"),
    [
        ("day", "2025-07-01", date(2024, 7, 1), date(2025, 4, 2), date(2025, 7, 1)),
        ("week", "2025-W27", date(2023, 7, 10), date(2025, 1, 20), date(2025, 7, 13)),
        ("month", "2025-07", date(2020, 7, 1), date(2024, 7, 1), date(2025, 7, 31)),
    ],
)
def test_lookback_windows_per_grain(grain, key, full_start, incremental_start, end):
    assert (plan(grain, key, ComponentHistory()).start, plan(grain, key).start) == (full_start, incremental_start)
    assert plan(grain, key).end == end


def test_range_window_spans_first_to_last_partition():
    decided = plan("day", "2025-07-01", last="2025-07-31")
    assert (decided.start, decided.end) == (date(2025, 4, 2), date(2025, 7, 31))


def test_month_shift_crosses_years():
    assert shift_periods(Grain.MONTH, parse_partition("month", "2025-02"), 14).key == "2023-12"


def test_settled_values_are_not_fetched_again_but_partitions_always_are():
    history = ComponentHistory(has_successful_full=True, settled_through=date(2025, 6, 30))
    assert (plan("day", "2025-07-01", history).start) == date(2025, 7, 1)
    late = ComponentHistory(has_successful_full=True, settled_through=date(2025, 9, 1))
    assert plan("day", "2025-07-01", late).start == date(2025, 7, 1)  # a re-sync of a settled partition


def test_settled_through_grows_only_contiguously():
    fetched_at = datetime(2026, 1, 1, tzinfo=UTC)  # horizon: 2025-10-03
    full = plan("day", "2025-07-01", ComponentHistory())
    assert advance_settled(Grain.DAY, None, full, fetched_at) == date(2025, 7, 1)
    gap = plan("day", "2025-08-01", ComponentHistory(has_successful_full=True, settled_through=date(2025, 7, 31)))
    assert advance_settled(Grain.DAY, date(2025, 7, 1), gap, fetched_at) == date(2025, 7, 1)
    live = plan("day", "2025-12-31")
    assert advance_settled(Grain.DAY, date(2025, 7, 1), live, fetched_at) == date(2025, 7, 1)
    recent = plan("day", "2025-10-01", ComponentHistory(has_successful_full=True, settled_through=date(2025, 7, 1)))
    assert advance_settled(Grain.DAY, date(2025, 7, 1), recent, fetched_at) == date(2025, 7, 1)
