"""SyncWorkflow's cache continuation and CacheWorkflow on the time-skipping server with activity fakes:
what the sync hands its cache (the windows it changed), when it starts none, and the ledger's word."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from semsync.contracts import (
    CACHE_KIND,
    CacheWorkflowInput,
    CacheWorkflowResult,
    ComponentRetry,
    LedgerStatus,
    SyncWorkflowInput,
)
from workflows.cache import CacheWorkflow
from workflows.sync import SyncWorkflow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workflows"))  # the workflow tests' fakes
from fakes import Fakes, fake_workers  # noqa: E402

FAST_RETRY = ComponentRetry(initial_interval_s=0.01, maximum_interval_s=0.05)




async def finished(client, workflow_id: str, result_type):
    """The result of a workflow the test did not start (polled, as tests/workflows/test_sync_workflow.py)."""
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    for _ in range(200):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not complete")


def sync_input(queues, tenant: str = "acme") -> SyncWorkflowInput:
    return SyncWorkflowInput(tenant=tenant, metric_id="revenue", grain="day", start_partition="2025-07-01",
                             end_partition="2025-07-03", pattern_task_queue=queues.patterns, retry=FAST_RETRY,
                             run_patterns=False)


async def test_the_sync_hands_its_cache_the_windows_it_changed(own_clock):
    client = own_clock.client
    fakes = Fakes(cache_tenants={"acme"})
    fakes.component_errors[("acme::revenue", "channel")] = [
        ApplicationError("bad member", type="SourceRequestError", non_retryable=True)]
    async with fake_workers(client, fakes) as queues:
        request = sync_input(queues)
        result = await client.execute_workflow(SyncWorkflow.run, request, id=request.workflow_id,
                                               task_queue=queues.sync)
        assert result.cache_workflow_id == "cache/acme::day::revenue/2025-07-01:2025-07-03"
        cached = await finished(client, result.cache_workflow_id, CacheWorkflowResult)
    assert cached.ledger_status is LedgerStatus.SUCCEEDED and cached.write.rows_inserted == 10
    [write] = fakes.cache_writes
    # the base series and region: channel failed, so its window is not the sync's to hand on
    assert [(w.dimension, str(w.start), str(w.end)) for w in write.windows] == [
        (None, "2024-07-01", "2025-07-03"), ("region", "2024-07-01", "2025-07-03")]
    cache_rows = [e for e in fakes.ledger if e.kind == CACHE_KIND]
    assert [e.status for e in cache_rows] == [LedgerStatus.RUNNING, LedgerStatus.SUCCEEDED]
    assert cache_rows[-1].partitions == ["2025-07-01", "2025-07-02", "2025-07-03"]


async def test_a_tenant_without_a_target_gets_no_cache_workflow(own_clock):
    client, fakes = own_clock.client, Fakes()
    async with fake_workers(client, fakes) as queues:
        request = sync_input(queues)
        result = await client.execute_workflow(SyncWorkflow.run, request, id=request.workflow_id,
                                               task_queue=queues.sync)
    assert result.cache_workflow_id is None and not fakes.cache_writes


async def test_a_refused_write_fails_the_cache_run_once_and_its_ledger_says_why(own_clock):
    client = own_clock.client
    fakes = Fakes(cache_errors=[ApplicationError("snowflake account 'xy' refused the cache write (250001): "
                                                 "Incorrect username or password was specified.",
                                                 type="CacheTargetError", non_retryable=True)])
    async with fake_workers(client, fakes) as queues:
        request = CacheWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01")
        with pytest.raises(WorkflowFailureError):
            await client.execute_workflow(CacheWorkflow.run, request, id=request.workflow_id, task_queue=queues.sync)
    assert len(fakes.cache_writes) == 1 and fakes.cache_writes[0].windows is None
    failed = [e for e in fakes.ledger if e.kind == CACHE_KIND][-1]
    assert failed.status is LedgerStatus.FAILED and "Incorrect username or password" in failed.error
