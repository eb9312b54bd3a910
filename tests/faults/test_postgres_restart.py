"""PostgreSQL restarted in the middle of a sync: the component's activity fails with the lost
connection and is retried by Temporal, and no reader ever sees a partial window: polled from another
connection throughout, each component's stored series is either all the old contents or all the new.

To be sure the restart hits the window replace itself, a row of the window is held locked from
another connection, so the replace's transaction stands half done (staged, diffed, updating) when the
server goes down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from faultkit import fresh_database, in_process_worker, settings_for, until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from temporalio.api.enums.v1 import EventType

from devstack import PostgresServer, free_port
from semsync.contracts import ComponentRetry, SyncWorkflowInput, SyncWorkflowResult
from semsync.db.session import MAINTENANCE_CONNECT_ARGS
from workflows.sync import SyncWorkflow

pytestmark = pytest.mark.temporal

FIRST, LAST = date(2025, 7, 1), date(2025, 7, 4)
DIMENSIONS = {"region": "region", "channel": "channel", "product": "product"}
#: enough attempts to outlast a restart: ~0.5 s apart
PATIENT = ComponentRetry(initial_interval_s=0.1, maximum_interval_s=0.5, maximum_attempts=120)


async def snapshot(conn) -> dict[str, frozenset]:
    """acme::revenue's stored day series, per component; one statement each (a consistent read)."""
    base = await conn.execute(text(
        "SELECT date, value FROM metric_time_series WHERE metric_id = 'revenue' AND grain = 'day'"))
    result = {"base": frozenset(base.all())}
    for name in DIMENSIONS:
        rows = await conn.execute(text(
            "SELECT date, dimension_slice, value FROM metric_dimensional_time_series "
            "WHERE metric_id = 'revenue' AND grain = 'day' AND dimension_name = :d"), {"d": name})
        result[name] = frozenset(rows.all())
    return result


async def recomputed(conn, first: date) -> dict[str, frozenset]:
    """The same series straight from the warehouse (acme's rows, UTC days)."""
    where = "tenant = 'acme' AND day BETWEEN :first AND :last"
    params = {"first": first, "last": LAST}
    base = await conn.execute(text(
        f"SELECT day::date, sum(revenue)::float8 FROM warehouse.daily_facts WHERE {where} GROUP BY 1"), params)
    result = {"base": frozenset(base.all())}
    for name, column in DIMENSIONS.items():
        rows = await conn.execute(text(
            f"SELECT day::date, {column}, sum(revenue)::float8 FROM warehouse.daily_facts WHERE {where} "
            "GROUP BY 1, 2"), params)
        result[name] = frozenset(rows.all())
    return result


async def test_a_postgres_restart_mid_window_replace_is_retried_and_never_shows_a_partial_window(
        temporal_env, tmp_path):
    client = temporal_env.client
    server = PostgresServer(tmp_path / "pg", free_port())
    await asyncio.to_thread(server.start)
    database = await fresh_database(server)
    reader = create_async_engine(database.admin_url, poolclass=NullPool, connect_args=MAINTENANCE_CONNECT_ARGS)
    watcher = create_async_engine(server.superuser_url(driver="postgresql+asyncpg"), poolclass=NullPool)
    try:
        settings = settings_for(database.app_url)
        request = SyncWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                                    end_partition="2025-07-04", run_patterns=False, retry=PATIENT)
        async with in_process_worker(client, settings):
            first = await client.execute_workflow(SyncWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}",
                                                  task_queue=settings.temporal.sync_task_queue)
            assert first.success and not first.dimensions_failed
            async with reader.connect() as conn:
                old = await snapshot(conn)
            async with database.admin.begin() as conn:  # the warehouse restates every value
                await conn.execute(text("UPDATE warehouse.daily_facts SET revenue = revenue + 1 WHERE tenant = 'acme'"))

            seen: list[dict[str, frozenset]] = []
            polling = True

            async def poll() -> None:
                while polling:
                    try:
                        async with reader.connect() as conn:
                            while polling:
                                seen.append(await snapshot(conn))
                                await asyncio.sleep(0.05)
                    except Exception:  # noqa: BLE001 - the server is restarting: connect again
                        await asyncio.sleep(0.05)

            poller = asyncio.create_task(poll())
            locker = await reader.connect()
            await locker.execute(text("BEGIN"))
            await locker.execute(text("SELECT 1 FROM metric_time_series WHERE metric_id = 'revenue' "
                                      "AND grain = 'day' AND date = '2025-07-02' FOR UPDATE"))
            forced = request.model_copy(update={"force_full_sync": True})
            handle = await client.start_workflow(SyncWorkflow.run, forced, id=f"{forced.workflow_id}/{uuid.uuid4()}",
                                                 task_queue=settings.temporal.sync_task_queue)

            async def replace_blocked() -> bool:  # the superuser sees every role's sessions
                async with watcher.connect() as conn:
                    return bool(await conn.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE '%UPDATE metric_time_series%'")))

            await until(replace_blocked, "the window replace to wait on the locked row", within=60)
            await asyncio.to_thread(server.stop)  # fast shutdown: every session ends, the locker's too
            await asyncio.to_thread(server.start)
            with pytest.raises(Exception):  # noqa: B017 - the locker's connection is gone with the server
                await locker.execute(text("SELECT 1"))
            await locker.close()
            result: SyncWorkflowResult = await asyncio.wait_for(handle.result(), 120)
            seen_after = len(seen)

            async def read_again() -> bool:
                return len(seen) > seen_after + 3

            await until(read_again, "the poller to read the result")
            polling = False
            await poller
        assert result.success and not result.dimensions_failed
        # the base component's activity lost its connection and ran again
        started = [e.activity_task_started_event_attributes.attempt async for e in handle.fetch_history_events()
                   if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        assert started[1] >= 2, started  # [plan_sync, base sync_component, dimensions...]
        async with reader.connect() as conn:
            new = await snapshot(conn)
            expected = await recomputed(conn, min(d for d, _ in new["base"]))
        assert new == expected
        for component in old:
            assert old[component] != new[component] and old[component] and new[component]
            states = {snap[component] for snap in seen}
            assert states <= {old[component], new[component]}, f"{component}: a partial window was visible"
            assert states == {old[component], new[component]}, component  # both were seen
    finally:
        await reader.dispose()
        await watcher.dispose()
        await database.dispose()
        await asyncio.to_thread(server.stop)
