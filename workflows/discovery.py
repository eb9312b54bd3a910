"""DiscoveryWorkflow: keep the registry of contexts in line with the catalog (every 15 minutes).

One activity loads the catalog from its provider, writes it and upserts the metric and pattern
contexts (`semsync.catalog.discovery`); the diff (counts, and a few names of each kind) is returned and
logged. With `initial_sync`, the contexts that are new (or back) get their first sync: a
BackfillWorkflow per grain over the contexts activated since this discovery began (a time, not a
list, so the input is small however many), for the last complete partition as of the run's
scheduled time (started, not awaited).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.discovery import DiscoveryActivities
    from semsync.contracts import (
        BackfillInput,
        BackfillMode,
        ContextSelector,
        DiscoverInput,
        DiscoveryInput,
        DiscoveryResult,
        GrainRange,
    )
    from semsync.contracts.backfill import SCHEDULED_PRIORITY
    from semsync.partitions import Grain, last_complete_partition
    from workflows.backfill import BackfillWorkflow
    from workflows.options import PLANNING
    from workflows.slots import scheduled_time



@workflow.defn(failure_exception_types=[ValidationError])
class DiscoveryWorkflow:
    @workflow.run
    async def run(self, request: DiscoveryInput) -> DiscoveryResult:
        diff = await workflow.execute_activity_method(DiscoveryActivities.discover, DiscoverInput(),
                                                      summary="load the catalog, register contexts", **PLANNING)
        workflow.logger.info("discovery: %s", diff.summary())
        result = DiscoveryResult(diff=diff)
        fresh = diff.activated
        if not (request.initial_sync and fresh):
            return result
        if workflow.patched("activated-since") and diff.started_at is not None:
            selector = ContextSelector(activated_since=diff.started_at)  # however many: no list in the input
        else:  # a discovery recorded before: the contexts by name
            selector = ContextSelector(contexts=sorted(diff.new + diff.reactivated))
        at = scheduled_time()
        tag = str(workflow.uuid4())[:8]
        for grain in Grain:
            partition = last_complete_partition(grain, at)
            backfill = BackfillInput(
                backfill_id=f"initial-{grain.value}-{partition.key}-{tag}",
                ranges=[GrainRange(grain=grain, first=partition.key, last=partition.key)],
                selector=selector, mode=BackfillMode.ALL, priority=SCHEDULED_PRIORITY,
                run_patterns=request.run_patterns, pattern_task_queue=request.pattern_task_queue, retry=request.retry)
            try:
                await workflow.start_child_workflow(
                    BackfillWorkflow.run, backfill, id=backfill.workflow_id,
                    priority=Priority(priority_key=SCHEDULED_PRIORITY),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    static_summary=f"initial {grain.value} sync of {fresh} new contexts")
                result.initial_syncs.append(backfill.workflow_id)
            except WorkflowAlreadyStartedError:
                pass
        return result
