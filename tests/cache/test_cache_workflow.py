"""The cache end to end on the Temporal dev server, the embedded PostgreSQL and the demo warehouse,
with the real worker (`worker.make_workers`): a sync's continuation writes what it changed into the
tenant's target (a PostgreSQL database, and Snowflake emulated by fakesnow), and a ``backfill --what
cache`` fills a target from what is already synced, fetching nothing from the source."""

from __future__ import annotations

import uuid
from contextlib import aclosing
from datetime import date

import pytest
from sqlalchemy import text

import worker as worker_module
from devstack.demo import demo_catalog, seed_warehouse
from semsync.catalog.models import Catalog, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import DatabaseSettings, Settings, TemporalSettings
from semsync.contracts import (
    BackfillInput,
    BackfillMode,
    BackfillResult,
    BackfillStage,
    CacheWorkflowResult,
    ContextSelector,
    GrainRange,
    SyncWorkflowInput,
)
from semsync.partitions import Grain
from semsync.services import open_services
from tests.cache.conftest import SNOWFLAKE, pg_rows, scratch_target, snowflake_rows
from workflows.backfill import BackfillWorkflow
from workflows.sync import SyncWorkflow

pytestmark = pytest.mark.temporal


class CountingSources:
    """The real sources, counting fetches (a cache backfill must make none)."""

    def __init__(self, inner) -> None:
        self.inner, self.fetches = inner, 0

    async def source_for(self, tenant):
        source = await self.inner.source_for(tenant)
        outer = self

        class Counted:
            async def pages(self, *args, **kwargs):
                outer.fetches += 1
                async with aclosing(source.pages(*args, **kwargs)) as pages:
                    async for page in pages:
                        yield page
        return Counted()


@pytest.fixture(scope="module")
async def stack(test_database, temporal_env, pg_server):
    """acme's revenue cached into a PostgreSQL database, snowco's (the same series) into fakesnow."""
    import fakesnow

    await test_database.truncate()
    await seed_warehouse(test_database.admin_url, until=date(2025, 7, 31))
    acme = next(t for t in demo_catalog().tenants if t.identifier == "acme")
    revenue = acme.model_copy(update={"metrics": [acme.metric("revenue")]})
    async with scratch_target(pg_server) as url:
        catalog = Catalog(tenants=[
            TenantDef.model_validate({**dict(revenue), "cache": {"type": "sql", "url": url}}),
            TenantDef.model_validate({**dict(revenue), "identifier": "snowco", "name": "Snowco", "cache": SNOWFLAKE})])
        await write_catalog(test_database.catalog_session_factory, catalog)
        suffix = uuid.uuid4().hex[:8]
        settings = Settings(database=DatabaseSettings(url=test_database.app_url),
                            temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}",
                                                      pattern_task_queue=f"patterns-{suffix}"))
        with fakesnow.patch():
            import snowflake.connector

            setup = snowflake.connector.connect(account="acct", user="setup", password="pw")
            setup.cursor().execute("CREATE DATABASE IF NOT EXISTS ANALYTICS")
            setup.cursor().execute("CREATE SCHEMA IF NOT EXISTS ANALYTICS.SEMSYNC")
            setup.close()
            async with open_services(settings) as services:
                counting = CountingSources(services.sync.sources)
                services.sync.sources = counting
                [sync_worker] = worker_module.make_workers(temporal_env.client, services, queues=("sync",))
                async with sync_worker:
                    yield settings, url, counting


