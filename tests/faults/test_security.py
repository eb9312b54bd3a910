"""Security across a whole backfill run by the worker process: credentials (Cube tokens and signing
secrets, database passwords, a password inside a semantic layer URL) never appear in any workflow's
input, result or history, nor in the worker's log; and a tenant-scoped read sees only its tenant's rows.

The tenants: two on a Cube over a real socket (a token; an HS256 signing secret), one on a SQL
database reached with its own role and password, and one whose Cube URL carries a password and cannot
be reached (so its failure, with the URL in hand, is in the histories and the backfill's result). The
worker itself connects with a role whose password is fresh."""

from __future__ import annotations

import uuid

import pytest
from faultkit import (
    WarehouseCube,
    WorkerProcess,
    backfill_request,
    fresh_database,
    run_backfill,
    settings_for,
    until,
)
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack import free_port
from semsync.catalog.models import (
    Catalog,
    CubeAuthType,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    Filter,
    MetricDef,
    SqlConnection,
    SqlMetricSource,
    TenantDef,
)
from semsync.contracts import ComponentRetry, ContextSelector, GrainRange
from semsync.db.models import TENANT_TABLES
from semsync.db.session import Database, tenant_scope

pytestmark = pytest.mark.temporal

MEASURES = {"orders.amount": lambda day, region: float(day.toordinal() % 89 + len(region))}
REGION = [DimensionDef(id="region", member="orders.region")]


def secret(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex}"


def cube_metric() -> MetricDef:
    return MetricDef(id="amount", label="Amount", dimensions=REGION,
                     source=CubeMetricSource(measure="orders.amount", time_dimension="orders.created_at"))


def sql_metric() -> MetricDef:
    return MetricDef(id="revenue", label="Revenue", dimensions=[DimensionDef(id="region", member="region")],
                     source=SqlMetricSource(table="warehouse.daily_facts", value="sum(revenue)", time_column="day",
                                            filters=[Filter(member="tenant", operator="equals", values=["acme"])]))


