"""The demo warehouse: deterministic, read by the app role through the SQL source, with its planted events."""

from __future__ import annotations

from datetime import date, timedelta
from statistics import median

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from devstack.demo import (
    DEMO_CATALOG_PATH,
    EVENTS,
    MOBILE_OVERTAKES_WEB,
    catalog_yaml,
    demo_catalog,
    seed_warehouse,
    write_demo_catalog,
)
from devstack.demo.warehouse import build_records
from semsync.catalog.file import read_catalog_file
from semsync.catalog.models import MetricDef, SqlMetricSource
from semsync.config import get_settings
from semsync.partitions import Grain
from semsync.sources.sql import SqlSource
from starter.cli import app

UNTIL = date(2025, 12, 31)
CHECKSUMS = {
    table: f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM warehouse.{table} t"
    for table in ("daily_facts", "signups")
}
CATALOG = demo_catalog()


def metric(tenant: str, metric_id: str) -> MetricDef:
    return next(t for t in CATALOG.tenants if t.identifier == tenant).metric(metric_id)


async def checksums(engine) -> dict[str, tuple[int, str]]:
    async with engine.connect() as conn:
        return {table: tuple((await conn.execute(text(sql))).one()) for table, sql in CHECKSUMS.items()}


@pytest.fixture(scope="module")
async def warehouse(test_database):
    """The demo warehouse through 2025-12-31, seeded once for the module."""
    counts = await seed_warehouse(test_database.admin_url, until=UNTIL)
    return counts


@pytest.fixture(scope="module")
async def source(test_database, warehouse):
    """The SQL source reading as the app role (not the owner), as the sync does."""
    engine = create_async_engine(test_database.app_url)
    yield SqlSource(engine)
    await engine.dispose()


async def series(source, tenant, metric_id, grain, start, end, dimension=None) -> dict:
    m = metric(tenant, metric_id)
    rows = (await source.fetch(m, Grain(grain), start, end, m.dimension(dimension) if dimension else None)).rows
    return {(day, slice_) if dimension else day: value for day, slice_, value in rows}


async def test_seed_is_deterministic_and_counts_what_it_wrote(test_database, warehouse):
    first = await checksums(test_database.admin_engine)
    assert {f"warehouse.{table}": rows for table, (rows, _) in first.items()} == warehouse
    assert warehouse["warehouse.daily_facts"] == 3 * 36 * (UNTIL - date(2024, 1, 1)).days + 3 * 36
    again = await seed_warehouse(test_database.admin_url, until=UNTIL)
    assert again == warehouse
    assert await checksums(test_database.admin_engine) == first


def test_history_does_not_depend_on_until_but_on_seed():
    short_facts, short_signups = build_records(date(2025, 3, 15), seed=7)
    long_facts, long_signups = build_records(date(2025, 6, 30), seed=7)
    assert sorted(short_facts) == sorted(r for r in long_facts if r[1] <= date(2025, 3, 15))
    assert sorted(short_signups) == sorted(r for r in long_signups if r[2].date() <= date(2025, 3, 15))
    other_facts, _ = build_records(date(2025, 3, 15), seed=8)
    assert other_facts != short_facts


async def test_every_metric_of_every_tenant_reads_as_the_app_role_with_three_sliced_dimensions(source):
    assert len(CATALOG.tenants) >= 3
    for tenant in CATALOG.tenants:
        assert len(tenant.metrics) >= 5
        for m in tenant.metrics:
            assert isinstance(m.source, SqlMetricSource)
            assert [d.id for d in m.dimensions] == ["region", "channel", "product"]
            base = await series(source, tenant.identifier, m.id, "month", date(2025, 12, 1), UNTIL)
            assert list(base) == [date(2025, 12, 1)] and base[date(2025, 12, 1)] > 0, (tenant.identifier, m.id)
            for d in m.dimensions:
                sliced = await series(source, tenant.identifier, m.id, "month", date(2025, 12, 1), UNTIL, d.id)
                assert len(sliced) >= 3, (tenant.identifier, m.id, d.id)


async def test_each_tenant_sees_only_its_own_rows(source):
    values = {t.identifier: await series(source, t.identifier, "orders", "day", date(2025, 7, 1), date(2025, 7, 1))
              for t in CATALOG.tenants}
    assert len({v[date(2025, 7, 1)] for v in values.values()}) == len(values)


def _event(tenant: str):
    return next(e for e in EVENTS if e.tenant == tenant)


async def test_level_shift_acme_revenue_up_a_quarter_from_2025_09_01(source):
    shift = _event("acme")
    assert (shift.start, shift.factor) == (date(2025, 9, 1), 1.25)
    month = await series(source, "acme", "revenue", "month", date(2024, 6, 1), date(2025, 11, 30))
    # Year over year removes trend and yearly seasonality: the shift is what changes between summer and autumn.
    yoy_before = sum(month[date(2025, m, 1)] for m in (6, 7, 8)) / sum(month[date(2024, m, 1)] for m in (6, 7, 8))
    yoy_after = sum(month[date(2025, m, 1)] for m in (9, 10, 11)) / sum(month[date(2024, m, 1)] for m in (9, 10, 11))
    assert yoy_after / yoy_before == pytest.approx(1.25, abs=0.04)
    visits = await series(source, "acme", "visits", "month", date(2024, 6, 1), date(2025, 11, 30))
    v_before = sum(visits[date(2025, m, 1)] for m in (6, 7, 8)) / sum(visits[date(2024, m, 1)] for m in (6, 7, 8))
    v_after = sum(visits[date(2025, m, 1)] for m in (9, 10, 11)) / sum(visits[date(2024, m, 1)] for m in (9, 10, 11))
    assert v_after / v_before == pytest.approx(1.0, abs=0.04)


