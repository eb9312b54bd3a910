"""Benchmark: rows fetched from the source ÷ distinct rows stored, for a backfill of 180 days.

On a fresh embedded PostgreSQL with the demo warehouse and catalog: one context (acme::revenue, its
base series and 3 dimensions) gets its first FULL sync for 2025-01-01, then 180 consecutive daily
partitions are synced one call each, the way a backfill's children call the service. Every row the
source returns is counted. The original design re-fetched a 90-day window per partition (~90×).
Last line: `fetch_efficiency: fetched=… stored=… ratio=…`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.db.session import Database  # noqa: E402
from semsync.demo import demo_catalog, seed_warehouse  # noqa: E402
from semsync.devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from semsync.partitions import Grain  # noqa: E402
from semsync.sources.base import FetchResult, MetricSource  # noqa: E402
from semsync.sources.sql import SqlSource  # noqa: E402
from semsync.sync import SemanticSyncRequest, SemanticSyncService  # noqa: E402

FIRST = date(2025, 1, 1)
PARTITIONS = 180


class CountingSource(MetricSource):
    def __init__(self, inner: MetricSource) -> None:
        self.inner, self.fetched = inner, 0

    async def fetch(self, metric, grain, start, end, dimension=None) -> FetchResult:
        result = await self.inner.fetch(metric, grain, start, end, dimension)
        self.fetched += len(result.rows) + result.dropped_nulls
        return result

    async def source_for(self, tenant) -> MetricSource:
        return self


async def run(server: PostgresServer) -> dict[str, float]:
    scratch = await create_scratch_database(server, "bench_fetch_efficiency")
    await seed_warehouse(scratch.admin_url, until=FIRST + timedelta(days=PARTITIONS + 30))
    db = Database.connect(scratch.app_url)
    await write_catalog(db.session_factory, demo_catalog())
    source = CountingSource(SqlSource(db.engine))
    service = SemanticSyncService(db.session_factory, source)

    def request(day: date) -> SemanticSyncRequest:
        return SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                   start_partition=day.isoformat())

    full = await service.sync(request(FIRST))
    full_fetched = source.fetched
    began = time.perf_counter()
    for i in range(1, PARTITIONS + 1):
        response = await service.sync(request(FIRST + timedelta(days=i)))
        assert response.success and not response.dimensions_failed, response
    elapsed = time.perf_counter() - began
    async with db.session_factory() as session:
        stored = 0
        for table in ("metric_time_series", "metric_dimensional_time_series"):
            await session.execute(text("SELECT set_config('app.current_tenant', :t, true)"),
                                  {"t": str(full.tenant_id)})
            stored += await session.scalar(text(f"SELECT count(*) FROM {table}"))
    await db.dispose()
    backfill_fetched = source.fetched - full_fetched
    print(f"first FULL sync fetched {full_fetched} rows; the {PARTITIONS} partition syncs fetched "
          f"{backfill_fetched} rows in {elapsed:.1f}s ({PARTITIONS / elapsed:.0f} partitions/s)")
    return {"fetched": source.fetched, "stored": stored, "ratio": source.fetched / stored}


def main() -> None:
    with temporary_postgres() as server:
        result = asyncio.run(run(server))
    print(f"fetch_efficiency: fetched={result['fetched']} stored={result['stored']} ratio={result['ratio']:.3f}")


if __name__ == "__main__":
    main()
