"""The story run service: one `tenant::metric` context's stories over one partition or a range.

Reads, once for the whole span, the stored results of every pattern (their current versions) for
the span's analysis dates and the one before, the metric's series and its slices' series, and the
stories that held on the date before the span; tells the stories (`semsync.stories.tell`, off the
event loop: the worker's process pool) and replaces the span's stories in one transaction. The
results travel as their JSON text, parsed in the telling's process.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import Executor

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import find_tenant, get_metric
from semsync.contracts import StoryRunRequest, StoryRunResponse
from semsync.db.session import tenant_scope
from semsync.patterns import analysis_date_for
from semsync.patterns.periods import last_complete_ordinal, period_start
from semsync.progress import ProgressCallback, report
from semsync.stories import current_versions
from semsync.stories.rules import told_at
from semsync.stories.store import prior_stories, replace_stories
from semsync.stories.tell import NOISE_WINDOW, ROW_COLUMNS, SPARKLINE, Series, StoryJob, tell

#: what is read of a pattern's results where it is far less than the whole: a forecast's daily
#: series is most of its result and no rule reads it (one `->` decompresses the document once; every
#: further one would again, so the other patterns' results are read whole)
PROJECTION = {"forecasting": "jsonb_build_object('error', error, 'period_forecasts', "
                             "run_result->'period_forecasts')::text"}


STATUS = ROW_COLUMNS.index("status")


class StoryRunService:
    """Tells stories; the CPU work goes to `executor` (the pattern process pool in the worker), else a thread."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], executor: Executor | None = None) -> None:
        self.session_factory = session_factory
        self.executor = executor

    async def run(self, request: StoryRunRequest, progress: ProgressCallback | None = None) -> StoryRunResponse:
        began = time.perf_counter()
        partitions = request.partitions()
        tenant_id = (await find_tenant(self.session_factory, request.tenant)).id
        metric = await get_metric(self.session_factory, tenant_id, request.metric_id)
        grain = request.grain
        dates = [analysis_date_for(p) for p in partitions]
        previous = partitions[0].start  # the analysis date of the partition before the first
        versions = current_versions()
        read_versions = {name: version for name, version in versions.items() if told_at(name, grain)}
        report(progress, f"reading results for {len(dates)} analysis dates")
        async with tenant_scope(self.session_factory, tenant_id) as session:
            results, read = await self._results(session, tenant_id, metric.id, grain.value, read_versions,
                                                previous, dates[-1])
            history = max(NOISE_WINDOW[grain], SPARKLINE[grain]) + 1
            first = period_start(grain, last_complete_ordinal(grain, previous) - history)
            last = partitions[-1].end
            series = await self._series(session, tenant_id, metric.id, grain.value, first, last)
            slices = {} if "dimension_analysis" not in read_versions else await self._slices(
                session, tenant_id, metric.id, grain.value,
                period_start(grain, last_complete_ordinal(grain, previous) - SPARKLINE[grain]), last)
            prior = {(row.story_type, row.dimension, row.slice): row.started_on
                     for row in await prior_stories(session, tenant_id=tenant_id, metric_id=metric.id,
                                                    grain=grain.value, on=previous, versions=versions)}
        job = StoryJob(tenant=request.tenant, metric_id=metric.id, metric_label=metric.label, unit=metric.unit,
                       sign=1 if metric.direction == "higher_is_better" else -1, grain=grain, dates=dates,
                       previous=previous, results=results, versions=versions,
                       series=Series.from_points(grain, series),
                       slices={key: Series.from_points(grain, points) for key, points in slices.items()},
                       prior=prior)
        report(progress, f"telling stories of {len(dates)} dates")
        rows = await self._tell(job)
        report(progress, f"storing {len(rows)} stories")
        async with tenant_scope(self.session_factory, tenant_id) as session:
            counts = await replace_stories(session, tenant_id=tenant_id, metric_id=metric.id, grain=grain.value,
                                           first=dates[0], last=dates[-1], versions=versions, rows=rows)
            alerts = bool(await session.scalar(text(
                "SELECT coalesce((notifications->>'alerts')::boolean, false) FROM tenants WHERE id = :t"),
                {"t": tenant_id}))
        statuses = Counter(row[STATUS] for row in rows)
        return StoryRunResponse(alerts=alerts,
            tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id, grain=grain,
            first_partition=partitions[0].key, last_partition=partitions[-1].key, results_read=read,
            stories=len(rows), new=statuses["new"], resolved=statuses["resolved"],
            written=counts["written"], deleted=counts["deleted"], duration_s=time.perf_counter() - began)

    async def _tell(self, job: StoryJob) -> list[tuple]:
        if self.executor is None:
            return await asyncio.to_thread(tell, job)
        return await asyncio.get_running_loop().run_in_executor(self.executor, tell, job)

    @staticmethod
    async def _results(session: AsyncSession, tenant_id: int, metric_id: str, grain: str, versions: dict[str, str],
                       first, last) -> tuple[dict, int]:
        """pattern → analysis date → its results' JSON texts (one per dimension)."""
        results: dict[str, dict] = {}
        read = 0
        for pattern, version in versions.items():
            rows = await session.execute(
                text(f"SELECT analysis_date, {PROJECTION.get(pattern, 'run_result::text')} AS r FROM pattern_results "
                     "WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND pattern = :p AND version = :v "
                     "AND analysis_date BETWEEN :first AND :last ORDER BY analysis_date, dimension_name"),
                {"t": tenant_id, "m": metric_id, "g": grain, "p": pattern, "v": version, "first": first,
                 "last": last})
            by_date: dict = {}
            for row in rows:
                by_date.setdefault(row.analysis_date, []).append(row.r)
                read += 1
            results[pattern] = by_date
        return results, read

    @staticmethod
    async def _series(session: AsyncSession, tenant_id: int, metric_id: str, grain: str, first, last) -> list:
        rows = await session.execute(
            text("SELECT date, value FROM metric_time_series WHERE tenant_id = :t AND metric_id = :m AND grain = :g "
                 "AND date BETWEEN :first AND :last ORDER BY date"),
            {"t": tenant_id, "m": metric_id, "g": grain, "first": first, "last": last})
        return [(row.date, row.value) for row in rows]

    @staticmethod
    async def _slices(session: AsyncSession, tenant_id: int, metric_id: str, grain: str, first, last) -> dict:
        rows = await session.execute(
            text("SELECT dimension_name, dimension_slice, date, value FROM metric_dimensional_time_series "
                 "WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND date BETWEEN :first AND :last"),
            {"t": tenant_id, "m": metric_id, "g": grain, "first": first, "last": last})
        slices: dict = {}
        for row in rows:
            slices.setdefault((row.dimension_name, row.dimension_slice), []).append((row.date, row.value))
        return slices

