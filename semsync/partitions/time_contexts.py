"""Two-dimensional keys: one partition of one context, ``2025-07-01|acme::revenue``.

A time context key is ``PARTITION_KEY|CONTEXT`` with exactly one ``|``; a time context range is
``KEY:KEY`` (``2025-07-07|t::m::p:2025-07-28|t::m::p``) or a single key, and both ends must name the
same context. Errors: `PartitionKeyError` for the partition side (``part`` ``"separator"``,
``"time"`` when it is empty, or the key's bad piece), `ContextError` for the context side,
`PartitionRangeError` for the range (``part`` ``"context"`` when the ends' contexts differ).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from semsync.errors import ContextError, InvalidInputError, PartitionKeyError, PartitionRangeError
from semsync.partitions.contexts import MetricContext, MetricPatternContext, parse_context
from semsync.partitions.grains import DEFAULT_FIRST_DATE, Grain, Partition, as_grain
from semsync.partitions.keys import parse_partition
from semsync.partitions.ranges import MAX_PARTITIONS_PER_REQUEST, checked_range, parse_range_end, split_range

TIME_CONTEXT_SEPARATOR = "|"


class TimeContextKey(BaseModel):
    """One partition of one context: ``2025-07-01|acme::revenue``."""

    model_config = ConfigDict(frozen=True)

    partition: Partition
    context: MetricContext | MetricPatternContext

    def to_string(self) -> str:
        """The key as ``PARTITION_KEY|CONTEXT``."""
        return f"{self.partition.key}{TIME_CONTEXT_SEPARATOR}{self.context.key}"

    @property
    def key(self) -> str:
        """The key: the same as `to_string()`."""
        return self.to_string()

    def __str__(self) -> str:
        return self.to_string()


def parse_time_context_key(grain: Grain | str, text: str) -> TimeContextKey:
    """Parse ``PARTITION_KEY|CONTEXT``, e.g. ``2025-07-01|acme::revenue`` for the day grain."""
    grain = as_grain(grain)
    if not isinstance(text, str) or text.count(TIME_CONTEXT_SEPARATOR) != 1:
        count = text.count(TIME_CONTEXT_SEPARATOR) if isinstance(text, str) else 0
        raise PartitionKeyError(
            f"time context key {text!r} has {count} '|' separators; expected exactly one, as in "
            f"PARTITION_KEY|tenant::metric",
            part="separator",
            value=text,
        )
    time_key, context_text = text.split(TIME_CONTEXT_SEPARATOR)
    if not time_key:
        raise PartitionKeyError(
            f"time context key {text!r} has no {grain} partition key before '|'", part="time", value=text
        )
    if not context_text:
        raise ContextError(f"time context key {text!r} has no context after '|'", part="context", value=text)
    try:
        partition = parse_partition(grain, time_key)
        context = parse_context(context_text)
    except InvalidInputError as error:
        raise type(error)(
            f"time context key {text!r}: {error}", part=error.part, value=error.value
        ) from error
    return TimeContextKey(partition=partition, context=context)


def parse_time_context_range(
    grain: Grain | str, spec: str, *, now: datetime | None = None, allow_incomplete: bool = False,
    first_date: date = DEFAULT_FIRST_DATE, max_partitions: int = MAX_PARTITIONS_PER_REQUEST,
) -> tuple[list[Partition], MetricContext | MetricPatternContext]:
    """The partitions and the shared context of ``KEY:KEY`` (inclusive) or a single time context key.

    Checked like `semsync.partitions.expand_range`: in order, not before the first partition (of
    `first_date`) and,
    unless `allow_incomplete`, not after the last complete one at `now` (default: the current time).
    """
    grain = as_grain(grain)
    ends = split_range(spec)
    first = parse_range_end("range start", spec, lambda: parse_time_context_key(grain, ends[0]))
    last = first
    if len(ends) == 2:
        last = parse_range_end("range end", spec, lambda: parse_time_context_key(grain, ends[1]))
        if first.context != last.context:
            raise PartitionRangeError(
                f"range {spec!r} mixes contexts {first.context} and {last.context}; both ends must share one",
                part="context",
                value=spec,
            )
    partitions = checked_range(
        first.partition, last.partition, spec, now=now, allow_incomplete=allow_incomplete, first_date=first_date,
        max_partitions=max_partitions,
    )
    return partitions, first.context
