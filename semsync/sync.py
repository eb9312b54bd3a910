"""The sync service: bring one metric's series for one grain and partition range into PostgreSQL.

`SemanticSyncService.sync` plans each component (the base series and every dimension) with
:mod:`semsync.sync_plan`, fetches its window from the tenant's semantic layer, and replaces that
window atomically (:mod:`semsync.db.window_replace`) with its sync status in the same transaction.
The base series goes first: if it fails the sync fails. Dimensions then run concurrently (bounded)
and in isolation: a failing dimension is recorded FAILED with its error while the others commit.
Every read and write runs inside the tenant's row-level-security scope.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

from pydantic import BaseModel, Field, computed_field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.models import DimensionDef, MetricDef, TenantDef
from semsync.catalog.store import get_metric, lookup_tenant
from semsync.db.session import tenant_scope
from semsync.db.window_replace import replace_window
from semsync.errors import SemsyncError, TenantSyncDisabledError
from semsync.partitions import Grain, MetricContext, Partition, partitions_between
from semsync.sources.base import MetricSource
from semsync.sync_plan import ComponentHistory, ComponentPlan, SyncStatus, SyncType, advance_settled, plan_component
from semsync.sync_status import load_histories, record_status


class SemanticSyncRequest(BaseModel):
    """One context, one grain, one partition or a contiguous run of them."""

    tenant: str = Field(description="tenant identifier")
    metric_id: str
    grain: Grain
    start_partition: str = Field(description="partition key, e.g. 2025-07-01, 2025-W27, 2025-07")
    end_partition: str | None = Field(None, description="last partition of a contiguous run; default: start")
    force_full_sync: bool = False

    @property
    def metric_context(self) -> MetricContext:
        """The validated `tenant::metric` context (raises ContextError)."""
        return MetricContext.from_string(f"{self.tenant}::{self.metric_id}")

    def partitions(self) -> list[Partition]:
        """The requested partitions in order (raises PartitionKeyError / PartitionRangeError)."""
        return partitions_between(self.grain, self.start_partition, self.end_partition)


class ComponentResult(BaseModel):
    """What happened to one component: the base series (dimension None) or one dimension."""

    dimension: str | None = None
    sync_type: SyncType
    reason: str
    window_start: date
    window_end: date
    status: SyncStatus
    rows_fetched: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_deleted: int = 0
    rows_dropped_null: int = 0
    error: str | None = None
    error_type: str | None = None
    retryable: bool | None = None
    duration_s: float = 0.0

    @computed_field
    @property
    def rows_written(self) -> int:
        return self.rows_inserted + self.rows_updated

    @computed_field
    @property
    def rows_skipped(self) -> int:
        """Fetched rows that needed no write (unchanged) or were dropped (null value or slice)."""
        return self.rows_unchanged + self.rows_dropped_null


class SemanticSyncResponse(BaseModel):
    tenant: str
    tenant_id: int
    metric_id: str
    grain: Grain
    partitions: list[str]
    force_full_sync: bool
    base: ComponentResult
    dimensions: list[ComponentResult] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime

    @computed_field
    @property
    def success(self) -> bool:
        return self.base.status is SyncStatus.SUCCESS

    @computed_field
    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @computed_field
    @property
    def dimensions_succeeded(self) -> list[str]:
        return [d.dimension for d in self.dimensions if d.status is SyncStatus.SUCCESS]

    @computed_field
    @property
    def dimensions_failed(self) -> dict[str, str]:
        return {d.dimension: d.error or "" for d in self.dimensions if d.status is SyncStatus.FAILED}

    @computed_field
    @property
    def rows_fetched(self) -> int:
        return self.base.rows_fetched + sum(d.rows_fetched for d in self.dimensions)

    @computed_field
    @property
    def rows_written(self) -> int:
        return self.base.rows_written + sum(d.rows_written for d in self.dimensions)

    @computed_field
    @property
    def rows_deleted(self) -> int:
        return self.base.rows_deleted + sum(d.rows_deleted for d in self.dimensions)

    @computed_field
    @property
    def rows_skipped(self) -> int:
        return self.base.rows_skipped + sum(d.rows_skipped for d in self.dimensions)


class SourceProvider(Protocol):
    """Gives the semantic layer source of a tenant (built once per connection, reused)."""

    async def source_for(self, tenant: TenantDef) -> MetricSource: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SemanticSyncService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sources: SourceProvider,
        *,
        max_concurrent_dimensions: int = 4,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.session_factory = session_factory
        self.sources = sources
        self.max_concurrent_dimensions = max_concurrent_dimensions
        self.clock = clock

    async def sync(self, request: SemanticSyncRequest) -> SemanticSyncResponse:
        """Run the sync. Bad input and unknown tenants or metrics raise typed, non-retryable errors;
        source and write failures are reported in the response (base failure → ``success`` False)."""
        request.metric_context  # noqa: B018 - validates the identifiers before touching the database
        partitions = request.partitions()
        grain = Grain(request.grain)
        started_at = self.clock()
        tenant_id, tenant = await lookup_tenant(self.session_factory, request.tenant)
        if not tenant.sync_enabled:
            raise TenantSyncDisabledError(
                f"sync is disabled for tenant {request.tenant!r}: enable it in the catalog and load it again"
            )
        metric = await get_metric(self.session_factory, tenant_id, request.metric_id)
        source = await self.sources.source_for(tenant)

        async with tenant_scope(self.session_factory, tenant_id) as session:
            histories = await load_histories(session, tenant_id, metric.id, grain.value)
        components: list[DimensionDef | None] = [None, *metric.dimensions]
        plans = {
            (d.id if d else None): plan_component(
                grain, partitions[0], partitions[-1], histories.get(d.id if d else None, ComponentHistory()),
                force_full=request.force_full_sync,
            )
            for d in components
        }

        run = _ComponentRun(self, source, tenant_id, metric, grain, histories)
        base = await run(None, plans[None])
        dimension_results: list[ComponentResult] = []
        if base.status is SyncStatus.SUCCESS and metric.dimensions:
            limit = asyncio.Semaphore(self.max_concurrent_dimensions)

            async def bounded(dimension: DimensionDef) -> ComponentResult:
                async with limit:
                    return await run(dimension, plans[dimension.id])

            dimension_results = list(await asyncio.gather(*(bounded(d) for d in metric.dimensions)))
        return SemanticSyncResponse(
            tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id, grain=grain,
            partitions=[p.key for p in partitions], force_full_sync=request.force_full_sync,
            base=base, dimensions=dimension_results, started_at=started_at, finished_at=self.clock(),
        )


class _ComponentRun:
    """Fetch, write and record one component; never raises for source or write failures."""

    def __init__(self, service: SemanticSyncService, source: MetricSource, tenant_id: int, metric: MetricDef,
                 grain: Grain, histories: dict[str | None, ComponentHistory]) -> None:
        self.service, self.source, self.tenant_id = service, source, tenant_id
        self.metric, self.grain, self.histories = metric, grain, histories

    async def __call__(self, dimension: DimensionDef | None, plan: ComponentPlan) -> ComponentResult:
        name = dimension.id if dimension else None
        began = time.perf_counter()
        fetched_at = self.service.clock()
        result = ComponentResult(dimension=name, sync_type=plan.sync_type, reason=plan.reason,
                                 window_start=plan.start, window_end=plan.end, status=SyncStatus.RUNNING)
        status_keys = {"tenant_id": self.tenant_id, "metric_id": self.metric.id, "grain": self.grain.value,
                       "dimension_name": name, "sync_type": plan.sync_type, "start": plan.start, "end": plan.end}
        try:
            async with tenant_scope(self.service.session_factory, self.tenant_id) as session:
                await record_status(session, **status_keys, status=SyncStatus.RUNNING, at=fetched_at)
            fetched = await self.source.fetch(self.metric, self.grain, plan.start, plan.end, dimension)
            result.rows_fetched = len(fetched.rows) + fetched.dropped_nulls
            result.rows_dropped_null = fetched.dropped_nulls
            previous = self.histories.get(name, ComponentHistory()).settled_through
            async with tenant_scope(self.service.session_factory, self.tenant_id) as session:
                counts = await replace_window(
                    session, tenant_id=self.tenant_id, metric_id=self.metric.id, grain=self.grain.value,
                    dimension_name=name, start=plan.start, end=plan.end, rows=fetched.rows,
                )
                await record_status(
                    session, **status_keys, status=SyncStatus.SUCCESS, at=self.service.clock(),
                    records=result.rows_fetched,
                    settled_through=advance_settled(self.grain, previous, plan, fetched_at),
                )
            result.rows_inserted, result.rows_updated = counts.inserted, counts.updated
            result.rows_unchanged, result.rows_deleted = counts.unchanged, counts.deleted
            result.status = SyncStatus.SUCCESS
        except Exception as exc:  # noqa: BLE001 - isolation: the error is recorded, not lost
            result.status = SyncStatus.FAILED
            result.error = f"{type(exc).__name__}: {exc}"
            result.error_type = type(exc).__name__
            result.retryable = exc.retryable if isinstance(exc, SemsyncError) else True
            result.rows_inserted = result.rows_updated = result.rows_unchanged = result.rows_deleted = 0
            async with tenant_scope(self.service.session_factory, self.tenant_id) as session:
                await record_status(session, **status_keys, status=SyncStatus.FAILED, at=self.service.clock(),
                                    records=result.rows_fetched, error=result.error)
        result.duration_s = time.perf_counter() - began
        return result
