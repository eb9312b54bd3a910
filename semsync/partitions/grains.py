"""Time grains and the partitions they cut the calendar into.

A partition is one period of one grain: a day, a Monday-based week or a calendar month, identified
by its first day (`Partition.start`). Every date lies in exactly one partition per grain.

Keys (`Partition.key`):

- day: ``2025-07-01`` (ISO date);
- week: ``2025-W27``, i.e. ``%Y-W%W`` of the week's **Monday** (``2025-W27`` is the week of Monday
  2025-07-07);
- month: ``2025-07``.

Weeks that straddle a new year are keyed by their Monday: the week of Monday 2025-12-29, which holds
2026-01-01..04, is ``2025-W52``. ``%W`` = 00 only ever labels the days before a year's first Monday,
and those belong to the previous year's last week, so a ``YYYY-W00`` key names no week (see
`semsync.partitions.keys`). A year's weeks run from ``W01`` to the ``%W`` of its last Monday (W52 or W53).

Time is UTC throughout: a naive datetime is taken to be UTC.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from semsync.errors import PartitionKeyError


class Grain(enum.StrEnum):
    """How long one partition lasts."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def as_grain(grain: Grain | str) -> Grain:
    """`grain` as a `Grain`, accepting its string value (``"week"``)."""
    try:
        return Grain(grain)
    except ValueError:
        choices = ", ".join(g.value for g in Grain)
        raise PartitionKeyError(
            f"unknown grain {grain!r}: expected one of {choices}", part="grain", value=grain
        ) from None


def first_monday(year: int) -> date:
    """The first Monday of `year`: the Monday of its week ``W01``."""
    jan_1 = date(year, 1, 1)
    return jan_1 + timedelta(days=(7 - jan_1.weekday()) % 7)


def weeks_in_year(year: int) -> int:
    """How many weeks are keyed to `year` (the number of Mondays in it): 52 or 53."""
    dec_31 = date(year, 12, 31)
    last_monday = dec_31 - timedelta(days=dec_31.weekday())
    return week_number(last_monday)


def week_number(monday: date) -> int:
    """``%W`` of a Monday: 1 for the year's first Monday, counting up by one a week."""
    return (monday - first_monday(monday.year)).days // 7 + 1


def _period_start(grain: Grain, d: date) -> date:
    if grain is Grain.DAY:
        return d
    if grain is Grain.WEEK:
        return d - timedelta(days=d.weekday())
    return d.replace(day=1)


@dataclass(frozen=True, order=True)
class Partition:
    """One period of one grain, identified by its first day.

    Construct one with `partition_for_date`, `semsync.partitions.parse_partition` or directly with
    the period's first day; any other `start` is rejected. Partitions of one grain order by time.
    """

    grain: Grain
    start: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "grain", as_grain(self.grain))
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise TypeError(f"Partition.start must be a date, not {type(self.start).__name__}")
        if _period_start(self.grain, self.start) != self.start:
            raise PartitionKeyError(
                f"{self.start.isoformat()} ({self.start:%A}) is not the first day of a {self.grain} "
                f"partition (that is {_period_start(self.grain, self.start).isoformat()})",
                part="start",
                value=self.start,
            )

    @property
    def key(self) -> str:
        """The partition's key: ``2025-07-01``, ``2025-W27`` or ``2025-07``."""
        if self.grain is Grain.DAY:
            return self.start.isoformat()
        if self.grain is Grain.WEEK:
            return f"{self.start.year:04d}-W{week_number(self.start):02d}"
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        if self.grain is Grain.DAY:
            return self.start
        if self.grain is Grain.WEEK:
            return self.start + timedelta(days=6)
        return self.start.replace(day=calendar.monthrange(self.start.year, self.start.month)[1])

    def next(self) -> Partition:
        """The partition that follows this one."""
        return Partition(self.grain, self.end + timedelta(days=1))

    def prev(self) -> Partition:
        """The partition that precedes this one."""
        return partition_for_date(self.grain, self.start - timedelta(days=1))

    def contains(self, d: date) -> bool:
        """Whether day `d` lies in this period."""
        return self.start <= d <= self.end

    def __str__(self) -> str:
        return self.key


def partition_for_date(grain: Grain | str, d: date) -> Partition:
    """The partition of `grain` that contains day `d`."""
    if isinstance(d, datetime):
        raise TypeError("partition_for_date takes a date; use last_complete_partition for an instant")
    grain = as_grain(grain)
    return Partition(grain, _period_start(grain, d))


def last_complete_partition(grain: Grain | str, instant: datetime) -> Partition:
    """The latest partition of `grain` whose period has fully ended by `instant` (UTC; naive = UTC).

    A daily run at 2025-07-02T10:00Z gets ``2025-07-01``; a weekly run on Monday 2025-07-14 gets
    ``2025-W27``; a monthly run on 2025-08-01 gets ``2025-07``. A period ends at midnight UTC after
    its last day, so at exactly 2025-07-02T00:00Z day ``2025-07-01`` is already complete.
    """
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return partition_for_date(grain, instant.date()).prev()


DEFAULT_FIRST_DATE = date(2025, 7, 1)
"""The first day semsync syncs unless ``SEMSYNC_PARTITIONS__FIRST_DATE`` says otherwise (the design doc's)."""

FIRST_DATE_SETTING = "SEMSYNC_PARTITIONS__FIRST_DATE"


def first_partitions(first_date: date) -> dict[Grain, Partition]:
    """The earliest partition of each grain that semsync syncs when history starts on `first_date`.

    Each grain's first partition is the first one that lies wholly on or after `first_date` (as a
    Dagster partition set's ``start_date``): a week or month that began before it would be synced
    with only part of its days. From 2025-07-01 (a Tuesday): ``2025-07-01``, ``2025-W27`` (Monday
    2025-07-07) and ``2025-07``.
    """
    if isinstance(first_date, datetime) or not isinstance(first_date, date):
        raise TypeError(f"first_date must be a date, not {type(first_date).__name__}")
    firsts = {}
    for grain in Grain:
        partition = partition_for_date(grain, first_date)
        firsts[grain] = partition if partition.start == first_date else partition.next()
    return firsts


FIRST_PARTITION: dict[Grain, Partition] = first_partitions(DEFAULT_FIRST_DATE)
"""The default first partitions (from `DEFAULT_FIRST_DATE`): 2025-07-01, 2025-W27, 2025-07."""
