"""The SQL source on semsync's own database reads only the warehouse schemas, and a value expression
calls only allowed functions: a tenant's catalog cannot read other tenants' rows nor reach the server."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from devstack.demo.catalog import demo_catalog
from semsync.catalog.file import parse_catalog
from semsync.catalog.models import DimensionDef, Filter, MetricDef, SqlConnection, SqlMetricSource, TenantDef
from semsync.config import SemanticLayerSettings
from semsync.errors import CatalogError, SourceRequestError
from semsync.partitions import Grain
from semsync.sources.registry import SourceRegistry
from semsync.sources.sql import confinement_problem

DAY = date(2025, 6, 2)
REFUSED_CALLS = {
    "sum(amount) + length(current_setting('app.current_tenant'))": "current_setting()",
    "sum(amount) + (SELECT 0 FROM pg_sleep(10))": "pg_sleep()",
    "sum(amount) + (SELECT count(*) FROM tenants)": "a subquery is not allowed",
    "pg_sleep(10)": "pg_sleep()",
    "sum(amount) * 0 + length(set_config('app.current_tenant', 'globex', false))": "set_config()",
    "count(*) + length(pg_read_file('/etc/passwd'))": "pg_read_file()",
    "sum(amount); SELECT 1": "';'",
}


def tenant(table: str, value: str = "count(*)", member: str = "identifier") -> TenantDef:
    metric = MetricDef(id="m", label="M", dimensions=[DimensionDef(id="d", member=member)],
                       source=SqlMetricSource.model_construct(type="sql", table=table, value=value,
                                                              time_column="day", filters=[]))
    return TenantDef.model_construct(identifier="acme", name="Acme", semantic_layer=SqlConnection(),
                                     metrics=[metric], patterns={}, sync_enabled=True, notifications=None)


@pytest.fixture
async def registry(db):
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS confined_wh CASCADE"))
        await conn.execute(text("CREATE SCHEMA confined_wh"))
        await conn.execute(text("CREATE TABLE confined_wh.sales (day date, region text, amount numeric)"))
        await conn.execute(text(f"INSERT INTO confined_wh.sales VALUES ('{DAY}', 'eu', 2), ('{DAY}', 'us', 3)"))
        await conn.execute(text("GRANT USAGE ON SCHEMA confined_wh TO semsync_app"))
        await conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA confined_wh TO semsync_app"))
    registry = SourceRegistry(db.database.engine, settings=SemanticLayerSettings(warehouse_schemas="confined_wh"))
    yield registry
    await registry.aclose()


async def fetch(registry: SourceRegistry, definition: TenantDef, by_dimension: bool = True):
    metric = definition.metrics[0]
    source = await registry.source_for(definition)
    return await source.fetch(metric, Grain.DAY, DAY, DAY, metric.dimensions[0] if by_dimension else None)


@pytest.mark.parametrize("table", ["tenants", "public.tenants", "pg_catalog.pg_roles", "warehouse.daily_facts"])
async def test_semsyncs_own_tables_are_out_of_reach(registry, table):
    with pytest.raises(SourceRequestError, match=f"table '{table}' is outside the warehouse schemas: .*confined_wh"):
        await fetch(registry, tenant(table))


async def test_a_warehouse_metric_reads_and_a_member_cannot_leave_its_table(registry):
    result = await fetch(registry, tenant("confined_wh.sales", "sum(amount)", member="region"))
    assert sorted(result.rows) == [(DAY, "eu", 2.0), (DAY, "us", 3.0)]
    with pytest.raises(SourceRequestError, match="dimension member 'public.identifier' is not a plain column"):
        await fetch(registry, tenant("confined_wh.sales", "sum(amount)", member="public.identifier"))


async def test_the_query_runs_read_only_on_the_warehouse_schemas_only(registry):
    source = await registry.source_for(tenant("confined_wh.sales"))
    async with source.engine.connect() as conn, conn.begin():
        await source._limit(conn)
        settings = (await conn.execute(text(
            "SELECT current_setting('transaction_read_only'), current_setting('search_path'), "
            "current_setting('statement_timeout')"))).one()
    assert settings == ("on", "confined_wh", "2min")


@pytest.mark.parametrize("value,named", REFUSED_CALLS.items())
async def test_a_value_calling_a_function_off_the_allow_list_is_refused_naming_it(registry, value, named):
    with pytest.raises(ValidationError, match=re.escape(named)):
        SqlMetricSource(table="confined_wh.sales", value=value, time_column="day")
    # a catalog from the HTTP provider or the database is checked again before the query
    with pytest.raises(SourceRequestError, match=re.escape(named)):
        await fetch(registry, tenant("confined_wh.sales", value, member="region"))


def test_catalog_validate_names_the_line_and_the_function():
    catalog = """\
tenants:
  - identifier: acme
    name: Acme
    metrics:
      - id: leak
        label: Leak
        source: {type: sql, table: warehouse.orders, value: "pg_sleep(10)", time_column: at}
"""
    with pytest.raises(CatalogError, match=r"catalog.yaml:7: tenants\[0\] \(acme\) metrics\[0\] \(leak\) "
                                           r"source.value: .*pg_sleep\(\)"):
        parse_catalog(catalog, source="catalog.yaml")


def test_the_demo_metrics_stay_within_the_default_warehouse_schema():
    schemas = SemanticLayerSettings().warehouse_schema_names
    assert schemas == ("warehouse",)
    metrics = [(m, d) for t in demo_catalog().tenants for m in t.metrics for d in [None, *m.dimensions]]
    assert metrics
    assert [confinement_problem(m.source, d, schemas) for m, d in metrics] == [None] * len(metrics)


def test_filters_on_the_default_connection_name_plain_columns():
    source = SqlMetricSource(table="warehouse.orders", value="sum(amount)", time_column="at",
                             filters=[Filter(member="public.tenants", operator="set")])
    assert "filter member 'public.tenants' is not a plain column" in confinement_problem(source, None, ("warehouse",))
