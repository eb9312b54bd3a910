"""The original system's database, built from its notes (`shared/reference/original-system-notes.md`)
in a scratch database of the session's PostgreSQL, and filled with its known defects:

- no unique key on stories, and a NULL dimension in the unique keys of sync statuses and pattern
  results (PostgreSQL's NULLs are distinct), so base rows repeat;
- weekly rows dated by their Monday (``%Y-%m-%d``), and one dated on a Wednesday;
- a null value; a metric (``churn``) and a dimension (``product``) that semsync's catalog does not hold;
- a sync left RUNNING.

Original tenant ids 7 (acme) and 9 (globex); semsync's catalog has acme and globex under its own ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg
import pytest
from typer.testing import CliRunner

from semsync.catalog.models import Catalog, DimensionDef, MetricDef, SqlMetricSource, TargetDef, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import get_settings
from semsync.db.migrate import drop_database
from starter.cli import app

ACME, GLOBEX = 7, 9
TENANT_MAP = ["--tenant-map", f"{ACME}=acme", "--tenant-map", f"{GLOBEX}=globex"]

SCHEMA = """
CREATE TABLE metric_time_series (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, date date NOT NULL,
    grain varchar NOT NULL, value double precision,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, metric_id, date, grain));
CREATE TABLE metric_dimensional_time_series (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, date date NOT NULL,
    grain varchar NOT NULL, dimension_name varchar NOT NULL, dimension_slice varchar, value double precision,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, metric_id, date, grain, dimension_name, dimension_slice));
CREATE TABLE metric_sync_status (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, grain varchar NOT NULL,
    dimension_name varchar, sync_type varchar NOT NULL, sync_status varchar NOT NULL, last_sync_at timestamptz,
    start_date date, end_date date, records_processed integer, error text, history jsonb DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, metric_id, grain, dimension_name, sync_type));
CREATE TABLE metric_target (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, grain varchar NOT NULL,
    target_date date NOT NULL, target_value double precision NOT NULL, target_upper_bound double precision,
    target_lower_bound double precision, yellow_buffer double precision, red_buffer double precision,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, metric_id, grain, target_date));
CREATE TABLE pattern_results (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, pattern varchar NOT NULL,
    version varchar NOT NULL, grain varchar NOT NULL, analysis_date date NOT NULL, dimension_name varchar,
    analysis_window jsonb, error jsonb, run_result jsonb,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name));
