"""Benchmark: discovery and one scheduled daily run over thousands of generated contexts.

On the embedded stack (a temporary PostgreSQL, the Temporal dev server, the worker in this process with
a pattern process pool): a catalog file of N generated contexts (100 tenants × N/100 metrics, each a
base series and one dimension over the demo warehouse), then

1. discovery (`DiscoveryWorkflow`): the catalog written, N metric and 5N pattern contexts registered;
2. the daily schedule's slot of 2025-07-02T10:00Z, run through the real schedule (`semsync-daily`,
   `schedules apply`, a schedule backfill of that one slot): every active context's first (FULL)
   sync of 2025-07-01 and its five patterns;

for each size in `--sizes` (default 500 and 2000), each on a fresh database. It reports the run's
wall time (until the last pattern run is done), the peak RSS of the worker and its pattern processes,
the longest workflow history, the workflow tasks' execution time (p99 and max, from the SDK's
``workflow_task_execution_latency``: the worker's workflow work while the pattern processes fill the
cores, `--pattern-nice` below its priority) and the largest payload any workflow carried.

Then the catalog scale (`--payload-contexts`, default 100,000; 0 skips it): that many generated
contexts written straight into a fresh database, and a scheduled daily run over all of them, its
children a stand-in SyncWorkflow that answers at once, run until its backfill has continued as new
three times (nothing it carries grows as it goes on) and cancelled: the largest payload of the
planning, the pages, the children's inputs, the progress answers and the continue-as-new states.

Last line: ``scale: contexts=… run_s=… peak_rss_mb=… rss_growth=… max_history_events=… wft_p99_ms=…
wft_max_ms=… max_payload_kb=… catalog_contexts=… catalog_max_payload_kb=…`` (for the largest size;
growth = its peak RSS ÷ the smallest size's).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from semsync.services import pin_blas_threads  # noqa: E402

pin_blas_threads()

from temporalio.client import Client, ScheduleBackfill, ScheduleOverlapPolicy  # noqa: E402
from temporalio.common import SearchAttributeKey  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

import worker as worker_module  # noqa: E402
from activities.backfill import backfill_activities  # noqa: E402
from bench.backfill import PeakRss  # noqa: E402
from devstack import SEARCH_ATTRIBUTES, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import catalog_yaml, demo_catalog, seed_warehouse  # noqa: E402
from devstack.instant_sync import InstantSync  # noqa: E402
from devstack.scale import PayloadSizes, generate_contexts  # noqa: E402
from semsync.backfill.plan import BackfillPlanner  # noqa: E402
from semsync.catalog.models import Catalog, DimensionDef, TenantDef  # noqa: E402
from semsync.config import (  # noqa: E402
    CatalogSettings,
    DatabaseSettings,
    ScheduleSettings,
    Settings,
    TemporalSettings,
    WorkerSettings,
)
from semsync.contracts import (  # noqa: E402
    BackfillControl,
    DiscoveryInput,
    ScheduledRunInput,
    ScheduledRunResult,
    backfill_workflow_id,
    scheduled_backfill_id,
)
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402
from semsync.partitions import Grain, last_complete_partition  # noqa: E402
from semsync.services import open_services, pattern_process_pool  # noqa: E402
from starter.schedules import apply_schedules  # noqa: E402
from workflows.backfill import BackfillWorkflow  # noqa: E402
from workflows.discovery import DiscoveryWorkflow  # noqa: E402
from workflows.scheduled import ScheduledRunWorkflow  # noqa: E402

TENANTS = 100
SLOT = datetime(2025, 7, 2, 10, tzinfo=UTC)


def generated_catalog(contexts: int) -> Catalog:
    acme = next(t for t in demo_catalog().tenants if t.identifier == "acme")
    revenue = acme.metric("revenue")
    per_tenant = max(1, contexts // TENANTS)
    metric = revenue.model_copy(update={"dimensions": [DimensionDef(id="region", label="Region", member="region")],
                                        "targets": [t for t in revenue.targets if t.grain == "day"][:400]})
    return Catalog(tenants=[
        TenantDef(identifier=f"t{i:03d}", name=f"Tenant {i}",
                  metrics=[metric.model_copy(update={"id": f"m{j:02d}"}) for j in range(per_tenant)])
        for i in range(TENANTS)])


class TaskLatencies:
    """The SDK's workflow task execution times (ms), drained from its metric buffer as they come."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self.buffer, self.values, self._task = buffer, [], None

    def drain(self) -> None:
        for update in self.buffer.retrieve_updates():
            if update.metric.name.endswith("workflow_task_execution_latency"):
                self.values.append(float(update.value))

    async def _loop(self) -> None:
        while True:
            self.drain()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self.values = []
        self.drain()  # what came before (discovery) is not counted
        self.values = []
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> tuple[float, float]:
        self._task.cancel()
        self.drain()
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], ordered[-1]


