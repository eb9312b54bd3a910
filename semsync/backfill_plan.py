"""What a backfill has to do: the contexts it selects and, per context and grain, the runs of
contiguous partitions its mode leaves to sync.

- Contexts: explicit ``tenant::metric`` ones (each must exist), one tenant's, or every active one:
  the metrics of sync-enabled tenants, less those discovery recorded as inactive.
- Modes: ``all`` syncs every partition of the range; ``missing`` skips partitions the ledger shows
  synced (succeeded or partial); ``failed`` takes only those it shows failed or partial.

The plan is compact (runs, not partitions), so a year of daily partitions for thousands of contexts
stays a small payload; the BackfillWorkflow cuts runs into chunks (`Lane.chunks`).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import get_metric, lookup_tenant
from semsync.contracts import BackfillMode, BackfillPlan, ContextSelector, Lane, LedgerStatus, PlanBackfillInput
from semsync.db.session import tenant_scope
from semsync.errors import TenantSyncDisabledError
from semsync.ledger import keys_with_status
from semsync.partitions import MetricContext, Partition, partitions_between

_SYNCED = (LedgerStatus.SUCCEEDED, LedgerStatus.PARTIAL)
_FAILED = (LedgerStatus.FAILED, LedgerStatus.PARTIAL)


async def _tenant_metrics(session: AsyncSession, tenant_id: int) -> list[str]:
    """The tenant's metric ids, less those discovery recorded as inactive."""
    rows = await session.execute(
        text("SELECT m.metric_id FROM metrics m LEFT JOIN metric_contexts c "
             "ON c.tenant_id = m.tenant_id AND c.metric_id = m.metric_id "
             "WHERE m.tenant_id = :t AND coalesce(c.is_active, true) ORDER BY m.metric_id"),
        {"t": tenant_id},
    )
    return list(rows.scalars())


async def select_contexts(
    session_factory: async_sessionmaker[AsyncSession], selector: ContextSelector
) -> list[tuple[int, MetricContext]]:
    """(tenant id, context) of every selected context, in a stable order."""
    if selector.contexts:
        selected = []
        for key in selector.contexts:
            context = MetricContext.from_string(key)
            tenant_id, tenant = await lookup_tenant(session_factory, context.tenant)
            if not tenant.sync_enabled:
                raise TenantSyncDisabledError(f"sync is disabled for tenant {context.tenant!r}")
            await get_metric(session_factory, tenant_id, context.metric)  # UnknownMetricError
            selected.append((tenant_id, context))
        return selected
    if selector.tenant:
        tenant_id, tenant = await lookup_tenant(session_factory, selector.tenant)
        if not tenant.sync_enabled:
            raise TenantSyncDisabledError(f"sync is disabled for tenant {selector.tenant!r}")
        tenants = [(tenant_id, selector.tenant)]
    else:
        async with session_factory() as session:
            rows = await session.execute(
                text("SELECT id, identifier FROM tenants WHERE sync_enabled ORDER BY identifier"))
            tenants = [(row.id, row.identifier) for row in rows]
    selected = []
    for tenant_id, identifier in tenants:
        async with tenant_scope(session_factory, tenant_id) as session:
            for metric_id in await _tenant_metrics(session, tenant_id):
                selected.append((tenant_id, MetricContext(tenant=identifier, metric=metric_id)))
    return selected


def contiguous_runs(partitions: list[Partition]) -> list[tuple[str, str]]:
    """Ordered partitions grouped into runs of consecutive ones: [(first key, last key), ...]."""
    runs: list[tuple[str, str]] = []
    first = previous = None
    for partition in partitions:
        if previous is not None and partition == previous.next():
            previous = partition
            continue
        if first is not None:
            runs.append((first.key, previous.key))
        first = previous = partition
    if first is not None:
        runs.append((first.key, previous.key))
    return runs


async def plan_backfill(session_factory: async_sessionmaker[AsyncSession], request: PlanBackfillInput) -> BackfillPlan:
    contexts = await select_contexts(session_factory, request.selector)
    lanes: list[Lane] = []
    skipped = 0
    for tenant_id, context in contexts:
        for grain_range in request.ranges:
            partitions = partitions_between(grain_range.grain, grain_range.first, grain_range.last)
            if request.mode is not BackfillMode.ALL:
                async with tenant_scope(session_factory, tenant_id) as session:
                    statuses = _SYNCED if request.mode is BackfillMode.MISSING else _FAILED
                    marked = await keys_with_status(session, tenant_id, context.metric, grain_range.grain, statuses)
                missing = request.mode is BackfillMode.MISSING
                chosen = [p for p in partitions if (p.key not in marked) == missing]
                skipped += len(partitions) - len(chosen)
                partitions = chosen
            if partitions:
                lanes.append(Lane(context=context.key, grain=grain_range.grain, runs=contiguous_runs(partitions)))
    return BackfillPlan(lanes=lanes, contexts=len(contexts), skipped_partitions=skipped)


class BackfillPlanner:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def plan(self, request: PlanBackfillInput) -> BackfillPlan:
        return await plan_backfill(self.session_factory, request)
