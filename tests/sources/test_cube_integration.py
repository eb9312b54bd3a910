"""The real Cube (0.33, Node.js) over the demo warehouse answers exactly what the SQL source answers.

The demo catalog's SQL metrics are turned into a Cube model (`semsync.sources.cube_model`), Cube is
started over a scratch database seeded with the demo warehouse, and every metric of every tenant is
fetched through both sources for each grain, with and without each dimension, over windows that
cross the planted events, a new year and partial periods.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack import PostgresServer, ScratchDatabase, create_scratch_database, free_port
from devstack.cube_server import CubeServer, missing_tools
from devstack.demo import demo_catalog, seed_warehouse
from semsync.catalog.models import (
    Catalog,
    CubeAuthType,
    CubeConnection,
    DimensionDef,
    Filter,
    FilterOperator,
    MetricDef,
    SqlMetricSource,
    TenantDef,
)
from semsync.config import SemanticLayerSettings
from semsync.db.migrate import drop_database
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import NULL_SLICE, FetchResult
from semsync.sources.cube import CubeSource
from semsync.sources.cube_model import catalog_cube_model, cube_model
from semsync.sources.sql import SqlSource

pytestmark = [
    pytest.mark.cube,
    pytest.mark.skipif(missing_tools() is not None, reason=f"real Cube server: {missing_tools()}"),
]

UNTIL = date(2025, 12, 31)
#: grain → inclusive window; day crosses the level shifts (Sep 1, Oct 1) and the spike (Nov 28),
#: week starts mid-week across a new year, month covers the whole demo
WINDOWS = {
    Grain.DAY: (date(2025, 8, 25), date(2025, 12, 7)),
    Grain.WEEK: (date(2024, 12, 25), date(2025, 6, 29)),
    Grain.MONTH: (date(2024, 1, 1), date(2025, 12, 31)),
}

#: acme's revenue, slowly: the query sleeps 2.5 s, longer than Cube waits before "Continue wait". The
#: definition only generates Cube's model (the SQL runs in Cube, not through semsync's SQL source), so
#: it is built without the SQL source's expression allow-list, which refuses pg_sleep
SLOW_REVENUE = MetricDef(
    id="slow_revenue",
    label="Revenue, slowly",
    source=SqlMetricSource.model_construct(
        type="sql", table="warehouse.daily_facts", time_column="day",
        value="sum(revenue) + (SELECT 0 FROM pg_sleep(2.5))",
        filters=[Filter(member="tenant", operator=FilterOperator.EQUALS, values=["acme"])],
    ),
)

#: the equality and presence filters (notEquals keeps NULLs in both sources)
FILTERED_ORDERS = MetricDef(
    id="orders_outside_partner",
    label="Orders of two tenants outside the partner channel",
    source=SqlMetricSource(
        table="warehouse.daily_facts", time_column="day", value="sum(orders)",
        filters=[
            Filter(member="tenant", operator=FilterOperator.EQUALS, values=["acme", "globex"]),
            Filter(member="channel", operator=FilterOperator.NOT_EQUALS, values=["partner"]),
            Filter(member="region", operator=FilterOperator.SET),
        ],
    ),
    dimensions=[DimensionDef(id="channel", member="channel")],
)
#: comparison filters on a numeric and an integer column
COMPARED_ORDERS = MetricDef(
    id="orders_on_big_days",
    label="Orders of cells with big revenue and few visits",
    source=SqlMetricSource(
        table="warehouse.daily_facts", time_column="day", value="sum(orders)",
        filters=[
            Filter(member="tenant", operator=FilterOperator.EQUALS, values=["acme"]),
            Filter(member="revenue", operator=FilterOperator.GT, values=["250.5"]),
            Filter(member="visits", operator=FilterOperator.LTE, values=["4000"]),
        ],
    ),
    dimensions=[DimensionDef(id="channel", member="channel")],
)

#: orders by region where a third of the rows have no region: a null dimension value
NULL_REGION_ORDERS = MetricDef(
    id="orders_with_unknown_regions",
    label="Orders, some without a region",
    source=SqlMetricSource(table="warehouse.null_region_facts", time_column="day", value="sum(orders)"),
    dimensions=[DimensionDef(id="region", member="region")],
)
_NULL_REGION_DDL = """
    CREATE TABLE warehouse.null_region_facts (day date NOT NULL, region text, orders integer NOT NULL);
    INSERT INTO warehouse.null_region_facts
    SELECT d::date, r, (extract(doy FROM d) + length(coalesce(r, '')) * 7)::integer
    FROM generate_series(DATE '2024-12-01', DATE '2025-02-28', INTERVAL '1 day') d,
         unnest(ARRAY['eu', 'us', NULL]) r;
    GRANT SELECT ON warehouse.null_region_facts TO semsync_app"""


@dataclass
class Sources:
    sql_catalog: Catalog
    cube_catalog: Catalog
    sql: SqlSource
    cube: CubeSource


@pytest.fixture(scope="module")
async def warehouse(pg_server: PostgresServer) -> AsyncIterator[ScratchDatabase]:
    scratch = await create_scratch_database(pg_server, f"semsync_cube_{uuid.uuid4().hex[:8]}")
    await seed_warehouse(scratch.admin_url, until=UNTIL)
    engine = create_async_engine(scratch.admin_url)
    async with engine.begin() as conn:
        for statement in _NULL_REGION_DDL.split(";"):
            await conn.execute(text(statement))
    await engine.dispose()
    yield scratch
    await drop_database(pg_server.superuser_url(), scratch.name)


@pytest.fixture(scope="module")
def cube_server(warehouse: ScratchDatabase) -> Iterator[tuple[CubeServer, Catalog]]:
    port, secret = free_port(), secrets.token_hex(32)
    connection = CubeConnection(
        cube_api_url=f"http://127.0.0.1:{port}", auth_type=CubeAuthType.SECRET_KEY, secret_key=secret
    )
    files, cube_catalog = catalog_cube_model(demo_catalog(), connection)
    files.update(cube_model([SLOW_REVENUE, FILTERED_ORDERS, COMPARED_ORDERS, NULL_REGION_ORDERS]).files("extra"))
    # Cube reads the warehouse as the app role, over TCP, like the SQL source; it answers
    # "Continue wait" when a query runs longer than a second
    with CubeServer(files, warehouse.app_url, api_secret=secret, port=port, continue_wait_s=1) as server:
        yield server, cube_catalog


@pytest.fixture(scope="module")
async def sources(warehouse: ScratchDatabase, cube_server: tuple[CubeServer, Catalog]) -> AsyncIterator[Sources]:
    _, cube_catalog = cube_server
    [connection] = {t.semantic_layer for t in cube_catalog.tenants}
    sql, cube = SqlSource(warehouse.app_url), CubeSource(connection)
    yield Sources(demo_catalog(), cube_catalog, sql, cube)
    await sql.aclose()
    await cube.aclose()


def _cases(catalog: Catalog) -> list[tuple[str, str, Grain, str | None]]:
    return [
        (tenant.identifier, metric.id, grain, dimension)
        for tenant in catalog.tenants
        for metric in tenant.metrics
        for grain in Grain
        for dimension in (None, *(d.id for d in metric.dimensions))
    ]


def _assert_same(case: tuple, sql: FetchResult, cube: FetchResult) -> None:
    sql_values = {(d, s): v for d, s, v in sql.rows}
    cube_values = {(d, s): v for d, s, v in cube.rows}
    assert len(sql_values) == len(sql.rows) and len(cube_values) == len(cube.rows), f"{case}: duplicate rows"
    assert sql_values.keys() == cube_values.keys(), f"{case}: periods/slices differ"
    mismatched = [
        (key, sql_values[key], cube_values[key])
        for key in sql_values
        if not math.isclose(sql_values[key], cube_values[key], rel_tol=1e-9, abs_tol=1e-12)
    ]
    assert not mismatched, f"{case}: {len(mismatched)} values differ, e.g. {mismatched[:3]}"
    assert (sql.dropped_nulls, sql.null_slices) == (cube.dropped_nulls, cube.null_slices), case


def _tenant(catalog: Catalog, identifier: str) -> TenantDef:
    return next(t for t in catalog.tenants if t.identifier == identifier)


async def _fetch(source, metric: MetricDef, grain: Grain, dimension: DimensionDef | None) -> FetchResult:
    start, end = WINDOWS[grain]
    return await source.fetch(metric, grain, start, end, dimension)


async def test_cube_returns_what_the_sql_source_returns(sources: Sources) -> None:
    cases = _cases(sources.sql_catalog)
    limit = asyncio.Semaphore(8)

    async def compare(case: tuple[str, str, Grain, str | None]) -> int:
        tenant, metric_id, grain, dimension_id = case
        sql_metric = _tenant(sources.sql_catalog, tenant).metric(metric_id)
        cube_metric = _tenant(sources.cube_catalog, tenant).metric(metric_id)
        sql_dim = sql_metric.dimension(dimension_id) if dimension_id else None
        cube_dim = cube_metric.dimension(dimension_id) if dimension_id else None
        async with limit:
            sql = await _fetch(sources.sql, sql_metric, grain, sql_dim)
            cube = await _fetch(sources.cube, cube_metric, grain, cube_dim)
        _assert_same(case, sql, cube)
        return len(sql.rows)

    counts = await asyncio.gather(*(compare(case) for case in cases))
    assert len(cases) == 3 * 6 * 3 * 4
    assert all(counts), "every metric has values in every window"


async def test_cube_weeks_start_on_monday(sources: Sources) -> None:
    tenant = sources.cube_catalog.tenants[0]
    result = await _fetch(sources.cube, tenant.metric("revenue"), Grain.WEEK, None)
    assert result.rows[0][0] == date(2024, 12, 23)  # the Monday of the window's first, partial week
    assert all(d.weekday() == 0 for d, _, _ in result.rows)


async def test_real_cube_rejects_a_bad_member_and_a_bad_token(sources: Sources, cube_server) -> None:
    server, cube_catalog = cube_server
    metric = cube_catalog.tenants[0].metric("revenue")
    bad_member = metric.model_copy(update={"source": metric.source.model_copy(update={"measure": "nope.value"})})
    with pytest.raises(SourceRequestError, match="nope"):
        await _fetch(sources.cube, bad_member, Grain.DAY, None)

    wrong_key = CubeSource(CubeConnection(cube_api_url=server.url, token="not-a-jwt"))
    try:
        with pytest.raises(SourceRequestError, match="HTTP 403"):
            await _fetch(wrong_key, metric, Grain.DAY, None)
    finally:
        await wrong_key.aclose()


async def test_continue_wait_from_real_cube_is_polled_to_the_answer(sources: Sources) -> None:
    waits = 0

    async def count_waits(response: httpx.Response) -> None:
        nonlocal waits
        await response.aread()
        waits += response.json().get("error") == "Continue wait"

    slow = cube_model([SLOW_REVENUE]).metrics[0]
    window = (date(2025, 7, 1), date(2025, 7, 14))
    async with httpx.AsyncClient(event_hooks={"response": [count_waits]}) as client:
        cube = CubeSource(sources.cube.connection, client)
        result = await cube.fetch(slow, Grain.WEEK, *window)
    expected = await sources.sql.fetch(sources.sql_catalog.tenants[0].metric("revenue"), Grain.WEEK, *window)
    assert waits >= 1
    assert result.rows == expected.rows


async def test_real_cube_still_waiting_at_the_deadline_is_retryable(sources: Sources) -> None:
    slow = cube_model([SLOW_REVENUE]).metrics[0]
    impatient = CubeSource(sources.cube.connection, settings=SemanticLayerSettings(continue_wait_deadline_s=0.5))
    try:
        with pytest.raises(SourceUnavailableError, match="Continue wait"):
            await impatient.fetch(slow, Grain.MONTH, date(2025, 1, 1), date(2025, 3, 31))
    finally:
        await impatient.aclose()


async def _compare_filtered(sources: Sources, metric: MetricDef) -> None:
    cube_metric = cube_model([metric]).metrics[0]
    for grain in Grain:
        for dimension in (None, "channel"):
            sql_dim = metric.dimension(dimension) if dimension else None
            cube_dim = cube_metric.dimension(dimension) if dimension else None
            sql = await _fetch(sources.sql, metric, grain, sql_dim)
            cube = await _fetch(sources.cube, cube_metric, grain, cube_dim)
            _assert_same((metric.id, grain, dimension), sql, cube)
            assert sql.rows


async def test_equality_and_presence_filters_mean_the_same_in_both_sources(sources: Sources) -> None:
    await _compare_filtered(sources, FILTERED_ORDERS)
    cube_metric = cube_model([FILTERED_ORDERS]).metrics[0]
    by_channel = await _fetch(sources.cube, cube_metric, Grain.MONTH, cube_metric.dimension("channel"))
    assert {s for _, s, _ in by_channel.rows} == {"web", "mobile"}


async def test_comparison_filters_mean_the_same_in_both_sources(sources: Sources) -> None:
    await _compare_filtered(sources, COMPARED_ORDERS)


async def test_null_dimension_values_are_one_slice_in_both_sources_and_sum_to_the_base(sources: Sources) -> None:
    cube_metric = cube_model([NULL_REGION_ORDERS]).metrics[0]
    window = (date(2024, 12, 1), date(2025, 2, 28))
    for grain in Grain:
        base = await sources.cube.fetch(cube_metric, grain, *window)
        cube = await sources.cube.fetch(cube_metric, grain, *window, cube_metric.dimension("region"))
        sql = await sources.sql.fetch(NULL_REGION_ORDERS, grain, *window, NULL_REGION_ORDERS.dimension("region"))
        _assert_same((NULL_REGION_ORDERS.id, grain, "region"), sql, cube)
        assert {s for _, s, _ in cube.rows} == {"eu", "us", NULL_SLICE}
        assert cube.null_slices == len(base.rows) > 0
        totals: dict[date, float] = {}
        for day, _, value in cube.rows:
            totals[day] = totals.get(day, 0.0) + value
        assert totals == {day: value for day, _, value in base.rows}, grain
