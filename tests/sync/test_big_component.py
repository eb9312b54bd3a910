"""A component too big for memory: its rows stream page by page into the staging COPY, so a sync
holds one page whatever the component's size; a component past the row cap fails, non-retryable,
with nothing written; a stream that breaks mid-way leaves the stored window as it was."""

from __future__ import annotations

import asyncio
import tracemalloc
import weakref
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sync_helpers import FixedSources, table_checksum
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.sync import SyncActivities
from semsync.catalog.models import Catalog, DimensionDef, MetricDef, SqlConnection, SqlMetricSource, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import SemanticLayerSettings
from semsync.contracts import SemanticSyncRequest, SyncComponentInput, SyncStatus
from semsync.errors import ComponentTooLargeError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import MetricSource, SourcePage
from semsync.sources.registry import SourceRegistry
from semsync.sources.sql import SqlSource
from semsync.sync.service import SemanticSyncService

#: the FULL window of the day partition 2025-07-01
FIRST, LAST = date(2024, 7, 1), date(2025, 7, 1)
DAYS = (LAST - FIRST).days + 1  # 366
PAGES = 300  # slices of the `page` dimension
ROWS = DAYS * PAGES  # 109,800 rows of one dimension: 11 pages of the SQL source
DIMENSIONAL = "metric_dimensional_time_series"


def visits_catalog() -> Catalog:
    metric = MetricDef(id="visits", label="Visits",
                       source=SqlMetricSource(table="big_wh.visits", value="sum(views)", time_column="day"),
                       dimensions=[DimensionDef(id="page", member="page")])
    return Catalog(tenants=[TenantDef(identifier="acme", name="Acme", semantic_layer=SqlConnection(),
                                      metrics=[metric])])


@pytest.fixture
async def registry(db) -> AsyncIterator[SourceRegistry]:
    """`big_wh.visits`: one row a day for each of PAGES pages, read through the confined SQL source
    (read-only, only `big_wh` on the search path) as the worker's registry builds it."""
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS big_wh CASCADE"))
        await conn.execute(text("CREATE SCHEMA big_wh"))
        await conn.execute(text("CREATE TABLE big_wh.visits (day date, page text, views numeric)"))
        await conn.execute(text(f"""
            INSERT INTO big_wh.visits
            SELECT d::date, 'page-' || p, p * 1000 + extract(doy FROM d)
            FROM generate_series(DATE '{FIRST}', DATE '{LAST}', INTERVAL '1 day') d,
                 generate_series(1, {PAGES}) p"""))
        await conn.execute(text("GRANT USAGE ON SCHEMA big_wh TO semsync_app"))
        await conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA big_wh TO semsync_app"))
    await write_catalog(db.catalog_session_factory, visits_catalog())
    registry = SourceRegistry(db.database.engine, settings=SemanticLayerSettings(warehouse_schemas="big_wh"))
    yield registry
    await registry.aclose()


async def component(service: SemanticSyncService, dimension: str | None = "page") -> SyncComponentInput:
    plan = await service.plan(SemanticSyncRequest(tenant="acme", metric_id="visits", grain=Grain.DAY,
                                                  start_partition="2025-07-01", force_full_sync=True))
    chosen = next(c for c in plan.components if c.dimension == dimension)
    assert (chosen.start, chosen.end) == (FIRST, LAST)
    return SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id, plan=chosen)


async def test_a_big_component_syncs_in_the_memory_of_a_few_pages(db, registry):
    """Through the real SQL source and write path, the sync's Python allocations peak at a few pages'
    worth (5.2 MB here); holding the component's 109,800 rows (as result rows, then as tuples) took
    36.6 MB."""
    service = SemanticSyncService(db.session_factory, registry)
    work = await component(service)
    tracemalloc.start()
    try:
        result = await service.sync_component(work)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is SyncStatus.SUCCESS
    assert (result.rows_fetched, result.rows_inserted) == (ROWS, ROWS)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB of Python allocations"


class CountedPages(MetricSource):
    """`pages` pages of one slice each, made when asked for; counts how many are alive at once."""

    def __init__(self, pages: int) -> None:
        self.pages_made, self.alive, self.most_alive, self.count = 0, 0, 0, pages

    def _released(self) -> None:
        self.alive -= 1

    async def pages(self, metric, grain, start, end, dimension=None, *, progress=None) -> AsyncIterator[SourcePage]:
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        for n in range(self.count):
            page = SourcePage(rows=[(day, f"slice-{n}", float(i)) for i, day in enumerate(days)])
            self.pages_made += 1
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
            weakref.finalize(page, self._released)
            yield page
            del page


async def test_the_sync_lets_each_page_go_before_it_takes_the_next(db, registry):
    source = CountedPages(pages=40)
    service = SemanticSyncService(db.session_factory, FixedSources(source))
    result = await service.sync_component(await component(service))
    assert source.pages_made == 40 and result.rows_inserted == 40 * DAYS
    # the page being written and the one being made: never the component
    assert source.most_alive <= 2, source.most_alive


