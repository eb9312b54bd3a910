"""Row-level security: inside tenant A's scope, tenant B's rows are invisible and untouchable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from semsync.config import DatabaseSettings, Settings, get_settings
from semsync.db.models import TENANT_TABLES
from semsync.db.session import tenant_scope
from semsync.errors import ConfigurationError
from semsync.services import open_services
from starter.cli import app

ROOT = Path(__file__).resolve().parents[1]
INSERT_POINT = (
    "INSERT INTO metric_time_series (tenant_id, metric_id, grain, date, value) "
    "VALUES (:t, 'revenue', 'day', :d, :v)"
)


@pytest.fixture
async def two_tenants(db):
    a = await db.create_tenant("tenant_a")
    b = await db.create_tenant("tenant_b")
    for tenant, value in ((a, 1.0), (b, 2.0)):
        async with tenant_scope(db.session_factory, tenant) as s:
            await s.execute(text(INSERT_POINT), {"t": tenant, "d": date(2025, 7, 1), "v": value})
    return a, b


async def test_tenant_sees_only_its_rows(db, two_tenants):
    a, b = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        rows = (await s.execute(text("SELECT tenant_id, value FROM metric_time_series"))).all()
    assert rows == [(a, 1.0)]


async def test_cannot_read_update_or_delete_other_tenant(db, two_tenants):
    a, b = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        explicit = await s.scalar(text("SELECT count(*) FROM metric_time_series WHERE tenant_id = :b"), {"b": b})
        updated = await s.execute(text("UPDATE metric_time_series SET value = 99 WHERE tenant_id = :b"), {"b": b})
        deleted = await s.execute(text("DELETE FROM metric_time_series WHERE tenant_id = :b"), {"b": b})
    assert explicit == 0
    assert updated.rowcount == 0
    assert deleted.rowcount == 0
    async with tenant_scope(db.session_factory, b) as s:
        assert (await s.execute(text("SELECT value FROM metric_time_series"))).scalars().all() == [2.0]


async def test_cannot_insert_for_other_tenant(db, two_tenants):
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_scope(db.session_factory, a) as s:
            await s.execute(text(INSERT_POINT), {"t": b, "d": date(2025, 7, 2), "v": 5.0})


async def test_cannot_move_a_row_to_other_tenant(db, two_tenants):
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_scope(db.session_factory, a) as s:
            await s.execute(text("UPDATE metric_time_series SET tenant_id = :b"), {"b": b})


async def test_no_tenant_set_shows_nothing(db, two_tenants):
    async with db.session_factory() as s:
        for table in TENANT_TABLES:
            assert await s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


async def test_scope_does_not_leak_to_pooled_connection(db, two_tenants):
    a, _ = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        assert await s.scalar(text("SELECT count(*) FROM metric_time_series")) == 1
    # the next transaction on the same pool has no tenant: set_config(..., true) was transaction-local
    async with db.session_factory() as s:
        assert await s.scalar(text("SELECT count(*) FROM metric_time_series")) == 0


async def test_app_role_is_not_owner_and_does_not_bypass_rls(db):
    async with db.session_factory() as s:
        row = (
            await s.execute(
                text(
                    "SELECT r.rolsuper, r.rolbypassrls, "
                    "(SELECT tableowner FROM pg_tables WHERE tablename = 'metric_time_series') = current_user "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
    assert tuple(row) == (False, False, False)


#: a valid row of each tenant table, but for tenant_id
ROWS: dict[str, dict[str, object]] = {
    "metrics": {"metric_id": "revenue", "label": "Revenue", "definition": "{}"},
    "metric_dimensions": {"metric_id": "revenue", "dimension_id": "region", "label": "Region", "member": "region"},
    "metric_targets": {"metric_id": "revenue", "grain": "day", "target_date": date(2025, 7, 1), "target_value": 1.0},
    "metric_contexts": {"metric_id": "revenue", "context_key": "{t}::revenue"},
    "metric_pattern_contexts": {"metric_id": "revenue", "pattern": "forecasting",
                                "context_key": "{t}::revenue::forecasting"},
    "metric_time_series": {"metric_id": "revenue", "grain": "day", "date": date(2025, 7, 1), "value": 1.0},
    "metric_dimensional_time_series": {"metric_id": "revenue", "grain": "day", "dimension_name": "region",
                                       "date": date(2025, 7, 1), "dimension_slice": "eu", "value": 1.0},
    "metric_sync_status": {"metric_id": "revenue", "grain": "day", "sync_type": "FULL", "sync_status": "SUCCESS",
                           "last_sync_at": datetime(2025, 7, 2, tzinfo=UTC)},
    "pattern_results": {"metric_id": "revenue", "pattern": "forecasting", "version": "1", "grain": "day",
                        "analysis_date": date(2025, 7, 2), "analysis_window": "{}", "run_result": "{}"},
    "partition_ledger": {"metric_id": "revenue", "grain": "day", "partition_key": "2025-07-01",
                         "partition_start": date(2025, 7, 1), "kind": "sync", "status": "succeeded",
                         "last_attempt_at": datetime(2025, 7, 2, tzinfo=UTC)},
    "stories": {"metric_id": "revenue", "grain": "day", "story_date": date(2025, 7, 2), "story_type": "spike",
                "version": "1.0", "pattern_version": "1.1", "status": "new", "started_on": date(2025, 7, 2),
                "identity": "", "genre": "trend", "polarity": "good", "salience": 0.9, "title": "t", "detail": "d",
                "variables": "{}", "series": "{}", "series_dates": "{}", "pattern": "historical_performance",
                "analysis_date": date(2025, 7, 2), "also": "{}"},
}


def test_every_tenant_table_is_covered():
    assert set(ROWS) == set(TENANT_TABLES)


def _insert(table: str, tenant: int) -> tuple[str, dict]:
    values = {k: (v.format(t=tenant) if isinstance(v, str) and "{t}" in v else v) for k, v in ROWS[table].items()}
    values["tenant_id"] = tenant
    columns = ", ".join(values)
    casts = ", ".join(f"CAST(:{k} AS jsonb)" if v == "{}" else f":{k}" for k, v in values.items())
    return f"INSERT INTO {table} ({columns}) VALUES ({casts})", values


#: written by the catalog role only (`catalog load`, discovery); the app role reads them
CATALOG_TABLES = ("metrics", "metric_dimensions", "metric_targets")


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_each_tenant_table_isolates_tenants(db, table):
    a = await db.create_tenant("tenant_a")
    b = await db.create_tenant("tenant_b")
    writer = db.catalog_session_factory if table in CATALOG_TABLES else db.session_factory
    async with tenant_scope(writer, b) as s:
        await s.execute(text(_insert(table, b)[0]), _insert(table, b)[1])
    async with tenant_scope(writer, a) as s:
        assert await s.scalar(text(f"SELECT count(*) FROM {table}")) == 0
        assert (await s.execute(text(f"UPDATE {table} SET tenant_id = tenant_id"))).rowcount == 0
        assert (await s.execute(text(f"DELETE FROM {table}"))).rowcount == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_scope(writer, a) as s:
            await s.execute(text(_insert(table, b)[0]), _insert(table, b)[1])
    async with tenant_scope(db.session_factory, b) as s:
        assert await s.scalar(text(f"SELECT count(*) FROM {table}")) == 1


@pytest.mark.parametrize("table", CATALOG_TABLES)
async def test_app_role_cannot_write_the_catalog_tables(db, table):
    a = await db.create_tenant("tenant_a")
    with pytest.raises(DBAPIError, match="permission denied"):
        async with tenant_scope(db.session_factory, a) as s:
            await s.execute(text(_insert(table, a)[0]), _insert(table, a)[1])


@pytest.mark.parametrize("statement", [
    "INSERT INTO tenants (identifier, name) VALUES ('intruder', 'Intruder')",
    "UPDATE tenants SET semantic_layer = '{\"type\": \"sql\", \"database_url\": \"postgresql://evil/x\"}'",
    "UPDATE tenants SET sync_enabled = false",
    "DELETE FROM tenants",
])
async def test_tenants_are_read_only_for_the_app_role(db, statement):
    a = await db.create_tenant("tenant_a")
    for scope in (None, a):  # neither outside a tenant scope nor inside its own
        with pytest.raises(DBAPIError, match="permission denied for table tenants"):
            if scope is None:
                async with db.session_factory() as s, s.begin():
                    await s.execute(text(statement))
            else:
                async with tenant_scope(db.session_factory, scope) as s:
                    await s.execute(text(statement))


async def test_inside_a_tenant_scope_the_app_role_sees_only_its_tenant_row(db):
    a = await db.create_tenant("tenant_a")
    b = await db.create_tenant("tenant_b")
    async with db.session_factory() as s:  # resolving identifiers: every tenant
        assert sorted((await s.execute(text("SELECT id FROM tenants"))).scalars()) == [a, b]
    async with tenant_scope(db.session_factory, a) as s:
        assert (await s.execute(text("SELECT id FROM tenants"))).scalars().all() == [a]


async def test_the_catalog_role_writes_tenants_without_bypassing_rls(db):
    async with db.catalog_session_factory() as s, s.begin():
        await s.execute(text("INSERT INTO tenants (identifier, name) VALUES ('fresh', 'Fresh')"))
        row = (await s.execute(text(
            "SELECT r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user"))).one()
    assert tuple(row) == (False, False)


async def test_row_level_security_is_forced_on_every_table_that_has_it(db):
    """FORCE: the tables' owner is held to the policies too (migration 0008)."""
    async with db.admin_engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT relname, relforcerowsecurity FROM pg_class "
            "WHERE relrowsecurity AND relnamespace = 'public'::regnamespace"))).all()
    assert {"tenants", *TENANT_TABLES, "deliveries", "alert_snoozes"} <= {name for name, _ in rows}
    assert [name for name, forced in rows if not forced] == []


