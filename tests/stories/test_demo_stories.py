"""The demo warehouse's planted events, told: synced, analysed and told over the second half of
2025 through the services the workflows call, on the embedded PostgreSQL.

- acme revenue, +25 % price increase from 2025-09-01: a `level_shift_up` dated within 3 days of it,
  new on an analysis date in September;
- globex orders, ×3 flash sale on 2025-11-28: on 2025-11-29 one story with several facts, a
  `record_high` (the highest in 400 days) with the `spike` and the comparisons with earlier days
  under it;
- initech visits, −15 % from 2025-10-01 (a lost reseller): a `level_shift_down` dated within 3 days
  of it, new in October; its revenue and orders, planned without it, run off track: `off_track`
  for October at the month grain (revenue) and from October's first weeks on (orders), and
  `likely_off_track_quarter` and `_year` at the month grain in Q4;
- a quiet stretch (acme revenue before its price increase) tells few high-salience stories.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack.demo import demo_catalog, seed_warehouse
from semsync.catalog.models import Catalog
from semsync.catalog.store import write_catalog
from semsync.contracts import PatternBatchRequest, StoryRunRequest
from semsync.patterns.runs import PatternRunService
from semsync.sources.sql import SqlSource
from semsync.stories.runs import StoryRunService
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService

SPANS = {"day": ("2025-07-01", "2025-12-31"), "week": ("2025-W27", "2025-W52"), "month": ("2025-07", "2025-12")}
CONTEXTS = [("acme", "revenue", ("day",)), ("globex", "orders", ("day",)), ("initech", "visits", ("day",)),
            ("initech", "revenue", ("day", "month")), ("initech", "orders", ("day", "week"))]
HIGH = 0.7


class OneSource:
    def __init__(self, source: SqlSource) -> None:
        self.source = source

    async def source_for(self, tenant):
        return self.source


@pytest.fixture(scope="module")
async def told(test_database):
    """Every context above synced, analysed and told; returns the story service and the tenants' ids."""
    await test_database.truncate()
    await seed_warehouse(test_database.admin_url, until=date(2025, 12, 31))
    await write_catalog(test_database.catalog_session_factory, Catalog(tenants=demo_catalog().tenants))
    engine = create_async_engine(test_database.app_url)
    sync = SemanticSyncService(test_database.session_factory, OneSource(SqlSource(engine)))
    patterns = PatternRunService(test_database.session_factory)
    stories = StoryRunService(test_database.session_factory)
    for tenant, metric, grains in CONTEXTS:
        for grain in grains:
            first, last = SPANS[grain]
            span = {"tenant": tenant, "metric_id": metric, "grain": grain, "start_partition": first,
                    "end_partition": last}
            assert (await sync.sync(SemanticSyncRequest(**span))).success
            outcomes = (await patterns.run_batch(PatternBatchRequest(**span))).outcomes
            assert all(o.succeeded for o in outcomes), outcomes
            await stories.run(StoryRunRequest(**span))
    yield stories
    await engine.dispose()


async def stories_of(test_database, tenant: str, metric: str, grain: str = "day", where: str = "true") -> list:
    async with test_database.admin_engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT s.story_date, s.story_type, s.status, s.salience, s.variables, s.title, s.also, s.grouped_under, "
            "s.polarity FROM stories s JOIN tenants t ON t.id = s.tenant_id "
            f"WHERE t.identifier = :t AND s.metric_id = :m AND s.grain = :g AND {where} ORDER BY s.story_date"),
            {"t": tenant, "m": metric, "g": grain})).all())


def shift_dates(rows, story_type: str) -> list[tuple[date, date]]:
    """(story date, the change's date) of each new story of `story_type`."""
    return [(r.story_date, date.fromisoformat(r.variables["date"])) for r in rows
            if r.story_type == story_type and r.status == "new"]


async def test_acme_revenue_price_increase_is_told_as_a_level_shift_up(told, test_database):
    found = shift_dates(await stories_of(test_database, "acme", "revenue"), "level_shift_up")
    near = [(told_on, on) for told_on, on in found if abs((on - date(2025, 9, 1)).days) <= 3]
    assert near and date(2025, 9, 2) <= near[0][0] <= date(2025, 9, 30), found