async def one_size(server, env, contexts: int, executor, latencies: TaskLatencies) -> dict[str, float]:
    scratch = await create_scratch_database(server, f"scale_{uuid.uuid4().hex[:8]}")
    await seed_warehouse(scratch.admin_url, until=date(2025, 7, 31))
    with tempfile.TemporaryDirectory() as tmp:
        catalog_path = Path(tmp) / "catalog.yaml"
        catalog_path.write_text(catalog_yaml(generated_catalog(contexts)))
        suffix = uuid.uuid4().hex[:8]
        settings = Settings(
            database=DatabaseSettings(url=scratch.app_url, pool_size=20),
            temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}", pattern_task_queue=f"pat-{suffix}"),
            catalog=CatalogSettings(provider="file", file=catalog_path),
            worker=WorkerSettings(sync_concurrency=16),
            schedules=ScheduleSettings(max_concurrency=16))
        sizes = PayloadSizes()
        client = Client(env.client.service_client, namespace=env.client.namespace,
                        data_converter=sizes.converter(env.client.data_converter))
        async with open_services(settings, pattern_executor=executor) as services:
            workers = worker_module.make_workers(client, services)
            async with workers[0], workers[1]:
                with PeakRss() as rss:
                    began = time.perf_counter()
                    found = await client.execute_workflow(
                        DiscoveryWorkflow.run, DiscoveryInput(), id=f"discovery/scale-{suffix}",
                        task_queue=settings.temporal.sync_task_queue)
                    discovery_s = time.perf_counter() - began
                    print(f"  discovery: {found.diff.summary()} in {discovery_s:.1f}s")
                    await apply_schedules(client, settings)
                    daily = client.get_schedule_handle("semsync-daily")
                    began = time.perf_counter()
                    latencies.start()
                    await daily.backfill(ScheduleBackfill(start_at=SLOT.replace(hour=9), end_at=SLOT.replace(hour=11),
                                                          overlap=ScheduleOverlapPolicy.ALLOW_ALL))
                    run = await wait_for_run(client)
                    patterns = await wait_for_patterns(client, run.backfill_id)
                    run_s = time.perf_counter() - began
                    wft_p99, wft_max = await latencies.stop()
                await daily.delete()
                for name in ("semsync-weekly", "semsync-monthly", "semsync-discovery"):
                    await client.get_schedule_handle(name).delete()
        if run.result is None or run.result.failures:
            raise SystemExit(f"the scheduled run failed: {run}")
        longest = await longest_history(client, run.backfill_id)
        print(f"  daily run of {run.partition}: {run.result.progress.chunks_succeeded} syncs, {patterns} pattern runs, "
              f"{run_s:.1f}s; peak RSS {rss.peak / 2**20:.0f} MB; longest history {longest} events; "
              f"workflow tasks p99 {wft_p99:.0f} ms, max {wft_max:.0f} ms of {len(latencies.values)}; "
              f"largest payload {sizes.largest / 1024:.1f} KB")
        return {"run_s": run_s, "peak_rss_mb": rss.peak / 2**20, "max_history_events": longest,
                "discovery_s": discovery_s, "wft_p99_ms": wft_p99, "wft_max_ms": wft_max,
                "max_payload_kb": sizes.largest / 1024}


