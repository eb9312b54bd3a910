"""The data organiser and the result store against the real PostgreSQL, with row-level security."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, insert, select

from semsync.db.models import MetricDimensionalTimeSeries, MetricTarget, MetricTimeSeries, PatternResult
from semsync.patterns import DataNeed, get_pattern, pattern_names, run_pattern
from semsync.patterns.data import PatternDataOrganiser
from semsync.patterns.store import load_results, store_results

FIRST = date(2024, 6, 1)
DAYS = 420


async def seed(db, tenant_id: int, offset: float = 0.0) -> None:
    rng = np.random.default_rng(tenant_id)
    days = [FIRST + timedelta(days=i) for i in range(DAYS)]
    values = 100 + offset + 0.1 * np.arange(DAYS) + rng.normal(0, 3, DAYS)
    common = {"tenant_id": tenant_id, "metric_id": "revenue", "grain": "day"}
    async with db.admin_engine.begin() as conn:
        await conn.execute(insert(MetricTimeSeries), [
            {**common, "date": d, "value": float(v)} for d, v in zip(days, values, strict=True)])
        await conn.execute(insert(MetricTarget), [
            {**common, "target_date": FIRST + timedelta(days=i), "target_value": 130.0 + offset}
            for i in range(DAYS + 200)])
        await conn.execute(insert(MetricDimensionalTimeSeries), [
            {**common, "date": d, "dimension_name": dim, "dimension_slice": s, "value": float(v * w)}
            for d, v in zip(days, values, strict=True)
            for dim, s, w in (("region", "eu", 0.4), ("region", "us", 0.6), ("plan", "pro", 1.0))])


async def test_organiser_reads_what_a_pattern_needs_in_the_tenants_scope(db):
    acme, other = await db.create_tenant("acme"), await db.create_tenant("other")
    await seed(db, acme)
    await seed(db, other, offset=1000.0)
    organiser = PatternDataOrganiser(db.session_factory)
    analysis = date(2025, 7, 2)

    status = await organiser.read_for(get_pattern("performance_status"), acme, "revenue", "day", [analysis])
    assert list(status.series.columns) == ["date", "value"] and len(status.series) == 180
    assert status.series["date"].iloc[-1] == date(2025, 7, 1) and status.series["value"].max() < 500
    assert len(status.targets) == 180 and status.dimensional is None

    forecast = await organiser.read_for(get_pattern("forecasting"), acme, "revenue", "day", [analysis])
    assert forecast.targets["date"].iloc[-1] == date(2025, 12, 31)  # future targets to the year's end

    dims = await organiser.read_for(get_pattern("dimension_analysis"), acme, "revenue", "day", [analysis])
    assert dims.series is None and dims.dimension_names() == ["plan", "region"]
    region = await organiser.read(acme, "revenue", "day", {DataNeed.DIMENSIONAL_SERIES}, date(2025, 6, 1),
                                  date(2025, 6, 30), dimension_name="region")
    assert len(region.dimensional) == 60 and region.dimension_name == "region"

    nothing = await organiser.read(acme, "unknown", "day", {DataNeed.SERIES}, FIRST, analysis)
    assert nothing.series.empty


async def test_reading_once_for_many_dates_equals_reading_per_date(db):
    acme = await db.create_tenant("acme")
    await seed(db, acme)
    organiser = PatternDataOrganiser(db.session_factory)
    dates = [date(2025, 6, 1) + timedelta(days=i) for i in range(0, 40, 9)]
    patterns = [(get_pattern(name), None) for name in pattern_names()]
    once = await organiser.read_for_patterns(patterns, acme, "revenue", "day", dates)
    for pattern, _ in patterns:
        many = run_pattern(pattern, once, dates, "day")
        alone = []
        for d in dates:
            alone += run_pattern(pattern, await organiser.read_for(pattern, acme, "revenue", "day", [d]), [d], "day")
        def dumped(results):
            ordered = sorted(results, key=lambda r: (r.dimension_name or "", r.analysis_date))
            return [r.model_dump(exclude={"evaluation_time"}) for r in ordered]

        assert dumped(many) == dumped(alone)


async def test_store_upserts_and_a_rerun_replaces(db):
    acme, other = await db.create_tenant("acme"), await db.create_tenant("other")
    await seed(db, acme)
    organiser = PatternDataOrganiser(db.session_factory)
    dates = [date(2025, 6, 1) + timedelta(days=i) for i in range(10)]
    status, dims = get_pattern("performance_status"), get_pattern("dimension_analysis")
    data = await organiser.read_for_patterns([(status, None), (dims, None)], acme, "revenue", "day", dates)
    results = status.analyze_many(data, dates, "day") + run_pattern(dims, data, dates, "day")
    assert await store_results(db.session_factory, acme, results) == 30

    rerun = status.analyze_many(data, dates, "day", {"threshold_ratio": 0.5}) + run_pattern(dims, data, dates, "day")
    assert await store_results(db.session_factory, acme, rerun + rerun[:3]) == 30  # duplicates in a call: last wins

    async with db.admin_engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(PatternResult))
        keys = await conn.execute(select(PatternResult.pattern, PatternResult.dimension_name, func.count())
                                  .group_by(PatternResult.pattern, PatternResult.dimension_name)
                                  .order_by(PatternResult.pattern, PatternResult.dimension_name))
        updated = await conn.scalar(select(func.count()).where(PatternResult.updated_at > PatternResult.created_at))
    assert count == 30
    assert keys.all() == [("dimension_analysis", "plan", 10), ("dimension_analysis", "region", 10),
                          ("performance_status", None, 10)]
    assert updated == 10  # the statuses changed; the dimension results are the same and were not rewritten
    kept = await load_results(db.session_factory, acme, "revenue", "dimension_analysis", "day", dates[0], dates[0])
    assert {r["evaluation_time"] for r in kept} == {
        r.model_dump(mode="json")["evaluation_time"] for r in results if r.pattern == "dimension_analysis"
        and r.analysis_date == dates[0]}

    stored = await load_results(db.session_factory, acme, "revenue", "performance_status", "day",
                                dates[0], dates[-1])
    assert [r["analysis_date"] for r in stored] == [d.isoformat() for d in dates]
    assert stored == [r.model_dump(mode="json") for r in rerun[:10]]
    assert all(r["status"] == "on_track" for r in stored)  # the re-run's settings won
    assert await load_results(db.session_factory, other, "revenue", "performance_status", "day",
                              dates[0], dates[-1]) == []


async def test_error_results_are_stored_with_their_error(db):
    acme = await db.create_tenant("acme")
    organiser = PatternDataOrganiser(db.session_factory)
    pattern = get_pattern("historical_performance")
    data = await organiser.read_for(pattern, acme, "revenue", "day", [date(2025, 7, 2)])
    result = pattern.analyze(data, date(2025, 7, 2), "day")
    await store_results(db.session_factory, acme, [result])
    async with db.admin_engine.connect() as conn:
        row = (await conn.execute(select(PatternResult.error, PatternResult.analysis_window))).one()
    assert row.error["type"] == "missing_latest_value"
    assert row.analysis_window == {"start": "2024-05-28", "end": "2025-07-01", "grain": "day"}
