"""Benchmark: a year of 100 contexts, three grains and five patterns, as direct domain calls.

On a fresh embedded PostgreSQL: the demo warehouse seeded through 2025; 100 contexts made from the
demo metrics (20 tenants × 5 of the 6 demo metrics, tenant k reading demo tenant k mod 3's rows and
leaving out metric k mod 6), each with its 3 dimensions, targets and settings; then, as the worker
runs a backfill (each sync's pattern run starts when that sync is done, while the next syncs run):
  sync     – each context × grain synced for every partition of 2025 (one FULL window per call),
             `SYNC_CONCURRENCY` calls at a time;
  patterns – as each context × grain's sync finishes: the catalog read once per tenant
             (`PatternSettingsTable`), one read of all five patterns' data, the analysis in the
             worker's pattern process pool (`pattern_process_pool`, one process per core;
             `semsync.patterns.context_run.analyse_context`), the records stored as they come back
             (`semsync.patterns.store.store_records`: COPY + one upsert) while the pool works on.
  stories  – as each context × grain's results are stored: its stories over the year, as the
             StoryWorkflow tells them (`semsync.stories.runs.StoryRunService`: one read of the stored
             results, the telling in the same process pool, one replace of the span's stories);
             `THROUGHPUT_STORIES=0` leaves them out, to measure what they add;
  copy     – the reference: the same stored rows (a sample of `COPY_SAMPLE`) COPYed raw into an empty
             table with pattern_results' columns, primary key and unique key.

Last line: `throughput: contexts=100 rows=… results=… stories=… sync_s=… analyse_s=… store_s=… stories_s=…
total_s=… store_ratio=…` where total_s is the wall time from the first sync to the last result (and
story) stored, stories_s the main process's time in the story runs (reading, waiting for the
telling, storing), sync_s
the time until the last sync finished, analyse_s the pattern work's wall time from the first synced
context to the last result stored (the two overlap, as in the worker), store_s the time the main
process spent storing within it, and store_ratio = the store path's rate ÷ the raw COPY's, both
measured alone afterwards on the same `COPY_SAMPLE` results (the store path re-stores them for a new
tenant, in the batches the workload stored them in; within the run the store shares the 2 cores with
the analysis and the syncs, so its rate there is not comparable with an idle COPY's; the table shows
both).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import asyncio  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog, seed_warehouse  # noqa: E402
from semsync.catalog.models import Catalog, Filter, MetricDef, TenantDef  # noqa: E402
from semsync.catalog.store import lookup_tenant, write_catalog  # noqa: E402
from semsync.contracts import StoryRunRequest  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402
from semsync.partitions import Grain, partitions_between  # noqa: E402
from semsync.patterns import analysis_date_for, get_pattern, pattern_names  # noqa: E402
from semsync.patterns.catalog_settings import PatternSettingsTable  # noqa: E402
from semsync.patterns.context_run import ContextAnalysis, analyse_context  # noqa: E402
from semsync.patterns.data import PatternDataOrganiser  # noqa: E402
from semsync.patterns.store import store_records  # noqa: E402
from semsync.services import pattern_process_pool  # noqa: E402
from semsync.sources.sql import SqlSource  # noqa: E402
from semsync.stories.runs import StoryRunService  # noqa: E402
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService  # noqa: E402

TENANTS = int(os.environ.get("THROUGHPUT_TENANTS", "20"))  # 20 × 5 metrics = the 100 contexts; fewer for a smoke run
YEAR = 2025
GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH)
RANGES = {Grain.DAY: ("2025-01-01", "2025-12-31"), Grain.WEEK: ("2025-W01", "2025-W52"),
          Grain.MONTH: ("2025-01", "2025-12")}
SYNC_CONCURRENCY = 2
COPY_SAMPLE = 50_000
WORKERS = os.cpu_count() or 2
STORIES = os.environ.get("THROUGHPUT_STORIES", "1") != "0"


def bench_catalog() -> Catalog:
    """20 tenants, each with 5 demo metrics of one demo tenant (its filter, targets, settings)."""
    demo = demo_catalog().tenants
    tenants = []
    for k in range(TENANTS):
        source = demo[k % len(demo)]
        metrics = [m.model_copy(update={"source": m.source.model_copy(update={"filters": [
            Filter(member="tenant", operator=f.operator, values=f.values) for f in m.source.filters]})})
            for i, m in enumerate(source.metrics) if i != k % len(source.metrics)]  # 5 of the 6 each
        tenants.append(TenantDef(identifier=f"t{k:02d}", name=f"Tenant {k}", semantic_layer=source.semantic_layer,
                                 patterns=source.patterns, metrics=metrics))
    return Catalog(tenants=tenants)


class OneSource:
    def __init__(self, source: SqlSource) -> None:
        self.source = source

    async def source_for(self, tenant):
        return self.source


async def sync_all(db: Database, catalog: Catalog, synced: asyncio.Queue) -> dict:
    """Every context × grain synced, `SYNC_CONCURRENCY` at a time; each one put on `synced` when done
    (then None), so that its pattern work starts while the next syncs run."""
    service = SemanticSyncService(db.session_factory, OneSource(SqlSource(db.engine)))
    limit = asyncio.Semaphore(SYNC_CONCURRENCY)
    seconds: dict[str, float] = defaultdict(float)

    async def one(tenant: TenantDef, metric: MetricDef, grain: Grain) -> int:
        async with limit:
            began = time.perf_counter()
            first, last = RANGES[grain]
            response = await service.sync(SemanticSyncRequest(tenant=tenant.identifier, metric_id=metric.id,
                                                              grain=grain, start_partition=first, end_partition=last))
            seconds[grain.value] += time.perf_counter() - began
            if not response.success or response.dimensions_failed:
                raise SystemExit(f"sync failed: {response}")
            synced.put_nowait((tenant, metric, grain))
            return response.rows_written

    began = time.perf_counter()
    rows = await asyncio.gather(*(one(t, m, g) for t in catalog.tenants for m in t.metrics for g in GRAINS))
    synced.put_nowait(None)
    return {"sync_s": time.perf_counter() - began, "rows": sum(rows), "sync_by_grain": seconds}


async def patterns_all(db: Database, synced: asyncio.Queue, pool: ProcessPoolExecutor) -> dict:
    """The pattern work of each context × grain taken from `synced` as its sync finishes (until None)."""
    names = pattern_names()
    organiser = PatternDataOrganiser(db.session_factory)
    loop = asyncio.get_running_loop()
    store_s, read_s = [0.0], [0.0]
    results = [0]
    sample: list[tuple[int, list[tuple]]] = []  # the first COPY_SAMPLE records: (tenant, batch) as stored
    pattern_seconds: dict[tuple[str, str], float] = defaultdict(float)
    pending: set[asyncio.Future] = set()
    store_lock = asyncio.Lock()
    tellers = StoryRunService(db.session_factory, executor=pool)
    stories, stories_s = [0], [0.0]

    async def finish(tenant_id: int, tenant: str, metric_id: str, grain: Grain, future) -> None:
        result = await future
        for name, seconds in result.seconds.items():
            pattern_seconds[(name, result.grain.value)] += seconds
        async with store_lock:  # one store at a time: the main process is one core's worth of work
            began = time.perf_counter()
            results[0] += await store_records(db.session_factory, tenant_id, result.records)
            store_s[0] += time.perf_counter() - began
        taken = sum(len(batch) for _, batch in sample)
        if taken < COPY_SAMPLE:
            sample.append((tenant_id, result.records[: COPY_SAMPLE - taken]))
        if STORIES:
            began = time.perf_counter()
            first, last = RANGES[grain]
            told = await tellers.run(StoryRunRequest(tenant=tenant, metric_id=metric_id, grain=grain,
                                                     start_partition=first, end_partition=last))
            stories[0] += told.stories
            stories_s[0] += time.perf_counter() - began

    tenants: dict[str, tuple[int, PatternSettingsTable]] = {}  # the catalog read once per tenant and run
    began = None
    while (item := await synced.get()) is not None:
        tenant, metric, grain = item
        began = began or time.perf_counter()
        if tenant.identifier not in tenants:
            tenant_id, _ = await lookup_tenant(db.session_factory, tenant.identifier)
            tenants[tenant.identifier] = tenant_id, PatternSettingsTable.build(tenant, tenant.metrics, names)
        tenant_id, table = tenants[tenant.identifier]
        settings = {name: table.get(metric.id, name) for name in names}
        dates = [analysis_date_for(p) for p in partitions_between(grain, *RANGES[grain])]
        started = time.perf_counter()
        data = await organiser.read_for_patterns([(get_pattern(n), s) for n, s in settings.items()],
                                                 tenant_id, metric.id, grain, dates)
        read_s[0] += time.perf_counter() - started
        job = ContextAnalysis(metric.id, grain, dates, data, settings)
        task = asyncio.ensure_future(finish(tenant_id, tenant.identifier, metric.id, grain,
                                            loop.run_in_executor(pool, analyse_context, job)))
        pending.add(task)
        task.add_done_callback(pending.discard)
        while len(pending) >= 2 * WORKERS:  # a bounded window: read ahead, never everything
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*pending)
    analyse_s = time.perf_counter() - began if began else 0.0
    return {"analyse_s": analyse_s, "store_s": store_s[0], "read_s": read_s[0],
            "results": results[0], "sample": sample, "pattern_seconds": pattern_seconds, "stories": stories[0],
            "stories_s": stories_s[0]}


async def isolated_store_rate(db: Database, catalog_db: Database, batches: list[tuple[int, list[tuple]]]) -> float:
    """The sample's results stored again, each tenant's for a new tenant with none yet, batch by batch
    as in the workload, with nothing else running: the store path's own rate, comparable with the
    raw COPY's."""
    originals = sorted({tenant_id for tenant_id, _ in batches})
    copies = [TenantDef(identifier=f"copy{t}", name=f"copy of {t}") for t in originals]
    await write_catalog(catalog_db.session_factory, Catalog(tenants=copies), disable_missing=False)
    new_id = {t: (await lookup_tenant(db.session_factory, f"copy{t}"))[0] for t in originals}
    stored = 0
    began = time.perf_counter()
    for tenant_id, batch in batches:
        stored += await store_records(db.session_factory, new_id[tenant_id], batch)
    return stored / (time.perf_counter() - began)


