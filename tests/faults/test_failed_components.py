"""Issue 21, item 4: ``--mode failed`` of a partial partition re-syncs only its failed dimensions.
A Cube (over a real local socket) answers 400 for one dimension's member; the backfill ends partial
with that dimension named in the ledger. Once the Cube knows the member, ``--mode failed`` fetches
that dimension alone (the base series and the healthy dimension get no request, and are not
written), the partition becomes succeeded, and the values equal the Cube's."""

from __future__ import annotations

from datetime import date

import pytest
from faultkit import WarehouseCube, backfill_request, fresh_database, in_process_worker, run_backfill, settings_for
from pydantic import SecretStr
from sqlalchemy import text

from semsync.catalog.models import Catalog, CubeConnection, CubeMetricSource, DimensionDef, MetricDef, TenantDef
from semsync.contracts import BackfillMode, ContextSelector, GrainRange, LedgerStatus

pytestmark = pytest.mark.temporal

TOKEN = "cube-token-21-4"
MEASURES = {"orders.amount": lambda day, region: float(day.toordinal() % 89 + 3 * len(region))}
DAYS = [GrainRange(grain="day", first="2025-07-01", last="2025-07-03")]


def tenant(url: str) -> TenantDef:
    return TenantDef(identifier="cubeco", name="Cube Co",
                     semantic_layer=CubeConnection(cube_api_url=url, token=SecretStr(TOKEN)),
                     metrics=[MetricDef(id="amount", label="Amount",
                                        source=CubeMetricSource(measure="orders.amount",
                                                                time_dimension="orders.created_at"),
                                        dimensions=[DimensionDef(id="region", member="orders.region"),
                                                    DimensionDef(id="channel", member="orders.channel")])])


def loads(cube: WarehouseCube) -> list[tuple[str, ...]]:
    """The dimensions of each load request, in order (() for the base series)."""
    return [tuple(r.query.get("dimensions") or ()) for r in cube.requests if r.path == "/cubejs-api/v1/load"]


async def written_at(admin) -> dict[str, object]:
    async with admin.connect() as conn:
        base = await conn.scalar(text("SELECT max(updated_at) FROM metric_time_series"))
        sliced = dict((await conn.execute(text(
            "SELECT dimension_name, max(updated_at) FROM metric_dimensional_time_series GROUP BY 1"))).all())
    return {"base": base, **sliced}


async def test_failed_mode_refetches_only_the_dimension_that_failed(pg_server, temporal_env):
    cube = WarehouseCube(measures=MEASURES, tokens={TOKEN}, unknown_dimensions={"orders.channel"}).start()
    database = await fresh_database(pg_server, Catalog(tenants=[tenant(cube.url)]))
    try:
        settings = settings_for(database.app_url)
        selector = ContextSelector(contexts=["cubeco::amount"])
        async with in_process_worker(temporal_env.client, settings):
            first = await run_backfill(temporal_env.client, settings, backfill_request(
                settings, ranges=DAYS, selector=selector, mode=BackfillMode.ALL, run_patterns=False))
            assert first.progress.chunks_partial == 1
            assert "channel" in first.failures[0].reason and "not found" in first.failures[0].reason
            async with database.admin.connect() as conn:
                row = (await conn.execute(text(
                    "SELECT status, failed_components FROM partition_ledger WHERE kind = 'sync' "
                    "AND partition_key = '2025-07-02'"))).one()
            assert (row.status, row.failed_components) == (LedgerStatus.PARTIAL.value, ["channel"])
            before, asked = await written_at(database.admin), len(loads(cube))

            cube.unknown_dimensions.clear()  # the member exists now
            again = await run_backfill(temporal_env.client, settings, backfill_request(
                settings, ranges=DAYS, selector=selector, mode=BackfillMode.FAILED, run_patterns=False))
    finally:
        cube.stop()
        await database.dispose()
    new_loads = loads(cube)[asked:]
    assert again.progress.chunks_succeeded == 1 and not again.failures
    assert new_loads and all(dims == ("orders.channel",) for dims in new_loads), new_loads  # no base, no region
    after = await written_at(database.admin)
    assert after["base"] == before["base"] and after["region"] == before["region"]  # neither written
    async with database.admin.connect() as conn:
        statuses = {r.partition_key: (r.status, r.failed_components) for r in await conn.execute(text(
            "SELECT partition_key, status, failed_components FROM partition_ledger WHERE kind = 'sync'"))}
        channel = dict((await conn.execute(text(
            "SELECT date, sum(value) FROM metric_dimensional_time_series WHERE dimension_name = 'channel' "
            "AND date BETWEEN '2025-07-01' AND '2025-07-03' GROUP BY 1"))).all())
    assert statuses == {key: ("succeeded", None) for key in ("2025-07-01", "2025-07-02", "2025-07-03")}
    expected = cube.expected("orders.amount", DAYS[0].grain, date(2025, 7, 1), date(2025, 7, 3), True)
    assert channel == pytest.approx({d: sum(v for (day, _), v in expected.items() if day == d) for d in channel})
    assert len(channel) == 3
