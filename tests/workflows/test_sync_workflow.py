"""SyncWorkflow, PatternWorkflow and StoryWorkflow on the time-skipping server with activity fakes (no database)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fakes import Fakes, fake_workers
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from semsync.contracts import (
    ComponentRetry,
    LedgerStatus,
    PatternWorkflowInput,
    PatternWorkflowResult,
    StoryWorkflowInput,
    StoryWorkflowResult,
    SyncWorkflowInput,
)
from semsync.errors import SourceUnavailableError
from workflows.patterns import PatternWorkflow
from workflows.stories import StoryWorkflow
from workflows.sync import SyncWorkflow

#: retries in milliseconds: the tests run in real time
FAST_RETRY = ComponentRetry(initial_interval_s=0.01, maximum_interval_s=0.05)


def sync_input(queues, **overrides) -> SyncWorkflowInput:
    fields = {"tenant": "acme", "metric_id": "revenue", "grain": "day", "start_partition": "2025-07-01",
              "end_partition": "2025-07-31", "pattern_task_queue": queues.patterns, "retry": FAST_RETRY}
    return SyncWorkflowInput(**(fields | overrides))


async def run_sync(client, queues, request: SyncWorkflowInput):
    return await client.execute_workflow(SyncWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}",
                                         task_queue=queues.sync)


async def finished(client, workflow_id: str, result_type):
    """The result of a workflow this test did not start (polled: the time-skipping server's
    automatic skipping only covers the handles its client started)."""
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    for _ in range(200):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not complete")


async def test_a_sync_runs_every_component_records_the_ledger_and_starts_its_patterns(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    async with fake_workers(client, fakes) as queues:
        result = await run_sync(client, queues, sync_input(queues))
        assert result.patterns_workflow_id == "patterns/day/2025-07-01:2025-07-31/acme::revenue"
        patterns = await finished(client, result.patterns_workflow_id, PatternWorkflowResult)
        # the patterns' continuation: the span's stories, from the stored results
        assert patterns.stories_workflow_id == "stories/day/2025-07-01:2025-07-31/acme::revenue"
        stories = await finished(client, patterns.stories_workflow_id, StoryWorkflowResult)
    assert stories.stories == 62 and stories.new == 31
    assert [(r.start_partition, r.end_partition) for r in fakes.story_runs] == [("2025-07-01", "2025-07-31")]
    assert result.success and result.ledger_status is LedgerStatus.SUCCEEDED and result.patterns_started
    assert [d.dimension for d in result.dimensions] == ["region", "channel"] and result.rows_fetched == 30
    assert [(e.kind, e.status) for e in fakes.ledger[:2]] == [("sync", LedgerStatus.RUNNING),
                                                             ("sync", LedgerStatus.SUCCEEDED)]
    assert len(fakes.ledger[1].partitions) == 31 and fakes.ledger[1].rows == 30
    assert [o.pattern for o in patterns.outcomes] == ["performance_status", "forecasting"] and not patterns.failed
    assert {(e.kind, e.status) for e in fakes.ledger[2:]} == {("performance_status", LedgerStatus.SUCCEEDED),
                                                              ("forecasting", LedgerStatus.SUCCEEDED),
                                                              ("stories", LedgerStatus.SUCCEEDED)}
    # the patterns analyse the whole span in one activity (one read, one multi-date call each, one store)
    assert [(r.start_partition, r.end_partition, r.patterns) for r in fakes.batch_runs] == [
        ("2025-07-01", "2025-07-31", None)]
    assert not fakes.pattern_runs


async def test_a_dimension_is_retried_on_its_own_and_another_failing_for_good_is_recorded(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    fakes.component_errors[("acme::revenue", "region")] = [ApplicationError("503", type="SourceUnavailableError")] * 3
    fakes.component_errors[("acme::revenue", "channel")] = [
        ApplicationError("Cube rejected the query (HTTP 400): unknown member", type="SourceRequestError",
                         non_retryable=True)]
    async with fake_workers(client, fakes) as queues:
        result = await run_sync(client, queues, sync_input(queues, run_patterns=False))
    assert result.success and result.ledger_status is LedgerStatus.PARTIAL
    assert result.dimensions_succeeded == ["region"]
    assert result.dimensions_failed == {"channel": "SourceRequestError: Cube rejected the query (HTTP 400): "
                                                   "unknown member"}
    region_attempts = [c for c in fakes.calls if c[1].startswith("acme::revenue region")]
    base_attempts = [c for c in fakes.calls if c[1].startswith("acme::revenue base")]
    assert len(region_attempts) == 4 and len(base_attempts) == 1  # only the failing component was retried
    assert [f.plan.dimension for f in fakes.failures_recorded] == ["channel"]
    assert fakes.ledger[-1].status is LedgerStatus.PARTIAL and "channel" in fakes.ledger[-1].error
    assert result.patterns_workflow_id is None and not fakes.pattern_runs and not fakes.batch_runs


async def test_a_base_series_out_of_attempts_fails_the_sync_and_is_recorded(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    fakes.component_errors[("acme::revenue", "base")] = [
        ApplicationError("Cube answered HTTP 503", type=SourceUnavailableError.__name__)] * 20
    async with fake_workers(client, fakes) as queues:
        with pytest.raises(WorkflowFailureError) as failed:
            await run_sync(client, queues, sync_input(queues))
    assert failed.value.cause.type == "BaseSeriesFailed"
    assert "SourceUnavailableError: Cube answered HTTP 503" in failed.value.cause.message
    assert len([c for c in fakes.calls if " base " in c[1]]) == 8  # the component retry policy's attempts
    assert [f.plan.dimension for f in fakes.failures_recorded] == [None]
    assert fakes.ledger[-1].status is LedgerStatus.FAILED and not fakes.pattern_runs and not fakes.batch_runs


async def test_an_already_running_pattern_workflow_counts_as_started(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    async with fake_workers(client, fakes) as queues:
        request = sync_input(queues)
        pattern_id = "patterns/day/2025-07-01:2025-07-31/acme::revenue"
        # an identical pattern run, started but not picked up (its queue has no worker)
        blocker = await client.start_workflow(
            PatternWorkflow.run, PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="day",
                                                      start_partition="2025-07-01", end_partition="2025-07-31"),
            id=pattern_id, task_queue=f"nobody-{uuid.uuid4()}")
        result = await run_sync(client, queues, request)
        await blocker.terminate()
    assert result.patterns_started and result.patterns_workflow_id == pattern_id


async def test_one_failing_pattern_does_not_stop_the_others(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes(failing_patterns={"forecasting"})
    async with fake_workers(client, fakes) as queues:
        result = await client.execute_workflow(
            PatternWorkflow.run, PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                                      start_partition="2025-W27", end_partition="2025-W30"),
            id=f"patterns-{uuid.uuid4()}", task_queue=queues.patterns)
    assert result.failed == ["forecasting"]
    outcome = {o.pattern: o for o in result.outcomes}
    assert outcome["performance_status"].results_stored == 4
    assert outcome["forecasting"].error == "InvalidInputError: insufficient settings"
    statuses = {(e.kind, e.status) for e in fakes.ledger if e.kind != "stories"}
    assert statuses == {("performance_status", LedgerStatus.SUCCEEDED), ("forecasting", LedgerStatus.FAILED)}
    assert result.stories_workflow_id == "stories/week/2025-W27:2025-W30/acme::revenue"  # one pattern succeeded


async def test_no_stories_when_every_pattern_failed_or_stories_are_off(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes(failing_patterns={"performance_status", "forecasting"})
    async with fake_workers(client, fakes) as queues:
        failed = await client.execute_workflow(
            PatternWorkflow.run, PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                                      start_partition="2025-W27"),
            id=f"patterns-{uuid.uuid4()}", task_queue=queues.patterns)
        fakes.failing_patterns.clear()
        off = await client.execute_workflow(
            PatternWorkflow.run, PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                                      start_partition="2025-W27", run_stories=False),
            id=f"patterns-{uuid.uuid4()}", task_queue=queues.patterns)
    assert failed.failed == ["performance_status", "forecasting"] and failed.stories_workflow_id is None
    assert not off.failed and off.stories_workflow_id is None
    assert not fakes.story_runs


async def test_a_story_run_failing_for_good_fails_the_story_workflow_and_its_ledger(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    fakes.story_errors = [ApplicationError("unknown metric 'revenue'", type="UnknownMetricError",
                                           non_retryable=True)]
    request = StoryWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                                 end_partition="2025-07-03")
    assert request.workflow_id == "stories/day/2025-07-01:2025-07-03/acme::revenue"
    async with fake_workers(client, fakes) as queues:
        with pytest.raises(WorkflowFailureError) as failed:
            await client.execute_workflow(StoryWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}",
                                          task_queue=queues.patterns)
    assert "unknown metric" in str(failed.value.cause) and len(fakes.story_runs) == 1  # non-retryable: once
    assert [(e.kind, e.status, len(e.partitions)) for e in fakes.ledger] == [("stories", LedgerStatus.FAILED, 3)]


async def test_a_batch_failing_for_good_runs_each_pattern_on_its_own(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes(failing_patterns={"forecasting"})
    fakes.batch_errors = [ApplicationError("the pattern process died", type="BrokenProcessPool")] * 5
    async with fake_workers(client, fakes) as queues:
        result = await client.execute_workflow(
            PatternWorkflow.run, PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="week",
                                                      start_partition="2025-W27", end_partition="2025-W30"),
            id=f"patterns-{uuid.uuid4()}", task_queue=queues.patterns)
    assert len(fakes.batch_runs) == 5  # the analysis retry policy's attempts
    assert sorted(r.pattern for r in fakes.pattern_runs) == ["forecasting", "performance_status"]
    assert result.failed == ["forecasting"]
    assert {o.pattern: o.results_stored for o in result.outcomes} == {"performance_status": 4, "forecasting": 0}


async def test_a_pattern_workflow_for_one_pattern_runs_just_that_one(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    request = PatternWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-05",
                                   patterns=["forecasting"])
    assert request.workflow_id == "patterns/day/2025-07-05/acme::revenue::forecasting"
    async with fake_workers(client, fakes) as queues:
        result = await client.execute_workflow(PatternWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}",
                                               task_queue=queues.patterns)
    assert [o.pattern for o in result.outcomes] == ["forecasting"]
    assert [r.patterns for r in fakes.batch_runs] == [["forecasting"]]


async def test_malformed_input_fails_the_workflow_instead_of_retrying(time_skipping_env):
    client, fakes = time_skipping_env.client, Fakes()
    async with fake_workers(client, fakes) as queues:
        with pytest.raises(WorkflowFailureError) as failed:
            await client.execute_workflow(
                "SyncWorkflow", {"tenant": "acme", "metric_id": "revenue", "grain": "day",
                                 "start_partition": "2025-13-01"},
                id=f"sync-bad-{uuid.uuid4()}", task_queue=queues.sync)
    assert "2025-13-01" in str(failed.value.cause) and not fakes.calls
