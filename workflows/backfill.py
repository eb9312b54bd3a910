"""BackfillWorkflow: child SyncWorkflows over partition ranges, with a bounded sliding window.

1. `plan_backfill` selects the contexts and, per (context, grain) *lane*, the runs of partitions the
   mode leaves (``missing``: not yet synced; ``failed``: failed or partial; ``all``).
2. Each lane's runs are cut into chunks (`chunk_size` partitions; default the whole run, so one
   FULL window fetches every value once). The chunks of one lane run in order (each sync builds on
   the status the previous one left); lanes run side by side, at most `max_concurrency` children at a
   time (the sliding window of samples-python's batch_sliding_window).
3. A failed child never fails the backfill: the result lists it with its reason, and the ledger has
   it for a later ``--mode failed``.
4. After `children_per_run` children (or when Temporal suggests it) the window drains and the
   workflow continues as new with its cursors and tallies, far below 10,000 history events.

Signals pause, resume and cancel (cancel lets running children finish and starts no more); the
`progress` query answers planned, running, succeeded, failed, rows, elapsed and ETA.

Id: ``backfill/{id}``; children ``sync/{grain}/{span}/{tenant}::{metric}``.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import BackfillActivities
    from activities.telemetry import BACKFILL_DONE, BACKFILL_PLANNED, backfill_kind
    from semsync.contracts import (
        BackfillControl,
        BackfillInput,
        BackfillProgress,
        BackfillResult,
        BackfillState,
        ChunkFailure,
        LedgerStatus,
        PlanBackfillInput,
        SyncWorkflowInput,
        span_key,
    )
    from semsync.partitions import Grain, MetricContext, count_between
    from workflows import search_attributes as sa
    from workflows.failures import describe
    from workflows.options import PLANNING
    from workflows.sync import SyncWorkflow

#: failures kept in the result and across continue-as-new; the ledger keeps every one
MAX_FAILURES_KEPT = 500


@workflow.defn(failure_exception_types=[ValidationError])
class BackfillWorkflow:
    def __init__(self) -> None:
        self._state: BackfillState | None = None
        self._paused = False
        self._cancelling = False
        self._wake = False
        self._backfill_id = ""

    @workflow.run
    async def run(self, request: BackfillInput) -> BackfillResult:
        self._backfill_id = request.backfill_id
        sa.upsert(backfill=request.backfill_id, status="RUNNING")
        state = request.state or await self._plan(request)
        if request.state is not None:
            state.progress.runs += 1
        self._state = state
        self._paused = self._paused or state.paused  # a pause signalled with the start counts
        chunks = [lane.chunks(request.chunk_size) for lane in state.plan.lanes]
        state.progress.chunks_planned = sum(len(c) for c in chunks)
        busy: set[int] = set()
        started = 0
        scan = 0
        while True:
            budget_left = started < request.children_per_run and not workflow.info().is_continue_as_new_suggested()
            while not self._paused and not self._cancelling and budget_left and len(busy) < request.max_concurrency:
                lane = self._next_lane(chunks, state.cursors, busy, scan)
                if lane is None:
                    break
                scan = lane + 1
                busy.add(lane)
                started += 1
                budget_left = started < request.children_per_run
                asyncio.create_task(self._child(request, lane, chunks[lane][state.cursors[lane]], busy))
            state.progress.chunks_running = len(busy)
            state.progress.state = ("cancelling" if self._cancelling else "paused" if self._paused else "running")
            if not busy:
                remaining = any(c < len(chunks[i]) for i, c in enumerate(state.cursors))
                if not remaining or self._cancelling:
                    break
                if not self._paused:  # the run's budget is spent: start afresh with the cursors
                    state.paused = self._paused
                    workflow.continue_as_new(request.model_copy(update={"state": state}))
            self._wake = False
            await workflow.wait_condition(lambda: self._wake)
        state.progress.state = "cancelled" if self._cancelling else "completed"
        if self._cancelling:
            self._count_cancelled(request, chunks)
        state.progress.elapsed_s = self._elapsed()
        state.progress.eta_s = 0.0
        sa.upsert(status="CANCELLED" if self._cancelling else "FAILED" if state.failures else "SUCCESS")
        return BackfillResult(progress=state.progress, failures=state.failures)

    async def _plan(self, request: BackfillInput) -> BackfillState:
        plan = await workflow.execute_activity_method(
            BackfillActivities.plan_backfill,
            PlanBackfillInput(ranges=request.ranges, selector=request.selector, mode=request.mode),
            summary=f"plan {request.mode.value} over {request.selector.describe()}", **PLANNING)
        progress = BackfillProgress(backfill_id=request.backfill_id, state="running", contexts=plan.contexts,
                                    partitions_planned=plan.partitions, partitions_skipped=plan.skipped_partitions)
        planned = workflow.metric_meter().create_counter(*BACKFILL_PLANNED)
        for lane in plan.lanes:
            for first, last in lane.runs:
                planned.add(count_between(lane.grain, first, last),
                            {"grain": lane.grain.value, "kind": backfill_kind(request.backfill_id)})
        return BackfillState(plan=plan, cursors=[0] * len(plan.lanes), progress=progress, started_at=workflow.now())

    @staticmethod
    def _next_lane(chunks: list[list[tuple[str, str]]], cursors: list[int], busy: set[int], scan: int) -> int | None:
        """The next lane (round robin from `scan`) that is idle and has chunks left."""
        count = len(chunks)
        for step in range(count):
            lane = (scan + step) % count
            if lane not in busy and cursors[lane] < len(chunks[lane]):
                return lane
        return None

    async def _child(self, request: BackfillInput, lane_index: int, chunk: tuple[str, str], busy: set[int]) -> None:
        state = self._state
        assert state is not None
        lane = state.plan.lanes[lane_index]
        context = MetricContext.from_string(lane.context)
        child = SyncWorkflowInput(
            tenant=context.tenant, metric_id=context.metric, grain=lane.grain, start_partition=chunk[0],
            end_partition=chunk[1], force_full_sync=request.force_full, run_patterns=request.run_patterns,
            backfill_id=request.backfill_id, pattern_task_queue=request.pattern_task_queue, retry=request.retry,
        )
        progress = state.progress
        span = span_key(*chunk)
        outcome = "failed"
        try:
            result = await workflow.execute_child_workflow(
                SyncWorkflow.run, child, id=child.workflow_id,
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                static_summary=f"sync {lane.context} {lane.grain.value} {span} (backfill {request.backfill_id})",
            )
            progress.rows_fetched += result.rows_fetched
            progress.rows_written += result.rows_written
            progress.patterns_started += int(result.patterns_started)
            if result.ledger_status is LedgerStatus.PARTIAL:
                progress.chunks_partial += 1
                reason = "dimensions failed: " + "; ".join(f"{k}: {v}" for k, v in result.dimensions_failed.items())
                self._record_failure(lane.context, lane.grain, span, child.workflow_id, reason)
                outcome = "partial"
            else:
                progress.chunks_succeeded += 1
                outcome = "succeeded"
        except (ChildWorkflowError, WorkflowAlreadyStartedError) as error:
            progress.chunks_failed += 1
            reason = (f"a SyncWorkflow {child.workflow_id} is already running" if
                      isinstance(error, WorkflowAlreadyStartedError) else describe(error))
            self._record_failure(lane.context, lane.grain, span, child.workflow_id, reason)
        finally:
            state.cursors[lane_index] += 1
            partitions = count_between(lane.grain, chunk[0], chunk[1])
            progress.partitions_done += partitions
            workflow.metric_meter().create_counter(*BACKFILL_DONE).add(partitions, {
                "grain": lane.grain.value, "kind": backfill_kind(request.backfill_id), "status": outcome})
            busy.discard(lane_index)
            self._wake = True

    def _count_cancelled(self, request: BackfillInput, chunks: list[list[tuple[str, str]]]) -> None:
        """The partitions a cancel leaves unsynced count as done (status cancelled) on the worker's
        metrics, so planned minus done comes back to 0 and the stalled-backfill alert stays quiet."""
        assert self._state is not None
        done = workflow.metric_meter().create_counter(*BACKFILL_DONE)
        for lane, lane_chunks, cursor in zip(self._state.plan.lanes, chunks, self._state.cursors, strict=True):
            left = sum(count_between(lane.grain, first, last) for first, last in lane_chunks[cursor:])
            done.add(left, {"grain": lane.grain.value, "kind": backfill_kind(request.backfill_id),
                            "status": "cancelled"})

    def _record_failure(self, context: str, grain: Grain, span: str, workflow_id: str, reason: str) -> None:
        assert self._state is not None
        if len(self._state.failures) < MAX_FAILURES_KEPT:
            self._state.failures.append(
                ChunkFailure(context=context, grain=grain, span=span, workflow_id=workflow_id, reason=reason))

    def _elapsed(self) -> float:
        assert self._state is not None
        return (workflow.now() - self._state.started_at).total_seconds()

    @workflow.query
    def progress(self) -> BackfillProgress:
        if self._state is None:
            return BackfillProgress(backfill_id=self._backfill_id)
        progress = self._state.progress.model_copy()
        if progress.state not in ("completed", "cancelled"):
            progress.elapsed_s = self._elapsed()
            done, planned = progress.partitions_done, progress.partitions_planned
            progress.eta_s = progress.elapsed_s / done * (planned - done) if done else None
        return progress

    @workflow.signal
    def pause(self, control: BackfillControl) -> None:
        workflow.logger.info("paused: %s", control.reason or "no reason given")
        self._paused, self._wake = True, True

    @workflow.signal
    def resume(self, control: BackfillControl) -> None:
        workflow.logger.info("resumed: %s", control.reason or "no reason given")
        self._paused, self._wake = False, True

    @workflow.signal
    def cancel(self, control: BackfillControl) -> None:
        workflow.logger.info("cancelling (running children finish): %s", control.reason or "no reason given")
        self._cancelling, self._wake = True, True
