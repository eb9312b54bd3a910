"""A small, controlled warehouse and catalog for the sync service tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sync_helpers import FixedSources, ScriptedSource

from semsync.catalog.models import Catalog, DimensionDef, Filter, MetricDef, SqlMetricSource, TenantDef
from semsync.catalog.store import write_catalog
from semsync.sources.sql import SqlSource
from semsync.sync.service import SemanticSyncService

FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2025, 12, 31)
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def sales_metric(metric_id: str = "revenue", dimensions=("region", "channel")) -> MetricDef:
    return MetricDef(
        id=metric_id,
        label=metric_id.title(),
        source=SqlMetricSource(table="test_wh.sales", value="sum(amount)", time_column="day",
                               filters=[Filter(member="tenant", operator="equals", values=["__TENANT__"])]),
        dimensions=[DimensionDef(id=d, member=d) for d in dimensions],
    )


def tenant_catalog(*identifiers: str, dimensions=("region", "channel")) -> Catalog:
    tenants = []
    for identifier in identifiers:
        metric = sales_metric(dimensions=dimensions)
        source = metric.source.model_copy(update={"filters": [Filter(member="tenant", operator="equals",
                                                                       values=[identifier])]})
        tenants.append(TenantDef(identifier=identifier, name=identifier,
                                 metrics=[metric.model_copy(update={"source": source})]))
    return Catalog(tenants=tenants)


@pytest.fixture
async def warehouse(db):
    """`test_wh.sales`: one row per tenant, day, region and channel, values from a formula."""
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS test_wh CASCADE"))
        await conn.execute(text("CREATE SCHEMA test_wh"))
        await conn.execute(text(
            "CREATE TABLE test_wh.sales (tenant text, day date, region text, channel text, amount numeric)"))
        await conn.execute(text(f"""
            INSERT INTO test_wh.sales
            SELECT t, d::date, r, c, (extract(doy FROM d) + length(r) * 10 + length(c) + length(t))::numeric
            FROM unnest(ARRAY['acme', 'globex']) t,
                 generate_series(DATE '{FIRST_DAY}', DATE '{LAST_DAY}', INTERVAL '1 day') d,
                 unnest(ARRAY['eu', 'us', 'apac']) r, unnest(ARRAY['web', 'mobile']) c"""))
        await conn.execute(text("GRANT USAGE ON SCHEMA test_wh TO semsync_app"))
        await conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA test_wh TO semsync_app"))
    await write_catalog(db.catalog_session_factory, tenant_catalog("acme", "globex"))
    return db


@pytest.fixture
def scripted(warehouse) -> ScriptedSource:
    return ScriptedSource(SqlSource(warehouse.database.engine))


@pytest.fixture
def service(warehouse, scripted) -> SemanticSyncService:
    ticks = itertools.count()
    # a clock that stands near NOW and moves a second per reading, as a real one would
    return SemanticSyncService(warehouse.session_factory, FixedSources(scripted),
                               clock=lambda: NOW + timedelta(seconds=next(ticks)))