async def semsync_rows(engine, tenant: str, first: date, last: date) -> dict[tuple, float]:
    """semsync's series of revenue/day as the cache holds them (the base with dimension and slice '')."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT date, '' AS dimension, '' AS slice, value FROM metric_time_series s "
            "JOIN tenants t ON t.id = s.tenant_id WHERE t.identifier = :t AND metric_id = 'revenue' AND grain = 'day' "
            "AND date BETWEEN :a AND :b UNION ALL "
            "SELECT date, dimension_name, dimension_slice, value FROM metric_dimensional_time_series s "
            "JOIN tenants t ON t.id = s.tenant_id WHERE t.identifier = :t AND metric_id = 'revenue' AND grain = 'day' "
            "AND date BETWEEN :a AND :b"), {"t": tenant, "a": first, "b": last})
        return {(tenant, "revenue", "day", r.date, r.dimension, r.slice): r.value for r in rows}


def in_window(rows: dict[tuple, float], first: date, last: date) -> dict[tuple, float]:
    return {k: v for k, v in rows.items() if first <= k[3] <= last}


async def ledger(engine, tenant: str) -> dict[str, str]:
    async with engine.connect() as conn:
        return dict((await conn.execute(text(
            "SELECT partition_key, status FROM partition_ledger l JOIN tenants t ON t.id = l.tenant_id "
            "WHERE t.identifier = :t AND kind = 'cache'"), {"t": tenant})).all())


async def sync_then_cache(client, settings, tenant: str, first: str, last: str) -> CacheWorkflowResult:
    request = SyncWorkflowInput(tenant=tenant, metric_id="revenue", grain=Grain.DAY, start_partition=first,
                                end_partition=last, run_patterns=False)
    result = await client.execute_workflow(SyncWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}",
                                           task_queue=settings.temporal.sync_task_queue)
    assert result.cache_workflow_id == f"cache/{tenant}::day::revenue/{first}:{last}"
    return await client.get_workflow_handle(result.cache_workflow_id, result_type=CacheWorkflowResult).result()


@pytest.mark.parametrize("tenant", ["acme", "snowco"])
async def test_a_sync_continues_into_its_tenants_cache(stack, temporal_env, test_database, tenant):
    settings, url, _ = stack
    cached = await sync_then_cache(temporal_env.client, settings, tenant, "2025-07-01", "2025-07-07")
    # the first sync is FULL: its window, and so the cache's, is the whole history up to the span's end
    expected = await semsync_rows(test_database.admin_engine, tenant, date(2000, 1, 1), date(2025, 7, 7))
    assert min(k[3] for k in expected) < date(2025, 7, 1) and cached.write.rows_inserted == len(expected)
    target = await pg_rows(url) if tenant == "acme" else snowflake_rows()
    assert {k: v for k, v in target.items() if k[0] == tenant} == expected
    assert await ledger(test_database.admin_engine, tenant) == {f"2025-07-0{d}": "succeeded" for d in range(1, 8)}
    # the same sync again: nothing fetched changed, so nothing in the cache changes
    again = await sync_then_cache(temporal_env.client, settings, tenant, "2025-07-01", "2025-07-07")
    assert (again.write.rows_inserted, again.write.rows_updated, again.write.rows_deleted) == (0, 0, 0)


async def test_backfill_what_cache_fills_a_target_from_what_is_synced(stack, temporal_env, test_database):
    settings, url, counting = stack
    client = temporal_env.client
    await sync_then_cache(client, settings, "acme", "2025-07-08", "2025-07-10")
    conn_rows = await pg_rows(url)
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute("TRUNCATE semsync_cache")  # the target lost its copy
    await conn.close()
    fetches = counting.fetches

    def backfill(**fields) -> BackfillInput:
        return BackfillInput(backfill_id=f"cache-{uuid.uuid4().hex[:8]}", what=BackfillStage.CACHE,
                             selector=ContextSelector(tenant="acme"),
                             ranges=[GrainRange(grain="day", first="2025-07-08", last="2025-07-10")], **fields)

    request = backfill(mode=BackfillMode.ALL)
    result: BackfillResult = await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                                           task_queue=settings.temporal.sync_task_queue)
    assert result.progress.state == "completed" and not result.failures
    assert result.progress.chunks_by_stage == {"cache": 1}
    assert counting.fetches == fetches  # nothing fetched from the semantic layer
    refilled = await pg_rows(url)
    assert in_window(refilled, date(2025, 7, 8), date(2025, 7, 10)) == in_window(
        conn_rows, date(2025, 7, 8), date(2025, 7, 10)) != {}

    # mode missing: 07-08..07-10 are cached; 07-11 is not even synced: with --with-dependencies it is
    # synced first, and its sync's continuation caches it
    request = backfill(mode=BackfillMode.MISSING, with_dependencies=True, run_patterns=False).model_copy(
        update={"ranges": [GrainRange(grain="day", first="2025-07-08", last="2025-07-11")]})
    result = await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                           task_queue=settings.temporal.sync_task_queue)
    assert result.progress.chunks_by_stage == {"sync": 1} and result.progress.partitions_done == 1
    await client.get_workflow_handle("cache/acme::day::revenue/2025-07-11", result_type=CacheWorkflowResult).result()
    assert (await ledger(test_database.admin_engine, "acme"))["2025-07-11"] == "succeeded"
    day = date(2025, 7, 11)
    assert in_window(await pg_rows(url), day, day) == await semsync_rows(test_database.admin_engine, "acme", day, day)


async def test_the_cli_backfills_the_cache_and_refuses_unsynced_partitions(stack, temporal_env, test_database,
                                                                           monkeypatch):
    import asyncio

    from typer.testing import CliRunner

    from semsync.config import get_settings
    from starter.cli import app

    settings, url, _ = stack
    await sync_then_cache(temporal_env.client, settings, "acme", "2025-07-12", "2025-07-13")
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", test_database.app_url)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__ADDRESS", temporal_env.client.service_client.config.target_host)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE", settings.temporal.sync_task_queue)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__PATTERN_TASK_QUEUE", settings.temporal.pattern_task_queue)
    get_settings.cache_clear()

    async def cli(*args: str):
        outcome = await asyncio.to_thread(CliRunner().invoke, app, list(args))
        assert "Traceback" not in outcome.output, outcome.output
        return outcome

    try:
        unsynced = await cli("backfill", "--grain", "day", "--partition-range", "2025-07-20:2025-07-21",
                             "--tenant", "acme", "--what", "cache", "--dry-run")
        assert unsynced.exit_code == 2 and "2 partitions not synced yet" in unsynced.output, unsynced.output
        assert "--with-dependencies" in unsynced.output
        cached = await cli("backfill", "--grain", "day", "--partition-range", "2025-07-12:2025-07-13",
                           "--tenant", "acme", "--what", "cache", "--mode", "all", "--wait")
        assert cached.exit_code == 0 and "completed" in cached.output, cached.output
        health = await cli("status", "--grain", "day", "--tenant", "acme", "--kind", "cache", "--last", "400")
        assert health.exit_code == 0 and "acme::revenue" in health.output and "succeeded" in health.output
    finally:
        get_settings.cache_clear()
