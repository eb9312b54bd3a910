"""ScheduledRunWorkflow: what the grain schedules start — every active context, the last complete partition.

The partition comes from the run's scheduled time (the ``TemporalScheduledStartTime`` search attribute
a schedule sets), not from the clock, so `temporal schedule backfill` and a catch-up after an outage
each process the partition their slot stands for: the daily slot of 2025-07-02T10:00Z syncs
2025-07-01 whenever it actually runs. Started by hand (no schedule), it uses its start time.

The work is a child BackfillWorkflow ``backfill/scheduled-{grain}-{partition}`` over every active
context (mode ``all``: a re-run re-syncs, idempotently); a second trigger for the same partition while
it runs finds that id taken and does not double it.

A weekly or monthly run depends on the days its period covers (per context, from the ledger). With
``cross_grain`` ``resolve`` (the default) it first runs a backfill of the period's missing days
(``backfill/scheduled-week-2025-W27-days-1``, mode missing), and again every `cross_grain_poll_min`
while some keep failing; with ``wait`` it only looks again then; with ``off`` it runs at once. Past
`cross_grain_deadline_h` after it began it runs anyway, and each context's ledger row of the period
names the days that were missing (``days missing: …``). Durable: the waits are Temporal timers.

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

    from activities.backfill import BackfillActivities, LedgerActivities
    from activities.telemetry import LATE_AFTER, SCHEDULE_LAG, SCHEDULED_RUNS
    from semsync.contracts import (
        BackfillInput,
        BackfillMode,
        ContextSelector,
        CrossGrain,
        GrainRange,
        NoteMissingDaysInput,
        PlanBackfillInput,
        ScheduledRunInput,
        ScheduledRunResult,
            scheduled_backfill_id,
)
    from semsync.contracts.backfill import SCHEDULED_PRIORITY
    from semsync.partitions import Grain, last_complete_partition, partition_for_date
    from workflows import search_attributes as sa
    from workflows.backfill import BackfillWorkflow
    from workflows.options import PLANNING
    from workflows.slots import scheduled_time

#: the `workflow.patched` marker of the weekly and monthly runs' wait for their days
CROSS_GRAIN = "cross-grain-days"


@workflow.defn(failure_exception_types=[ValidationError])
class ScheduledRunWorkflow:
    @workflow.run
    async def run(self, request: ScheduledRunInput) -> ScheduledRunResult:
        at = scheduled_time()
        self._measure(request.grain.value, workflow.now() - at)
        partition = last_complete_partition(request.grain, at)
        backfill_id = scheduled_backfill_id(request.grain, partition.key)
        sa.upsert(grain=request.grain.value, partition=partition.key, backfill=backfill_id)
        backfill = BackfillInput(
            backfill_id=backfill_id, ranges=[GrainRange(grain=request.grain, first=partition.key, last=partition.key)],
            selector=ContextSelector(), mode=BackfillMode.ALL, max_concurrency=request.max_concurrency,
            run_patterns=request.run_patterns, pattern_task_queue=request.pattern_task_queue, retry=request.retry,
            priority=SCHEDULED_PRIORITY)
        answer = ScheduledRunResult(grain=request.grain, partition=partition.key, scheduled_at=at,
                                    backfill_id=backfill_id, started=True)
        days = None
        if request.grain is not Grain.DAY and request.cross_grain is not CrossGrain.OFF and workflow.patched(
                CROSS_GRAIN):
            days = GrainRange(grain=Grain.DAY, first=partition_for_date(Grain.DAY, partition.start).key,
                              last=partition_for_date(Grain.DAY, partition.end).key)
            answer.days_missing = await self._days(request, backfill_id, days, answer)
        try:
            answer.result = await workflow.execute_child_workflow(
                BackfillWorkflow.run, backfill, id=backfill.workflow_id,
                priority=Priority(priority_key=SCHEDULED_PRIORITY),
                static_summary=f"scheduled {request.grain.value} run of {partition.key}")
        except WorkflowAlreadyStartedError:
            workflow.logger.info("%s is already running: this trigger does not double it", backfill.workflow_id)
            answer.started = False
        if days is not None and answer.days_missing and answer.started:
            await workflow.execute_activity_method(
                LedgerActivities.note_missing_days,
                NoteMissingDaysInput(grain=request.grain, partition=partition.key, first_day=days.first,
                                     last_day=days.last),
                summary=f"name the days of {partition.key} that were missing", **PLANNING)
        failed = answer.result is not None and bool(answer.result.failures)
        sa.upsert(status="FAILED" if failed else "SUCCESS")
        return answer

    async def _days(self, request: ScheduledRunInput, backfill_id: str, days: GrainRange,
                    answer: ScheduledRunResult) -> int:
        """Until the period's days are synced for every context (from the ledger), or the deadline: with
        ``resolve`` a backfill of the missing days (mode missing) each round, with ``wait`` a look
        every `cross_grain_poll_min`. The day partitions still missing (summed over contexts)."""
        deadline = workflow.now() + timedelta(hours=request.cross_grain_deadline_h)  # a catch-up waits too
        check = PlanBackfillInput(ranges=[days], selector=ContextSelector(), mode=BackfillMode.MISSING)
        for attempt in range(1, 10_000):
            missing = await workflow.execute_activity_method(
                BackfillActivities.summarize_backfill, check,
                summary=f"days of {days.first}..{days.last} not synced", **PLANNING)
            if not missing.partitions:
                return 0
            workflow.set_current_details(
                f"{missing.partitions} day partitions of {days.first}..{days.last} not synced in "
                f"{missing.lanes} contexts; the {request.grain.value} runs when they are, or at "
                f"{deadline:%Y-%m-%d %H:%M} UTC ({request.cross_grain.value})")
            if workflow.now() >= deadline:
                workflow.logger.warning("%s runs past its deadline with %d day partitions missing",
                                        backfill_id, missing.partitions)
                return missing.partitions
            if request.cross_grain is CrossGrain.RESOLVE:
                resolution = BackfillInput(
                    backfill_id=f"{backfill_id}-days-{attempt}", ranges=[days], selector=ContextSelector(),
                    mode=BackfillMode.MISSING, max_concurrency=request.max_concurrency,
                    run_patterns=request.run_patterns, pattern_task_queue=request.pattern_task_queue,
                    retry=request.retry, priority=SCHEDULED_PRIORITY)
                answer.resolutions.append(resolution.workflow_id)
                sa.upsert(status="RESOLVING_DAYS")
                try:
                    await workflow.execute_child_workflow(
                        BackfillWorkflow.run, resolution, id=resolution.workflow_id,
                        priority=Priority(priority_key=SCHEDULED_PRIORITY),
                        static_summary=f"{missing.partitions} missing days of {days.first}..{days.last} first")
                except WorkflowAlreadyStartedError:
                    pass
                check_again = await workflow.execute_activity_method(
                    BackfillActivities.summarize_backfill, check,
                    summary=f"days of {days.first}..{days.last} not synced", **PLANNING)
                if not check_again.partitions:
                    return 0
            sa.upsert(status="WAITING_FOR_DAYS")
            await workflow.sleep(min(timedelta(minutes=request.cross_grain_poll_min),
                                     max(deadline - workflow.now(), timedelta(seconds=1))),
                                 summary=f"waiting for the days of {days.first}..{days.last}")
        return 0

    @staticmethod
    def _measure(grain: str, lag: timedelta) -> None:
        """The run's start against its slot, on the worker's metrics (nothing is recorded on replay)."""
        meter = workflow.metric_meter()
        meter.create_gauge_float(*SCHEDULE_LAG).set(max(lag.total_seconds(), 0.0), {"grain": grain})
        start = "late" if lag > LATE_AFTER else "on_time"
        meter.create_counter(*SCHEDULED_RUNS).add(1, {"grain": grain, "start": start})
