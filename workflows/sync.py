"""SyncWorkflow: one metric context, one grain, one partition or a contiguous run of them.

plan → base series (its final failure fails the workflow) → every dimension concurrently, each
retried on its own (a dimension that is non-retryable or out of attempts is recorded FAILED with its
reason while the others commit) → the partition ledger (a partial sync's row names its failed
components). Started with `components` (``backfill --mode failed`` of a partial partition), only
those are synced again: the base series and the healthy dimensions are neither fetched nor written.
Then, as its continuation, it starts the PatternWorkflow of its context and span (parent-close
ABANDON: the patterns outlive the sync), id ``patterns/{grain}/{span}/{tenant}::{metric}``; an
identical run already running counts as started. When the tenant has a cache target (the plan says
so), it also starts the CacheWorkflow of ``tenant::grain::metric`` over the windows it changed (the
base series if synced, each dimension that succeeded), id ``cache/{tenant}::{grain}::{metric}/{span}``,
ABANDON likewise (patched ``cache-continuation``).

Id: ``sync/{grain}/{span}/{tenant}::{metric}``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import LedgerActivities
    from activities.sync import SyncActivities
    from semsync.contracts import (
        CacheWindow,
        CacheWorkflowInput,
        ComponentFailureInput,
        ComponentPlan,
        ComponentResult,
        LedgerBatch,
        LedgerEntry,
        LedgerStatus,
        PatternWorkflowInput,
        SyncComponentInput,
        SyncPlan,
        SyncStatus,
        SyncWorkflowInput,
        SyncWorkflowResult,
    )
    from semsync.contracts.sync import BASE, kept_base
    from semsync.temporal_names import PATTERN_TASK_QUEUE
    from workflows import search_attributes as sa
    from workflows.cache import CacheWorkflow
    from workflows.failures import describe
    from workflows.options import HEARTBEAT, LOCAL, QUICK
    from workflows.patterns import PatternWorkflow

#: one component: a semantic layer fetch and a window replace; a dead worker is noticed by heartbeat
#: (a keep-alive every 5 s, so 30 s is six missed beats: a lost worker's component resumes within 30 s)
COMPONENT = {"start_to_close_timeout": timedelta(minutes=30), "heartbeat_timeout": HEARTBEAT}


@workflow.defn(failure_exception_types=[ValidationError])
class SyncWorkflow:
    def __init__(self) -> None:
        self._retry = RetryPolicy()

    @workflow.run
    async def run(self, request: SyncWorkflowInput) -> SyncWorkflowResult:
        retry = request.retry
        self._retry = RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_s), backoff_coefficient=retry.backoff_coefficient,
            maximum_interval=timedelta(seconds=retry.maximum_interval_s), maximum_attempts=retry.maximum_attempts)
        sa.upsert(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                  partition=request.span, backfill=request.backfill_id, status=SyncStatus.RUNNING.value)
        await self._ledger(request, LedgerStatus.RUNNING)
        try:
            plan = await workflow.execute_activity_method(
                SyncActivities.plan_sync, request.sync_request(), summary=f"plan {request.context}", **QUICK)
        except ActivityError as error:
            await self._fail(request, f"planning failed: {describe(error)}")
            raise
        sa.upsert(sync_type=(plan.base or plan.components[0]).sync_type.value)
        if plan.base is None:  # only failed dimensions again: the base series stays as it was
            base = kept_base(request)
        else:
            try:
                base = await self._component(plan, plan.base)
            except ActivityError as error:
                reason = f"base series failed: {describe(error)}"
                await self._record_failure(plan, plan.base, error)
                await self._fail(request, reason)
                raise ApplicationError(reason, type="BaseSeriesFailed", non_retryable=True) from error
        dimensions = list(await asyncio.gather(*(self._dimension(plan, d) for d in plan.dimensions)))
        failed = [d for d in dimensions if d.status is SyncStatus.FAILED]
        status = LedgerStatus.PARTIAL if failed else LedgerStatus.SUCCEEDED
        rows = base.rows_fetched + sum(d.rows_fetched for d in dimensions)
        error = "; ".join(f"{d.dimension}: {d.error}" for d in failed) or None
        await self._ledger(request, status, rows=rows, error=error,
                           failed_components=sorted(d.dimension or BASE for d in failed) or None)
        result = SyncWorkflowResult(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                    partitions=[p.key for p in request.partitions()], base=base,
                                    dimensions=dimensions, ledger_status=status)
        if plan.cache_target and workflow.patched("cache-continuation"):
            changed = [r for r in ([base] if plan.base is not None else []) + dimensions
                       if r.status is SyncStatus.SUCCESS]
            if changed:
                result.cache_workflow_id = await self._start_cache(request, changed)
        if request.run_patterns:
            result.patterns_workflow_id = await self._start_patterns(request)
            result.patterns_started = True  # started now, or an identical run already covers this sync
        sa.upsert(status="PARTIAL" if failed else SyncStatus.SUCCESS.value)
        return result

    async def _component(self, plan: SyncPlan, component: ComponentPlan) -> ComponentResult:
        work = SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id, plan=component)
        return await workflow.execute_activity_method(
            SyncActivities.sync_component, work,
            summary=f"{work.name} {component.sync_type.value} {component.start}..{component.end}",
            retry_policy=self._retry, **COMPONENT)

    async def _dimension(self, plan: SyncPlan, component: ComponentPlan) -> ComponentResult:
        """One dimension, isolated: its final failure is recorded and reported, never raised."""
        try:
            return await self._component(plan, component)
        except ActivityError as error:
            return await self._record_failure(plan, component, error)

    async def _record_failure(self, plan: SyncPlan, component: ComponentPlan, error: ActivityError) -> ComponentResult:
        cause = error.cause
        failure = ComponentFailureInput(
            request=plan.request, tenant_id=plan.tenant_id, plan=component, error=describe(error),
            error_type=cause.type if isinstance(cause, ApplicationError) and cause.type else type(cause).__name__,
        )
        result = await workflow.execute_activity_method(
            SyncActivities.record_component_failure, failure, summary=f"record {component.dimension or 'base'} FAILED",
            **QUICK)
        result.retryable = not (isinstance(cause, ApplicationError) and cause.non_retryable)
        return result

    async def _ledger(self, request: SyncWorkflowInput, status: LedgerStatus, *, rows: int = 0,
                      error: str | None = None, failed_components: list[str] | None = None) -> None:
        entry = LedgerEntry(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                            partitions=[p.key for p in request.partitions()], status=status, rows=rows, error=error,
                            workflow_id=workflow.info().workflow_id, failed_components=failed_components)
        await workflow.execute_local_activity_method(LedgerActivities.record_ledger, LedgerBatch(entries=[entry]),
                                                     **LOCAL)

    async def _fail(self, request: SyncWorkflowInput, reason: str) -> None:
        await self._ledger(request, LedgerStatus.FAILED, error=reason)
        sa.upsert(status=SyncStatus.FAILED.value)

    async def _start_cache(self, request: SyncWorkflowInput, changed: list[ComponentResult]) -> str:
        cache = CacheWorkflowInput(
            tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
            start_partition=request.start_partition, end_partition=request.end_partition,
            windows=[CacheWindow(dimension=r.dimension, start=r.window_start, end=r.window_end) for r in changed],
            backfill_id=request.backfill_id)
        workflow_id = cache.workflow_id
        try:
            await workflow.start_child_workflow(
                CacheWorkflow.run, cache, id=workflow_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"cache {cache.key} {request.span}")
        except WorkflowAlreadyStartedError:
            workflow.logger.info("cache workflow %s already running: it covers this sync", workflow_id)
        return workflow_id

    async def _start_patterns(self, request: SyncWorkflowInput) -> str:
        patterns = PatternWorkflowInput(
            tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
            start_partition=request.start_partition, end_partition=request.end_partition,
            patterns=request.patterns, backfill_id=request.backfill_id,
            alerts_task_queue=workflow.info().task_queue, force=request.force_analysis,
        )
        workflow_id = patterns.workflow_id
        try:
            await workflow.start_child_workflow(
                PatternWorkflow.run, patterns, id=workflow_id,
                task_queue=request.pattern_task_queue or PATTERN_TASK_QUEUE,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"patterns of {request.context} {request.grain.value} {request.span}",
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("pattern workflow %s already running: it covers this sync", workflow_id)
        return workflow_id