async def catalog_scale(server, env, contexts: int) -> float:
    """The largest payload (KB) of a scheduled daily run over `contexts` generated contexts."""
    scratch = await create_scratch_database(server, f"catalog_{uuid.uuid4().hex[:8]}")
    admin = Database.connect(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    database = Database.connect(scratch.app_url)
    try:
        began = time.perf_counter()
        revenue = demo_catalog().tenants[0].metrics[0]
        await generate_contexts(admin.engine, TENANTS, contexts // TENANTS, revenue)
        print(f"  {contexts} contexts generated in {time.perf_counter() - began:.1f}s")
        sizes = PayloadSizes()
        client = Client(env.client.service_client, namespace=env.client.namespace,
                        data_converter=sizes.converter(env.client.data_converter))
        queue = f"catalog-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[ScheduledRunWorkflow, BackfillWorkflow, InstantSync],
                          activities=backfill_activities(BackfillPlanner(database.session_factory)),
                          max_concurrent_workflow_tasks=50):
            began = time.perf_counter()
            run = await client.start_workflow(ScheduledRunWorkflow.run, ScheduledRunInput(
                grain="day", max_concurrency=50, run_patterns=False), id=f"scheduled/{queue}", task_queue=queue)
            partition = last_complete_partition(Grain.DAY, (await run.describe()).start_time)
            backfill = client.get_workflow_handle(backfill_workflow_id(scheduled_backfill_id(Grain.DAY, partition.key)))
            progress = None
            while progress is None or progress.runs < 4:
                await asyncio.sleep(1)
                try:
                    progress = await backfill.query(BackfillWorkflow.progress)
                except Exception:  # noqa: BLE001 - not started yet, or between runs
                    continue
            await backfill.signal(BackfillWorkflow.cancel, BackfillControl(reason="measured"))
            await run.result()
        print(f"  scheduled run over {progress.contexts} contexts: planned {progress.partitions_planned} partitions, "
              f"{progress.chunks_done} children in {progress.runs} runs in {time.perf_counter() - began:.1f}s; "
              f"largest payload {sizes.largest / 1024:.1f} KB of {sizes.seen}")
        return sizes.largest / 1024
    finally:
        await admin.dispose()
        await database.dispose()


async def wait_for_run(client) -> ScheduledRunResult:
    query = "WorkflowType = 'ScheduledRunWorkflow'"
    while True:
        found = [w async for w in client.list_workflows(query)]
        if found:
            latest = max(found, key=lambda w: w.start_time)
            return await client.get_workflow_handle(latest.id, run_id=latest.run_id,
                                                    result_type=ScheduledRunResult).result()
        await asyncio.sleep(0.5)


async def wait_for_patterns(client, backfill_id: str) -> int:
    running = f"SemsyncBackfill = '{backfill_id}' AND WorkflowType = 'PatternWorkflow' AND ExecutionStatus = 'Running'"
    quiet = 0
    while quiet < 3:  # visibility lags a little: none running at three looks in a row
        quiet = 0 if (await client.count_workflows(running)).count else quiet + 1
        await asyncio.sleep(0.7)
    every = f"SemsyncBackfill = '{backfill_id}' AND WorkflowType = 'PatternWorkflow'"
    return (await client.count_workflows(every)).count


async def longest_history(client, backfill_id: str) -> int:
    """The most events of any workflow of the run (the backfill and its children, listed by attribute)."""
    longest = 0
    async for execution in client.list_workflows(f"SemsyncBackfill = '{backfill_id}'"):
        longest = max(longest, execution.history_length)
    return longest


async def run(server, sizes: list[int], nice: int, catalog_contexts: int) -> dict[int, dict[str, float]]:
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    executor = pattern_process_pool(nice=nice)
    executor.submit(sorted, [1]).result()
    buffer = MetricBuffer(200_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    latencies = TaskLatencies(buffer)
    results = {}

    async def fresh_server() -> WorkflowEnvironment:
        # a fresh server per size: the histories and visibility of the last size do not weigh on the next
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary, data_converter=pydantic_data_converter, runtime=runtime,
            search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
            dev_server_extra_args=["--log-level", "error"])

    try:
        for size in sizes:
            env = await fresh_server()
            try:
                print(f"{size} contexts:")
                results[size] = await one_size(server, env, size, executor, latencies)
            finally:
                await env.shutdown()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    if catalog_contexts:
        env = await fresh_server()
        try:
            print(f"catalog scale, {catalog_contexts} contexts:")
            results[-1] = {"max_payload_kb": await catalog_scale(server, env, catalog_contexts)}
        finally:
            await env.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--pattern-nice", type=int, default=10, help="the pattern processes' niceness (the worker's "
                        "setting SEMSYNC_WORKER__PATTERN_NICE; 0: the worker's own priority)")
    parser.add_argument("--payload-contexts", type=int, default=100_000,
                        help="contexts of the catalog-scale payload run (0: skip it)")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    with temporary_postgres() as server:
        results = asyncio.run(run(server, sizes, args.pattern_nice, args.payload_contexts))
    big, small = results[sizes[-1]], results[sizes[0]]
    catalog = (f" catalog_contexts={args.payload_contexts} catalog_max_payload_kb={results[-1]['max_payload_kb']:.1f}"
               if args.payload_contexts else "")
    print(f"scale: contexts={sizes[-1]} run_s={big['run_s']:.1f} peak_rss_mb={big['peak_rss_mb']:.0f} "
          f"rss_growth={big['peak_rss_mb'] / small['peak_rss_mb']:.2f} max_history_events={big['max_history_events']} "
          f"wft_p99_ms={big['wft_p99_ms']:.0f} wft_max_ms={big['wft_max_ms']:.0f} "
          f"max_payload_kb={max(r['max_payload_kb'] for r in results.values()):.1f}{catalog}")


if __name__ == "__main__":
    main()