async def test_the_owner_sees_and_writes_no_tenant_row_outside_maintenance(db, two_tenants):
    """A worker given the owner's URL by mistake sees nothing; the owner's maintenance sees all."""
    owner = create_async_engine(db.admin_url, poolclass=NullPool)
    try:
        async with owner.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM metric_time_series")) == 0
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(text(INSERT_POINT), {"t": two_tenants[0], "d": date(2025, 7, 2), "v": 3.0})
            await conn.rollback()
            await conn.execute(text("SET app.maintenance = on"))
            assert await conn.scalar(text("SELECT count(*) FROM metric_time_series")) == 2
    finally:
        await owner.dispose()
    async with db.session_factory() as s:  # the setting opens nothing to any other role
        await s.execute(text("SET app.maintenance = on"))
        assert await s.scalar(text("SELECT count(*) FROM metric_time_series")) == 0


def _settings(url: str, **database) -> Settings:
    return Settings(database=DatabaseSettings(url=url, **database))


@pytest.mark.parametrize("who", ["owner", "superuser"])
async def test_the_services_refuse_a_role_that_row_level_security_does_not_hold(db, pg_server, who):
    url = db.admin_url if who == "owner" else pg_server.superuser_url(db.name, driver="postgresql+asyncpg")
    with pytest.raises(ConfigurationError) as info:
        async with open_services(_settings(url)):
            pass
    message = str(info.value)
    assert "SEMSYNC_DATABASE__URL" in message and "SEMSYNC_DATABASE__ALLOW_PRIVILEGED_ROLE" in message
    assert ("owns the tables" if who == "owner" else "is a superuser") in message and "\n" not in message
    async with open_services(_settings(url, allow_privileged_role=True)) as services:  # maintenance, on purpose
        assert services.database is not None
    async with open_services(_settings(db.app_url)) as services:
        assert services.database is not None