async def raw_copy_rate(admin_url: str, batches: list[tuple[int, list[tuple]]]) -> float:
    admin = create_async_engine(admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    async with admin.begin() as conn:
        await conn.execute(text(
            "CREATE TABLE copy_reference (id serial PRIMARY KEY, tenant_id int, metric_id varchar(64), "
            "pattern varchar(64), version varchar(16), grain varchar(8), analysis_date date, "
            "dimension_name varchar(64), "
            "analysis_window jsonb, error jsonb, run_result jsonb, created_at timestamptz DEFAULT now(), "
            "updated_at timestamptz DEFAULT now())"))
        await conn.execute(text(
            "CREATE UNIQUE INDEX copy_reference_key ON copy_reference (tenant_id, metric_id, pattern, version, "
            "grain, analysis_date, dimension_name) NULLS NOT DISTINCT"))
    records = [(tenant_id, *record) for tenant_id, batch in batches for record in batch]
    conn = await admin.connect()
    raw = (await conn.get_raw_connection()).driver_connection
    # jsonb's binary COPY format: a version byte, then the JSON text
    await raw.set_type_codec("jsonb", encoder=lambda v: b"\x01" + v.encode(), decoder=lambda v: v[1:].decode(),
                             schema="pg_catalog", format="binary")
    began = time.perf_counter()
    await raw.copy_records_to_table("copy_reference", records=records, columns=[
        "tenant_id", "metric_id", "pattern", "version", "grain", "analysis_date", "dimension_name",
        "analysis_window", "error", "run_result"])
    elapsed = time.perf_counter() - began
    await conn.close()
    await admin.dispose()
    return len(records) / elapsed


async def run(server: PostgresServer, pool: ProcessPoolExecutor) -> dict:
    scratch = await create_scratch_database(server, "bench_throughput")
    seeded = await seed_warehouse(scratch.admin_url, until=date(YEAR, 12, 31))
    print(f"seeded the demo warehouse through {YEAR}: {seeded}")
    db = Database.connect(scratch.app_url)
    catalog_db = Database.connect(scratch.catalog_url, pool_size=2)
    catalog = bench_catalog()
    await write_catalog(catalog_db.session_factory, catalog)
    contexts = sum(len(t.metrics) for t in catalog.tenants)

    synced: asyncio.Queue = asyncio.Queue()
    began = time.perf_counter()
    sync, patterns = await asyncio.gather(sync_all(db, catalog, synced), patterns_all(db, synced, pool))
    total_s = time.perf_counter() - began
    sync_s, rows = sync["sync_s"], sync["rows"]
    by_grain = ", ".join(f"{g} {s:.1f}s" for g, s in sync["sync_by_grain"].items())
    print(f"sync: {sync_s:.1f}s, {rows} rows written ({by_grain}"
          f" summed over {SYNC_CONCURRENCY} concurrent calls), sharing the cores with the pattern work of the"
          " contexts already synced")
    sample_size = sum(len(b) for _, b in patterns["sample"])
    store_rate = await isolated_store_rate(db, catalog_db, patterns["sample"])
    await db.dispose()
    await catalog_db.dispose()
    print(f"patterns: {patterns['analyse_s']:.1f}s wall from the first context synced, with {WORKERS} processes; "
          f"main process: "
          f"{patterns['read_s']:.1f}s reading, {patterns['store_s']:.1f}s storing {patterns['results']} results")
    print("analysis CPU seconds (in the workers) per pattern and grain:")
    by_pattern = patterns["pattern_seconds"]
    for name in pattern_names():
        cells = "  ".join(f"{g.value} {by_pattern[(name, g.value)]:6.1f}" for g in GRAINS)
        print(f"  {name:<24} {cells}")
    print(f"  {'all':<24} {sum(by_pattern.values()):.1f} CPU-s")
    copy_rate = await raw_copy_rate(scratch.admin_url, patterns["sample"])
    print(f"store within the pattern phase (sharing 2 cores with the analysis): "
          f"{patterns['results'] / patterns['store_s']:,.0f} results/s")
    print(f"store alone, {sample_size} of the results again for a new tenant in their batches: {store_rate:,.0f} "
          f"results/s; raw COPY of the same rows into an empty table: {copy_rate:,.0f} rows/s")
    print(f"stories: {patterns['stories']} told in {patterns['stories_s']:.1f}s of the main process's time"
          if STORIES else "stories: left out (THROUGHPUT_STORIES=0)")
    return {"contexts": contexts, "rows": rows, "results": patterns["results"], "sync_s": sync_s,
            "stories": patterns["stories"], "stories_s": patterns["stories_s"],
            "analyse_s": patterns["analyse_s"], "store_s": patterns["store_s"],
            "total_s": total_s, "store_ratio": store_rate / copy_rate}


def main() -> None:
    with temporary_postgres() as server, pattern_process_pool(WORKERS) as pool:
        r = asyncio.run(run(server, pool))
    print(f"throughput: contexts={r['contexts']} rows={r['rows']} results={r['results']} stories={r['stories']} "
          f"sync_s={r['sync_s']:.1f} analyse_s={r['analyse_s']:.1f} store_s={r['store_s']:.1f} "
          f"stories_s={r['stories_s']:.1f} total_s={r['total_s']:.1f} "
          f"store_ratio={r['store_ratio']:.2f}")


if __name__ == "__main__":
    main()
