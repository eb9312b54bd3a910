"""The sync, pattern and ledger activities with `ActivityEnvironment`: results pass through, errors
become the right ApplicationError, long activities heartbeat their progress."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.backfill import LedgerActivities
from activities.patterns import PatternActivities
from activities.sync import SyncActivities
from semsync.backfill.ledger import Ledger
from semsync.contracts import (
    ActivePatternsInput,
    ComponentFailureInput,
    LedgerBatch,
    LedgerEntry,
    LedgerStatus,
    PatternBatchRequest,
    PatternRunRequest,
    SemanticSyncRequest,
    SyncComponentInput,
    SyncStatus,
    SyncType,
)
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.patterns import pattern_names
from semsync.patterns.runs import PatternRunService


def sync_request(**overrides) -> SemanticSyncRequest:
    fields = {"tenant": "acme", "metric_id": "revenue", "grain": Grain.DAY, "start_partition": "2025-07-01"}
    return SemanticSyncRequest(**(fields | overrides))


async def test_plan_then_components_sync_every_component(service):
    env = ActivityEnvironment()
    activities = SyncActivities(service)
    plan = await env.run(activities.plan_sync, sync_request())
    assert [c.dimension for c in plan.components] == [None, "region", "channel"]
    assert all(c.sync_type is SyncType.FULL for c in plan.components)
    heartbeats: list = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    base = await env.run(activities.sync_component,
                         SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id, plan=plan.base))
    assert base.status is SyncStatus.SUCCESS and base.rows_inserted == 366
    assert any("writing 366 rows" in str(h) for h in heartbeats)


@pytest.mark.parametrize(
    ("overrides", "error_type"),
    [({"metric_id": "profit"}, "UnknownMetricError"), ({"tenant": "nobody"}, "UnknownTenantError")],
)
async def test_planning_unknown_contexts_is_non_retryable(service, overrides, error_type):
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(SyncActivities(service).plan_sync, sync_request(**overrides))
    assert raised.value.type == error_type and raised.value.non_retryable


@pytest.mark.parametrize(
    ("error", "non_retryable"),
    [(SourceUnavailableError("503 from cube"), False), (SourceRequestError("400: unknown member"), True)],
)
async def test_a_failed_component_raises_as_its_error_is_and_writes_nothing(service, scripted, warehouse, error,
                                                                          non_retryable):
    env = ActivityEnvironment()
    plan = await env.run(SyncActivities(service).plan_sync, sync_request())
    scripted.fail_dimensions["region"] = error
    region = plan.dimensions[0]
    with pytest.raises(ApplicationError) as raised:
        await env.run(SyncActivities(service).sync_component,
                      SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id, plan=region))
    assert raised.value.type == type(error).__name__ and raised.value.non_retryable is non_retryable
    async with warehouse.admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM metric_dimensional_time_series")) == 0
        # the attempt is visible as RUNNING; the FAILED mark waits for the last attempt
        assert await conn.scalar(text("SELECT sync_status FROM metric_sync_status")) == "RUNNING"
    failed = await env.run(SyncActivities(service).record_component_failure, ComponentFailureInput(
        request=plan.request, tenant_id=plan.tenant_id, plan=region, error="gave up", error_type="X"))
    assert failed.status is SyncStatus.FAILED
    again = await env.run(SyncActivities(service).plan_sync, sync_request())
    assert again.dimensions[0].sync_type is SyncType.FULL


async def test_pattern_activities_list_active_patterns_run_and_map_errors(service, warehouse):
    await service.sync(sync_request(end_partition="2025-07-31"))
    activities = PatternActivities(PatternRunService(warehouse.session_factory))
    env = ActivityEnvironment()
    active = await env.run(activities.active_patterns, ActivePatternsInput(tenant="acme", metric_id="revenue"))
    assert active.patterns == pattern_names()
    request = PatternRunRequest(tenant="acme", metric_id="revenue", pattern="drift_detection", grain=Grain.DAY,
                                start_partition="2025-07-20", end_partition="2025-07-21")
    assert (await env.run(activities.run_pattern, request)).results_stored == 2
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.run_pattern, request.model_copy(update={"pattern": "nope"}))
    assert raised.value.type == "NotFoundError" and raised.value.non_retryable
    batch = PatternBatchRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY, start_partition="2025-07-20",
                                end_partition="2025-07-21")
    response = await env.run(activities.run_patterns, batch)
    assert [(o.pattern, o.succeeded) for o in response.outcomes] == [(n, True) for n in pattern_names()]
    assert next(o for o in response.outcomes if o.pattern == "drift_detection").results_stored == 2
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.run_patterns, batch.model_copy(update={"metric_id": "nope"}))
    assert raised.value.type == "UnknownMetricError" and raised.value.non_retryable


async def test_ledger_records_each_partition_and_counts_attempts(warehouse):
    activities = LedgerActivities(Ledger(warehouse.session_factory))
    env = ActivityEnvironment()
    entry = LedgerEntry(tenant="acme", metric_id="revenue", grain=Grain.WEEK, partitions=["2025-W27", "2025-W28"],
                        status=LedgerStatus.RUNNING, workflow_id="sync/week/2025-W27:2025-W28/acme::revenue")
    assert (await env.run(activities.record_ledger, LedgerBatch(entries=[entry]))).rows_written == 2
    await env.run(activities.record_ledger, LedgerBatch(entries=[entry.model_copy(
        update={"status": LedgerStatus.PARTIAL, "rows": 10, "error": "region: boom"})]))
    await env.run(activities.record_ledger, LedgerBatch(entries=[entry]))  # a second attempt starts
    async with warehouse.admin_engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT partition_key, partition_start, status, attempts, rows, error, last_success_at IS NOT NULL "
            "FROM partition_ledger ORDER BY partition_key"))).all()
    assert [tuple(r)[:1] + tuple(r)[2:] for r in rows] == [
        ("2025-W27", "running", 2, 5, "region: boom", True), ("2025-W28", "running", 2, 5, "region: boom", True)]
    assert str(rows[0].partition_start) == "2025-07-07"


async def test_a_100_kb_error_is_stored_cut_in_the_ledger(warehouse):
    activities = LedgerActivities(Ledger(warehouse.session_factory))
    long_error = "region: SourceRequestError: <html>" + "x" * 100_000 + "</html> (end of the answer)"
    entry = LedgerEntry(tenant="acme", metric_id="revenue", grain=Grain.MONTH, partitions=["2025-07"],
                        status=LedgerStatus.FAILED, kind="forecasting", error=long_error)
    assert len(entry.error) <= 1000  # carried cut in the activity's input already
    # and cut when stored, however the entry was built (model_copy does not validate)
    uncut = entry.model_copy(update={"error": long_error, "partitions": ["2025-08"]})
    await ActivityEnvironment().run(activities.record_ledger, LedgerBatch(entries=[entry, uncut]))
    async with warehouse.admin_engine.connect() as conn:
        errors = (await conn.execute(text(
            "SELECT error FROM partition_ledger WHERE kind = 'forecasting' ORDER BY partition_key"))).scalars().all()
    assert len(errors) == 2
    for error in errors:
        assert len(error) <= 1000
        assert error.startswith("region: SourceRequestError: <html>") and error.endswith("</html> (end of the answer)")