async def test_a_data_command_as_the_owner_exits_2_naming_the_setting(db, monkeypatch):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", db.admin_url)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["catalog", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "SEMSYNC_DATABASE__URL connects as role 'semsync_owner', which owns the tables" in result.output


async def test_the_worker_as_the_owner_stops_at_start_with_one_line(db):
    env = {**os.environ, "SEMSYNC_DATABASE__URL": db.admin_url, "SEMSYNC_TEMPORAL__ADDRESS": "127.0.0.1:9"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--queue", "sync", cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2, stderr.decode()
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "SEMSYNC_DATABASE__URL" in lines[0] and "owns the tables" in lines[0], lines


async def test_migration_0008_downgrades_to_unforced_and_upgrades_again(pg_server):
    from alembic import command

    from devstack import create_scratch_database
    from semsync.db.migrate import alembic_config, drop_database

    scratch = await create_scratch_database(pg_server, f"semsync_force_{os.getpid()}")
    engine = create_async_engine(scratch.admin_url, poolclass=NullPool)

    async def forced() -> tuple[int, int]:
        async with engine.connect() as conn:
            tables = await conn.scalar(text("SELECT count(*) FROM pg_class WHERE relforcerowsecurity"))
            policies = await conn.scalar(
                text("SELECT count(*) FROM pg_policies WHERE policyname = 'owner_maintenance'"))
        return tables, policies

    try:
        assert await forced() == (14, 14)
        config = alembic_config(scratch.admin_url, "semsync_app")
        await asyncio.to_thread(command.downgrade, config, "0007")
        assert await forced() == (0, 0)
        await asyncio.to_thread(command.upgrade, config, "head")
        assert await forced() == (14, 14)
    finally:
        await engine.dispose()
        await drop_database(pg_server.superuser_url(), scratch.name)
