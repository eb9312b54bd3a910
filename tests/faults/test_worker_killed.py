"""The worker process (`python worker.py`) SIGKILLed at two points of a backfill, then restarted each
time: in the middle of the first child sync's window write (held there by an uncommitted row of
another transaction, so the point is exact) and while a pattern analysis runs in the worker's process
pool. The backfill completes, both interrupted activities ran again, the tables equal an undisturbed
run, and no pattern result is duplicated.

A killed worker's workflow tasks come back after the workflow-task timeout; its activities after
their heartbeat timeout (30 s), which is what this test waits for twice. (The quick activities, e.g.
`plan_sync`, do not heartbeat: a worker killed during one is noticed after its start-to-close timeout of
2 minutes, too long to wait for here, so the kills aim at a component and at an analysis.)
"""

from __future__ import annotations

import pytest
from faultkit import (
    CONTEXTS,
    RANGES,
    WorkerProcess,
    contents,
    duplicate_pattern_results,
    finish_backfill,
    fresh_database,
    settings_for,
    standard_request,
    start_backfill,
    until,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.service import RPCError

from semsync.contracts import pattern_workflow_id, sync_workflow_id
from semsync.partitions import MetricContext

pytestmark = pytest.mark.temporal

SPAN = f"{RANGES[0].first}:{RANGES[0].last}"
SYNC_IDS = [sync_workflow_id(RANGES[0].grain, SPAN, MetricContext.from_string(c)) for c in CONTEXTS]
PATTERN_IDS = [pattern_workflow_id(RANGES[0].grain, SPAN, MetricContext.from_string(c)) for c in CONTEXTS]


async def started_activities(client, workflow_id: str) -> list[tuple[str, str]]:
    """(activity id, type) of the workflow's activities running on a worker right now."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:  # not started yet
        return []
    return [(a.activity_id, a.activity_type.name) for a in description.raw_description.pending_activities
            if a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED]


async def attempts_of(client, workflow_id: str, activity_id: str) -> int:
    """The attempt that completed activity `activity_id` of the workflow, from its history."""
    scheduled = None
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_id == activity_id:
                scheduled = event.event_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            if event.activity_task_started_event_attributes.scheduled_event_id == scheduled:
                return event.activity_task_started_event_attributes.attempt
    raise AssertionError(f"activity {activity_id} of {workflow_id} never started")


async def test_a_worker_killed_mid_sync_and_mid_patterns_then_restarted_completes_the_backfill(
        pg_server, temporal_env, reference, tmp_path):
    client = temporal_env.client
    database = await fresh_database(pg_server)
    settings = settings_for(database.app_url, client.service_client.config.target_host)
    worker = WorkerProcess.for_settings(settings, tmp_path / "worker.log")
    watcher = create_async_engine(pg_server.superuser_url(driver="postgresql+asyncpg"), poolclass=NullPool)
    try:
        await worker.start()
        request = standard_request(settings, max_concurrency=1)  # the contexts one after the other

        # 1. the first child sync is writing its base series: an uncommitted row of another
        # transaction holds its INSERT mid-transaction (deterministically), and the worker dies there
        async with database.admin.connect() as conn:
            acme = await conn.scalar(text("SELECT id FROM tenants WHERE identifier = 'acme'"))
        locker = await database.admin.connect()
        await locker.execute(text("BEGIN"))
        await locker.execute(text("INSERT INTO metric_time_series (tenant_id, metric_id, grain, date, value) "
                                  "VALUES (:t, 'revenue', 'day', '2025-07-02', 0)"), {"t": acme})
        await start_backfill(client, settings, request)

        async def base_blocked() -> bool:  # the superuser sees every role's sessions
            async with watcher.connect() as conn:
                return bool(await conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%INSERT INTO metric_time_series%'")))

        await until(base_blocked, "the first sync's base series to wait on the uncommitted row", within=60)
        [sync_activity] = [a for a, kind in await started_activities(client, SYNC_IDS[0]) if kind == "sync_component"]
        await worker.kill()
        await locker.rollback()
        await locker.close()
        await worker.start()

        # 2. a pattern analysis is running in the worker's process pool: kill
        async def analysing():
            for workflow_id in PATTERN_IDS:
                running = [(workflow_id, a) for a, kind in await started_activities(client, workflow_id)
                           if kind == "run_patterns"]
                if running:
                    return running[0]
            return None

        pattern_workflow, pattern_activity = await until(analysing, "a pattern analysis to start", within=90,
                                                         every=0.02)
        await worker.kill()
        await worker.start()

        result = await finish_backfill(client, request)
        assert result.progress.state == "completed" and not result.failures, result.failures
        assert result.progress.chunks_succeeded == len(CONTEXTS)
        # the component and the analysis that the kills interrupted ran again on the restarted worker
        assert await attempts_of(client, SYNC_IDS[0], sync_activity) >= 2
        assert await attempts_of(client, pattern_workflow, pattern_activity) >= 2
        assert await duplicate_pattern_results(database.admin) == 0
        assert await contents(database.admin) == reference
    finally:
        await worker.stop()
        await watcher.dispose()
        await database.dispose()
