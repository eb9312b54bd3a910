"""Record the workflow histories that `test_replay.py` replays: `python tests/workflows/record_histories.py`
(every history), or with names (`… patterns_batched`) just those.

Runs the real workflows with activity fakes on the time-skipping server and writes each history as
JSON under `histories/`. Re-record only on purpose (a deliberate, versioned workflow change): the
point of the replay test is that today's code still replays yesterday's histories.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from fakes import Fakes, fake_workers, lane  # noqa: E402
from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.exceptions import ApplicationError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from devstack import SEARCH_ATTRIBUTES  # noqa: E402
from semsync.contracts import (  # noqa: E402
    BackfillInput,
    CacheWorkflowInput,
    ComponentRetry,
    DiscoveryInput,
    GrainRange,
    PatternWorkflowInput,
    ScheduledRunInput,
    StoryWorkflowInput,
    SyncWorkflowInput,
)
from workflows.backfill import BackfillWorkflow  # noqa: E402
from workflows.cache import CacheWorkflow  # noqa: E402
from workflows.discovery import DiscoveryWorkflow  # noqa: E402
from workflows.patterns import PatternWorkflow  # noqa: E402
from workflows.scheduled import ScheduledRunWorkflow  # noqa: E402
from workflows.stories import StoryWorkflow  # noqa: E402
from workflows.sync import SyncWorkflow  # noqa: E402

FAST = ComponentRetry(initial_interval_s=0.01, maximum_interval_s=0.05)


ONLY = set(sys.argv[1:])


async def record(client, name: str, workflow, request, task_queue: str) -> None:
    if ONLY and name not in ONLY:
        return
    handle = await client.start_workflow(workflow, request, id=f"{name}-{uuid.uuid4()}", task_queue=task_queue)
    try:
        await handle.result()
    except Exception:  # noqa: BLE001 - a failing workflow is a history worth replaying too
        pass
    history = await handle.fetch_history()
    (HERE / "histories" / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


async def main() -> None:
    binary = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binary,
                                                       data_converter=pydantic_data_converter)
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES}))
    client = env.client
    fakes = Fakes(lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-06"),
                         lane("acme::profit", "day", "2025-07-01", "2025-07-06")],
                  unknown_contexts={"acme::profit"}, failing_patterns={"forecasting"})
    fakes.component_errors[("acme::revenue", "region")] = [ApplicationError("503", type="SourceUnavailableError")]
    fakes.component_errors[("acme::cost", "channel")] = [ApplicationError("400", type="SourceRequestError",
                                                                          non_retryable=True)]
    async with fake_workers(client, fakes) as queues:
        sync = dict(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                    end_partition="2025-07-03", pattern_task_queue=queues.patterns, retry=FAST)
        await record(client, "sync_with_patterns", SyncWorkflow.run, SyncWorkflowInput(**sync), queues.sync)
        await record(client, "sync_partial", SyncWorkflow.run,
                     SyncWorkflowInput(**(sync | {"metric_id": "cost", "run_patterns": False})), queues.sync)
        await record(client, "patterns_one_failing", PatternWorkflow.run,
                     PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                          start_partition="2025-W27", end_partition="2025-W28"), queues.patterns)
        # the same run since PatternWorkflow runs its patterns in one activity (the one above is older)
        await record(client, "patterns_batched", PatternWorkflow.run,
                     PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                          start_partition="2025-W27", end_partition="2025-W28"), queues.patterns)
        # since a PatternWorkflow starts its StoryWorkflow (the ones above start none)
        await record(client, "patterns_with_stories", PatternWorkflow.run,
                     PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                          start_partition="2025-W27", end_partition="2025-W28"), queues.patterns)
        await record(client, "stories", StoryWorkflow.run,
                     StoryWorkflowInput(tenant="acme", metric_id="revenue", grain="day",
                                        start_partition="2025-07-01", end_partition="2025-07-06"), queues.patterns)
        fakes.batch_errors = [ApplicationError("the pattern process died", type="BrokenProcessPool")] * 5
        await record(client, "patterns_batch_failed_each_alone", PatternWorkflow.run,
                     PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                          start_partition="2025-W27", end_partition="2025-W28"), queues.patterns)
        await record(client, "backfill_chunked", BackfillWorkflow.run, BackfillInput(
            backfill_id=f"replay-{uuid.uuid4()}", ranges=[GrainRange(grain="day", first="2025-07-01",
                                                                     last="2025-07-06")],
            chunk_size=2, max_concurrency=2, run_patterns=False, retry=FAST, pattern_task_queue=queues.patterns),
            queues.sync)
        fakes.unknown_contexts.clear()
        await record(client, "scheduled_run_day", ScheduledRunWorkflow.run,
                     ScheduledRunInput(grain="day", run_patterns=False, retry=FAST), queues.sync)
        await record(client, "discovery_with_initial_sync", DiscoveryWorkflow.run,
                     DiscoveryInput(initial_sync=True, run_patterns=False, retry=FAST), queues.sync)
        # since a sync of a tenant with a cache target continues into its CacheWorkflow (patched)
        fakes.cache_tenants = {"acme"}
        await record(client, "sync_with_cache", SyncWorkflow.run,
                     SyncWorkflowInput(**(sync | {"run_patterns": False})), queues.sync)
        await record(client, "cache_write", CacheWorkflow.run,
                     CacheWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                                        end_partition="2025-07-03"), queues.sync)
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
