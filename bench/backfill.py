"""Benchmark: a backfill on Temporal against the same domain calls made directly, and against the
design doc's literal shape (one child per single partition, each followed by its pattern runs).

On the embedded stack (a temporary PostgreSQL, the Temporal dev server, the worker in this process
with a pattern process pool of one process per core): N generated contexts (base series + 3
dimensions, cloned from the demo's acme::revenue), one year of daily partitions (2025-07-01 to
2026-06-30) plus its weeks and months, all five patterns.

- **ours**: `BackfillWorkflow` over all grains (one child SyncWorkflow per context and grain, each
  starting its PatternWorkflow), timed until the last pattern run is done;
- **direct**: the same service calls without Temporal (sync, then the five patterns, per context and
  grain, as many at once as the backfill's window), on a fresh database;
- **literal**: `--chunk-size 1` on a subset (2 contexts × 30 days), timed the same way.

Then **rerun**: the same backfill again in mode ``all`` over the unchanged data (every sync runs
again and writes nothing; every pattern is skipped, its data, version and settings unchanged).

Last line: ``backfill: contexts=… partitions=… wall_s=… rerun_s=… direct_s=… per_partition_s=… overhead=…
speedup=… peak_rss_mb=…`` (overhead = wall ÷ direct; speedup = the literal shape's seconds per
partition ÷ ours).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from semsync.services import pin_blas_threads  # noqa: E402

pin_blas_threads()

import psutil  # noqa: E402
from temporalio.common import SearchAttributeKey  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

import worker as worker_module  # noqa: E402
from devstack import SEARCH_ATTRIBUTES, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog, seed_warehouse  # noqa: E402
from semsync.catalog.models import Catalog, TenantDef  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.config import DatabaseSettings, Settings, TemporalSettings, WorkerSettings  # noqa: E402
from semsync.contracts import (  # noqa: E402
    BackfillInput,
    BackfillMode,
    ContextSelector,
    GrainRange,
    PatternBatchRequest,
    PatternWorkflowResult,
    SemanticSyncRequest,
    pattern_workflow_id,
)
from semsync.partitions import MetricContext, partitions_between  # noqa: E402
from semsync.services import Services, open_services, pattern_process_pool  # noqa: E402
from workflows.backfill import BackfillWorkflow  # noqa: E402

YEAR = [GrainRange(grain="day", first="2025-07-01", last="2026-06-30"),
        GrainRange(grain="week", first="2025-W27", last="2026-W25"),
        GrainRange(grain="month", first="2025-07", last="2026-06")]
SUBSET = [GrainRange(grain="day", first="2025-07-01", last="2025-07-30")]
CONCURRENCY = 4


def bench_catalog(contexts: int) -> Catalog:
    """`contexts` tenants, each with acme's revenue (base + region, channel, product) and its targets."""
    acme = next(t for t in demo_catalog().tenants if t.identifier == "acme")
    revenue = acme.metric("revenue")
    return Catalog(tenants=[TenantDef(identifier=f"bench{i:03d}", name=f"Bench {i}", metrics=[revenue])
                            for i in range(contexts)])


