"""Syncs over Cube: an answer that breaks half-way (page 2 of 2 fails every attempt) leaves the stored
data as it was; rows of a null dimension value are stored in the null slice and sum to the base."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cube_fake import FakeCube, data, error
from pydantic import SecretStr
from sqlalchemy import text

from semsync.catalog.models import Catalog, CubeConnection, CubeMetricSource, DimensionDef, MetricDef, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import SemanticLayerSettings
from semsync.db.session import tenant_scope
from semsync.errors import SourceRequestError
from semsync.partitions import Grain
from semsync.sources.base import NULL_SLICE
from semsync.sources.cube import CubeSource
from semsync.sync.plan import SyncStatus
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService


class OneSource:
    def __init__(self, source) -> None:
        self.source = source

    async def source_for(self, tenant):
        return self.source


def rows(first: date, days: int, value: float) -> list[dict]:
    return [{"orders.created_at.day": f"{first + timedelta(days=i)}T00:00:00.000", "orders.revenue": str(value + i)}
            for i in range(days)]


@pytest.fixture
def cube():
    fake = FakeCube().start()
    yield fake
    fake.stop()


async def test_a_failure_on_a_later_page_leaves_the_window_untouched(db, cube):
    connection = CubeConnection(cube_api_url=cube.url, token=SecretStr("t"))
    settings = SemanticLayerSettings(page_retry_initial_s=0.01, page_retry_max_s=0.05)
    revenue = MetricDef(id="revenue", label="Revenue",
                        source=CubeMetricSource(measure="orders.revenue", time_dimension="orders.created_at"))
    await write_catalog(db.catalog_session_factory, Catalog(tenants=[
        TenantDef(identifier="acme", name="Acme", semantic_layer=connection, metrics=[revenue])]))
    source = CubeSource(connection, page_size=200, settings=settings)
    service = SemanticSyncService(db.session_factory, OneSource(source))
    request = SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                  start_partition="2025-07-01", force_full_sync=True)
    first_day = date(2024, 7, 1)

    cube.rows = rows(first_day, 366, 100.0)
    assert (await service.sync(request)).base.rows_inserted == 366

    async def stored() -> list[tuple]:
        async with db.admin_engine.connect() as conn:
            result = await conn.execute(text("SELECT date, value FROM metric_time_series ORDER BY date"))
            return [tuple(r) for r in result]

    before = await stored()
    restated = rows(first_day, 366, 500.0)
    cube.script(data(restated[:200]), *[error(500, "Error: connection reset by the warehouse")] * 3)
    failed = await service.sync(request)
    assert failed.base.status is SyncStatus.FAILED and failed.base.retryable is True
    # page 2 is asked for three times (the page retry), page 1 once
    assert [r.query.get("offset", 0) for r in cube.requests[-4:]] == [0, 200, 200, 200]
    assert await stored() == before


def by_region_request(start: str, end: str | None = None) -> SemanticSyncRequest:
    return SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY, start_partition=start,
                               end_partition=end, force_full_sync=True)


def cube_row(day: date, value: float, region: str | None = None, *, dimension: bool = True) -> dict:
    row = {"orders.created_at.day": f"{day}T00:00:00.000", "orders.revenue": str(value)}
    if dimension:
        row["orders.region"] = region
    return row


@pytest.fixture
async def cube_service(db, cube):
    """A sync service over the fake Cube, for acme's revenue by region."""
    connection = CubeConnection(cube_api_url=cube.url, token=SecretStr("t"))
    revenue = MetricDef(id="revenue", label="Revenue",
                        source=CubeMetricSource(measure="orders.revenue", time_dimension="orders.created_at"),
                        dimensions=[DimensionDef(id="region", member="orders.region")])
    await write_catalog(db.catalog_session_factory, Catalog(tenants=[
        TenantDef(identifier="acme", name="Acme", semantic_layer=connection, metrics=[revenue])]))
    source = CubeSource(connection)
    yield SemanticSyncService(db.session_factory, OneSource(source))
    await source.aclose()


async def test_cube_rows_of_a_null_dimension_value_are_one_slice_that_completes_the_sum(db, cube, cube_service):
    days = [date(2025, 7, 1) + timedelta(days=i) for i in range(3)]
    by_region = {"EU": [10.0, 11.0, 12.0], "US": [5.0, 0.0, 7.0], None: [2.5, 3.0, 0.5]}
    # the base series first, then the region dimension: each one page
    cube.script(
        data([cube_row(day, sum(v[i] for v in by_region.values()), dimension=False) for i, day in enumerate(days)]),
        data([cube_row(day, values[i], region) for i, day in enumerate(days) for region, values in by_region.items()]),
    )
    result = await cube_service.sync(by_region_request("2025-07-01", "2025-07-03"))
    assert result.success and result.dimensions_failed == {}
    [region] = result.dimensions
    assert region.null_slice_rows == 3 and region.rows_dropped_null == 0 and region.rows_inserted == 9
    async with tenant_scope(db.session_factory, result.tenant_id) as session:
        base = dict((await session.execute(text("SELECT date, value FROM metric_time_series"))).all())
        stored = (await session.execute(text(
            "SELECT date, dimension_slice, value FROM metric_dimensional_time_series"))).all()
    assert base == dict(zip(days, [17.5, 14.0, 19.5], strict=True))
    assert {s for _, s, _ in stored} == {"EU", "US", NULL_SLICE}
    assert {day: sum(v for d, _, v in stored if d == day) for day in days} == pytest.approx(base)


async def test_a_real_null_text_value_and_a_null_on_one_date_are_refused_not_merged(db, cube, cube_service):
    day = date(2025, 7, 1)
    cube.script(data([cube_row(day, 3.0, dimension=False)]),
                data([cube_row(day, 1.0, NULL_SLICE), cube_row(day, 2.0, None)]))
    result = await cube_service.sync(by_region_request("2025-07-01"))
    [region] = result.dimensions
    assert region.error_type == SourceRequestError.__name__ and not region.retryable
    assert f"a real {NULL_SLICE!r} value and a null value fall in the same slice" in region.error
