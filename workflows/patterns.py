"""PatternWorkflow: the pattern analysis of one metric context over one date or a range.

Its patterns (the metric's active pattern contexts ``tenant::metric::pattern``, as discovery recorded
them, every registered pattern until then; or the ones it was started for) run in one activity: the
catalog read once, one read of the data they all need, one analysis job, one store. A pattern whose
settings are invalid or whose analysis raises fails alone, in its outcome. Should the batch itself
fail for good (the database gone, a pattern crashing its process), each pattern runs again as its own
activity, isolated and retried on its own: one failing pattern never stops the others. The outcomes
go into the partition ledger, one row per partition and pattern. A pattern whose data, version and
settings are unchanged since its last success on the span is skipped (``skipped: unchanged`` in the
ledger; `force` analyses anyway), and when every pattern was skipped no story run follows. One
workflow per sync rather than one per pattern keeps a scheduled run over thousands of contexts cheap.
When at least one pattern succeeded (not skipped), it starts the span's StoryWorkflow as its
continuation (parent-close ABANDON).

Id: ``patterns/{grain}/{span}/{tenant}::{metric}`` (``…::{pattern}`` when started for one pattern).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import LedgerActivities
    from activities.patterns import PatternActivities
    from semsync.contracts import (
        ActivePatternsInput,
        LedgerBatch,
        LedgerEntry,
        LedgerStatus,
        PatternBatchRequest,
        PatternOutcome,
        PatternRunRequest,
        PatternWorkflowInput,
        PatternWorkflowResult,
        StoryWorkflowInput,
    )
    from workflows import search_attributes as sa
    from workflows.failures import describe
    from workflows.options import LOCAL, QUICK, pool_work
    from workflows.stories import StoryWorkflow

#: the `workflow.patched` marker of the one-activity batch (histories without it run each pattern alone)
BATCHED = "patterns-in-one-activity"
#: the `workflow.patched` marker of the stories continuation (histories without it start none)
STORIES = "stories-continuation"
#: the ledger's note on a pattern not analysed because nothing it reads changed
SKIPPED = "skipped: unchanged"
#: the analysis runs in a process pool while the activity's keep-alive heartbeats every 5 s from the
#: event loop, so a 30 s heartbeat timeout is six missed beats: a lost worker's pattern resumes within 30 s
ANALYSIS = pool_work(timedelta(minutes=30))


@workflow.defn(failure_exception_types=[ValidationError])
class PatternWorkflow:
    @workflow.run
    async def run(self, request: PatternWorkflowInput) -> PatternWorkflowResult:
        single = request.patterns[0] if request.patterns and len(request.patterns) == 1 else None
        sa.upsert(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                  partition=request.span, pattern=single, backfill=request.backfill_id, status="RUNNING")
        if workflow.patched(BATCHED):
            outcomes = await self._run_batch(request)
        else:  # histories from before the batch
            outcomes = await self._run_each(request)
        partitions = [p.key for p in request.partitions()]
        entries = [
            LedgerEntry(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                        partitions=partitions, kind=o.pattern,
                        status=LedgerStatus.SUCCEEDED if o.succeeded else LedgerStatus.FAILED,
                        rows=o.results_stored, error=o.error, workflow_id=workflow.info().workflow_id,
                        fingerprint=o.fingerprint, note=SKIPPED if o.skipped else None)
            for o in outcomes
        ]
        if entries:
            await workflow.execute_local_activity_method(LedgerActivities.record_ledger,
                                                         LedgerBatch(entries=entries), **LOCAL)
        result = PatternWorkflowResult(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                       partitions=partitions, outcomes=outcomes)
        # stories follow new results: when every pattern was skipped (nothing changed), so are they
        if request.run_stories and any(o.succeeded and not o.skipped for o in outcomes) and workflow.patched(STORIES):
            result.stories_workflow_id = await self._start_stories(request)
        sa.upsert(status="FAILED" if result.failed else "SUCCESS")
        return result

    async def _start_stories(self, request: PatternWorkflowInput) -> str:
        """The StoryWorkflow of the span (parent-close ABANDON); an identical one running counts as started."""
        stories = StoryWorkflowInput(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                     start_partition=request.start_partition, end_partition=request.end_partition,
                                     backfill_id=request.backfill_id, alerts_task_queue=request.alerts_task_queue)
        try:
            await workflow.start_child_workflow(
                StoryWorkflow.run, stories, id=stories.workflow_id, task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"stories of {request.context} {request.grain.value} {request.span}")
        except WorkflowAlreadyStartedError:
            workflow.logger.info("story workflow %s already running: it covers this run", stories.workflow_id)
        return stories.workflow_id

    async def _run_batch(self, request: PatternWorkflowInput) -> list[PatternOutcome]:
        batch = PatternBatchRequest(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                    start_partition=request.start_partition, end_partition=request.end_partition,
                                    patterns=request.patterns, force=request.force)
        names = ", ".join(request.patterns) if request.patterns else "active patterns"
        try:
            response = await workflow.execute_activity_method(
                PatternActivities.run_patterns, batch, summary=f"{names} {request.grain.value} {request.span}",
                **ANALYSIS)
        except ActivityError as error:
            workflow.logger.warning("pattern batch failed (%s): each pattern runs on its own", describe(error))
            return await self._run_each(request)
        return response.outcomes

    async def _run_each(self, request: PatternWorkflowInput) -> list[PatternOutcome]:
        patterns = request.patterns
        if patterns is None:
            active = await workflow.execute_activity_method(
                PatternActivities.active_patterns, ActivePatternsInput(tenant=request.tenant,
                                                                       metric_id=request.metric_id),
                summary=f"active patterns of {request.context}", **QUICK)
            patterns = active.patterns
        return list(await asyncio.gather(*(self._run_one(request, name) for name in patterns)))

    async def _run_one(self, request: PatternWorkflowInput, pattern: str) -> PatternOutcome:
        run = PatternRunRequest(tenant=request.tenant, metric_id=request.metric_id, pattern=pattern,
                                grain=request.grain, start_partition=request.start_partition,
                                end_partition=request.end_partition)
        try:
            response = await workflow.execute_activity_method(
                PatternActivities.run_pattern, run, summary=f"{pattern} {request.grain.value} {request.span}",
                **ANALYSIS)
        except ActivityError as error:
            return PatternOutcome(pattern=pattern, succeeded=False, error=describe(error))
        return PatternOutcome(pattern=pattern, succeeded=True, results_stored=response.results_stored,
                              results_with_error=len(response.errors))
