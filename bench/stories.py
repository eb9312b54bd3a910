"""Benchmark: a year of daily stories for a few demo contexts, one date at a time against one
multi-date call, in the same run, on a fresh embedded PostgreSQL.

The demo warehouse is seeded through 2025 and each context's day grain synced and analysed (all five
patterns) for 2025 through the services the workflows call; then, timed:

  multi  – one `StoryRunService.run` per context over the whole year, as the StoryWorkflow of a
           backfill tells it: one read of the stored results, one telling, one replace;
  single – one `StoryRunService.run` per context and date, as a daily scheduled run tells it.

Both must leave identical stories in the table (every column but the timestamps); the run fails
otherwise. Last line: `stories: contexts=… stories=… single_s=… multi_s=… speedup=…`
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import asyncio  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog, seed_warehouse  # noqa: E402
from semsync.catalog.models import Catalog  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.contracts import PatternBatchRequest, StoryRunRequest  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402
from semsync.partitions import Grain, partitions_between  # noqa: E402
from semsync.patterns.runs import PatternRunService  # noqa: E402
from semsync.sources.sql import SqlSource  # noqa: E402
from semsync.stories.runs import StoryRunService  # noqa: E402
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService  # noqa: E402

CONTEXTS = [("acme", "revenue"), ("globex", "orders"), ("initech", "visits"), ("initech", "revenue"),
            ("acme", "signups")]
FIRST, LAST = "2025-01-01", "2025-12-31"
SNAPSHOT = ("SELECT count(*), md5(string_agg(concat_ws('|', tenant_id, metric_id, grain, story_date, story_type, "
            "dimension, slice, version, pattern_version, status, started_on, identity, genre, polarity, salience, "
            "title, detail, variables, series, series_dates, pattern, analysis_date, grouped_under, also), '#' "
            "ORDER BY tenant_id, metric_id, grain, story_date, story_type, dimension, slice)) FROM stories")


ROWS = ("SELECT tenant_id, metric_id, grain, story_date, story_type, dimension, slice, status, started_on, "
        "identity, polarity, salience, title, variables::text, also::text, grouped_under FROM stories")


class OneSource:
    def __init__(self, source: SqlSource) -> None:
        self.source = source

    async def source_for(self, tenant):
        return self.source


async def run(server: PostgresServer) -> dict:
    scratch = await create_scratch_database(server, "bench_stories")
    await seed_warehouse(scratch.admin_url, until=date(2025, 12, 31))
    db = Database.connect(scratch.app_url)
    catalog_db = Database.connect(scratch.catalog_url, pool_size=2)
    await write_catalog(catalog_db.session_factory, Catalog(tenants=demo_catalog().tenants))
    engine = create_async_engine(scratch.app_url)
    admin = create_async_engine(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    sync = SemanticSyncService(db.session_factory, OneSource(SqlSource(engine)))
    patterns = PatternRunService(db.session_factory)
    stories = StoryRunService(db.session_factory)
    spans = [{"tenant": t, "metric_id": m, "grain": Grain.DAY, "start_partition": FIRST, "end_partition": LAST}
             for t, m in CONTEXTS]
    for span in spans:
        await sync.sync(SemanticSyncRequest(**span))
        await patterns.run_batch(PatternBatchRequest(**span))
    print(f"synced and analysed {len(spans)} contexts, day grain, {FIRST}..{LAST}")

    async def snapshot():
        async with admin.connect() as conn:
            return tuple((await conn.execute(text(SNAPSHOT))).one())

    async def rows():
        async with admin.connect() as conn:
            return {tuple(r[:7]): r for r in await conn.execute(text(ROWS))}

    began = time.perf_counter()
    for span in spans:
        await stories.run(StoryRunRequest(**span))
    multi_s = time.perf_counter() - began
    multi, multi_rows = await snapshot(), await rows()
    async with admin.begin() as conn:
        await conn.execute(text("DELETE FROM stories"))
    days = partitions_between(Grain.DAY, FIRST, LAST)
    began = time.perf_counter()
    for span in spans:
        for day in days:
            await stories.run(StoryRunRequest(**(span | {"start_partition": day.key, "end_partition": day.key})))
    single_s = time.perf_counter() - began
    single = await snapshot()
    if single != multi:
        single_rows = await rows()
        differ = [(multi_rows.get(k), single_rows.get(k)) for k in sorted(set(multi_rows) | set(single_rows))
                  if multi_rows.get(k) != single_rows.get(k)]
        for one, other in differ[:5]:
            print(f"one call:       {one}\none at a time:  {other}")
        raise SystemExit(f"one date at a time told other stories than one call: {len(differ)} rows differ")
    print(f"multi: {multi_s:.2f}s for {multi[0]} stories; single: {single_s:.2f}s for {len(days) * len(spans)} calls; "
          "the same stories")
    for closing in (engine, admin):
        await closing.dispose()
    await db.dispose()
    await catalog_db.dispose()
    return {"contexts": len(spans), "stories": multi[0], "single_s": single_s, "multi_s": multi_s}


def main() -> None:
    with temporary_postgres() as server:
        r = asyncio.run(run(server))
    print(f"stories: contexts={r['contexts']} stories={r['stories']} single_s={r['single_s']:.2f} "
          f"multi_s={r['multi_s']:.2f} speedup={r['single_s'] / r['multi_s']:.1f}")


if __name__ == "__main__":
    main()
