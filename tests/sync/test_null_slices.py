"""Warehouse rows whose dimension value is null (the SQL source): stored in one explicit slice, so a
dimension's slices sum to the base series and dimension_analysis shares are shares of the whole;
counted in the sync's result. The Cube source's case is in tests/sources/test_cube_sync.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from semsync.db.session import tenant_scope
from semsync.partitions import Grain
from semsync.patterns import get_pattern
from semsync.patterns.base import DataNeed
from semsync.patterns.data import PatternDataOrganiser
from semsync.sources.base import NULL_SLICE
from semsync.sync.service import SemanticSyncRequest


def request(partition: str, end: str | None = None, *, tenant: str = "acme", grain: Grain = Grain.DAY,
            force: bool = False) -> SemanticSyncRequest:
    return SemanticSyncRequest(tenant=tenant, metric_id="revenue", grain=grain, start_partition=partition,
                               end_partition=end, force_full_sync=force)


async def stored_sums(db, tenant_id: int, grain: Grain = Grain.DAY) -> tuple[dict, dict]:
    """The base series {date: value} and, per dimension, {date: sum of its slices}."""
    async with tenant_scope(db.session_factory, tenant_id) as session:
        base = dict((await session.execute(text(
            "SELECT date, value FROM metric_time_series WHERE grain = :g"), {"g": grain.value})).all())
        sums: dict[str, dict[date, float]] = defaultdict(dict)
        for name, day, total in await session.execute(text(
                "SELECT dimension_name, date, sum(value) FROM metric_dimensional_time_series WHERE grain = :g "
                "GROUP BY 1, 2"), {"g": grain.value}):
            sums[name][day] = total
    return base, dict(sums)


async def slices(db, tenant_id: int, dimension: str) -> set[str]:
    async with tenant_scope(db.session_factory, tenant_id) as session:
        return set((await session.execute(text(
            "SELECT DISTINCT dimension_slice FROM metric_dimensional_time_series WHERE dimension_name = :d"),
            {"d": dimension})).scalars())


@pytest.fixture
async def null_regions(warehouse):
    """acme's warehouse with the region of every `web` row from June 2025 unknown (null)."""
    async with warehouse.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE test_wh.sales SET region = NULL "
                                "WHERE tenant = 'acme' AND channel = 'web' AND day >= '2025-06-01'"))
    return warehouse


@pytest.mark.parametrize("grain", list(Grain))
async def test_sql_rows_of_a_null_dimension_value_are_one_slice_that_completes_the_sum(
        service, null_regions, grain):
    partition = {Grain.DAY: "2025-07-01", Grain.WEEK: "2025-W27", Grain.MONTH: "2025-07"}[grain]
    result = await service.sync(request(partition, grain=grain))
    assert result.success and result.dimensions_failed == {}
    base, sums = await stored_sums(null_regions, result.tenant_id, grain)
    assert base and sums["region"] == pytest.approx(base) and sums["channel"] == pytest.approx(base)
    assert await slices(null_regions, result.tenant_id, "region") == {"eu", "us", "apac", NULL_SLICE}

    region = next(d for d in result.dimensions if d.dimension == "region")
    null_periods = sum(1 for day in base if day + timedelta(days=6 if grain is Grain.WEEK else 0) >= date(2025, 6, 1))
    assert region.null_slice_rows == null_periods > 0
    assert region.rows_dropped_null == 0 and region.rows_inserted == region.rows_fetched
    assert result.null_slice_rows == region.null_slice_rows  # the channel dimension has no null


async def test_a_re_sync_keeps_the_null_slice_unchanged(service, null_regions):
    first = await service.sync(request("2025-07-01"))
    again = await service.sync(request("2025-07-01", force=True))
    before, after = (next(d for d in r.dimensions if d.dimension == "region") for r in (first, again))
    assert (after.window_start, after.window_end) == (before.window_start, before.window_end)
    assert (after.rows_inserted, after.rows_updated, after.rows_deleted) == (0, 0, 0)
    assert after.null_slice_rows == before.null_slice_rows == 31  # June 2025 and July 1st


async def test_dimension_analysis_reports_the_null_slice_and_shares_of_the_whole(service, null_regions):
    result = await service.sync(request("2025-07-01"))
    pattern = get_pattern("dimension_analysis")
    data = await PatternDataOrganiser(null_regions.session_factory).read(
        result.tenant_id, "revenue", Grain.DAY, [DataNeed.DIMENSIONAL_SERIES], date(2025, 6, 1), date(2025, 7, 1),
        dimension_name="region")
    analysis = pattern.analyze(data, date(2025, 7, 2), Grain.DAY)
    assert analysis.error is None
    by_slice = {s.slice: s for s in analysis.slices}
    assert set(by_slice) == {"eu", "us", "apac", NULL_SLICE}
    base, _ = await stored_sums(null_regions, result.tenant_id)
    assert by_slice[NULL_SLICE].current_share_percent == pytest.approx(
        100 * by_slice[NULL_SLICE].current_value / base[date(2025, 7, 1)])
    assert sum(s.current_share_percent for s in analysis.slices) == pytest.approx(100.0)
