"""The one interface every semantic layer source implements.

A source answers: the values of a metric for a grain and an inclusive date window, optionally
grouped by one dimension. Rows are plain tuples (not models): a FULL sync moves hundreds of
thousands of them, a big dimension millions. Each row's date is the first day of its period (Monday
for weeks).

A source hands its rows over as a stream of bounded pages (`MetricSource.pages`, each at most about
`PAGE_ROWS` rows): the sync writes each page to its staging table and lets it go, so that a
component's size never decides a worker's memory. `MetricSource.fetch` gathers the pages into one
`FetchResult`, for the small answers of tests, the demo and comparisons.

A row grouped by a dimension whose value is null (no region recorded, say) is kept, in the slice
`NULL_SLICE`, so that a dimension's slices add up to the base series; a row with a null *value* is
dropped and counted. The row's shape (`SourceRow`) and `NULL_SLICE` are the stored series' own
(`semsync.db.rows`), re-exported here: the database layer imports no source.

A fetch can take long (a year of a busy metric is dozens of Cube pages): it reports its steps to an
optional `progress` callback (`semsync.progress`), which the Temporal activity turns into heartbeats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date

from semsync.catalog.models import DimensionDef, MetricDef
from semsync.db.rows import NULL_SLICE, SourceRow
from semsync.partitions import Grain
from semsync.progress import ProgressCallback

#: rows a source puts in one page (about 3 MB of rows in memory)
PAGE_ROWS = 10_000


def slice_of(value: object) -> str:
    """A dimension value as a slice name: its text, or `NULL_SLICE` for a null."""
    return NULL_SLICE if value is None else str(value)


@dataclass
class SourcePage:
    """One page of a source's stream: at most about `PAGE_ROWS` rows and the null counts of its rows."""

    rows: list[SourceRow] = field(default_factory=list)
    #: rows the source returned with a null value, dropped and counted
    dropped_nulls: int = 0
    #: rows whose dimension value was null, kept in the slice `NULL_SLICE`
    null_slices: int = 0


@dataclass
class FetchResult(SourcePage):
    """Every page of one fetch together (`MetricSource.fetch`)."""


class MetricSource(ABC):
    """A semantic layer; raises SourceRequestError (non-retryable) or SourceUnavailableError (retryable)."""

    @abstractmethod
    def pages(
        self,
        metric: MetricDef,
        grain: Grain,
        start: date,
        end: date,
        dimension: DimensionDef | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> AsyncIterator[SourcePage]:
        """The metric's rows per `grain` period in ``[start, end]``, by `dimension` when one is given,
        as pages of at most about `PAGE_ROWS` rows, each with its own null counts.

        An async generator: the caller iterates it inside ``contextlib.aclosing`` so that a stream
        left early (a failed write, a row cap) releases its cursor or connection at once. The source
        keeps no page after yielding it. `progress` is called with a short line at each step (a page
        read, a retry).
        """

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
        """Every page of `pages` in one result: for small answers only (it holds every row)."""
        result = FetchResult()
        async with aclosing(self.pages(metric, grain, start, end, dimension, progress=progress)) as stream:
            async for page in stream:
                result.rows.extend(page.rows)
                result.dropped_nulls += page.dropped_nulls
                result.null_slices += page.null_slices
        return result

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release connections."""
