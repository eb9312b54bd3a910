"""The SQL source on PostgreSQL and SQLite: the same aggregates, and errors typed by what a retry can fix."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from semsync.catalog.models import DimensionDef, Filter, MetricDef, SqlMetricSource
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain, partition_for_date
from semsync.sources.base import NULL_SLICE
from semsync.sources.sql import SqlSource, build_query

FIRST = date(2025, 6, 1)
ROWS = [
    (str(FIRST + timedelta(days=d)), region, channel, amount)
    for d in range(60)
    for region, channel, amount in (("eu", "web", d + 1.5), ("us", "mobile", 2 * d), ("us", None, 7.0))
]


def metric(value: str = "sum(amount)", filters: list[Filter] | None = None) -> MetricDef:
    return MetricDef(id="revenue", label="Revenue", dimensions=[DimensionDef(id="channel", member="channel")],
                     source=SqlMetricSource(table="sales", value=value, time_column="day", filters=filters or []))


@pytest.fixture
async def engines(db, tmp_path):
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS sales"))
        await conn.execute(text("CREATE TABLE sales (day date, region text, channel text, amount numeric)"))
        await conn.execute(text("GRANT SELECT ON sales TO semsync_app"))
    sqlite = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'warehouse.db'}")
    async with sqlite.begin() as conn:
        await conn.execute(text("CREATE TABLE sales (day text, region text, channel text, amount numeric)"))
    for engine, rows in ((db.admin_engine, [(date.fromisoformat(r[0]), *r[1:]) for r in ROWS]), (sqlite, ROWS)):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO sales VALUES (:d, :r, :c, :a)"),
                               [{"d": d, "r": r, "c": c, "a": a} for d, r, c, a in rows])
    yield {"postgresql": db.database.engine, "sqlite": sqlite}
    await sqlite.dispose()


@pytest.mark.parametrize("grain", list(Grain))
@pytest.mark.parametrize(
    "filters",
    [
        [],
        [Filter(member="amount", operator="gt", values=["10"])],
        [Filter(member="region", operator="equals", values=["us"]),
         Filter(member="channel", operator="notEquals", values=["web"])],
    ],
)
async def test_postgresql_and_sqlite_aggregate_alike(engines, grain, filters):
    results = {}
    for name, engine in engines.items():
        source = SqlSource(engine)
        base = await source.fetch(metric(filters=filters), grain, FIRST, FIRST + timedelta(days=59))
        by_channel = await source.fetch(metric(filters=filters), grain, FIRST, FIRST + timedelta(days=59),
                                        DimensionDef(id="channel", member="channel"))
        # a null slice sorts last in PostgreSQL, first in SQLite: the order of rows is no promise
        results[name] = (base.rows, sorted(by_channel.rows), by_channel.null_slices)
    assert results["postgresql"] == results["sqlite"]
    base_rows = results["postgresql"][0]
    assert base_rows, "the filters leave rows to compare"
    if grain is Grain.WEEK:
        assert all(d.weekday() == 0 for d, _, _ in base_rows)
    if not filters:
        assert base_rows[0][0] == {Grain.DAY: FIRST, Grain.WEEK: date(2025, 5, 26), Grain.MONTH: FIRST}[grain]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
@pytest.mark.parametrize("grain", list(Grain))
async def test_null_dimension_values_are_one_slice_and_the_slices_sum_to_the_base(engines, dialect, grain):
    source, last = SqlSource(engines[dialect]), FIRST + timedelta(days=59)
    base = await source.fetch(metric(), grain, FIRST, last)
    by_channel = await source.fetch(metric(), grain, FIRST, last, DimensionDef(id="channel", member="channel"))
    assert {s for _, s, _ in by_channel.rows} == {"web", "mobile", NULL_SLICE}
    assert by_channel.dropped_nulls == 0 and by_channel.null_slices == len(base.rows)
    assert sorted((d, v) for d, s, v in by_channel.rows if s == NULL_SLICE) == [(d, 7.0 * len(
        [day for day in range(60) if partition_for_date(grain, FIRST + timedelta(days=day)).start == d]))
        for d, _, _ in base.rows]
    totals: dict[date, float] = {}
    for d, _, value in by_channel.rows:
        totals[d] = totals.get(d, 0.0) + value
    assert totals == pytest.approx({d: v for d, _, v in base.rows})


async def test_a_null_value_is_dropped_and_counted(engines):
    async with engines["sqlite"].begin() as conn:
        await conn.execute(text("INSERT INTO sales VALUES ('2025-05-31', 'eu', 'web', NULL)"))
    result = await SqlSource(engines["sqlite"]).fetch(
        metric(), Grain.DAY, FIRST - timedelta(days=1), FIRST, DimensionDef(id="channel", member="channel"))
    assert result.dropped_nulls == 1 and result.null_slices == 1
    assert [s for d, s, _ in result.rows if d == FIRST - timedelta(days=1)] == []


async def test_a_bad_query_is_not_retryable(engines):
    for engine in engines.values():
        with pytest.raises(SourceRequestError, match="no_such_column|no such column"):
            await SqlSource(engine).fetch(metric("sum(no_such_column)"), Grain.DAY, FIRST, FIRST)


async def test_a_statement_timeout_is_retryable(db, engines):
    # the table is locked for as long as the query may wait (a value may not call pg_sleep)
    async with db.admin_engine.connect() as locker, locker.begin():
        await locker.execute(text("LOCK TABLE sales IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(SourceUnavailableError, match="timeout"):
            await SqlSource(engines["postgresql"], statement_timeout_s=0.05).fetch(metric(), Grain.DAY, FIRST, FIRST)


def test_an_unsupported_dialect_is_refused_clearly():
    with pytest.raises(SourceRequestError, match="cannot aggregate per period on 'mssql'"):
        build_query(metric().source, Grain.DAY, FIRST, FIRST, None, "mssql")


async def test_progress_hears_the_query_and_its_rows(engines):
    lines: list[str] = []
    channel = DimensionDef(id="channel", member="channel")
    await SqlSource(engines["sqlite"]).fetch(metric(), Grain.WEEK, FIRST, FIRST + timedelta(days=9), channel,
                                             progress=lines.append)
    assert lines == ["querying revenue per week by channel, 2025-06-01 to 2025-06-10",
                     "9 rows, 3 in the null slice (null)"]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
async def test_rows_come_in_pages_of_at_most_page_rows(engines, dialect):
    channel = DimensionDef(id="channel", member="channel")
    whole = await SqlSource(engines[dialect]).fetch(metric(), Grain.DAY, FIRST, FIRST + timedelta(days=59), channel)
    pages = [page async for page in SqlSource(engines[dialect], page_rows=50).pages(
        metric(), Grain.DAY, FIRST, FIRST + timedelta(days=59), channel)]
    assert [len(page.rows) for page in pages] == [50, 50, 50, 30]
    assert [row for page in pages for row in page.rows] == whole.rows
    assert sum(page.null_slices for page in pages) == whole.null_slices == 60