async def test_globex_flash_sale_is_one_story_with_several_facts(told, test_database):
    rows = await stories_of(test_database, "globex", "orders", where="s.story_date = '2025-11-29'")
    record = next(r for r in rows if r.story_type == "record_high")
    spike = next(r for r in rows if r.story_type == "spike")
    assert record.grouped_under is None and spike.grouped_under == "record_high"
    assert record.title == "Orders hit a record high of 3.9K on 28 Nov 2025, the highest in 400 days"
    # one unusual day makes a record, a spike and every comparison with an earlier day: one story
    assert record.also[0] == spike.title and spike.title.startswith("Orders spiked to 3.9K on 28 Nov 2025")
    assert any(fact.endswith("on a year ago") for fact in record.also)
    assert {r.grouped_under for r in rows if r.story_type.startswith(("benchmark_", "yoy_"))} == {"record_high"}
    assert record.salience >= HIGH and record.polarity == "good"


async def test_initech_lost_reseller_is_told_as_a_level_shift_down(told, test_database):
    found = shift_dates(await stories_of(test_database, "initech", "visits"), "level_shift_down")
    near = [(told_on, on) for told_on, on in found if abs((on - date(2025, 10, 1)).days) <= 3]
    assert near and date(2025, 10, 2) <= near[0][0] <= date(2025, 10, 31), found
    polarity = {r.polarity for r in await stories_of(test_database, "initech", "visits")
                if r.story_type == "level_shift_down" and r.status != "resolved"}
    assert polarity == {"bad"}


async def test_initech_revenue_and_orders_run_off_track_after_it(told, test_database):
    month = await stories_of(test_database, "initech", "revenue", "month", "s.story_type = 'off_track'")
    assert date(2025, 11, 1) in [r.story_date for r in month]  # October, told on its analysis date
    # weekly orders: off track from October's first weeks, and still on 3 Nov (no resolved row before)
    weeks = await stories_of(test_database, "initech", "orders", "week", "s.story_type = 'off_track'")
    began = [r.story_date for r in weeks if r.status == "new" and date(2025, 10, 6) <= r.story_date
             <= date(2025, 10, 20)]
    assert began and not [r for r in weeks if r.status == "resolved" and began[0] < r.story_date
                          <= date(2025, 11, 3)], weeks
    # the monthly forecast of the quarter's and the year's totals against the monthly targets
    likely = await stories_of(test_database, "initech", "revenue", "month",
                              "s.story_type IN ('likely_off_track_quarter', 'likely_off_track_year')")
    assert [r for r in likely if r.status == "new" and date(2025, 10, 2) <= r.story_date <= date(2025, 12, 1)]


async def test_a_quiet_stretch_tells_few_high_salience_stories(told, test_database):
    # acme revenue from July to the end of August: no planted event
    rows = await stories_of(test_database, "acme", "revenue",
                            where="s.story_date BETWEEN '2025-07-02' AND '2025-08-31' AND s.status = 'new' "
                                  "AND s.grouped_under IS NULL")
    high = [r.title for r in rows if r.salience >= HIGH]
    assert len(high) <= 2, high


async def test_a_rerun_of_the_whole_span_or_one_date_changes_no_row(told, test_database):
    async def snapshot():
        async with test_database.admin_engine.connect() as conn:
            return (await conn.execute(text(
                "SELECT count(*), md5(string_agg(s::text, '|' ORDER BY id)), max(updated_at) FROM stories s"))).one()

    before = await snapshot()
    again = await told.run(StoryRunRequest(tenant="globex", metric_id="orders", grain="day",
                                           start_partition="2025-07-01", end_partition="2025-12-31"))
    one = await told.run(StoryRunRequest(tenant="globex", metric_id="orders", grain="day",
                                         start_partition="2025-11-28"))
    assert (again.written, again.deleted, one.written, one.deleted) == (0, 0, 0, 0)
    assert again.stories > 0 and one.stories > 0
    assert await snapshot() == before
