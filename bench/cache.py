"""Benchmark: the cache writes of a year × 100 contexts into a PostgreSQL target.

On a temporary PostgreSQL: 100 tenants, each with acme's revenue (base series + region, channel and
product) and a cache target (one database of the same server, so every tenant shares its cache
table), and semsync's tables filled as a year of daily syncs would leave them (2025-07-01 to
2026-06-30: the base series and 4 regions, 3 channels, 5 products per day). Each context's year is
written with `CacheService.write` (read from semsync, stage, upsert, delete), 4 at a time as a
worker's activity slots would; then once more over the unchanged data (every row unchanged).

Last line: ``cache: rows=… wall_s=… rows_per_s=…`` (the first, filling write); the line before it
gives the re-run's seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog  # noqa: E402
from semsync.cache import CacheService  # noqa: E402
from semsync.catalog.models import Catalog, TenantDef  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.contracts import CacheRequest  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402

FIRST, LAST = "2025-07-01", "2026-06-30"
CONCURRENCY = 4
SLICES = {"region": ["na", "emea", "apac", "latam"], "channel": ["web", "mobile", "partner"],
          "product": ["basic", "pro", "team", "enterprise", "addon"]}

_SEED_BASE = """
INSERT INTO metric_time_series (tenant_id, metric_id, grain, date, value)
SELECT t.id, 'revenue', 'day', d::date, 1000 + t.id * 10 + extract(doy FROM d) + random()
FROM tenants t CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
"""
_SEED_SLICES = """
INSERT INTO metric_dimensional_time_series (tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value)
SELECT t.id, 'revenue', 'day', s.dimension, d::date, s.slice, 100 + random() * 50
FROM tenants t CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
CROSS JOIN unnest(CAST(:dimensions AS text[]), CAST(:slices AS text[])) AS s(dimension, slice)
"""


async def write_all(service: CacheService, contexts: list[str]) -> tuple[int, float]:
    """Each context's year written, `CONCURRENCY` at a time: (rows read, seconds)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(tenant: str) -> int:
        async with gate:
            result = await service.write(CacheRequest(tenant=tenant, metric_id="revenue", grain="day",
                                                      start_partition=FIRST, end_partition=LAST))
            return result.rows_read
    began = time.perf_counter()
    rows = sum(await asyncio.gather(*(one(t) for t in contexts)))
    return rows, time.perf_counter() - began


async def run(server, contexts: int) -> None:
    scratch = await create_scratch_database(server, f"bench_{uuid.uuid4().hex[:8]}")
    target = f"cache_target_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server.superuser_url())
    await conn.execute(f"CREATE DATABASE {target}")
    await conn.close()
    target_url = server.superuser_url(target)
    revenue = next(t for t in demo_catalog().tenants if t.identifier == "acme").metric("revenue")
    catalog = Catalog(tenants=[TenantDef.model_validate({
        "identifier": f"bench{i:03d}", "name": f"Bench {i}", "metrics": [revenue],
        "cache": {"type": "sql", "url": target_url}}) for i in range(contexts)])
    catalog_db = Database.connect(scratch.catalog_url)
    await write_catalog(catalog_db.session_factory, catalog)
    await catalog_db.dispose()
    admin = create_async_engine(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    pairs = [(d, s) for d, slices in SLICES.items() for s in slices]
    async with admin.begin() as conn:
        span = {"first": date.fromisoformat(FIRST), "last": date.fromisoformat(LAST)}
        await conn.execute(text(_SEED_BASE), span)
        await conn.execute(text(_SEED_SLICES), {**span, "dimensions": [d for d, _ in pairs],
                                                "slices": [s for _, s in pairs]})
    await admin.dispose()
    database = Database.connect(scratch.app_url)
    service = CacheService(database.session_factory)
    names = [t.identifier for t in catalog.tenants]
    rows, wall = await write_all(service, names)
    _, rerun = await write_all(service, names)
    await database.dispose()
    print(f"cache rerun (unchanged): rerun_s={rerun:.2f}")
    print(f"cache: rows={rows} wall_s={wall:.2f} rows_per_s={rows / wall:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=100)
    args = parser.parse_args()
    with temporary_postgres() as server:
        asyncio.run(run(server, args.contexts))


if __name__ == "__main__":
    main()
