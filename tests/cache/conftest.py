"""The cache targets the tests write into: a PostgreSQL database of its own on the session's server,
and Snowflake emulated by fakesnow (DuckDB behind the official connector's API)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
import pytest
from sqlalchemy import text

from semsync.catalog.models import Catalog, DimensionDef, MetricDef, SqlMetricSource, TenantDef
from semsync.catalog.store import write_catalog
from semsync.db.migrate import drop_database

SNOWFLAKE = {"type": "snowflake", "account": "acct", "user": "semsync", "password": "pw", "warehouse": "WH",
             "database": "ANALYTICS", "schema": "SEMSYNC"}


@asynccontextmanager
async def scratch_target(pg_server) -> AsyncIterator[str]:
    """A fresh database on the session's server (a second PostgreSQL target): its URL."""
    name = f"cache_target_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(pg_server.superuser_url())
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    try:
        yield pg_server.superuser_url(name)
    finally:
        await drop_database(pg_server.superuser_url(), name)


@pytest.fixture
async def pg_target(pg_server) -> AsyncIterator[str]:
    async with scratch_target(pg_server) as url:
        yield url


@pytest.fixture
def fake_snowflake() -> Iterator[None]:
    """fakesnow patched in for the test, with the target's database and schema created."""
    import fakesnow
    import snowflake.connector

    with fakesnow.patch():
        conn = snowflake.connector.connect(account="acct", user="setup", password="pw")
        conn.cursor().execute("CREATE DATABASE IF NOT EXISTS ANALYTICS")
        conn.cursor().execute("CREATE SCHEMA IF NOT EXISTS ANALYTICS.SEMSYNC")
        conn.close()
        yield


def snowflake_rows(table: str = "SEMSYNC_CACHE") -> dict[tuple, float]:
    import snowflake.connector

    conn = snowflake.connector.connect(account="acct", user="reader", password="pw", database="ANALYTICS",
                                       schema="SEMSYNC")
    try:
        rows = conn.cursor().execute(f"SELECT tenant, metric, grain, date, dimension, slice, value FROM {table}")
        return {tuple(r[:6]): r[6] for r in rows.fetchall()}
    finally:
        conn.close()


async def pg_rows(url: str, table: str = "semsync_cache") -> dict[tuple, float]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(f"SELECT tenant, metric, grain, date, dimension, slice, value FROM {table}")
        return {tuple(r[:6]): r[6] for r in rows}
    finally:
        await conn.close()


def tenant(identifier: str, cache: dict | None) -> TenantDef:
    return TenantDef.model_validate({
        "identifier": identifier, "name": identifier, "cache": cache,
        "metrics": [MetricDef(id="revenue", label="Revenue", dimensions=[DimensionDef(id="region", member="region")],
                              source=SqlMetricSource(table="orders", value="sum(amount)", time_column="at"))]})


async def load(db, *tenants: TenantDef) -> None:
    await write_catalog(db.catalog_session_factory, Catalog(tenants=list(tenants)))


async def seed(db, identifier: str, base: dict[date, float], slices: dict[tuple[date, str], float],
               metric: str = "revenue", grain: str = "day") -> None:
    """semsync's own tables as a sync would have left them (replaced for this metric and grain)."""
    async with db.admin_engine.begin() as conn:
        tenant_id = await conn.scalar(text("SELECT id FROM tenants WHERE identifier = :i"), {"i": identifier})
        keys = {"t": tenant_id, "m": metric, "g": grain}
        await conn.execute(text("DELETE FROM metric_time_series WHERE tenant_id = :t AND metric_id = :m "
                                "AND grain = :g"), keys)
        await conn.execute(text("DELETE FROM metric_dimensional_time_series WHERE tenant_id = :t AND metric_id = :m "
                                "AND grain = :g"), keys)
        if base:
            await conn.execute(text("INSERT INTO metric_time_series (tenant_id, metric_id, grain, date, value) "
                                    "VALUES (:t, :m, :g, :d, :v)"), [{**keys, "d": d, "v": v} for d, v in base.items()])
        if slices:
            await conn.execute(text(
                "INSERT INTO metric_dimensional_time_series (tenant_id, metric_id, grain, dimension_name, date, "
                "dimension_slice, value) VALUES (:t, :m, :g, 'region', :d, :s, :v)"),
                [{**keys, "d": d, "s": s, "v": v} for (d, s), v in slices.items()])