class PeakRss:
    """Peak resident memory of this process and its children (the pattern pool), sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            try:
                total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def partitions_of(ranges: list[GrainRange]) -> int:
    return sum(len(partitions_between(r.grain, r.first, r.last)) for r in ranges)


async def fresh_database(server, catalog: Catalog) -> str:
    scratch = await create_scratch_database(server, f"bench_{uuid.uuid4().hex[:8]}")
    await seed_warehouse(scratch.admin_url, until=date(2026, 6, 30))
    settings = Settings(database=DatabaseSettings(url=scratch.app_url))
    async with open_services(settings) as services:
        await write_catalog(services.catalog_database.session_factory, catalog)
    return scratch.app_url


async def on_temporal(env, url: str, executor, ranges: list[GrainRange], contexts: list[MetricContext],
                      chunk_size: int | None, *, rerun: bool = False) -> tuple[float, float | None]:
    """Seconds of the backfill until its last pattern run is done; with `rerun`, then the seconds of the
    same backfill again in mode ``all`` over the unchanged data (every sync again, the analysis skipped)."""
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(database=DatabaseSettings(url=url),
                        temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}", pattern_task_queue=f"pat-{suffix}"),
                        worker=WorkerSettings(sync_concurrency=16))
    async with open_services(settings, pattern_executor=executor) as services:
        workers = worker_module.make_workers(env.client, services)
        async with workers[0], workers[1]:
            async def once(mode: BackfillMode, tag: str) -> float:
                request = BackfillInput(
                    backfill_id=f"bench-{suffix}-{tag}", ranges=ranges, mode=mode,
                    selector=ContextSelector(contexts=[str(c) for c in contexts]), max_concurrency=CONCURRENCY,
                    chunk_size=chunk_size, pattern_task_queue=settings.temporal.pattern_task_queue)
                began = time.perf_counter()
                result = await env.client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                                           task_queue=settings.temporal.sync_task_queue)
                if result.failures:
                    raise SystemExit(f"backfill failures: {result.failures[:3]}")
                for grain_range in ranges:
                    for context in contexts:
                        spans = [f"{grain_range.first}:{grain_range.last}"] if chunk_size is None else [
                            p.key for p in partitions_between(grain_range.grain, grain_range.first, grain_range.last)]
                        for span in spans:
                            handle = env.client.get_workflow_handle(pattern_workflow_id(grain_range.grain, span,
                                                                                        context),
                                                                    result_type=PatternWorkflowResult)
                            outcome = await handle.result()
                            if outcome.failed:
                                raise SystemExit(f"pattern failures: {outcome}")
                return time.perf_counter() - began

            first = await once(BackfillMode.MISSING, "first")
            return first, (await once(BackfillMode.ALL, "rerun") if rerun else None)


async def direct(url: str, executor, ranges: list[GrainRange], contexts: list[MetricContext]) -> dict[str, float]:
    """The backfill's domain work without Temporal: per (context, grain) a sync, then the five patterns
    in one batch, as PatternWorkflow runs them."""
    settings = Settings(database=DatabaseSettings(url=url))
    spent = {"sync_s": 0.0, "patterns_s": 0.0}
    async with open_services(settings, pattern_executor=executor) as services:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(context: MetricContext, grain_range: GrainRange, s: Services = services) -> None:
            async with limit:
                began = time.perf_counter()
                await s.sync.sync(SemanticSyncRequest(tenant=context.tenant, metric_id=context.metric,
                                                      grain=grain_range.grain, start_partition=grain_range.first,
                                                      end_partition=grain_range.last))
                spent["sync_s"] += time.perf_counter() - began
                began = time.perf_counter()
                await s.patterns.run_batch(PatternBatchRequest(
                    tenant=context.tenant, metric_id=context.metric, grain=grain_range.grain,
                    start_partition=grain_range.first, end_partition=grain_range.last))
                spent["patterns_s"] += time.perf_counter() - began

        began = time.perf_counter()
        await asyncio.gather(*(one(c, r) for c in contexts for r in ranges))
        spent["wall_s"] = time.perf_counter() - began
    return spent


async def run(server, count: int) -> dict[str, float]:
    catalog = bench_catalog(count)
    contexts = [MetricContext(tenant=t.identifier, metric="revenue") for t in catalog.tenants]
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, data_converter=pydantic_data_converter,
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
        dev_server_extra_args=["--log-level", "error"])
    executor = pattern_process_pool()
    executor.submit(sorted, [1]).result()  # start the pool's processes before any clock runs
    try:
        urls = [await fresh_database(server, catalog) for _ in range(3)]
        print(f"{count} contexts × {partitions_of(YEAR)} partitions (day, week, month) · 5 patterns · "
              f"{CONCURRENCY} syncs at once · {psutil.cpu_count()} cores")
        with PeakRss() as rss:
            wall_s, rerun_s = await on_temporal(env, urls[0], executor, YEAR, contexts, None, rerun=True)
        print(f"ours (Temporal, one child per context and grain): {wall_s:.1f}s; the same again in mode all "
              f"over unchanged data (every sync again, the analysis skipped): {rerun_s:.1f}s")
        spent = await direct(urls[1], executor, YEAR, contexts)
        print(f"direct (no Temporal): {spent['wall_s']:.1f}s wall; summed over calls: sync {spent['sync_s']:.1f}s, "
              f"patterns {spent['patterns_s']:.1f}s (read, analyse in {psutil.cpu_count()} processes, store)")
        literal_contexts = contexts[:2]
        literal_s, _ = await on_temporal(env, urls[2], executor, SUBSET, literal_contexts, 1)
        literal_partitions = partitions_of(SUBSET) * len(literal_contexts)
        print(f"literal shape (one child per partition + its pattern runs), {literal_partitions} partitions: "
              f"{literal_s:.1f}s = {literal_s / literal_partitions:.3f}s per partition")
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        await env.shutdown()
    partitions = partitions_of(YEAR) * count
    per_partition = wall_s / partitions
    return {"contexts": count, "partitions": partitions, "wall_s": wall_s, "rerun_s": rerun_s,
            "direct_s": spent["wall_s"],
            "per_partition_s": per_partition, "overhead": wall_s / spent["wall_s"],
            "speedup": (literal_s / literal_partitions) / per_partition, "peak_rss_mb": rss.peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contexts", type=int, default=20, help="generated contexts (default 20)")
    count = parser.parse_args().contexts
    with temporary_postgres() as server:
        r = asyncio.run(run(server, count))
    print(f"backfill: contexts={r['contexts']} partitions={r['partitions']} wall_s={r['wall_s']:.1f} "
          f"rerun_s={r['rerun_s']:.1f} "
          f"direct_s={r['direct_s']:.1f} per_partition_s={r['per_partition_s']:.4f} overhead={r['overhead']:.2f} "
          f"speedup={r['speedup']:.1f} peak_rss_mb={r['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
