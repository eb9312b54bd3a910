"""A sync over Cube whose answer breaks half-way (page 2 of 2 fails every attempt): the stored data stays as it was."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cube_fake import FakeCube, data, error
from pydantic import SecretStr
from sqlalchemy import text

from semsync.catalog.models import Catalog, CubeConnection, CubeMetricSource, MetricDef, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import SemanticLayerSettings
from semsync.partitions import Grain
from semsync.sources.cube import CubeSource
from semsync.sync import SemanticSyncRequest, SemanticSyncService
from semsync.sync_plan import SyncStatus


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