@pytest.mark.parametrize(("dimension", "cap", "named"),
                         [("page", 25_000, "dimension 'page'"), (None, DAYS - 1, "base series")])
async def test_a_component_past_the_row_cap_fails_non_retryable_and_writes_nothing(db, registry, dimension, cap,
                                                                                   named):
    generous = SemanticSyncService(db.session_factory, registry)
    assert (await generous.sync_component(await component(generous, dimension))).rows_inserted
    async with db.admin_engine.begin() as conn:  # the warehouse restates every value
        await conn.execute(text("UPDATE big_wh.visits SET views = views + 1"))
    table = DIMENSIONAL if dimension else "metric_time_series"
    before = await table_checksum(db, table)

    capped = SemanticSyncService(db.session_factory, registry, max_rows_per_component=cap)
    work = await component(capped, dimension)
    with pytest.raises(ComponentTooLargeError) as caught:
        await capped.sync_component(work)
    assert caught.value.retryable is False
    message = str(caught.value)
    assert f"metric 'visits', {named}: the source returned more than {cap:,} rows" in message
    assert "SEMSYNC_SEMANTIC_LAYER__MAX_ROWS_PER_COMPONENT" in message and "nothing was written" in message
    with pytest.raises(ApplicationError) as raised:  # as the worker's activity reports it to Temporal
        await ActivityEnvironment().run(SyncActivities(capped).sync_component, work)
    assert raised.value.type == "ComponentTooLargeError" and raised.value.non_retryable
    assert await table_checksum(db, table) == before


async def test_a_component_of_exactly_the_cap_syncs(db, registry):
    service = SemanticSyncService(db.session_factory, registry, max_rows_per_component=DAYS)
    assert (await service.sync_component(await component(service, None))).rows_inserted == DAYS


class FailingOnPage(MetricSource):
    """The inner source's pages, until page `fail_at` fails as a lost connection would."""

    def __init__(self, inner: MetricSource, fail_at: int) -> None:
        self.inner, self.fail_at, self.yielded = inner, fail_at, 0

    async def pages(self, metric, grain, start, end, dimension=None, *, progress=None) -> AsyncIterator[SourcePage]:
        async with aclosing(self.inner.pages(metric, grain, start, end, dimension)) as pages:
            async for page in pages:
                if self.yielded + 1 == self.fail_at:
                    raise SourceUnavailableError(f"connection lost on page {self.fail_at}")
                self.yielded += 1
                yield page


async def test_a_stream_failing_on_page_3_leaves_the_stored_window_as_it_was(db, registry):
    # the base series (366 rows) in pages of 100, through the confined SQL source
    real = SqlSource(db.database.engine, schemas=("big_wh",), page_rows=100)
    breaking = FailingOnPage(real, fail_at=3)
    service = SemanticSyncService(db.session_factory, FixedSources(breaking))
    work = await component(service, None)

    # a first sync (an empty window): nothing of pages 1 and 2 stays
    with pytest.raises(SourceUnavailableError, match="page 3"):
        await service.sync_component(work)
    assert breaking.yielded == 2
    async with db.admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM metric_time_series")) == 0

    service.sources = FixedSources(real)
    assert (await service.sync_component(work)).rows_inserted == DAYS
    async with db.admin_engine.begin() as conn:  # every value restated
        await conn.execute(text("UPDATE big_wh.visits SET views = views * 2"))
    before = await table_checksum(db, "metric_time_series")

    # a resync: the stored window keeps its old values, none of pages 1 and 2's new ones
    service.sources = FixedSources(FailingOnPage(real, fail_at=3))
    with pytest.raises(SourceUnavailableError, match="page 3"):
        await service.sync_component(work)
    assert await table_checksum(db, "metric_time_series") == before

    # the retry writes the whole window, and once only: the same sync again changes nothing
    service.sources = FixedSources(real)
    retried = await service.sync_component(work)
    assert (retried.rows_updated, retried.rows_unchanged) == (DAYS, 0)
    again = await service.sync_component(work)
    assert (again.rows_updated, again.rows_inserted, again.rows_unchanged) == (0, 0, DAYS)


async def test_no_write_transaction_waits_idle_on_a_slow_first_page(db, registry):
    """The component's transaction opens once the first page is in hand: a semantic layer that takes
    minutes to answer (Cube's "Continue wait") holds no transaction idle meanwhile."""
    release = asyncio.Event()

    class Slow(MetricSource):
        async def pages(self, metric, grain, start, end, dimension=None, *, progress=None):
            await release.wait()
            yield SourcePage(rows=[(start, None, 1.0)])

    service = SemanticSyncService(db.session_factory, FixedSources(Slow()))
    syncing = asyncio.create_task(service.sync_component(await component(service, None)))
    await asyncio.sleep(0.3)
    superuser = create_async_engine(make_url(db.superuser_url).set(drivername="postgresql+asyncpg"),
                                    poolclass=NullPool)
    try:
        async with superuser.connect() as conn:
            idle = await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND state LIKE 'idle in transaction%'"),
                {"name": db.name})
    finally:
        release.set()
        await superuser.dispose()
    assert (await syncing).rows_inserted == 1
    assert idle == 0
