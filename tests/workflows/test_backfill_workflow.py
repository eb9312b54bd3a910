"""BackfillWorkflow on the time-skipping server with activity fakes: the sliding window, lanes in
order, failure isolation, continue-as-new, progress, pause, resume and cancel."""

from __future__ import annotations

import asyncio
import uuid

from fakes import Fakes, fake_workers, lane
from temporalio.client import WorkflowExecutionStatus

from semsync.contracts import (
    BackfillControl,
    BackfillInput,
    BackfillOrder,
    BackfillResult,
    ComponentRetry,
    GrainRange,
)
from workflows.backfill import BackfillWorkflow

FAST_RETRY = ComponentRetry(initial_interval_s=0.01, maximum_interval_s=0.05)


def backfill_input(queues, **overrides) -> BackfillInput:
    fields = {"backfill_id": f"test-{uuid.uuid4()}", "ranges": [GrainRange(grain="day", first="2025-07-01",
                                                                             last="2025-07-10")],
              "pattern_task_queue": queues.patterns, "retry": FAST_RETRY, "run_patterns": False}
    return BackfillInput(**(fields | overrides))


async def run_backfill(client, queues, request: BackfillInput) -> BackfillResult:
    return await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                         task_queue=queues.sync)


async def test_a_failing_context_does_not_fail_the_backfill(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-10"),
                         lane("acme::profit", "day", "2025-07-01", "2025-07-10"),
                         lane("acme::revenue", "week", "2025-W27", "2025-W28")],
                  unknown_contexts={"acme::profit"})
    async with fake_workers(client, fakes) as queues:
        result = await run_backfill(client, queues, backfill_input(queues))
    progress = result.progress
    assert progress.state == "completed" and progress.chunks_planned == 3
    assert (progress.chunks_succeeded, progress.chunks_failed) == (2, 1)
    assert progress.partitions_done == progress.partitions_planned == 22
    [failure] = result.failures
    assert failure.context == "acme::profit" and failure.span == "2025-07-01:2025-07-10"
    assert failure.workflow_id == "sync/day/2025-07-01:2025-07-10/acme::profit"
    assert "UnknownMetricError: unknown metric 'profit'" in failure.reason


async def test_a_100_kb_failure_reason_is_carried_and_recorded_cut(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(lanes=[lane("acme::profit", "day", "2025-07-01", "2025-07-10")], unknown_contexts={"acme::profit"},
                  unknown_context_detail=": <html>" + "x" * 100_000 + "</html> (end of the answer)")
    async with fake_workers(client, fakes) as queues:
        result = await run_backfill(client, queues, backfill_input(queues, chunk_size=5, children_per_run=1))
    assert result.progress.runs == 2 and len(result.failures) == 2  # carried across continue-as-new
    recorded = [entry.error for entry in fakes.ledger if entry.error]
    assert recorded
    for reason in [failure.reason for failure in result.failures] + recorded:
        assert len(reason) <= 1000
        assert "UnknownMetricError: unknown metric 'profit': <html>" in reason
        assert reason.endswith("</html> (end of the answer)")


async def test_chunks_of_a_lane_run_in_order_within_the_window(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane(f"acme::m{i}", "day", "2025-07-01", "2025-07-10") for i in range(3)])
    async with fake_workers(client, fakes) as queues:
        result = await run_backfill(client, queues, backfill_input(queues, chunk_size=3, max_concurrency=2))
    assert result.progress.chunks_planned == 12 and result.progress.chunks_succeeded == 12
    for i in range(3):
        spans = [c[1].split(" ")[1] for c in fakes.calls if c[0] == "plan" and c[1].startswith(f"acme::m{i} ")]
        assert spans == ["2025-07-01:2025-07-03", "2025-07-04:2025-07-06", "2025-07-07:2025-07-09", "2025-07-10"]


