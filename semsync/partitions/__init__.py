"""Time partitions, metric contexts and the keys and ranges that name them.

- `grains`: `Grain`, `Partition`, the first partitions (`first_partitions` of the configured first
  date; `FIRST_PARTITION` of the default one), the partition of a date or an instant;
- `keys`: strict parsing of ``2025-07-01`` / ``2025-W27`` / ``2025-07``;
- `ranges`: ``START:END`` ranges checked against what can be synced, and the cap on a request's
  partitions (`MAX_PARTITIONS_PER_REQUEST`);
- `contexts`: ``tenant::metric[::pattern]``;
- `time_contexts`: two-dimensional keys and ranges, ``2025-07-01|acme::revenue``.

Weeks are Monday-based and keyed ``%Y-W%W`` by their Monday; see `semsync.partitions.grains`.
"""

from semsync.partitions.contexts import MetricContext, MetricPatternContext, parse_context
from semsync.partitions.grains import (
    DEFAULT_FIRST_DATE,
    FIRST_PARTITION,
    Grain,
    Partition,
    first_partitions,
    last_complete_partition,
    partition_for_date,
)
from semsync.partitions.keys import parse_partition
from semsync.partitions.ranges import (
    DEFAULT_MAX_PER_REQUEST,
    MAX_PARTITIONS_PER_REQUEST,
    MAX_PER_REQUEST_SETTING,
    count_between,
    expand_range,
    partition_count,
    partition_range,
    partitions_between,
    span_ends,
)
from semsync.partitions.time_contexts import (
    TimeContextKey,
    parse_time_context_key,
    parse_time_context_range,
)

__all__ = [
    "DEFAULT_FIRST_DATE",
    "DEFAULT_MAX_PER_REQUEST",
    "FIRST_PARTITION",
    "Grain",
    "MAX_PARTITIONS_PER_REQUEST",
    "MAX_PER_REQUEST_SETTING",
    "MetricContext",
    "MetricPatternContext",
    "Partition",
    "TimeContextKey",
    "count_between",
    "expand_range",
    "first_partitions",
    "last_complete_partition",
    "parse_context",
    "parse_partition",
    "parse_time_context_key",
    "parse_time_context_range",
    "partition_count",
    "partition_for_date",
    "partition_range",
    "partitions_between",
    "span_ends",
]