async def test_no_credential_reaches_a_history_a_result_or_the_log_and_tenants_stay_isolated(
        pg_server, temporal_env, tmp_path):
    client = temporal_env.client
    token, signing, url_password = secret("tok"), secret("sig"), secret("url")
    reader_password, worker_password, down_token = secret("rdr"), secret("wrk"), secret("dtk")
    credentials = {token, signing, url_password, reader_password, worker_password, down_token}
    cube = WarehouseCube(measures=MEASURES, tokens={token}, secrets={signing}).start()
    database = await fresh_database(pg_server, Catalog())
    superuser = create_async_engine(pg_server.superuser_url(database.name, driver="postgresql+asyncpg"),
                                    isolation_level="AUTOCOMMIT")
    worker = None
    try:
        suffix = uuid.uuid4().hex[:8]
        reader_role, worker_role = f"fault_reader_{suffix}", f"fault_worker_{suffix}"
        async with superuser.connect() as conn:
            await conn.execute(text(f"CREATE ROLE {reader_role} LOGIN PASSWORD '{reader_password}'"))
            await conn.execute(text(f"GRANT USAGE ON SCHEMA warehouse TO {reader_role}"))
            await conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA warehouse TO {reader_role}"))
            # the app role's rights (and its row-level security), under a password of its own
            await conn.execute(text(
                f"CREATE ROLE {worker_role} LOGIN PASSWORD '{worker_password}' IN ROLE semsync_app"))
        host = f"127.0.0.1:{pg_server.port}/{database.name}"
        catalog = Catalog(tenants=[
            TenantDef(identifier="cubeco", name="Cube Co", metrics=[cube_metric()],
                      semantic_layer=CubeConnection(cube_api_url=cube.url, token=SecretStr(token))),
            TenantDef(identifier="signco", name="Signed Co", metrics=[cube_metric()],
                      semantic_layer=CubeConnection(cube_api_url=cube.url, auth_type=CubeAuthType.SECRET_KEY,
                                                    secret_key=SecretStr(signing))),
            TenantDef(identifier="sqlco", name="SQL Co", metrics=[sql_metric()], semantic_layer=SqlConnection(
                database_url=SecretStr(f"postgresql+asyncpg://{reader_role}:{reader_password}@{host}"))),
            TenantDef(identifier="downco", name="Down Co", metrics=[cube_metric()], semantic_layer=CubeConnection(
                cube_api_url=f"http://semsync:{url_password}@127.0.0.1:{free_port()}", token=SecretStr(down_token))),
        ])
        app = Database.connect(database.catalog_url, pool_size=2)
        try:
            from semsync.catalog.store import write_catalog

            await write_catalog(app.session_factory, catalog)
        finally:
            await app.dispose()

        worker_url = f"postgresql+asyncpg://{worker_role}:{worker_password}@{host}"
        settings = settings_for(worker_url, client.service_client.config.target_host)
        worker = WorkerProcess.for_settings(settings, tmp_path / "worker.log",
                                            SEMSYNC_SEMANTIC_LAYER__PAGE_ATTEMPTS="1",
                                            SEMSYNC_SEMANTIC_LAYER__REQUEST_TIMEOUT_S="5")
        await worker.start()
        contexts = ["cubeco::amount", "signco::amount", "sqlco::revenue", "downco::amount"]
        request = backfill_request(
            settings, ranges=[GrainRange(grain="day", first="2025-07-01", last="2025-07-02")],
            selector=ContextSelector(contexts=contexts), max_concurrency=4,
            retry=ComponentRetry(initial_interval_s=0.1, maximum_interval_s=0.2, maximum_attempts=3))
        result = await run_backfill(client, settings, request)
        assert result.progress.chunks_succeeded == 3, result
        [failure] = result.failures
        assert failure.context == "downco::amount" and "Connect" in failure.reason, failure

        # every workflow of the backfill: the backfill, four syncs, three pattern runs and their story runs
        async def all_listed():
            found = [w.id async for w in client.list_workflows(f"SemsyncBackfill = '{request.backfill_id}'")]
            return found if len(found) == 11 else None

        workflow_ids = await until(all_listed, "the backfill's workflows to be listed", within=30)
        texts = {"backfill result": result.model_dump_json()}
        for workflow_id in workflow_ids:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            texts[workflow_id] = history.to_json() + "".join(str(event) for event in history.events)
        texts["worker log"] = worker.log.read_text()
        leaks = sorted((where, kind[:3]) for where, body in texts.items() for kind in credentials if kind in body)
        assert not leaks, f"credentials found in: {leaks}"
        assert "cubeco" in texts[f"backfill/{request.backfill_id}"]  # the scan reads the histories' payloads

        # tenant isolation: inside a tenant's scope the app role sees exactly that tenant's rows
        async with database.admin.connect() as conn:
            tenants = dict((await conn.execute(text("SELECT identifier, id FROM tenants"))).all())
            owned = {(table, tenant_id): count for table in TENANT_TABLES for tenant_id, count in (
                await conn.execute(text(f"SELECT tenant_id, count(*) FROM {table} GROUP BY 1"))).all()}
        assert {t for (table, t) in owned if table == "metric_time_series"} == {
            tenants["cubeco"], tenants["signco"], tenants["sqlco"]}
        assert {t for (table, t) in owned if table == "pattern_results"} == {
            tenants["cubeco"], tenants["signco"], tenants["sqlco"]}
        app = Database.connect(database.app_url, pool_size=2)
        try:
            for tenant_id in tenants.values():
                async with tenant_scope(app.session_factory, tenant_id) as session:
                    for table in TENANT_TABLES:
                        visible = dict((await session.execute(
                            text(f"SELECT tenant_id, count(*) FROM {table} GROUP BY 1"))).all())
                        expected = {tenant_id: owned[(table, tenant_id)]} if (table, tenant_id) in owned else {}
                        assert visible == expected, (table, tenant_id)
            async with app.session_factory() as session:  # no tenant set: nothing at all
                for table in TENANT_TABLES:
                    assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
        finally:
            await app.dispose()
    finally:
        if worker is not None:
            await worker.stop()
        cube.stop()
        await superuser.dispose()
        await database.dispose()