async def test_continue_as_new_keeps_cursors_and_tallies(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-10"),
                                        lane("acme::cost", "day", "2025-07-01", "2025-07-04")])
    async with fake_workers(client, fakes) as queues:
        result = await run_backfill(client, queues, backfill_input(queues, chunk_size=1, children_per_run=3))
    assert result.progress.runs == 5 and result.progress.chunks_succeeded == 14
    planned = sorted(c[1] for c in fakes.calls if c[0] == "plan")
    assert len(planned) == len(set(planned)) == 14  # every partition once, none twice across runs


async def test_pause_resume_and_progress(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-10")])
    async with fake_workers(client, fakes) as queues:
        handle = await start_paused(client, queues, backfill_input(queues, chunk_size=2))
        progress = await wait_for_progress(handle, lambda p: p.state == "paused" and p.chunks_planned == 5)
        assert progress.chunks_done == 0 and progress.partitions_planned == 10 and progress.eta_s is None
        assert not [c for c in fakes.calls if c[0] == "plan"]
        await handle.signal(BackfillWorkflow.resume, BackfillControl())
        result = await handle.result()
    assert result.progress.state == "completed" and result.progress.chunks_succeeded == 5
    assert result.progress.eta_s == 0.0 and result.progress.partitions_done == 10


async def test_cancel_stops_starting_children(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-10")])
    async with fake_workers(client, fakes) as queues:
        handle = await start_paused(client, queues, backfill_input(queues, chunk_size=1))
        await wait_for_progress(handle, lambda p: p.state == "paused")
        await handle.signal(BackfillWorkflow.cancel, BackfillControl(reason="wrong range"))
        result = await handle.result()
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert result.progress.state == "cancelled" and result.progress.chunks_done == 0 and not fakes.calls


async def start_paused(client, queues, request: BackfillInput):
    """Start a backfill with a pause signalled with the start (it plans, then starts no child)."""
    return await client.start_workflow(BackfillWorkflow.run, request, id=request.workflow_id, task_queue=queues.sync,
                                       start_signal="pause", start_signal_args=[BackfillControl(reason="test")])


async def wait_for_progress(handle, condition):
    for _ in range(200):
        progress = await handle.query(BackfillWorkflow.progress)
        if condition(progress):
            return progress
        await asyncio.sleep(0.05)
    raise AssertionError(f"progress never matched: {progress}")


async def test_lanes_come_page_by_page_and_the_state_holds_one_page(time_skipping_env):
    client = time_skipping_env.client
    contexts = [f"acme::m{i:02d}" for i in range(11)]
    fakes = Fakes(dimensions=(), page_size=3, lanes=[lane(c, "day", "2025-07-01", "2025-07-04") for c in contexts])
    async with fake_workers(client, fakes) as queues:
        request = backfill_input(queues, chunk_size=2, max_concurrency=2, children_per_run=5)
        handle = await client.start_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                             task_queue=queues.sync)
        result = await handle.result()
        runs = [e async for e in handle.fetch_history_events()]  # the last run's history
    progress = result.progress
    assert (progress.chunks_planned, progress.chunks_succeeded, progress.runs) == (22, 22, 5)
    summary, *page_requests = fakes.planning
    assert summary.after is None and summary.chunk_size == 2
    assert [r.after for r in page_requests] == [None, "3", "6", "9"]  # each page asked for once
    for context in contexts:  # a lane's chunks in order, across pages and runs
        spans = [c[1].split(" ")[1] for c in fakes.calls if c[0] == "plan" and c[1].startswith(f"{context} ")]
        assert spans == ["2025-07-01:2025-07-02", "2025-07-03:2025-07-04"]
    started = [e for e in runs if e.HasField("workflow_execution_started_event_attributes")]
    state = started[0].workflow_execution_started_event_attributes.input.payloads[0].data
    assert len(state) < 4000  # the running lanes and one page, never the whole plan


async def test_children_carry_the_priority_and_the_tenant_as_fairness_key_newest_first(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane("acme::revenue", "day", "2025-07-01", "2025-07-03"),
                                        lane("globex::orders", "day", "2025-07-01", "2025-07-02")])
    async with fake_workers(client, fakes) as queues:
        request = backfill_input(queues, chunk_size=1, max_concurrency=1, priority=5,
                                 order=BackfillOrder.NEWEST_FIRST)
        await run_backfill(client, queues, request)
        children = {}
        async for event in client.get_workflow_handle(request.workflow_id).fetch_history_events():
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                started = event.start_child_workflow_execution_initiated_event_attributes
                children[started.workflow_id] = (started.priority.priority_key, started.priority.fairness_key)
    assert children == {
        f"sync/day/2025-07-0{d}/acme::revenue": (5, "acme") for d in (1, 2, 3)} | {
        f"sync/day/2025-07-0{d}/globex::orders": (5, "globex") for d in (1, 2)}
    spans = [c[1].split(" ")[1] for c in fakes.calls if c[0] == "plan" and c[1].startswith("acme::revenue ")]
    assert spans == ["2025-07-03", "2025-07-02", "2025-07-01"]  # newest first, one lane in order


