"""The sync service: bring one metric's series for one grain and partition range into PostgreSQL.

A sync is made of units of work that can fail, and be retried, on their own:

- `plan`: look up the tenant and metric, and decide per component (the base series and every
  dimension) FULL or INCREMENTAL and its window (:mod:`semsync.sync.plan`);
- `sync_component`: stream one component's window from the tenant's semantic layer, page by page,
  into the staging table, and replace that window atomically (:mod:`semsync.db.window_replace`)
  with its sync status in the same transaction. Memory holds one page, whatever the component's
  size; more than `max_rows_per_component` rows fail it (`ComponentTooLargeError`), nothing written.
  It raises on failure, so the caller's retry policy decides what happens next;
- `record_component_failure`: mark a component FAILED after its last attempt (its next sync is FULL).

The Temporal `SyncWorkflow` calls these as activities. `sync` is the in-process composition (`python
-m starter sync run`): base series first (its failure fails the sync), then the dimensions
concurrently (bounded) and in isolation, a failing dimension recorded FAILED while the others commit.
Every read and write runs inside the tenant's row-level-security scope.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.models import MetricDef, TenantDef
from semsync.catalog.store import StoredTenant, find_tenant_and_metric
from semsync.config import DEFAULT_MAX_ROWS_PER_COMPONENT
from semsync.contracts import (
    ComponentFailureInput,
    ComponentPlan,
    ComponentResult,
    SemanticSyncRequest,
    SemanticSyncResponse,
    SyncComponentInput,
    SyncPlan,
    SyncStatus,
)
from semsync.contracts.sync import BASE, kept_base
from semsync.db.session import tenant_scope
from semsync.db.window_replace import (
    apply_staged,
    lock_component,
    open_stage,
    refuse_duplicates,
    stage_rows,
    uncovered,
)
from semsync.encryption import SecretBox
from semsync.errors import ComponentTooLargeError, SemsyncError, TenantSyncDisabledError, cut
from semsync.progress import ProgressCallback, report
from semsync.sources.base import MetricSource, SourcePage
from semsync.sync.plan import ComponentHistory, advance_settled, plan_component
from semsync.sync.status import load_histories, newer_windows, record_status

__all__ = ["SemanticSyncRequest", "SemanticSyncResponse", "SemanticSyncService", "SourceProvider"]


class SourceProvider(Protocol):
    """Gives the semantic layer source of a tenant (built once per connection, reused)."""

    async def source_for(self, tenant: TenantDef) -> MetricSource: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def error_text(exc: BaseException) -> str:
    """``TypeName: message``, cut to about `semsync.errors.MAX_ERROR_TEXT` characters (start and end kept)."""
    return cut(f"{type(exc).__name__}: {exc}")


class SemanticSyncService:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sources: SourceProvider,
        *,
        max_concurrent_dimensions: int = 4,
        max_rows_per_component: int = DEFAULT_MAX_ROWS_PER_COMPONENT,
        clock: Callable[[], datetime] = _utcnow,
        box: SecretBox | None = None,
    ) -> None:
        #: opens the tenants' connections (the composition root hands it in; None: the settings' keys)
        self.box = box
        self.session_factory = session_factory
        self.sources = sources
        self.max_concurrent_dimensions = max_concurrent_dimensions
        self.max_rows_per_component = max_rows_per_component
        self.clock = clock

    async def _tenant_and_metric(self, request: SemanticSyncRequest) -> tuple[StoredTenant, MetricDef]:
        """One tenant query and one metric query, on one connection; nothing decrypted (only a fetch
        opens the connection)."""
        tenant, metric = await find_tenant_and_metric(self.session_factory, request.tenant, request.metric_id)
        if not tenant.sync_enabled:
            raise TenantSyncDisabledError(
                f"sync is disabled for tenant {request.tenant!r}: enable it in the catalog and load it again"
            )
        return tenant, metric

    async def plan(self, request: SemanticSyncRequest) -> SyncPlan:
        """Each component's sync type and window, base series first. Unknown or disabled tenants and
        unknown metrics raise typed, non-retryable errors before anything is written."""
        tenant, metric = await self._tenant_and_metric(request)
        plan = await self._plan(request, tenant.id, metric)
        plan.cache_target = tenant.has_cache_target
        return plan

    async def _plan(self, request: SemanticSyncRequest, tenant_id: int, metric: MetricDef) -> SyncPlan:
        partitions = request.partitions()
        async with tenant_scope(self.session_factory, tenant_id) as session:
            histories = await load_histories(session, tenant_id, metric.id, request.grain.value)
        names: list[str | None] = [None, *(d.id for d in metric.dimensions)]
        if request.components is not None:
            chosen = [name for name in names if (name or BASE) in request.components]
            names = chosen or names  # the failed components are gone from the catalog: the whole sync
        components = [
            plan_component(request.grain, partitions[0], partitions[-1], histories.get(name, ComponentHistory()),
                           force_full=request.force_full_sync, dimension=name)
            for name in names
        ]
        return SyncPlan(request=request, tenant_id=tenant_id, components=components)

    async def sync_component(
        self, work: SyncComponentInput, progress: ProgressCallback | None = None
    ) -> ComponentResult:
        """Fetch and write one component; raises the source's or database's error on failure (the
        component is then left RUNNING with its previous data and status untouched)."""
        tenant, metric = await self._tenant_and_metric(work.request)
        return await self._sync_component(work, tenant.open(self.box), metric, progress)

    async def _sync_component(
        self, work: SyncComponentInput, tenant: TenantDef, metric: MetricDef, progress: ProgressCallback | None
    ) -> ComponentResult:
        request, plan = work.request, work.plan
        began = time.perf_counter()
        dimension = metric.dimension(plan.dimension) if plan.dimension else None
        source = await self.sources.source_for(tenant)
        status_keys = _status_keys(work.tenant_id, request, plan)
        fetched_at = self.clock()
        async with tenant_scope(self.session_factory, work.tenant_id) as session:
            await record_status(session, **status_keys, status=SyncStatus.RUNNING, at=fetched_at)
        report(progress, f"{work.name}: fetching {plan.start}..{plan.end} ({plan.sync_type.value})")
        result = ComponentResult(
            dimension=plan.dimension, sync_type=plan.sync_type, reason=plan.reason, window_start=plan.start,
            window_end=plan.end, status=SyncStatus.SUCCESS,
        )
        component = {"tenant_id": work.tenant_id, "metric_id": metric.id, "grain": request.grain.value,
                     "dimension_name": plan.dimension}
        # One transaction from the first page staged to the status written: a failure anywhere (the
        # source mid-stream, the row cap, the write) leaves the stored window and its status as they were.
        pages = source.pages(metric, request.grain, plan.start, plan.end, dimension, progress=progress)
        async with self._staged(work.tenant_id, pages, metric, plan) as (session, staged):
            result.rows_fetched = staged.rows + staged.dropped_nulls
            result.rows_dropped_null = staged.dropped_nulls
            report(progress, f"{work.name}: writing {staged.rows} rows")
            await refuse_duplicates(session, metric_id=metric.id, dimension_name=plan.dimension)
            await lock_component(session, **component)
            # an overlapping sync that fetched later and committed first keeps its values
            parts = uncovered(plan.start, plan.end,
                              await newer_windows(session, **component, fetched_at=fetched_at))
            for start, end in parts:
                counts = await apply_staged(session, **component, start=start, end=end)
                if plan.dimension is not None and staged.null_slices:
                    result.null_slice_rows += counts.null_slice
                result.rows_inserted += counts.inserted
                result.rows_updated += counts.updated
                result.rows_unchanged += counts.unchanged
                result.rows_deleted += counts.deleted
            result.dates_kept_from_later_fetch = (plan.end - plan.start).days + 1 - sum(
                (end - start).days + 1 for start, end in parts)
            await record_status(
                session, **status_keys, status=SyncStatus.SUCCESS, at=self.clock(), records=result.rows_fetched,
                settled_through=advance_settled(request.grain, plan.settled_through, plan, fetched_at),
                fetched_at=fetched_at,
            )
        result.duration_s = time.perf_counter() - began
        return result

    @asynccontextmanager
    async def _staged(self, tenant_id: int, pages: AsyncIterator[SourcePage], metric: MetricDef,
                      plan: ComponentPlan) -> AsyncIterator[tuple[AsyncSession, StagedRows]]:
        """A transaction whose staging table holds every page of `pages`, COPYed as it came and let go.

        The transaction opens once the first page is in hand (for most components the only one), so
        a slow semantic layer does not hold it idle. Raises `ComponentTooLargeError` before staging
        the page that would pass `max_rows_per_component`."""
        async with aclosing(pages) as stream:
            page = await anext(stream, None)
            async with tenant_scope(self.session_factory, tenant_id) as session:
                staged = StagedRows()
                await open_stage(session)
                while page is not None:
                    if staged.rows + len(page.rows) > self.max_rows_per_component:
                        raise ComponentTooLargeError(
                            f"metric {metric.id!r}, {_component_name(plan)}: the source returned more than "
                            f"{self.max_rows_per_component:,} rows for {plan.start}..{plan.end}, the cap of one "
                            "component (SEMSYNC_SEMANTIC_LAYER__MAX_ROWS_PER_COMPONENT); nothing was written. "
                            "Raise the cap, or sync a shorter window")
                    await stage_rows(session, page.rows)
                    staged.rows += len(page.rows)
                    staged.dropped_nulls += page.dropped_nulls
                    staged.null_slices += page.null_slices
                    page = await anext(stream, None)
                yield session, staged

    async def record_component_failure(self, failure: ComponentFailureInput) -> ComponentResult:
        """Mark a component FAILED with its reason (its next sync will be FULL)."""
        async with tenant_scope(self.session_factory, failure.tenant_id) as session:
            await record_status(session, **_status_keys(failure.tenant_id, failure.request, failure.plan),
                                status=SyncStatus.FAILED, at=self.clock(), error=failure.error)
        return failed_result(failure.plan, failure.error, failure.error_type, retryable=None)

    async def sync(self, request: SemanticSyncRequest) -> SemanticSyncResponse:
        """The whole sync in process. Bad input and unknown tenants or metrics raise typed,
        non-retryable errors; source and write failures are recorded and reported in the response
        (base failure → ``success`` False; dimensions after a failed base are not attempted)."""
        started_at = self.clock()
        # the catalog read once for the whole sync (each component's activity reads its own)
        stored, metric = await self._tenant_and_metric(request)
        tenant = stored.open(self.box)
        plan = await self._plan(request, stored.id, metric)

        async def isolated(component: ComponentPlan) -> ComponentResult:
            work = SyncComponentInput(request=request, tenant_id=plan.tenant_id, plan=component)
            try:
                return await self._sync_component(work, tenant, metric, None)
            except Exception as exc:  # noqa: BLE001 - isolation: the error is recorded, not lost
                await self.record_component_failure(ComponentFailureInput(
                    request=request, tenant_id=plan.tenant_id, plan=component, error=error_text(exc),
                    error_type=type(exc).__name__))
                retryable = exc.retryable if isinstance(exc, SemsyncError) else True
                return failed_result(component, error_text(exc), type(exc).__name__, retryable=retryable)

        base = await isolated(plan.base) if plan.base else kept_base(request)
        dimension_results: list[ComponentResult] = []
        if base.status is SyncStatus.SUCCESS and plan.dimensions:
            limit = asyncio.Semaphore(self.max_concurrent_dimensions)

            async def bounded(component: ComponentPlan) -> ComponentResult:
                async with limit:
                    return await isolated(component)

            dimension_results = list(await asyncio.gather(*(bounded(d) for d in plan.dimensions)))
        return SemanticSyncResponse(
            tenant=request.tenant, tenant_id=plan.tenant_id, metric_id=request.metric_id, grain=request.grain,
            partitions=[p.key for p in request.partitions()], force_full_sync=request.force_full_sync,
            base=base, dimensions=dimension_results, started_at=started_at, finished_at=self.clock(),
        )


@dataclass
class StagedRows:
    """What a component's stream put in the staging table: counts only, the rows are in the database."""

    rows: int = 0
    dropped_nulls: int = 0
    null_slices: int = 0


def _component_name(plan: ComponentPlan) -> str:
    return f"dimension {plan.dimension!r}" if plan.dimension else "base series"


def failed_result(plan: ComponentPlan, error: str, error_type: str, *, retryable: bool | None) -> ComponentResult:
    return ComponentResult(
        dimension=plan.dimension, sync_type=plan.sync_type, reason=plan.reason, window_start=plan.start,
        window_end=plan.end, status=SyncStatus.FAILED, error=error, error_type=error_type, retryable=retryable,
    )


def _status_keys(tenant_id: int, request: SemanticSyncRequest, plan: ComponentPlan) -> dict:
    return {"tenant_id": tenant_id, "metric_id": request.metric_id, "grain": request.grain.value,
            "dimension_name": plan.dimension, "sync_type": plan.sync_type, "start": plan.start, "end": plan.end}
