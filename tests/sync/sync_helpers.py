"""Helpers of the sync service tests: a source that can fail and count, fixed sources, checksums."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text

from semsync.sources.base import FetchResult, MetricSource, SourcePage


@dataclass
class ScriptedSource(MetricSource):
    """The real SQL source, with failures and counting for the tests that need them."""

    inner: MetricSource
    fail_dimensions: dict[str | None, Exception] = field(default_factory=dict)
    #: fail the next N fetches of a component with the error, then fetch normally
    fail_times: dict[str | None, tuple[int, Exception]] = field(default_factory=dict)
    calls: list[tuple[str | None, date, date]] = field(default_factory=list)
    fetched_rows: int = 0

    async def pages(self, metric, grain, start, end, dimension=None, *, progress=None) -> AsyncIterator[SourcePage]:
        name = dimension.id if dimension else None
        self.calls.append((name, start, end))
        if name in self.fail_dimensions:
            raise self.fail_dimensions[name]
        if self.fail_times.get(name, (0, None))[0] > 0:
            remaining, error = self.fail_times[name]
            self.fail_times[name] = (remaining - 1, error)
            raise error
        async with aclosing(self.inner.pages(metric, grain, start, end, dimension, progress=progress)) as pages:
            async for page in pages:
                self.fetched_rows += len(page.rows)
                yield page


class WholeFetch(MetricSource):
    """A source whose answer is one page, made by `fetch` (a test's rewrite of the rows it got)."""

    async def pages(self, metric, grain, start, end, dimension=None, *, progress=None) -> AsyncIterator[SourcePage]:
        yield await self.fetch(metric, grain, start, end, dimension, progress=progress)

    async def fetch(self, metric, grain, start, end, dimension=None, *, progress=None) -> FetchResult:
        raise NotImplementedError


class FixedSources:
    def __init__(self, source: MetricSource) -> None:
        self.source = source

    async def source_for(self, tenant) -> MetricSource:
        return self.source


async def table_checksum(db, table: str) -> str:
    """An md5 over the table's rows (timestamps excluded), read as the owner (no RLS)."""
    columns = {
        "metric_time_series": "tenant_id, metric_id, grain, date, value",
        "metric_dimensional_time_series":
            "tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value",
    }[table]
    async with db.admin_engine.connect() as conn:
        return await conn.scalar(text(
            f"SELECT md5(coalesce(string_agg(row({columns})::text, ',' ORDER BY {columns}), '')) FROM {table}"))
