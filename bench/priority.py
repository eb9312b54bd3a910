"""Benchmark: a tenant's daily run ahead of another tenant's big backfill on shared workers (task
priority and fairness).

On the embedded stack (a temporary PostgreSQL with the demo warehouse, the Temporal dev server with
task queue fairness, the worker in this process with its pattern process pool): tenant ``a`` with 100
contexts and tenant ``b`` with 20 (the demo's revenue with one dimension, and its targets), each phase
on a fresh database and task queues:

1. **idle**: b's daily run alone: what the daily schedule runs for b's contexts (a BackfillWorkflow
   over tenant b, mode all, 2025-07-01, at the scheduled priority 2), timed until its pattern and
   story runs are done;
2. **contended**: a's backfill (100 contexts × 30 days, one child per partition, 50 at once, the
   backfill priority 4) runs; once the workers are saturated, b's daily run as above;
3. **without priority**: the same, b's run at a's priority (4; tenants still share it fairly).

Last line: ``priority: idle_s=… contended_s=… ratio=… without_priority_ratio=…`` (ratio = contended ÷
idle; the goal is at most 2).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from semsync.services import pin_blas_threads  # noqa: E402

pin_blas_threads()

from temporalio.common import Priority, SearchAttributeKey  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

import worker as worker_module  # noqa: E402
from devstack import SEARCH_ATTRIBUTES, create_scratch_database, temporary_postgres  # noqa: E402
from devstack.demo import demo_catalog, seed_warehouse  # noqa: E402
from devstack.temporal import dynamic_config_args  # noqa: E402
from semsync.catalog.models import Catalog, DimensionDef, TenantDef  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.config import DatabaseSettings, Settings, TemporalSettings  # noqa: E402
from semsync.contracts import BackfillInput, BackfillMode, BackfillProgress, ContextSelector, GrainRange  # noqa: E402
from semsync.contracts.backfill import BACKFILL_PRIORITY, SCHEDULED_PRIORITY  # noqa: E402
from semsync.services import open_services, pattern_process_pool  # noqa: E402
from workflows.backfill import BackfillWorkflow  # noqa: E402

DAY = [GrainRange(grain="day", first="2025-07-01", last="2025-07-01")]
MONTH = [GrainRange(grain="day", first="2025-06-01", last="2025-06-30")]


def catalog(a_contexts: int, b_contexts: int) -> Catalog:
    revenue = next(t for t in demo_catalog().tenants if t.identifier == "acme").metric("revenue")
    metric = revenue.model_copy(update={"dimensions": [DimensionDef(id="region", label="Region", member="region")],
                                        "targets": [t for t in revenue.targets if t.grain == "day"][:400]})

    def tenant(identifier: str, count: int) -> TenantDef:
        return TenantDef(identifier=identifier, name=identifier.upper(),
                         metrics=[metric.model_copy(update={"id": f"m{j:03d}"}) for j in range(count)])

    return Catalog(tenants=[tenant("a", a_contexts), tenant("b", b_contexts)])


async def fresh_settings(server, bench_catalog: Catalog) -> Settings:
    scratch = await create_scratch_database(server, f"priority_{uuid.uuid4().hex[:8]}")
    await seed_warehouse(scratch.admin_url, until=date(2025, 7, 31))
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(database=DatabaseSettings(url=scratch.app_url, pool_size=20),
                        temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}", pattern_task_queue=f"pat-{suffix}"))
    async with open_services(settings) as services:
        await write_catalog(services.catalog_database.session_factory, bench_catalog)
    return settings


async def wait_for_runs(client, backfill_id: str) -> None:
    """Until no pattern or story run of `backfill_id` is running (three looks in a row: visibility lags)."""
    running = (f"SemsyncBackfill = '{backfill_id}' AND ExecutionStatus = 'Running' "
               "AND (WorkflowType = 'PatternWorkflow' OR WorkflowType = 'StoryWorkflow')")
    quiet = 0
    while quiet < 3:
        quiet = 0 if (await client.count_workflows(running)).count else quiet + 1
        await asyncio.sleep(0.5)


async def b_run(client, settings: Settings, priority: int) -> float:
    """b's daily run: its syncs, then its pattern and story runs; seconds."""
    request = BackfillInput(backfill_id=f"b-daily-{uuid.uuid4().hex[:6]}", ranges=DAY,
                            selector=ContextSelector(tenant="b"), mode=BackfillMode.ALL, max_concurrency=8,
                            pattern_task_queue=settings.temporal.pattern_task_queue, priority=priority)
    began = time.perf_counter()
    result = await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                           task_queue=settings.temporal.sync_task_queue,
                                           priority=Priority(priority_key=priority))
    if result.failures:
        raise SystemExit(f"b's run failed: {result.failures[:2]}")
    await wait_for_runs(client, request.backfill_id)
    return time.perf_counter() - began


