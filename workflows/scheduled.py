"""ScheduledRunWorkflow: what the grain schedules start — every active context, the last complete partition.

The partition comes from the run's scheduled time (the ``TemporalScheduledStartTime`` search attribute
a schedule sets), not from the clock, so `temporal schedule backfill` and a catch-up after an outage
each process the partition their slot stands for: the daily slot of 2025-07-02T10:00Z syncs
2025-07-01 whenever it actually runs. Started by hand (no schedule), it uses its start time.

The work is a child BackfillWorkflow ``backfill/scheduled-{grain}-{partition}`` over every active
context (mode ``all``: a re-run re-syncs, idempotently); a second trigger for the same partition while
it runs finds that id taken and does not double it.

Prometheus (`activities.telemetry`, through the replay-safe `workflow.metric_meter()`): each run counts
in `semsync_scheduled_runs` as on time or late (its first task more than `LATE_AFTER` after its slot:
a catch-up after an outage, or no worker free), and sets `semsync_schedule_lag_seconds` to that delay.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.telemetry import LATE_AFTER, SCHEDULE_LAG, SCHEDULED_RUNS
    from semsync.contracts import (
        BackfillInput,
        BackfillMode,
        ContextSelector,
        GrainRange,
        ScheduledRunInput,
        ScheduledRunResult,
    )
    from semsync.contracts.backfill import SCHEDULED_PRIORITY
    from semsync.partitions import last_complete_partition
    from workflows import search_attributes as sa
    from workflows.backfill import BackfillWorkflow
    from workflows.slots import scheduled_time

@workflow.defn(failure_exception_types=[ValidationError])
class ScheduledRunWorkflow:
    @workflow.run
    async def run(self, request: ScheduledRunInput) -> ScheduledRunResult:
        at = scheduled_time()
        self._measure(request.grain.value, workflow.now() - at)
        partition = last_complete_partition(request.grain, at)
        backfill_id = f"scheduled-{request.grain.value}-{partition.key}"
        sa.upsert(grain=request.grain.value, partition=partition.key, backfill=backfill_id)
        backfill = BackfillInput(
            backfill_id=backfill_id, ranges=[GrainRange(grain=request.grain, first=partition.key, last=partition.key)],
            selector=ContextSelector(), mode=BackfillMode.ALL, max_concurrency=request.max_concurrency,
            run_patterns=request.run_patterns, pattern_task_queue=request.pattern_task_queue, retry=request.retry,
            priority=SCHEDULED_PRIORITY)
        answer = ScheduledRunResult(grain=request.grain, partition=partition.key, scheduled_at=at,
                                    backfill_id=backfill_id, started=True)
        try:
            answer.result = await workflow.execute_child_workflow(
                BackfillWorkflow.run, backfill, id=backfill.workflow_id,
                priority=Priority(priority_key=SCHEDULED_PRIORITY),
                static_summary=f"scheduled {request.grain.value} run of {partition.key}")
        except WorkflowAlreadyStartedError:
            workflow.logger.info("%s is already running: this trigger does not double it", backfill.workflow_id)
            answer.started = False
        failed = answer.result is not None and bool(answer.result.failures)
        sa.upsert(status="FAILED" if failed else "SUCCESS")
        return answer

    @staticmethod
    def _measure(grain: str, lag: timedelta) -> None:
        """The run's start against its slot, on the worker's metrics (nothing is recorded on replay)."""
        meter = workflow.metric_meter()
        meter.create_gauge_float(*SCHEDULE_LAG).set(max(lag.total_seconds(), 0.0), {"grain": grain})
        start = "late" if lag > LATE_AFTER else "on_time"
        meter.create_counter(*SCHEDULED_RUNS).add(1, {"grain": grain, "start": start})
