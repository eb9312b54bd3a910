"""How a sync decides FULL vs INCREMENTAL, and which window of dates it fetches.

Per component (a metric's base series, or one of its dimensions) and grain:

- **FULL** when forced, when no FULL has ever succeeded, or when the last finished attempt failed.
  Its window ends at the end of the (last) requested partition and starts the FULL lookback before
  the (first) one: day 365 days, week 104 weeks, month 5 years.
- **INCREMENTAL** otherwise, with the INCREMENTAL lookback: day 90 days, week 24 weeks, month 1 year.

The INCREMENTAL lookback exists because a semantic layer restates recent values. A value is
*settled* once it was fetched at least that lookback after its date: nothing will change it any more.
The status row keeps ``settled_through``, the date up to which every value was fetched settled, and an
INCREMENTAL window never re-fetches settled dates (it still always fetches the requested partitions).
A daily schedule therefore re-fetches the last 90 days as the design intends, while a backfill of a
year of past partitions fetches each value about once, where the original fetched it ~90 times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from semsync.contracts import ComponentPlan, SyncStatus, SyncType
from semsync.partitions import Grain, Partition, partition_for_date

__all__ = ["ComponentHistory", "ComponentPlan", "SyncStatus", "SyncType", "advance_settled", "plan_component"]


#: periods of lookback before the first requested partition: (FULL, INCREMENTAL)
LOOKBACK_PERIODS: dict[Grain, tuple[int, int]] = {
    Grain.DAY: (365, 90),
    Grain.WEEK: (104, 24),
    Grain.MONTH: (60, 12),
}


@dataclass(frozen=True)
class ComponentHistory:
    """What the sync status table says about one component (all sync types together)."""

    has_successful_full: bool = False
    last_attempt_failed: bool = False
    settled_through: date | None = None


def shift_periods(grain: Grain, partition: Partition, periods: int) -> Partition:
    """The partition `periods` periods before `partition` (calendar-exact for months)."""
    if grain is Grain.DAY:
        return partition_for_date(grain, partition.start - timedelta(days=periods))
    if grain is Grain.WEEK:
        return partition_for_date(grain, partition.start - timedelta(weeks=periods))
    months = partition.start.year * 12 + partition.start.month - 1 - periods
    return partition_for_date(grain, date(months // 12, months % 12 + 1, 1))


def settle_horizon(grain: Grain, fetched_at: datetime) -> date:
    """Dates up to here were settled when fetched at `fetched_at`: the INCREMENTAL lookback ago."""
    current = partition_for_date(grain, fetched_at.date())
    return shift_periods(grain, current, LOOKBACK_PERIODS[grain][1]).end


def plan_component(
    grain: Grain, first: Partition, last: Partition, history: ComponentHistory, *, force_full: bool,
    dimension: str | None = None,
) -> ComponentPlan:
    """The plan of one component (`dimension`, None for the base series) for partitions `first`..`last`."""
    full_lookback, incremental_lookback = LOOKBACK_PERIODS[grain]
    if force_full or not history.has_successful_full or history.last_attempt_failed:
        reason = (
            "forced" if force_full
            else "no successful FULL sync yet" if not history.has_successful_full
            else "last attempt failed"
        )
        return ComponentPlan(dimension=dimension, sync_type=SyncType.FULL, reason=reason,
                             start=shift_periods(grain, first, full_lookback).start, end=last.end,
                             settled_through=history.settled_through)
    start = shift_periods(grain, first, incremental_lookback).start
    reason = f"INCREMENTAL lookback of {incremental_lookback} {grain.value}s"
    if history.settled_through is not None and history.settled_through >= start:
        start = min(first.start, history.settled_through + timedelta(days=1))
        reason = f"values through {history.settled_through} already settled"
    return ComponentPlan(dimension=dimension, sync_type=SyncType.INCREMENTAL, start=start, end=last.end,
                         reason=reason, settled_through=history.settled_through)


def advance_settled(
    grain: Grain, previous: date | None, plan: ComponentPlan, fetched_at: datetime
) -> date | None:
    """`settled_through` after a successful fetch of `plan`'s window at `fetched_at`.

    It only grows, and only when the window joins on to what was settled before (no gaps).
    """
    settled_now = min(plan.end, settle_horizon(grain, fetched_at))
    if settled_now < plan.start:
        return previous  # nothing in this window has settled yet
    if previous is None:
        return settled_now
    if plan.start <= previous + timedelta(days=1):
        return max(previous, settled_now)
    return previous
