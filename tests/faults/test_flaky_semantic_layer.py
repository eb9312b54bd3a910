"""A Cube deployment (over a real local socket) failing 30 % of its load requests, alternately with
HTTP 500 and with answers slower than the client's timeout: every row still arrives through the page
retries and Temporal's retries, equal to the Cube's own data. A metric Cube answers with a 400 fails
at once (non-retryable), is reported in the backfill's result, and the others complete."""

from __future__ import annotations

from datetime import date

import pytest
from faultkit import (
    WarehouseCube,
    backfill_request,
    fresh_database,
    in_process_worker,
    run_backfill,
    settings_for,
)
from pydantic import SecretStr
from sqlalchemy import text

from semsync.catalog.models import (
    Catalog,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    MetricDef,
    TenantDef,
)
from semsync.config import SemanticLayerSettings
from semsync.contracts import ContextSelector, GrainRange
from semsync.partitions import Grain, partitions_between

pytestmark = pytest.mark.temporal

TOKEN = "cube-token-5f1c0a"
MEASURES = {
    "orders.amount": lambda day, region: float(day.toordinal() % 97 + 10 * len(region)),
    "orders.units": lambda day, region: float((day.toordinal() * 7 + len(region)) % 13),
}
RANGES = [GrainRange(grain="day", first="2025-07-01", last="2025-07-07"),
          GrainRange(grain="week", first="2025-W27", last="2025-W28"),
          GrainRange(grain="month", first="2025-05", last="2025-06")]


def cube_tenant(url: str) -> TenantDef:
    region = [DimensionDef(id="region", member="orders.region")]

    def metric(metric_id: str, measure: str) -> MetricDef:
        return MetricDef(id=metric_id, label=metric_id, dimensions=region,
                         source=CubeMetricSource(measure=measure, time_dimension="orders.created_at"))

    return TenantDef(identifier="cubeco", name="Cube Co",
                     semantic_layer=CubeConnection(cube_api_url=url, token=SecretStr(TOKEN)),
                     metrics=[metric("amount", "orders.amount"), metric("units", "orders.units"),
                              metric("broken", "orders.nope")])


async def stored(engine, metric_id: str, grain: Grain) -> dict[tuple[date, str | None], float]:
    async with engine.connect() as conn:
        base = await conn.execute(text(
            "SELECT date, NULL, value FROM metric_time_series WHERE metric_id = :m AND grain = :g"),
            {"m": metric_id, "g": grain.value})
        sliced = await conn.execute(text(
            "SELECT date, dimension_slice, value FROM metric_dimensional_time_series "
            "WHERE metric_id = :m AND grain = :g AND dimension_name = 'region'"), {"m": metric_id, "g": grain.value})
        return {(d, s): v for d, s, v in [*base, *sliced]}


async def test_a_flaky_cube_still_delivers_every_row_and_a_400_fails_only_its_metric(pg_server, temporal_env):
    cube = WarehouseCube(measures=MEASURES, tokens={TOKEN}, failing=0.3, stall_s=1.5).start()
    database = await fresh_database(pg_server, Catalog(tenants=[cube_tenant(cube.url)]))
    try:
        layer = SemanticLayerSettings(request_timeout_s=0.5, page_attempts=2, page_retry_initial_s=0.05,
                                      page_retry_max_s=0.2)
        settings = settings_for(database.app_url, semantic_layer=layer)
        request = backfill_request(settings, ranges=RANGES, selector=ContextSelector(tenant="cubeco"),
                                   run_patterns=False, max_concurrency=4)
        async with in_process_worker(temporal_env.client, settings):
            result = await run_backfill(temporal_env.client, settings, request)
    finally:
        cube.stop()
        await database.dispose()  # the engine reconnects below: dispose only closes the pool
    answered = cube.answered  # the Cube fails 3 of every 10 loads; both kinds of failure happened
    assert answered.get("500", 0) >= 2 and answered.get("stalled", 0) >= 2, answered
    # the 400 is not retried: one request per lane of the broken metric, and it is reported
    assert answered["400"] == len(RANGES) and "403" not in answered, answered
    assert result.progress.chunks_succeeded == 2 * len(RANGES) and result.progress.chunks_failed == len(RANGES)
    assert sorted((f.context, f.grain.value) for f in result.failures) == sorted(
        ("cubeco::broken", r.grain.value) for r in RANGES)
    assert all("BaseSeriesFailed" in f.reason or "HTTP 400" in f.reason for f in result.failures), result.failures
    assert all("'nope' not found" in f.reason for f in result.failures), result.failures
    # every row of the undisturbed Cube's answer is stored, for every window that was synced
    for metric_id, measure in (("amount", "orders.amount"), ("units", "orders.units")):
        for grain_range in RANGES:
            values = await stored(database.admin, metric_id, grain_range.grain)
            partitions = partitions_between(grain_range.grain, grain_range.first, grain_range.last)
            first, last = min(d for d, _ in values), partitions[-1].end
            expected = {**cube.expected(measure, grain_range.grain, first, last, False),
                        **cube.expected(measure, grain_range.grain, first, last, True)}
            assert values == pytest.approx(expected, rel=1e-12), (metric_id, grain_range.grain)
            assert {p.start for p in partitions} <= {d for d, _ in values}
    async with database.admin.connect() as conn:
        statuses = dict((await conn.execute(text(
            "SELECT metric_id, array_agg(DISTINCT sync_status::text) FROM metric_sync_status GROUP BY 1"))).all())
        broken_rows = await conn.scalar(text("SELECT count(*) FROM metric_time_series WHERE metric_id = 'broken'"))
    assert statuses["amount"] == ["SUCCESS"] and statuses["units"] == ["SUCCESS"], statuses
    assert statuses["broken"] == ["FAILED"] and broken_rows == 0, statuses

