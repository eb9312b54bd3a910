"""Partition ranges: ``START:END`` (inclusive) or a single key, checked against what can be synced.

A range may not be reversed, may not start before the first partition of its grain (the
``first_date`` setting, see `first_partitions`; default 2025-07-01) and, unless the caller allows
incomplete partitions, may not end after the last partition that is complete at `now`.
Range errors are `PartitionRangeError` with ``part`` ``"range start"``, ``"range end"``,
``"separator"`` or ``"grain"`` and ``value`` the range spec; a malformed end keeps the key error's
type and ``part`` (e.g. ``"month"``) and says which end it is.

A request is capped at `MAX_PARTITIONS_PER_REQUEST` partitions, counted from the two ends before
any list is built (``0001-01-01:9999-12-31`` would be 3.65 million days, a gigabyte of objects):
the contracts (`semsync.contracts`) enforce this constant, since they are validated inside
workflows, which never read settings; the CLI and the backfill planner apply the
``partitions.max_per_request`` setting (``SEMSYNC_PARTITIONS__MAX_PER_REQUEST``, default
`DEFAULT_MAX_PER_REQUEST`), which may lower the cap but not raise it. A span over the cap is a
`PartitionRangeError` with ``part`` ``"range size"``, naming the count, the cap and the setting.

The range separator is a single ``:`` that is not part of ``::``, so that the ends of a time context
range (``2025-07-07|t::m::p:2025-07-28|t::m::p``) can carry a ``tenant::metric`` context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from semsync.errors import InvalidInputError, PartitionRangeError
from semsync.partitions.grains import (
    DEFAULT_FIRST_DATE,
    FIRST_DATE_SETTING,
    Grain,
    Partition,
    as_grain,
    first_partitions,
    last_complete_partition,
)
from semsync.partitions.keys import parse_partition

_RANGE_SEPARATOR = re.compile(r"(?<!:):(?!:)")

End = TypeVar("End")

MAX_PARTITIONS_PER_REQUEST = 10_000
"""The hard cap on the partitions of one request (27 years of days), enforced wherever a span is
expanded, settings or not; the ``partitions.max_per_request`` setting may only lower it."""

DEFAULT_MAX_PER_REQUEST = 4_000
"""The default of ``partitions.max_per_request``: a bit over ten years of days."""

MAX_PER_REQUEST_SETTING = "SEMSYNC_PARTITIONS__MAX_PER_REQUEST"


def partition_count(first: Partition, last: Partition) -> int:
    """How many partitions `first` to `last` (inclusive, one grain) hold, by arithmetic on the ends:
    0 if `last` is before `first`."""
    if first.grain is Grain.MONTH:
        count = (last.start.year - first.start.year) * 12 + last.start.month - first.start.month + 1
    else:
        count = (last.start - first.start).days // (7 if first.grain is Grain.WEEK else 1) + 1
    return max(count, 0)


def check_partition_count(first: Partition, last: Partition, limit: int = MAX_PARTITIONS_PER_REQUEST) -> int:
    """The number of partitions from `first` to `last`, refused with a `PartitionRangeError` over `limit`
    (the setting's value, or the hard cap)."""
    count = partition_count(first, last)
    limit = min(limit, MAX_PARTITIONS_PER_REQUEST)
    if count > limit:
        source = (
            f"the hard cap MAX_PARTITIONS_PER_REQUEST; {MAX_PER_REQUEST_SETTING} can only lower it"
            if limit == MAX_PARTITIONS_PER_REQUEST
            else f"set by {MAX_PER_REQUEST_SETTING}={limit}, at most {MAX_PARTITIONS_PER_REQUEST}"
        )
        raise PartitionRangeError(
            f"range {first}:{last} holds {count} {first.grain} partitions, more than the {limit} allowed in "
            f"one request ({source}); split it into smaller ranges",
            part="range size",
            value=f"{first}:{last}",
        )
    return count


def split_range(spec: str) -> list[str]:
    """The one or two ends of a range spec: ``["A", "B"]`` for ``A:B``, ``["A"]`` for a single key."""
    if not isinstance(spec, str) or not spec:
        raise PartitionRangeError(f"range spec {spec!r} is empty", part="range start", value=spec)
    ends = _RANGE_SEPARATOR.split(spec)
    if len(ends) > 2:
        raise PartitionRangeError(
            f"range {spec!r} has {len(ends) - 1} range separators ':' (expected START:END or one key)",
            part="separator",
            value=spec,
        )
    for which, end in zip(("range start", "range end"), ends, strict=False):
        if not end:
            raise PartitionRangeError(f"range {spec!r} has an empty {which}", part=which, value=spec)
    return ends


def parse_range_end(which: str, spec: str, parse: Callable[[], End]) -> End:
    """`parse()`, with any input error re-raised to say which end of range `spec` it is about."""
    try:
        return parse()
    except InvalidInputError as error:
        if len(split_range(spec)) == 1:
            raise
        raise type(error)(f"{which} of {spec!r}: {error}", part=error.part, value=error.value) from error


def partition_range(
    first: Partition, last: Partition, *, limit: int = MAX_PARTITIONS_PER_REQUEST
) -> list[Partition]:
    """Every partition from `first` to `last`, inclusive, in order; refused over `limit` partitions
    (never over `MAX_PARTITIONS_PER_REQUEST`) before any is built."""
    check_span(first, last, limit)
    partitions = [first]
    while partitions[-1] != last:
        partitions.append(partitions[-1].next())
    return partitions


def check_span(first: Partition, last: Partition, limit: int = MAX_PARTITIONS_PER_REQUEST) -> int:
    """The number of partitions from `first` to `last`, by arithmetic (none built): refused if the ends
    mix grains, are out of order, or span more than `limit` partitions."""
    if first.grain is not last.grain:
        raise PartitionRangeError(
            f"range {first}:{last} mixes grains {first.grain} and {last.grain}",
            part="grain",
            value=(first, last),
        )
    if last < first:
        raise PartitionRangeError(
            f"range {first}:{last}: end {last} is before start {first}",
            part="range end",
            value=f"{first}:{last}",
        )
    return check_partition_count(first, last, limit)


def span_ends(grain: Grain | str, start_key: str, end_key: str | None = None) -> tuple[Partition, Partition]:
    """The first and last partitions of the span `start_key`..`end_key` (default: `start_key` alone),
    checked as `partitions_between` checks them, but without building the partitions between."""
    grain = as_grain(grain)
    first = parse_partition(grain, start_key)
    last = parse_partition(grain, end_key) if end_key else first
    check_span(first, last)
    return first, last


def partitions_between(grain: Grain | str, start_key: str, end_key: str | None = None) -> list[Partition]:
    """The partitions from key `start_key` to `end_key` (default: `start_key` alone), inclusive, unchecked
    against the calendar (a service syncs what it is asked; the CLI and backfills check with `expand_range`),
    but never more than `MAX_PARTITIONS_PER_REQUEST` of them.

    Not cached: a span is capped, so expanding it again costs little, and a cache would keep every
    span ever asked for (and hide a caller that expands one span over and over)."""
    grain = as_grain(grain)
    first = parse_partition(grain, start_key)
    return partition_range(first, parse_partition(grain, end_key) if end_key else first)


def count_between(grain: Grain | str, start_key: str, end_key: str | None = None) -> int:
    """How many partitions `partitions_between` would return, without building them."""
    grain = as_grain(grain)
    first = parse_partition(grain, start_key)
    return partition_count(first, parse_partition(grain, end_key) if end_key else first)


def checked_range(
    first: Partition, last: Partition, spec: str, *, now: datetime | None, allow_incomplete: bool,
    first_date: date = DEFAULT_FIRST_DATE, max_partitions: int = MAX_PARTITIONS_PER_REQUEST,
) -> list[Partition]:
    """`partition_range(first, last)` once the range is known to be in order, syncable at `now`,
    with history starting on `first_date`, and at most `max_partitions` long."""
    checked_ends(first, last, spec, now=now, allow_incomplete=allow_incomplete, first_date=first_date,
                 max_partitions=max_partitions)
    return partition_range(first, last, limit=max_partitions)


def checked_ends(
    first: Partition, last: Partition, spec: str, *, now: datetime | None, allow_incomplete: bool,
    first_date: date = DEFAULT_FIRST_DATE, max_partitions: int = MAX_PARTITIONS_PER_REQUEST,
) -> tuple[Partition, Partition]:
    """`first` and `last` once the range is known to be in order, syncable at `now`, with history
    starting on `first_date`, and at most `max_partitions` long (by arithmetic: none built)."""
    grain = first.grain
    if last < first:
        raise PartitionRangeError(
            f"{grain} range {spec!r}: end {last} is before start {first}", part="range end", value=spec
        )
    earliest = first_partitions(first_date)[grain]
    if first < earliest:
        raise PartitionRangeError(
            f"{grain} range {spec!r}: {first} is before the first {grain} partition {earliest} "
            f"(set by {FIRST_DATE_SETTING}={first_date.isoformat()}; an earlier date allows earlier partitions)",
            part="range start",
            value=spec,
        )
    if not allow_incomplete:
        now = now or datetime.now(UTC)
        last_complete = last_complete_partition(grain, now)
        if last > last_complete:
            raise PartitionRangeError(
                f"{grain} range {spec!r}: {last} is after {last_complete}, the last complete {grain} "
                f"partition at {now:%Y-%m-%d %H:%M:%S} UTC (--allow-incomplete takes it anyway)",
                part="range end",
                value=spec,
            )
    check_span(first, last, max_partitions)
    return first, last


def expand_range(
    grain: Grain | str, spec: str, *, now: datetime | None = None, allow_incomplete: bool = False,
    first_date: date = DEFAULT_FIRST_DATE, max_partitions: int = MAX_PARTITIONS_PER_REQUEST,
) -> list[Partition]:
    """The partitions of range `spec` (``A:B`` inclusive, or a single key ``A``), in order.

    `now` (default: the current time; naive = UTC) decides which partitions are complete;
    `first_date` (the ``partitions.first_date`` setting) which are the first; `max_partitions` (the
    ``partitions.max_per_request`` setting) how many one range may hold.
    """
    first, last = range_ends(grain, spec, now=now, allow_incomplete=allow_incomplete, first_date=first_date,
                             max_partitions=max_partitions)
    return partition_range(first, last, limit=max_partitions)


def range_ends(
    grain: Grain | str, spec: str, *, now: datetime | None = None, allow_incomplete: bool = False,
    first_date: date = DEFAULT_FIRST_DATE, max_partitions: int = MAX_PARTITIONS_PER_REQUEST,
) -> tuple[Partition, Partition]:
    """The first and last partitions of range `spec`, checked as `expand_range` checks them, without
    building the partitions between."""
    grain = as_grain(grain)
    ends = split_range(spec)
    first = parse_range_end("range start", spec, lambda: parse_partition(grain, ends[0]))
    last = (
        parse_range_end("range end", spec, lambda: parse_partition(grain, ends[-1]))
        if len(ends) == 2
        else first
    )
    return checked_ends(first, last, spec, now=now, allow_incomplete=allow_incomplete, first_date=first_date,
                        max_partitions=max_partitions)
