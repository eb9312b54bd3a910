"""The one interface every semantic layer source implements.

A source answers: the values of a metric for a grain and an inclusive date window, optionally
grouped by one dimension. Rows are plain tuples (not models): a FULL sync moves hundreds of
thousands of them. Each row's date is the first day of its period (Monday for weeks).

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


@dataclass
class FetchResult:
    rows: list[SourceRow] = field(default_factory=list)
    #: rows the source returned with a null value or a null slice, dropped and counted
    dropped_nulls: int = 0


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
