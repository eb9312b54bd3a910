"""BackfillWorkflow: child SyncWorkflows over partition ranges, with a bounded sliding window.

1. `summarize_backfill` counts the plan (contexts, lanes, partitions, chunks) for the progress; the
   lanes themselves, per (context, grain) the runs of partitions the mode leaves (``missing``: not yet
   synced; ``failed``: failed or partial; ``all``), come page by page from `plan_backfill_page`: the
   workflow holds the planner's cursor and asks for the next page when every lane it holds is busy
   or done. Nothing the workflow carries grows with the catalog: its state is the running lanes, one
   page, the cursor, the tallies and at most `MAX_FAILURES_KEPT` failures (the ledger has them all).
2. Each lane's runs are cut into chunks (`chunk_size` partitions; default the whole run, so one
   FULL window fetches every value once). The chunks of one lane run in order (each sync builds on
   the status the previous one left); lanes run side by side, at most `max_concurrency` children at a
   time (the sliding window of samples-python's batch_sliding_window).
3. A failed child never fails the backfill: the result lists it with its reason, and the ledger has
   it for a later ``--mode failed``.
4. After `children_per_run` children (or when Temporal suggests it) the window drains and the
   workflow continues as new with its lanes, cursor and tallies, far below 10,000 history events.

Priority: each child SyncWorkflow gets the request's task priority (scheduled runs 2, backfills 4 by
default, ``--priority`` overrides) with the tenant as fairness key; its activities, pattern and story
runs inherit both, so a scheduled run goes ahead of a backfill on shared workers and tenants share a
priority fairly. Priority orders the task queue only; a backfill's children already running would
still share the cores with a scheduled run's, so while a backfill of a higher priority runs (the
visibility store's `SemsyncPriority`, looked at every 3 s at most) a backfill keeps one child going.
``newest-first`` runs each lane's chunks from the newest.

Signals pause, resume and cancel (cancel lets running children finish and starts no more); the
`progress` query answers planned, running, succeeded, failed, rows, elapsed and ETA.

A backfill started before plans were paged (patch ``paged-plan``) planned everything in one
activity and carries the whole plan; it runs on, and its plan becomes held lanes when it continues.

Id: ``backfill/{id}``; children ``sync/{grain}/{span}/{tenant}::{metric}``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import BackfillActivities, higher_priority_backfills
    from activities.telemetry import BACKFILL_DONE, BACKFILL_PLANNED, backfill_kind
    from semsync.contracts import (
        BackfillControl,
        BackfillInput,
        BackfillOrder,
        BackfillProgress,
        BackfillResult,
        BackfillStage,
        BackfillState,
        CacheWorkflowInput,
        ChunkFailure,
        LaneProgress,
        LedgerStatus,
        PatternWorkflowInput,
        PlanBackfillInput,
        StoryWorkflowInput,
        SyncWorkflowInput,
        YieldCheckInput,
        pattern_workflow_id,
        span_key,
        story_workflow_id,
        sync_workflow_id,
    )
    from semsync.contracts.cache import cache_workflow_id
    from semsync.partitions import Grain, MetricContext, count_between
    from semsync.partitions.cache_keys import CacheKey
    from semsync.temporal_names import PATTERN_TASK_QUEUE
    from workflows import search_attributes as sa
    from workflows.cache import CacheWorkflow
    from workflows.failures import describe
    from workflows.options import PLANNING, QUICK
    from workflows.patterns import PatternWorkflow
    from workflows.stories import StoryWorkflow
    from workflows.sync import SyncWorkflow

#: the `workflow.patched` marker of a context's lanes run in order (histories without it: side by side)
IN_ORDER = "context-lanes-in-order"
#: the `workflow.patched` marker of yielding to higher-priority backfills (and `SemsyncPriority`)
YIELD = "yield-to-higher-priority"
#: children a backfill keeps going while backfills of a higher priority run, and how often it looks
YIELD_WINDOW = 1
YIELD_CHECK = timedelta(seconds=3)
#: failures kept in the result and across continue-as-new; the ledger keeps every one
MAX_FAILURES_KEPT = 100


@workflow.defn(failure_exception_types=[ValidationError])
class BackfillWorkflow:
    def __init__(self) -> None:
        self._state: BackfillState | None = None
        self._paused = False
        self._cancelling = False
        self._wake = False
        self._backfill_id = ""
        self._in_order = False
        self._yields = False
        self._yielding = False
        self._checked: datetime | None = None
        #: per held lane (by object): its chunks (each with the components it syncs), cut from its runs
        #: when first needed; not carried
        self._chunks: dict[int, list[tuple[tuple[str, str], list[str] | None]]] = {}

    @workflow.run
    async def run(self, request: BackfillInput) -> BackfillResult:
        self._backfill_id = request.backfill_id
        self._yields = workflow.patched(YIELD)
        if self._yields:  # what lower-priority backfills look for
            sa.upsert(backfill=request.backfill_id, status="RUNNING", priority=str(request.priority))
        else:
            sa.upsert(backfill=request.backfill_id, status="RUNNING")
        if request.state is not None:
            state = request.state
            state.progress.runs += 1
        elif workflow.patched("paged-plan"):
            state = await self._summarize(request)
        else:
            state = await self._plan_whole(request)
        self._hold_whole_plan(state, request)
        # a context's lanes in order: its days before its weeks and months, a stage's dependencies first
        self._in_order = workflow.patched(IN_ORDER)
        self._state = state
        self._paused = self._paused or state.paused  # a pause signalled with the start counts
        busy: set[str] = set()
        started = 0
        scan = 0
        while True:
            await self._check_yield(request)
            window = YIELD_WINDOW if self._yielding else request.max_concurrency
            budget_left = started < request.children_per_run and not workflow.info().is_continue_as_new_suggested()
            while not self._paused and not self._cancelling and budget_left and len(busy) < window:
                index = self._next_lane(request, state.lanes, busy, scan)
                if index is None:
                    if state.exhausted:
                        break
                    await self._next_page(request, state, busy)
                    scan = 0
                    continue
                lane = state.lanes[index]
                scan = index + 1
                busy.add(lane.key)
                started += 1
                budget_left = started < request.children_per_run
                asyncio.create_task(self._child(request, lane, self._lane_chunks(request, lane)[lane.done], busy))
            state.progress.chunks_running = len(busy)
            state.progress.state = ("cancelling" if self._cancelling else "paused" if self._paused else
                                    "yielding" if self._yielding else "running")
            self._details(state)
            if not busy:
                remaining = not state.exhausted or any(self._left(request, lane) for lane in state.lanes)
                if not remaining or self._cancelling:
                    break
                if not self._paused:  # the run's budget is spent: start afresh with the lanes and cursor
                    state.paused = self._paused
                    state.lanes = [lane for lane in state.lanes if self._left(request, lane)]
                    workflow.continue_as_new(request.model_copy(update={"state": state}))
            self._wake = False
            await workflow.wait_condition(lambda: self._wake)
        state.progress.state = "cancelled" if self._cancelling else "completed"
        if self._cancelling:
            self._count_cancelled(request)
        state.progress.elapsed_s = self._elapsed()
        state.progress.eta_s = 0.0
        sa.upsert(status="CANCELLED" if self._cancelling else "FAILED" if state.failures else "SUCCESS")
        return BackfillResult(progress=state.progress, failures=state.failures)

    async def _check_yield(self, request: BackfillInput) -> None:
        """At most every `YIELD_CHECK`: whether backfills of a higher priority run (a scheduled run's,
        discovery's first syncs): while they do, this one keeps `YIELD_WINDOW` children going, so that
        they have the workers' cores, not only the first place in the task queue."""
        if not self._yields or request.priority <= 1 or self._paused or self._cancelling:
            return
        if self._checked is not None and workflow.now() - self._checked < YIELD_CHECK:
            return
        self._checked = workflow.now()
        try:
            check = await workflow.execute_activity(
                higher_priority_backfills, YieldCheckInput(priority=request.priority),
                summary="backfills of a higher priority running?", **QUICK)
        except ActivityError as error:  # the visibility store away: go on at full width
            workflow.logger.warning("could not tell whether higher-priority backfills run: %s", describe(error))
            self._yielding = False
            return
        if check.running and not self._yielding:
            workflow.logger.info("%d backfills of a higher priority are running: down to %d children",
                                 check.running, YIELD_WINDOW)
        self._yielding = check.running > 0

    @staticmethod
    def _details(state: BackfillState) -> None:
        """What the run is doing and waiting for, in the Web UI's current details."""
        p = state.progress
        waiting = {"paused": "paused: no new child starts until resumed",
                   "yielding": f"yielding: {YIELD_WINDOW} child at a time while backfills of a higher priority run",
                   "cancelling": f"cancelling: waiting for {p.chunks_running} running children to finish"}
        stages = ", ".join(f"{stage} {n}" for stage, n in sorted(p.chunks_by_stage.items()))
        workflow.set_current_details(
            f"{waiting.get(p.state, p.state)} · {p.partitions_done}/{p.partitions_planned} partitions · "
            f"{p.chunks_running} children running, {p.chunks_succeeded} succeeded, {p.chunks_partial} partial, "
            f"{p.chunks_failed} failed" + (f" · done by stage: {stages}" if stages else "")
            + ("" if state.exhausted else " · more contexts to plan"))

    async def _summarize(self, request: BackfillInput) -> BackfillState:
        """The plan's counts: as the CLI made them before starting, else counted now."""
        summary = request.summary or await workflow.execute_activity_method(
            BackfillActivities.summarize_backfill, request.planning(),
            summary=f"count the {request.mode.value} plan over {request.selector.describe()}", **PLANNING)
        progress = BackfillProgress(backfill_id=request.backfill_id, state="running", contexts=summary.contexts,
                                    partitions_planned=summary.partitions, chunks_planned=summary.chunks,
                                    partitions_skipped=summary.skipped_partitions,
                                    partitions_unready=summary.unready_partitions)
        self._count_planned(request, summary.partitions_by_grain)
        return BackfillState(progress=progress, started_at=workflow.now(), exhausted=summary.lanes == 0,
                             planned_by_grain=summary.partitions_by_grain)

    async def _next_page(self, request: BackfillInput, state: BackfillState, busy: set[str]) -> None:
        """Drop the lanes that are done, and hold the next page's."""
        page = await workflow.execute_activity_method(
            BackfillActivities.plan_backfill_page, request.planning(after=state.after),
            summary=f"plan the contexts after {state.after or 'the start'}", **PLANNING)
        held = [lane for lane in state.lanes if lane.key in busy or self._left(request, lane)]
        for gone in {id(lane) for lane in state.lanes} - {id(lane) for lane in held}:
            self._chunks.pop(gone, None)
        state.lanes = held + [LaneProgress(context=lane.context, grain=lane.grain, runs=lane.runs,
                                           components=lane.components, stage=lane.stage) for lane in page.lanes]
        state.after, state.exhausted = page.after, page.after is None

    async def _plan_whole(self, request: BackfillInput) -> BackfillState:
        """A backfill started before plans were paged: the whole plan in one answer."""
        plan = await workflow.execute_activity_method(
            BackfillActivities.plan_backfill,
            PlanBackfillInput(ranges=request.ranges, selector=request.selector, mode=request.mode),
            summary=f"plan {request.mode.value} over {request.selector.describe()}", **PLANNING)
        progress = BackfillProgress(backfill_id=request.backfill_id, state="running", contexts=plan.contexts,
                                    partitions_planned=plan.partitions, partitions_skipped=plan.skipped_partitions)
        planned: dict[Grain, int] = {}
        for lane in plan.lanes:
            planned[lane.grain] = planned.get(lane.grain, 0) + sum(count_between(lane.grain, *r) for r in lane.runs)
        self._count_planned(request, planned)
        return BackfillState(plan=plan, cursors=[0] * len(plan.lanes), progress=progress, started_at=workflow.now(),
                             planned_by_grain=planned)

    @staticmethod
    def _count_planned(request: BackfillInput, planned: dict[Grain, int]) -> None:
        """The plan on the worker's metrics (`workflow.metric_meter`: nothing is recorded on replay)."""
        counter = workflow.metric_meter().create_counter(*BACKFILL_PLANNED)
        for grain, partitions in planned.items():
            counter.add(partitions, {"grain": grain.value, "kind": backfill_kind(request.backfill_id)})

    def _count_cancelled(self, request: BackfillInput) -> None:
        """The partitions a cancel leaves unsynced count as done (status cancelled) on the worker's
        metrics, so planned minus done comes back to 0 and the stalled-backfill alert stays quiet."""
        assert self._state is not None
        done = workflow.metric_meter().create_counter(*BACKFILL_DONE)
        for grain, planned in self._state.planned_by_grain.items():
            left = planned - self._state.done_by_grain.get(grain, 0)
            if left > 0:
                done.add(left, {"grain": grain.value, "kind": backfill_kind(request.backfill_id),
                                "status": "cancelled"})

    def _hold_whole_plan(self, state: BackfillState, request: BackfillInput) -> None:
        """A whole plan (a backfill from before plans were paged) becomes held lanes, the last page."""
        if state.plan is None:
            return
        state.lanes = [LaneProgress(context=lane.context, grain=lane.grain, runs=lane.runs, done=done)
                       for lane, done in zip(state.plan.lanes, state.cursors, strict=True)]
        state.plan, state.cursors, state.after, state.exhausted = None, [], None, True
        state.progress.chunks_planned = sum(len(self._lane_chunks(request, lane)) for lane in state.lanes)

    def _lane_chunks(self, request: BackfillInput, lane: LaneProgress
                     ) -> list[tuple[tuple[str, str], list[str] | None]]:
        if id(lane) not in self._chunks:
            chunks = lane.lane().chunks_with_components(request.chunk_size)
            self._chunks[id(lane)] = chunks[::-1] if request.order is BackfillOrder.NEWEST_FIRST else chunks
        return self._chunks[id(lane)]

    def _left(self, request: BackfillInput, lane: LaneProgress) -> bool:
        return lane.done < len(self._lane_chunks(request, lane))

    def _next_lane(self, request: BackfillInput, lanes: list[LaneProgress], busy: set[str], scan: int) -> int | None:
        """The next held lane (round robin from `scan`) that is idle and has chunks left, and (since
        `IN_ORDER`) no lane of its context before it with chunks left: a context's days run before its
        weeks and months, a partition's sync before its analysis."""
        first: dict[str, LaneProgress] = {}  # per context, its first lane running or with work left
        if self._in_order:
            for lane in lanes:
                if lane.context not in first and (lane.key in busy or self._left(request, lane)):
                    first[lane.context] = lane
        count = len(lanes)
        for step in range(count):
            index = (scan + step) % count
            lane = lanes[index]
            if lane.key in busy or not self._left(request, lane):
                continue
            if self._in_order and first.get(lane.context) is not lane:
                continue  # waits for the lanes of its context before it
            return index
        return None

    async def _child(self, request: BackfillInput, lane: LaneProgress,
                     work: tuple[tuple[str, str], list[str] | None], busy: set[str]) -> None:
        state = self._state
        assert state is not None
        chunk, components = work
        progress = state.progress
        span = span_key(*chunk)
        workflow_id = ""
        outcome = "failed"
        try:
            if lane.stage is BackfillStage.SYNC:
                workflow_id, reason = await self._sync(request, lane, chunk, components)
            elif lane.stage is BackfillStage.CACHE:
                workflow_id, reason = await self._cache(request, lane, chunk)
            else:
                workflow_id, reason = await self._analyse(request, lane, chunk)
            if reason:
                progress.chunks_partial += 1
                self._record_failure(lane.context, lane.grain, span, workflow_id, reason)
                outcome = "partial"
            else:
                progress.chunks_succeeded += 1
                outcome = "succeeded"
        except (ChildWorkflowError, WorkflowAlreadyStartedError) as error:
            progress.chunks_failed += 1
            workflow_id = workflow_id or self._child_id(request, lane, chunk)
            reason = (f"a {lane.stage.value} run {workflow_id} is already running" if
                      isinstance(error, WorkflowAlreadyStartedError) else describe(error))
            self._record_failure(lane.context, lane.grain, span, workflow_id, reason)
        finally:
            progress.chunks_by_stage[lane.stage.value] = progress.chunks_by_stage.get(lane.stage.value, 0) + 1
            lane.done += 1
            partitions = count_between(lane.grain, chunk[0], chunk[1])
            progress.partitions_done += partitions
            state.done_by_grain[lane.grain] = state.done_by_grain.get(lane.grain, 0) + partitions
            workflow.metric_meter().create_counter(*BACKFILL_DONE).add(partitions, {
                "grain": lane.grain.value, "kind": backfill_kind(request.backfill_id), "status": outcome})
            busy.discard(lane.key)
            self._wake = True

    @staticmethod
    def _child_id(request: BackfillInput, lane: LaneProgress, chunk: tuple[str, str]) -> str:
        context = MetricContext.from_string(lane.context)
        span = span_key(*chunk)
        if lane.stage is BackfillStage.SYNC:
            return sync_workflow_id(lane.grain, span, context)
        if lane.stage is BackfillStage.CACHE:
            return cache_workflow_id(CacheKey.of(context, lane.grain), span)
        if lane.stage is BackfillStage.PATTERNS:
            suffix = f"::{request.patterns[0]}" if request.patterns and len(request.patterns) == 1 else ""
            return pattern_workflow_id(lane.grain, span, context) + suffix
        return story_workflow_id(lane.grain, span, context)

    def _priority(self, request: BackfillInput, lane: LaneProgress) -> Priority:
        return Priority(priority_key=request.priority, fairness_key=MetricContext.from_string(lane.context).tenant)

    async def _sync(self, request: BackfillInput, lane: LaneProgress, chunk: tuple[str, str],
                    components: list[str] | None) -> tuple[str, str | None]:
        """One child SyncWorkflow (its pattern and story runs follow it); the reason when partial."""
        context = MetricContext.from_string(lane.context)
        child = SyncWorkflowInput(
            tenant=context.tenant, metric_id=context.metric, grain=lane.grain, start_partition=chunk[0],
            end_partition=chunk[1], force_full_sync=request.force_full, run_patterns=request.run_patterns,
            backfill_id=request.backfill_id, pattern_task_queue=request.pattern_task_queue, retry=request.retry,
            components=components, patterns=request.patterns, force_analysis=request.force_analysis,
        )
        progress = self._state.progress
        span = span_key(*chunk)
        result = await workflow.execute_child_workflow(
            SyncWorkflow.run, child, id=child.workflow_id,
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
            # its activities, pattern and story runs inherit it: scheduled work first, tenants fairly
            priority=self._priority(request, lane),
            static_summary=f"sync {lane.context} {lane.grain.value} {span} (backfill {request.backfill_id})",
        )
        progress.rows_fetched += result.rows_fetched
        progress.rows_written += result.rows_written
        progress.patterns_started += int(result.patterns_started)
        if result.ledger_status is LedgerStatus.PARTIAL:
            return child.workflow_id, "dimensions failed: " + "; ".join(
                f"{k}: {v}" for k, v in result.dimensions_failed.items())
        return child.workflow_id, None

    async def _cache(self, request: BackfillInput, lane: LaneProgress, chunk: tuple[str, str]
                     ) -> tuple[str, str | None]:
        """One child CacheWorkflow: the chunk's whole window from what is already synced."""
        context = MetricContext.from_string(lane.context)
        cache = CacheWorkflowInput(tenant=context.tenant, metric_id=context.metric, grain=lane.grain,
                                   start_partition=chunk[0], end_partition=chunk[1], backfill_id=request.backfill_id)
        await workflow.execute_child_workflow(
            CacheWorkflow.run, cache, id=cache.workflow_id,
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL, priority=self._priority(request, lane),
            static_summary=f"cache {cache.key} {cache.span} (backfill {request.backfill_id})")
        return cache.workflow_id, None

    async def _analyse(self, request: BackfillInput, lane: LaneProgress, chunk: tuple[str, str]
                       ) -> tuple[str, str | None]:
        """One child PatternWorkflow (its stories follow) or StoryWorkflow over data already stored;
        the reason when some of its patterns failed."""
        context = MetricContext.from_string(lane.context)
        span = span_key(*chunk)
        queue = request.pattern_task_queue or PATTERN_TASK_QUEUE
        common = {"parent_close_policy": workflow.ParentClosePolicy.REQUEST_CANCEL,
                  "priority": self._priority(request, lane), "task_queue": queue}
        if lane.stage is BackfillStage.PATTERNS:
            patterns = PatternWorkflowInput(
                tenant=context.tenant, metric_id=context.metric, grain=lane.grain, start_partition=chunk[0],
                end_partition=chunk[1], patterns=request.patterns, backfill_id=request.backfill_id,
                alerts_task_queue=workflow.info().task_queue, force=request.force_analysis)
            result = await workflow.execute_child_workflow(
                PatternWorkflow.run, patterns, id=patterns.workflow_id,
                static_summary=f"patterns of {lane.context} {lane.grain.value} {span} (backfill "
                               f"{request.backfill_id})", **common)
            self._state.progress.patterns_started += 1
            failed = "; ".join(f"{o.pattern}: {o.error}" for o in result.outcomes if not o.succeeded)
            return patterns.workflow_id, f"patterns failed: {failed}" if failed else None
        stories = StoryWorkflowInput(tenant=context.tenant, metric_id=context.metric, grain=lane.grain,
                                     start_partition=chunk[0], end_partition=chunk[1],
                                     backfill_id=request.backfill_id, alerts_task_queue=workflow.info().task_queue)
        await workflow.execute_child_workflow(
            StoryWorkflow.run, stories, id=stories.workflow_id,
            static_summary=f"stories of {lane.context} {lane.grain.value} {span} (backfill {request.backfill_id})",
            **common)
        return stories.workflow_id, None

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
