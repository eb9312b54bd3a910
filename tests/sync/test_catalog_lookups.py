"""How often one SyncWorkflow reads the catalog: the real worker on the time-skipping server syncs a
metric with 3 dimensions whose tenant has a sealed (encrypted) connection; every activity reads its
tenant at most once and its metric at most once, and only the fetching activities open the
connection, each once."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

import worker as worker_module
from semsync.catalog.models import Catalog, Filter, SqlConnection, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import DatabaseSettings, Settings, TemporalSettings
from semsync.contracts import SyncWorkflowInput, SyncWorkflowResult
from semsync.encryption import ENVELOPE, SecretBox
from semsync.services import open_services
from tests.sync.conftest import sales_metric
from workflows.sync import SyncWorkflow


class CatalogReads:
    """Tenant queries, metric queries and decryptions, per activity execution (type, id)."""

    def __init__(self) -> None:
        self.tenants: Counter[tuple[str, str]] = Counter()
        self.metrics: Counter[tuple[str, str]] = Counter()
        self.opened: Counter[tuple[str, str]] = Counter()
        self.activities: Counter[str] = Counter()

    @staticmethod
    def where() -> tuple[str, str]:
        if not activity.in_activity():
            return ("outside an activity", "")
        info = activity.info()
        return (info.activity_type, info.activity_id)

    def statement(self, sql: str) -> None:
        if "JOIN metrics m" in sql or "FROM metrics WHERE" in sql:
            self.metrics[self.where()] += 1
        elif "FROM tenants" in sql:
            self.tenants[self.where()] += 1


async def test_one_sync_reads_its_tenant_and_metric_once_per_activity_and_decrypts_only_to_fetch(
        warehouse, time_skipping_env, monkeypatch):
    metric = sales_metric(dimensions=("region", "channel", "tenant"))
    metric = metric.model_copy(update={"source": metric.source.model_copy(update={"filters": [
        Filter(member="tenant", operator="equals", values=["acme"])]})})
    sealed = TenantDef(identifier="acme", name="Acme", metrics=[metric],
                       semantic_layer=SqlConnection(database_url=warehouse.app_url))
    await write_catalog(warehouse.catalog_session_factory, Catalog(tenants=[sealed]))
    reads = CatalogReads()
    execute, open_ = AsyncSession.execute, SecretBox.open

    async def counted_execute(self, statement, *args, **kwargs):
        reads.statement(str(statement))
        return await execute(self, statement, *args, **kwargs)

    def counted_open(self, stored, *, tenant):
        if ENVELOPE in stored:
            reads.opened[reads.where()] += 1
        return open_(self, stored, tenant=tenant)

    monkeypatch.setattr(AsyncSession, "execute", counted_execute)
    monkeypatch.setattr(SecretBox, "open", counted_open)
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(database=DatabaseSettings(url=warehouse.app_url),
                        temporal=TemporalSettings(sync_task_queue=f"lookups-{suffix}",
                                                  pattern_task_queue=f"lookups-p-{suffix}"))
    request = SyncWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                                end_partition="2025-07-31", run_patterns=False)
    async with open_services(settings) as services:
        [sync_worker] = worker_module.make_workers(time_skipping_env.client, services, queues=("sync",))
        async with sync_worker:
            result = await time_skipping_env.client.execute_workflow(
                SyncWorkflow.run, request, id=f"{request.workflow_id}/{suffix}",
                task_queue=settings.temporal.sync_task_queue, result_type=SyncWorkflowResult)
    assert result.success and len(result.dimensions) == 3 and result.rows_fetched > 0

    by_type = Counter(kind for kind, _ in reads.tenants)
    # plan_sync, 4 × sync_component (base + 3 dimensions), 2 ledger records (running, then succeeded)
    assert by_type == {"plan_sync": 1, "sync_component": 4, "record_ledger": 2}, reads.tenants
    assert max(reads.tenants.values()) == 1 and max(reads.metrics.values()) == 1, (reads.tenants, reads.metrics)
    assert Counter(kind for kind, _ in reads.metrics) == {"plan_sync": 1, "sync_component": 4}
    # the connection is opened where the semantic layer is asked, once per component, nowhere else
    assert Counter(kind for kind, _ in reads.opened) == {"sync_component": 4}, reads.opened
    assert max(reads.opened.values()) == 1