async def test_level_shift_initech_visits_down_from_2025_10_01(source):
    shift = _event("initech")
    assert shift.start == date(2025, 10, 1)
    week = await series(source, "initech", "visits", "week", date(2025, 8, 4), date(2025, 11, 30))
    before = [v for d, v in week.items() if d < date(2025, 9, 29)][-6:]
    after = [v for d, v in week.items() if d >= date(2025, 10, 6)][:6]
    assert sum(after) / sum(before) == pytest.approx(0.85, abs=0.05)


async def test_spike_globex_orders_three_times_on_2025_11_28(source):
    spike = _event("globex")
    assert spike.start == spike.end == date(2025, 11, 28)
    around = date(2025, 11, 28)
    window = (around - timedelta(days=21), around + timedelta(days=21))
    same_weekday = [around + timedelta(days=7 * k) for k in (-3, -2, -1, 1, 2, 3)]
    orders = await series(source, "globex", "orders", "day", *window)
    assert orders[around] / median(orders[d] for d in same_weekday) == pytest.approx(3.0, rel=0.15)
    assert orders[around] == max(orders.values())
    visits = await series(source, "globex", "visits", "day", *window)
    assert visits[around] / median(visits[d] for d in same_weekday) == pytest.approx(1.0, abs=0.15)


async def test_mobile_overtakes_web_for_acme_during_2025(source):
    assert MOBILE_OVERTAKES_WEB == date(2025, 6, 1)
    for metric_id in ("visits", "revenue"):
        by_channel = await series(source, "acme", metric_id, "month", date(2024, 1, 1), UNTIL, "channel")
        months = sorted({d for d, _ in by_channel})
        leader = {d: "mobile" if by_channel[d, "mobile"] > by_channel[d, "web"] else "web" for d in months}
        assert {leader[d] for d in months if d <= date(2025, 4, 1)} == {"web"}, metric_id
        assert {leader[d] for d in months if d >= date(2025, 8, 1)} == {"mobile"}, metric_id


def _on_track(value: float, target: float) -> bool:
    return value >= target * 0.95


async def test_initech_misses_its_revenue_and_orders_targets_in_the_last_month_others_meet_theirs(source):
    december = date(2025, 12, 1)
    last_week = date(2025, 12, 22)
    status = {}
    for tenant in CATALOG.tenants:
        revenue_target = {t.target_date: t.target_value for t in metric(tenant.identifier, "revenue").targets
                          if t.grain == "month"}
        orders_target = {t.target_date: t.target_value for t in metric(tenant.identifier, "orders").targets
                         if t.grain == "week"}
        revenue = await series(source, tenant.identifier, "revenue", "month", december, UNTIL)
        orders = await series(source, tenant.identifier, "orders", "week", last_week, last_week + timedelta(days=6))
        status[tenant.identifier, "revenue"] = _on_track(revenue[december], revenue_target[december])
        status[tenant.identifier, "orders"] = _on_track(orders[last_week], orders_target[last_week])
    assert {key for key, on_track in status.items() if not on_track} == {("initech", "revenue"), ("initech", "orders")}
    # ... and initech met them before the planted decline.
    summer = await series(source, "initech", "revenue", "month", date(2025, 6, 1), date(2025, 8, 31))
    targets = {t.target_date: t.target_value for t in metric("initech", "revenue").targets}
    assert all(_on_track(v, targets[d]) for d, v in summer.items())


def test_demo_catalog_round_trips_through_its_yaml(tmp_path):
    path = write_demo_catalog(tmp_path / "catalog.yaml")
    assert read_catalog_file(path) == CATALOG
    assert any(m.patterns for t in CATALOG.tenants for m in t.metrics)
    grains = {t.grain for tenant in CATALOG.tenants for m in tenant.metrics for t in m.targets}
    assert grains == {"day", "week", "month"}


def test_committed_demo_catalog_is_up_to_date():
    assert DEMO_CATALOG_PATH.read_text(encoding="utf-8") == catalog_yaml(CATALOG), (
        "semsync/demo_catalog.yaml is stale: run `python -m starter demo catalog`"
    )


def test_cli_writes_the_catalog(tmp_path):
    result = CliRunner().invoke(app, ["demo", "catalog", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    assert read_catalog_file(tmp_path / "c.yaml") == CATALOG


def test_cli_seeds_the_warehouse_of_the_configured_database(test_database, warehouse, monkeypatch):
    monkeypatch.setenv("SEMSYNC_DATABASE__ADMIN_URL", test_database.admin_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "seed", "--until", UNTIL.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"warehouse.daily_facts: {warehouse['warehouse.daily_facts']:,} rows" in result.output
