"""StoryWorkflow: the stories of one metric context over one date or a range, from its stored
pattern results; the PatternWorkflow's continuation.

Its pattern dependencies: the PatternWorkflow starts it after every pattern of the span finished,
when at least one succeeded, so it reads only stored results. One activity tells the whole span
(a year of a context's stories in one call); its outcome goes into the partition ledger as kind
``stories``, one row per partition. When the span told new stories and the tenant has alert rules,
it starts the span's AlertWorkflow (`workflows.deliveries`) as its continuation (parent-close ABANDON).

Id: ``stories/{grain}/{span}/{tenant}::{metric}``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import LedgerActivities
    from activities.stories import StoryActivities
    from semsync.contracts import (
        STORIES_KIND,
        AlertWorkflowInput,
        LedgerBatch,
        LedgerEntry,
        LedgerStatus,
        StoryRunRequest,
        StoryWorkflowInput,
        StoryWorkflowResult,
    )
    from workflows import search_attributes as sa
    from workflows.deliveries import AlertWorkflow
    from workflows.failures import describe
    from workflows.options import LOCAL, pool_work

#: the `workflow.patched` marker of the alerts continuation (histories without it start none)
ALERTS = "alerts-continuation"
#: the telling runs in the pattern process pool, as the analysis does
TELLING = pool_work(timedelta(minutes=10))


@workflow.defn(failure_exception_types=[ValidationError])
class StoryWorkflow:
    @workflow.run
    async def run(self, request: StoryWorkflowInput) -> StoryWorkflowResult:
        sa.upsert(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                  partition=request.span, pattern=STORIES_KIND, backfill=request.backfill_id, status="RUNNING")
        partitions = [p.key for p in request.partitions()]
        run = StoryRunRequest(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                              start_partition=request.start_partition, end_partition=request.end_partition)
        try:
            response = await workflow.execute_activity_method(
                StoryActivities.tell_stories, run, summary=f"stories {request.grain.value} {request.span}",
                **TELLING)
        except ActivityError as error:
            await self._ledger(request, partitions, LedgerStatus.FAILED, error=describe(error))
            sa.upsert(status="FAILED")
            raise ApplicationError(f"stories failed: {describe(error)}", type="StoriesFailed",
                                   non_retryable=True) from error
        await self._ledger(request, partitions, LedgerStatus.SUCCEEDED, rows=response.stories)
        result = StoryWorkflowResult(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                     span=request.span, stories=response.stories, new=response.new,
                                     resolved=response.resolved, written=response.written)
        if response.new and response.alerts and workflow.patched(ALERTS):
            result.alerts_workflow_id = await self._start_alerts(request)
        sa.upsert(status="SUCCESS")
        return result

    async def _start_alerts(self, request: StoryWorkflowInput) -> str:
        """The AlertWorkflow of the span on the sync queue (its sends are I/O), parent-close ABANDON;
        one already running for the span covers it."""
        alerts = AlertWorkflowInput(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                    start_partition=request.start_partition, end_partition=request.end_partition,
                                    backfill_id=request.backfill_id)
        try:
            await workflow.start_child_workflow(
                AlertWorkflow.run, alerts, id=alerts.alert_workflow_id, task_queue=request.alerts_task_queue
                or workflow.info().task_queue, parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"alerts of {request.context} {request.grain.value} {request.span}")
        except WorkflowAlreadyStartedError:
            workflow.logger.info("alert workflow %s already running: it covers this run", alerts.alert_workflow_id)
        return alerts.alert_workflow_id

    async def _ledger(self, request: StoryWorkflowInput, partitions: list[str], status: LedgerStatus, *,
                      rows: int = 0, error: str | None = None) -> None:
        entry = LedgerEntry(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                            partitions=partitions, kind=STORIES_KIND, status=status, rows=rows, error=error,
                            workflow_id=workflow.info().workflow_id)
        await workflow.execute_local_activity_method(LedgerActivities.record_ledger, LedgerBatch(entries=[entry]),
                                                     **LOCAL)
