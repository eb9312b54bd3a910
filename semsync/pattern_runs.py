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
from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import get_metric, lookup_tenant
from semsync.partitions import Grain, MetricPatternContext, Partition, partitions_between
from semsync.patterns import analysis_date_for, get_pattern, run_pattern
from semsync.patterns.data import PatternDataOrganiser
from semsync.patterns.store import store_results


class PatternRunRequest(BaseModel):
    tenant: str
    metric_id: str
    pattern: str
    grain: Grain
    start_partition: str
    end_partition: str | None = None

    @property
    def context(self) -> MetricPatternContext:
        return MetricPatternContext.from_string(f"{self.tenant}::{self.metric_id}::{self.pattern}")

    def partitions(self) -> list[Partition]:
        return partitions_between(self.grain, self.start_partition, self.end_partition)


class PatternRunResponse(BaseModel):
    tenant: str
    tenant_id: int
    metric_id: str
    pattern: str
    version: str
    grain: Grain
    partitions: list[str]
    first_analysis_date: date
    last_analysis_date: date
    results_stored: int
    #: analysis date (and dimension) → error type, for results that carry a typed error
    errors: dict[str, str] = Field(default_factory=dict)
    duration_s: float


class PatternRunService:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory
        self.organiser = PatternDataOrganiser(session_factory)

    async def run(self, request: PatternRunRequest) -> PatternRunResponse:
        began = time.perf_counter()
        request.context  # noqa: B018 - validates the identifiers first
        partitions = request.partitions()
        pattern = get_pattern(request.pattern)
        tenant_id, tenant = await lookup_tenant(self.session_factory, request.tenant)
        metric = await get_metric(self.session_factory, tenant_id, request.metric_id)
        # defaults, then the tenant's overrides, then the metric's
        overrides = {**tenant.patterns.get(pattern.name, {}), **metric.patterns.get(pattern.name, {})}
        pattern.settings(overrides)  # invalid catalog settings fail here, before any read
        dates = [analysis_date_for(p) for p in partitions]
        data = await self.organiser.read_for(pattern, tenant_id, metric.id, request.grain, dates, overrides)
        results = await asyncio.to_thread(run_pattern, pattern, data, dates, request.grain, overrides)
        stored = await store_results(self.session_factory, tenant_id, results)
        errors = {
            f"{r.analysis_date}{'/' + r.dimension_name if r.dimension_name else ''}": r.error.type
            for r in results if r.error is not None
        }
        return PatternRunResponse(
            tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id, pattern=pattern.name,
            version=pattern.version, grain=request.grain, partitions=[p.key for p in partitions],
            first_analysis_date=dates[0], last_analysis_date=dates[-1], results_stored=stored, errors=errors,
            duration_s=time.perf_counter() - began,
        )
