"""The pattern run service: one `tenant::metric::pattern` context over one partition or a range.

Reads what the pattern needs once for every analysis date of the range (the data organiser),
evaluates each date (`analyze_many`, off the event loop), and upserts the results on their natural
key, so a re-run replaces and never duplicates. Pattern settings from the catalog override the
pattern's defaults: the tenant's first, then the metric's. The analysis date of a partition is the
day after it ends: its window ends with that partition, the last complete period.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import get_metric, lookup_tenant
from semsync.catalog.validation import stored_settings_error
from semsync.contracts import PatternRunRequest, PatternRunResponse
from semsync.db.session import tenant_scope
from semsync.errors import InvalidInputError
from semsync.patterns import analysis_date_for, get_pattern, pattern_names
from semsync.patterns.catalog_settings import pattern_overrides
from semsync.patterns.context_run import ContextAnalysis, analyse_context
from semsync.patterns.data import PatternDataOrganiser
from semsync.patterns.store import store_records
from semsync.progress import ProgressCallback, report

__all__ = ["PatternRunRequest", "PatternRunResponse", "PatternRunService"]


class PatternRunService:
    """Runs patterns; the CPU work goes to `executor` (a process pool in the worker), else a thread."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], executor: Executor | None = None) -> None:
        self.session_factory = session_factory
        self.organiser = PatternDataOrganiser(session_factory)
        self.executor = executor

    async def active_patterns(self, tenant: str, metric_id: str) -> list[str]:
        """The metric's active pattern contexts as discovery recorded them; every registered pattern
        while discovery has recorded none for the metric."""
        tenant_id, _ = await lookup_tenant(self.session_factory, tenant)
        await get_metric(self.session_factory, tenant_id, metric_id)  # UnknownMetricError
        async with tenant_scope(self.session_factory, tenant_id) as session:
            rows = (await session.execute(
                text("SELECT pattern, is_active FROM metric_pattern_contexts "
                     "WHERE tenant_id = :t AND metric_id = :m ORDER BY pattern"),
                {"t": tenant_id, "m": metric_id},
            )).all()
        if not rows:
            return pattern_names()
        known = set(pattern_names())
        return [row.pattern for row in rows if row.is_active and row.pattern in known]

    async def synced_periods(self, request: PatternRunRequest) -> int:
        """How many periods of the request's grain are synced for its metric, up to the range's end."""
        tenant_id, _ = await lookup_tenant(self.session_factory, request.tenant)
        async with tenant_scope(self.session_factory, tenant_id) as session:
            return await session.scalar(
                text("SELECT count(*) FROM metric_time_series WHERE tenant_id = :t AND metric_id = :m "
                     "AND grain = :g AND date <= :end"),
                {"t": tenant_id, "m": request.metric_id, "g": request.grain.value,
                 "end": request.partitions()[-1].end})

    async def run(self, request: PatternRunRequest, progress: ProgressCallback | None = None) -> PatternRunResponse:
        began = time.perf_counter()
        partitions = request.partitions()
        pattern = get_pattern(request.pattern)
        tenant_id, tenant = await lookup_tenant(self.session_factory, request.tenant)
        metric = await get_metric(self.session_factory, tenant_id, request.metric_id)
        # defaults, then the tenant's overrides, then the metric's, and the metric's direction
        overrides = pattern_overrides(tenant, metric, pattern.name)
        try:
            settings = pattern.settings(overrides)  # invalid catalog settings fail here, before any read
        except InvalidInputError as exc:
            # `catalog load` refuses such settings; a catalog stored before it did gets one line too
            raise stored_settings_error(tenant, metric, pattern.name) or exc from None
        dates = [analysis_date_for(p) for p in partitions]
        report(progress, f"{pattern.name}: reading data for {len(dates)} analysis dates")
        data = await self.organiser.read_for(pattern, tenant_id, metric.id, request.grain, dates, overrides)
        report(progress, f"{pattern.name}: analysing {len(dates)} dates")
        # the analysis and the serialising of its results run off the event loop (a process pool in
        # the worker): only compact store records come back
        job = ContextAnalysis(metric.id, request.grain, dates, data, {pattern.name: settings})
        if self.executor is None:
            analysed = await asyncio.to_thread(analyse_context, job)
        else:
            analysed = await asyncio.get_running_loop().run_in_executor(self.executor, analyse_context, job)
        report(progress, f"{pattern.name}: storing {len(analysed.records)} results")
        stored = await store_records(self.session_factory, tenant_id, analysed.records)
        errors = {where.split(" ", 1)[1]: error for where, error in analysed.errors.items()}
        return PatternRunResponse(
            tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id, pattern=pattern.name,
            version=pattern.version, grain=request.grain, partitions=[p.key for p in partitions],
            first_analysis_date=dates[0], last_analysis_date=dates[-1], results_stored=stored, errors=errors,
            duration_s=time.perf_counter() - began,
        )