async def test_a_contexts_days_run_before_its_weeks_and_months_while_contexts_run_side_by_side(time_skipping_env):
    client = time_skipping_env.client
    contexts = ["acme::revenue", "acme::orders"]
    fakes = Fakes(dimensions=(), lanes=[
        lane_ for c in contexts for lane_ in (lane(c, "day", "2025-07-01", "2025-07-14"),
                                              lane(c, "week", "2025-W27", "2025-W28"),
                                              lane(c, "month", "2025-07", "2025-07"))])
    async with fake_workers(client, fakes) as queues:
        result = await run_backfill(client, queues, backfill_input(queues, chunk_size=7, max_concurrency=4))
    assert result.progress.chunks_succeeded == 2 * (2 + 1 + 1)
    for context in contexts:
        grains = [c[1].split(" ")[1] for c in fakes.calls if c[0] == "plan" and c[1].startswith(f"{context} ")]
        assert grains == ["2025-07-01:2025-07-07", "2025-07-08:2025-07-14", "2025-W27:2025-W28", "2025-07"]
    first_plans = [c[1].split(" ")[0] for c in fakes.calls if c[0] == "plan"][:2]
    assert sorted(first_plans) == sorted(contexts)  # the two contexts began together


async def test_a_backfill_keeps_one_child_going_while_higher_priority_backfills_run(time_skipping_env):
    client = time_skipping_env.client
    contexts = [f"acme::m{i}" for i in range(6)]
    fakes = Fakes(dimensions=(), lanes=[lane(c, "day", "2025-07-01", "2025-07-01") for c in contexts],
                  higher_priority_running=[2] * 100)  # a scheduled run throughout
    async with fake_workers(client, fakes) as queues:
        request = backfill_input(queues, max_concurrency=4)
        result = await run_backfill(client, queues, request)
        overlap = running = 0
        async for event in client.get_workflow_handle(request.workflow_id).fetch_history_events():
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                running += 1
                overlap = max(overlap, running)
            elif event.HasField("child_workflow_execution_completed_event_attributes"):
                running -= 1
    assert result.progress.chunks_succeeded == 6 and overlap == 1  # one child at a time, not four
    assert fakes.yield_checks and set(fakes.yield_checks) == {4}


async def test_a_backfill_runs_its_full_window_when_nothing_of_a_higher_priority_runs(time_skipping_env):
    client = time_skipping_env.client
    fakes = Fakes(dimensions=(), lanes=[lane(f"acme::m{i}", "day", "2025-07-01", "2025-07-01") for i in range(6)])
    async with fake_workers(client, fakes) as queues:
        request = backfill_input(queues, max_concurrency=4)
        await run_backfill(client, queues, request)
        started = 0
        async for event in client.get_workflow_handle(request.workflow_id).fetch_history_events():
            if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                started += 1
            elif event.HasField("child_workflow_execution_completed_event_attributes"):
                break
    assert started == 4  # four children before the first ended
