"""The one interface every semantic layer source implements.

A source answers: the values of a metric for a grain and an inclusive date window, optionally
grouped by one dimension. Rows are plain tuples (not models): a FULL sync moves hundreds of
thousands of them. Each row's date is the first day of its period (Monday for weeks).

A row grouped by a dimension whose value is null (no region recorded, say) is kept, in the slice
`NULL_SLICE`, so that a dimension's slices add up to the base series; a row with a null *value* is
dropped and counted.

A fetch can take long (a year of a busy metric is dozens of Cube pages): it reports its steps to an
optional `progress` callback (`semsync.progress`), which the Temporal activity turns into heartbeats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date

from semsync.catalog.models import DimensionDef, MetricDef
from semsync.partitions import Grain
from semsync.progress import ProgressCallback

#: (period start date, dimension slice or None for the base series, value)
SourceRow = tuple[date, str | None, float]

NULL_SLICE = "(null)"
"""The slice of the rows whose dimension value is null: one explicit slice, stored and analysed like
any other, so that the slices of a dimension sum to the base series. A source that returns both a
real ``(null)`` value and a null for the same period has two values for one slice: the write refuses
them as duplicates rather than merge them."""


def slice_of(value: object) -> str:
    """A dimension value as a slice name: its text, or `NULL_SLICE` for a null."""
    return NULL_SLICE if value is None else str(value)


@dataclass
class FetchResult:
    rows: list[SourceRow] = field(default_factory=list)
    #: rows the source returned with a null value, dropped and counted
    dropped_nulls: int = 0
    #: rows whose dimension value was null, kept in the slice `NULL_SLICE`
    null_slices: int = 0


class MetricSource(ABC):
    """A semantic layer; raises SourceRequestError (non-retryable) or SourceUnavailableError (retryable)."""

    @abstractmethod
    async def fetch(
        self,
        metric: MetricDef,
        grain: Grain,
        start: date,
        end: date,
        dimension: DimensionDef | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """The metric's rows per `grain` period in ``[start, end]``, by `dimension` when one is given.

        `progress` is called with a short line at each step (a page read, a retry).
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release connections."""
