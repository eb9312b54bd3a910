"""Benchmark: rows fetched from the source ÷ distinct rows stored, for a backfill of 180 days.

On a fresh embedded PostgreSQL with the demo warehouse and catalog: one context (acme::revenue, its
base series and 3 dimensions) gets its first FULL sync for the first daily partition, 2025-07-01;
then the next 180 daily partitions are synced one call each, the way a backfill's children call the
service. `fetched` counts every row the source returned to those 180 calls, `stored` the distinct
rows of those 180 days in the tables. The original design re-fetched a 90-day window per partition
(~90×).

For contrast it also prints the daily schedule's case, where each partition is synced the day after
it ends: then nothing in the last 90 days has settled and each call re-reads them, by design, to
pick up the semantic layer's restatements.
Last line: `fetch_efficiency: fetched=… stored=… ratio=…` (the backfill).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog, seed_warehouse  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.db.session import Database, tenant_scope  # noqa: E402
from semsync.partitions import Grain  # noqa: E402
from semsync.sources.base import MetricSource, SourcePage  # noqa: E402
from semsync.sources.sql import SqlSource  # noqa: E402
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService  # noqa: E402

FIRST = date(2025, 7, 1)
PARTITIONS = 180


class CountingSource(MetricSource):
    def __init__(self, inner: MetricSource) -> None:
        self.inner, self.fetched = inner, 0

    async def pages(self, metric, grain, start, end, dimension=None, *, progress=None) -> AsyncIterator[SourcePage]:
        async with aclosing(self.inner.pages(metric, grain, start, end, dimension, progress=progress)) as pages:
            async for page in pages:
                self.fetched += len(page.rows) + page.dropped_nulls
                yield page

    async def source_for(self, tenant) -> MetricSource:
        return self


async def sync_days(server: PostgresServer, name: str, clock_for) -> dict[str, int]:
    """On a fresh database: FULL sync of FIRST, then PARTITIONS daily syncs with the clock `clock_for(day)`;
    counts the rows fetched by the daily syncs and the distinct rows stored for their days."""
    scratch = await create_scratch_database(server, name)
    await seed_warehouse(scratch.admin_url, until=FIRST + timedelta(days=PARTITIONS + 30))
    db = Database.connect(scratch.app_url)
    catalog_db = Database.connect(scratch.catalog_url, pool_size=1)
    await write_catalog(catalog_db.session_factory, demo_catalog())
    await catalog_db.dispose()
    source = CountingSource(SqlSource(db.engine))
    now = {"at": clock_for(FIRST)}
    service = SemanticSyncService(db.session_factory, source, clock=lambda: now["at"])

    def request(day: date) -> SemanticSyncRequest:
        return SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                   start_partition=day.isoformat())

    full = await service.sync(request(FIRST))
    source.fetched = 0
    last = FIRST + timedelta(days=PARTITIONS)
    for i in range(1, PARTITIONS + 1):
        day = FIRST + timedelta(days=i)
        now["at"] = clock_for(day)
        response = await service.sync(request(day))
        assert response.success and not response.dimensions_failed, response
    stored = 0
    async with tenant_scope(db.session_factory, full.tenant_id) as session:
        for table in ("metric_time_series", "metric_dimensional_time_series"):
            stored += await session.scalar(
                text(f"SELECT count(*) FROM {table} WHERE date > :first AND date <= :last"),
                {"first": FIRST, "last": last},
            )
    await db.dispose()
    return {"fetched": source.fetched, "stored": stored}


async def run(server: PostgresServer) -> dict[str, int]:
    began = time.perf_counter()
    backfill = await sync_days(server, "bench_backfill", lambda day: datetime.now(UTC))  # past days, synced today
    elapsed = time.perf_counter() - began
    # the daily schedule: each partition synced at 10:00 the day after it ends
    schedule = await sync_days(server, "bench_schedule",
                               lambda day: datetime.combine(day + timedelta(days=1), dt_time(10), UTC))
    print(f"daily schedule (each day synced the day after): fetched={schedule['fetched']} "
          f"stored={schedule['stored']} ratio={schedule['fetched'] / schedule['stored']:.1f} "
          "(the last 90 days are re-read for restatements)")
    print(f"backfill of {PARTITIONS} past days: {elapsed:.1f}s including seeding and the first FULL sync")
    return backfill


def main() -> None:
    with temporary_postgres() as server:
        result = asyncio.run(run(server))
    ratio = result["fetched"] / result["stored"]
    print(f"fetch_efficiency: fetched={result['fetched']} stored={result['stored']} ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