CREATE TABLE stories (
    id serial PRIMARY KEY, tenant_id integer NOT NULL, metric_id varchar NOT NULL, grain varchar NOT NULL,
    story_date date NOT NULL, genre varchar, story_type varchar, title text, detail text,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
"""

JUNE = [date(2025, 6, 1) + timedelta(days=i) for i in range(30)]
#: the Mondays of 2025-05-05 .. 2025-06-23: the original's weekly rows ("%Y-%m-%d" of the Monday)
MONDAYS = [date(2025, 5, 5) + timedelta(weeks=i) for i in range(8)]
MONTHS = [date(2025, m, 1) for m in range(1, 7)]
WEDNESDAY = date(2025, 6, 25)
SYNCED_AT = "2025-07-01 02:00+00"


def day_value(d: date) -> float:
    return d.day * 10 + 0.5


@dataclass
class Legacy:
    url: str
    name: str

    async def execute(self, sql: str, *args) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()


async def fill(conn: asyncpg.Connection) -> None:
    base = [(ACME, "revenue", d, "day", day_value(d)) for d in JUNE]
    base += [(ACME, "revenue", date(2025, 7, 1), "day", None)]  # a null value
    base += [(ACME, "revenue", d, "week", 100.0 + i) for i, d in enumerate(MONDAYS)]
    base += [(ACME, "revenue", WEDNESDAY, "week", 999.0)]  # a week dated off its Monday
    base += [(ACME, "revenue", d, "month", 1000.0 * d.month) for d in MONTHS]
    base += [(ACME, "churn", d, "day", 1.0) for d in JUNE[:10]]  # not in semsync's catalog
    base += [(GLOBEX, "revenue", d, "day", 2.0 * d.day) for d in JUNE[:10]]
    await conn.executemany(
        "INSERT INTO metric_time_series (tenant_id, metric_id, date, grain, value, updated_at) "
        f"VALUES ($1, $2, $3, $4, $5, '{SYNCED_AT}')", base)
    dims = [(ACME, "revenue", d, "day", "region", r, day_value(d) / 2) for d in JUNE for r in ("eu", "us")]
    dims += [(ACME, "revenue", d, "day", "channel", "web", day_value(d)) for d in JUNE]
    dims += [(ACME, "revenue", d, "week", "region", "eu", 50.0 + i) for i, d in enumerate(MONDAYS)]
    dims += [(ACME, "revenue", d, "day", "product", "widget", 3.0) for d in JUNE[:5]]  # not in the catalog
    dims += [(GLOBEX, "revenue", d, "day", "region", "eu", 2.0 * d.day) for d in JUNE[:10]]
    await conn.executemany(
        "INSERT INTO metric_dimensional_time_series (tenant_id, metric_id, date, grain, dimension_name, "
        f"dimension_slice, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, '{SYNCED_AT}')", dims)
    statuses = [
        (ACME, "revenue", "day", None, "FULL", "SUCCESS", "2025-06-01 02:00+00"),
        (ACME, "revenue", "day", None, "FULL", "SUCCESS", "2025-05-01 02:00+00"),  # the NULL key repeats
        (ACME, "revenue", "day", None, "INCREMENTAL", "SUCCESS", SYNCED_AT),
        (ACME, "revenue", "day", "region", "FULL", "SUCCESS", SYNCED_AT),
        (ACME, "revenue", "day", "channel", "FULL", "SUCCESS", SYNCED_AT),
        (ACME, "revenue", "day", "product", "FULL", "SUCCESS", SYNCED_AT),  # not in the catalog
        (ACME, "revenue", "week", None, "FULL", "SUCCESS", SYNCED_AT),
        (ACME, "revenue", "week", "region", "FULL", "SUCCESS", SYNCED_AT),
        (ACME, "revenue", "week", "channel", "FULL", "SUCCESS", "2025-06-01 02:00+00"),
        (ACME, "revenue", "week", "channel", "INCREMENTAL", "RUNNING", SYNCED_AT),  # left running
        (ACME, "revenue", "month", None, "FULL", "FAILED", SYNCED_AT),
        (GLOBEX, "revenue", "day", None, "FULL", "SUCCESS", SYNCED_AT),
        (GLOBEX, "revenue", "day", "region", "FULL", "SUCCESS", SYNCED_AT),
    ]
    await conn.executemany(
        "INSERT INTO metric_sync_status (tenant_id, metric_id, grain, dimension_name, sync_type, sync_status, "
        "last_sync_at, start_date, end_date, records_processed, history) "
        "VALUES ($1, $2, $3, $4, $5, $6, CAST(CAST($7 AS text) AS timestamptz), DATE '2024-06-30', "
        "DATE '2025-06-30', 30, "
        "'[{\"status\": \"SUCCESS\"}]')", statuses)
    await conn.executemany(
        "INSERT INTO metric_target (tenant_id, metric_id, grain, target_date, target_value) "
        "VALUES ($1, $2, $3, $4, $5)",
        [(ACME, "revenue", "month", date(2025, 7, 1), 1000.0), (ACME, "revenue", "month", date(2025, 8, 1), 1100.0)])
    results = [(ACME, "revenue", "performance_status", "1.0", None, '{"status": "on_track"}', updated)
               for updated in ("2025-07-01 03:00+00", "2025-07-02 03:00+00")]  # a re-run's duplicate
    results += [(ACME, "revenue", "dimension_analysis", "1.0", "region", '{"slices": []}', SYNCED_AT)]
    await conn.executemany(
        "INSERT INTO pattern_results (tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name, "
        "analysis_window, run_result, updated_at) VALUES ($1, $2, $3, $4, 'day', DATE '2025-06-30', $5, "
        "'{\"start\": \"2025-01-01\", \"end\": \"2025-06-30\", \"grain\": \"day\"}', CAST(CAST($6 AS text) AS jsonb), "
        "CAST(CAST($7 AS text) AS timestamptz))", results)
    await conn.executemany(  # the same story twice: the original had no unique key
        "INSERT INTO stories (tenant_id, metric_id, grain, story_date, genre, story_type, title) "
        "VALUES ($1, 'revenue', 'day', DATE '2025-06-30', 'PERFORMANCE', 'ON_TRACK', 'Revenue is on track')",
        [(ACME,), (ACME,)])


@pytest.fixture
async def legacy(pg_server) -> AsyncIterator[Legacy]:
    """A fresh database of the original system, filled."""
    name = f"legacy_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.superuser_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = pg_server.superuser_url(name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA)
        await fill(conn)
    finally:
        await conn.close()
    yield Legacy(url, name)
    await drop_database(pg_server.superuser_url(), name)


def catalog() -> Catalog:
    source = SqlMetricSource(table="warehouse.sales", value="sum(amount)", time_column="day")
    revenue = MetricDef(id="revenue", label="Revenue", source=source,
                        dimensions=[DimensionDef(id="region", member="region"),
                                    DimensionDef(id="channel", member="channel")],
                        targets=[TargetDef(grain="month", target_date=date(2025, 7, 1), target_value=1000.0)])
    globex = MetricDef(id="revenue", label="Revenue", source=source, dimensions=[DimensionDef(id="region",
                                                                                              member="region")])
    return Catalog(tenants=[TenantDef(identifier="acme", name="Acme", metrics=[revenue]),
                            TenantDef(identifier="globex", name="Globex", metrics=[globex])])


@pytest.fixture
async def semsync_db(db):
    """semsync's test database with the catalog of acme and globex loaded."""
    await write_catalog(db.catalog_session_factory, catalog())
    return db


@pytest.fixture
def settings_env(semsync_db, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", semsync_db.app_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str):
    """`python -m starter ARGS` through Typer's CliRunner, on a thread (the CLI runs its own loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))
