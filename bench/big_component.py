"""Benchmark: one dimension of 5,000,000 rows synced from the SQL source, in the memory of a page.

On a fresh embedded PostgreSQL: `big_wh.visits`, one row a day for each of 5,000 pages over 1,000
days (made by `generate_series`, in seconds); a tenant whose SQL metric `visits` reads it from
semsync's own database, confined to the schema `big_wh` as the worker's source registry confines it;
then the metric's `page` dimension synced FULL as the sync activity does it: `SemanticSyncService.plan`,
then `sync_component`, through the real source (the registry's `SqlSource`: a server-side cursor read
in pages of 10,000 rows) and the real write path (each page COPYed into the staging table, then the
set-based replace of the window, all in one transaction).

Peak RSS is this process's `ru_maxrss` (PostgreSQL runs in processes of its own); the baseline, the
RSS just before the sync (the interpreter, the imports, the engine), is printed with it, since it
is most of the peak. `--slices` and `--days` size the dimension for a smoke run.

Last line: `big_component: rows=… wall_s=… peak_rss_mb=…` (wall_s: the sync alone, setup excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from semsync.catalog.models import (  # noqa: E402
    Catalog,
    DimensionDef,
    MetricDef,
    SqlConnection,
    SqlMetricSource,
    TenantDef,
)
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.config import SemanticLayerSettings  # noqa: E402
from semsync.contracts import SemanticSyncRequest, SyncComponentInput  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402
from semsync.partitions import Grain  # noqa: E402
from semsync.sources.registry import SourceRegistry  # noqa: E402
from semsync.sync.service import SemanticSyncService  # noqa: E402

#: the first day of the FULL window: the day partitions requested start 365 days later
FIRST = date(2023, 1, 1)


def rss_mb() -> float:
    """This process's peak RSS so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def catalog() -> Catalog:
    metric = MetricDef(id="visits", label="Visits",
                       source=SqlMetricSource(table="big_wh.visits", value="sum(views)", time_column="day"),
                       dimensions=[DimensionDef(id="page", member="page")])
    return Catalog(tenants=[TenantDef(identifier="bench", name="Bench", semantic_layer=SqlConnection(),
                                      metrics=[metric])])


async def seed(admin_url: str, slices: int, days: int) -> None:
    admin = create_async_engine(admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    async with admin.begin() as conn:
        await conn.execute(text("CREATE SCHEMA big_wh"))
        await conn.execute(text("CREATE TABLE big_wh.visits (day date, page text, views bigint)"))
        await conn.execute(text(f"""
            INSERT INTO big_wh.visits
            SELECT DATE '{FIRST}' + d, 'page-' || p, p * 7 + d
            FROM generate_series(0, {days - 1}) d, generate_series(1, {slices}) p"""))
        await conn.execute(text("GRANT USAGE ON SCHEMA big_wh TO semsync_app"))
        await conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA big_wh TO semsync_app"))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE big_wh.visits"))
    await admin.dispose()


async def run(server: PostgresServer, slices: int, days: int) -> dict[str, float]:
    scratch = await create_scratch_database(server, "bench_big_component")
    began = time.perf_counter()
    await seed(scratch.admin_url, slices, days)
    print(f"seeded big_wh.visits: {slices} pages × {days} days in {time.perf_counter() - began:.1f}s")
    catalog_db = Database.connect(scratch.catalog_url, pool_size=2)
    await write_catalog(catalog_db.session_factory, catalog())
    await catalog_db.dispose()

    db = Database.connect(scratch.app_url)
    registry = SourceRegistry(db.engine, settings=SemanticLayerSettings(warehouse_schemas="big_wh"))
    service = SemanticSyncService(db.session_factory, registry)
    request = SemanticSyncRequest(tenant="bench", metric_id="visits", grain=Grain.DAY,
                                  start_partition=str(FIRST + timedelta(days=365)),
                                  end_partition=str(FIRST + timedelta(days=days - 1)))
    plan = await service.plan(request)
    page = next(c for c in plan.components if c.dimension == "page")
    assert (page.start, page.end) == (FIRST, FIRST + timedelta(days=days - 1)), page
    work = SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id, plan=page)
    baseline = rss_mb()
    began = time.perf_counter()
    result = await service.sync_component(work)
    wall_s = time.perf_counter() - began
    peak = rss_mb()
    print(f"synced the page dimension {page.start}..{page.end}: fetched {result.rows_fetched}, "
          f"inserted {result.rows_inserted}; RSS before the sync {baseline:.0f} MB, peak {peak:.0f} MB")
    await registry.aclose()
    await db.dispose()
    return {"rows": result.rows_inserted, "wall_s": wall_s, "peak_rss_mb": peak, "baseline_rss_mb": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=5_000, help="pages of the dimension (default 5,000)")
    parser.add_argument("--days", type=int, default=1_000, help="days of each (at least 366; default 1,000)")
    args = parser.parse_args()
    with temporary_postgres() as server:
        r = asyncio.run(run(server, args.slices, max(args.days, 366)))
    print(f"big_component: rows={r['rows']} wall_s={r['wall_s']:.1f} peak_rss_mb={r['peak_rss_mb']:.0f} "
          f"baseline_rss_mb={r['baseline_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
