"""Partition ranges: ``START:END`` (inclusive) or a single key, checked against what can be synced.

A range may not be reversed, may not start before the first partition of its grain (the
``first_date`` setting, see `first_partitions`; default 2025-07-01) and, unless the caller allows
incomplete partitions, may not end after the last partition that is complete at `now`.
Range errors are `PartitionRangeError` with ``part`` ``"range start"``, ``"range end"``,
``"separator"`` or ``"grain"`` and ``value`` the range spec; a malformed end keeps the key error's
type and ``part`` (e.g. ``"month"``) and says which end it is.

The range separator is a single ``:`` that is not part of ``::``, so that the ends of a time context
range (``2025-07-07|t::m::p:2025-07-28|t::m::p``) can carry a ``tenant::metric`` context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
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


def partition_range(first: Partition, last: Partition) -> list[Partition]:
    """Every partition from `first` to `last`, inclusive, in order."""
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
    partitions = [first]
    while partitions[-1] != last:
        partitions.append(partitions[-1].next())
    return partitions


def partitions_between(grain: Grain | str, start_key: str, end_key: str | None = None) -> list[Partition]:
    """The partitions from key `start_key` to `end_key` (default: `start_key` alone), inclusive, unchecked
    against the calendar (a service syncs what it is asked; the CLI and backfills check with `expand_range`)."""
    return list(_partitions_between(as_grain(grain), start_key, end_key))


@lru_cache(maxsize=1024)
def _partitions_between(grain: Grain, start_key: str, end_key: str | None) -> tuple[Partition, ...]:
    # Partitions are immutable: a request's span is expanded by its validation, its planning and its
    # response, so a year of days is built once rather than for each of them.
    first = parse_partition(grain, start_key)
    return tuple(partition_range(first, parse_partition(grain, end_key) if end_key else first))


def checked_range(
    first: Partition, last: Partition, spec: str, *, now: datetime | None, allow_incomplete: bool,
    first_date: date = DEFAULT_FIRST_DATE,
) -> list[Partition]:
    """`partition_range(first, last)` once the range is known to be in order and syncable at `now`,
    with history starting on `first_date`."""
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
                f"partition at {now.isoformat()} (--allow-incomplete takes it anyway)",
                part="range end",
                value=spec,
            )
    return partition_range(first, last)


def expand_range(
    grain: Grain | str, spec: str, *, now: datetime | None = None, allow_incomplete: bool = False,
    first_date: date = DEFAULT_FIRST_DATE,
) -> list[Partition]:
    """The partitions of range `spec` (``A:B`` inclusive, or a single key ``A``), in order.

    `now` (default: the current time; naive = UTC) decides which partitions are complete;
    `first_date` (the ``partitions.first_date`` setting) which are the first.
    """
    grain = as_grain(grain)
    ends = split_range(spec)
    first = parse_range_end("range start", spec, lambda: parse_partition(grain, ends[0]))
    last = (
        parse_range_end("range end", spec, lambda: parse_partition(grain, ends[-1]))
        if len(ends) == 2
        else first
    )
    return checked_range(first, last, spec, now=now, allow_incomplete=allow_incomplete, first_date=first_date)