async def phase(env, server, executor, bench_catalog: Catalog, *, contended: bool, b_priority: int) -> float:
    settings = await fresh_settings(server, bench_catalog)
    client = env.client
    async with open_services(settings, pattern_executor=executor) as services:
        workers = worker_module.make_workers(client, services)
        async with workers[0], workers[1]:
            backlog = None
            if contended:
                request = BackfillInput(backfill_id=f"a-{uuid.uuid4().hex[:6]}", ranges=MONTH,
                                        selector=ContextSelector(tenant="a"), mode=BackfillMode.ALL, chunk_size=1,
                                        max_concurrency=50, pattern_task_queue=settings.temporal.pattern_task_queue)
                backlog = await client.start_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                                      task_queue=settings.temporal.sync_task_queue,
                                                      priority=Priority(priority_key=request.priority))
                while True:  # until the window is full and the first pattern runs queue behind it
                    await asyncio.sleep(1)
                    progress: BackfillProgress = await backlog.query(BackfillWorkflow.progress)
                    if progress.chunks_done >= 60:
                        break
            seconds = await b_run(client, settings, b_priority)
            if backlog is not None:
                progress = await backlog.query(BackfillWorkflow.progress)
                print(f"  a's backfill meanwhile: {progress.chunks_done} of {progress.chunks_planned} children done")
                await backlog.terminate("measured")
    return seconds


async def run(server, a_contexts: int, b_contexts: int) -> dict[str, float]:
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, data_converter=pydantic_data_converter,
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
        dev_server_extra_args=["--log-level", "error", *dynamic_config_args()])
    executor = pattern_process_pool()
    executor.submit(sorted, [1]).result()
    bench_catalog = catalog(a_contexts, b_contexts)
    try:
        idle = await phase(env, server, executor, bench_catalog, contended=False, b_priority=SCHEDULED_PRIORITY)
        print(f"idle: b's daily run of {b_contexts} contexts alone: {idle:.1f}s")
        contended = await phase(env, server, executor, bench_catalog, contended=True, b_priority=SCHEDULED_PRIORITY)
        print(f"contended: the same beside a's backfill, b at priority {SCHEDULED_PRIORITY}: {contended:.1f}s")
        equal = await phase(env, server, executor, bench_catalog, contended=True, b_priority=BACKFILL_PRIORITY)
        print(f"without priority: b at a's priority {BACKFILL_PRIORITY}: {equal:.1f}s")
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        await env.shutdown()
    return {"idle_s": idle, "contended_s": contended, "equal_s": equal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a-contexts", type=int, default=100)
    parser.add_argument("--b-contexts", type=int, default=20)
    args = parser.parse_args()
    with temporary_postgres() as server:
        r = asyncio.run(run(server, args.a_contexts, args.b_contexts))
    print(f"priority: idle_s={r['idle_s']:.1f} contended_s={r['contended_s']:.1f} "
          f"ratio={r['contended_s'] / r['idle_s']:.2f} without_priority_ratio={r['equal_s'] / r['idle_s']:.2f}")


if __name__ == "__main__":
    main()
