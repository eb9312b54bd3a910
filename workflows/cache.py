"""CacheWorkflow: one cache partition (``tenant::grain::metric``) over one span, written into the
tenant's cache target (`semsync.cache`): the windows its sync changed, or (from a backfill) the
span's whole window from what is already synced. The ledger records kind ``cache`` per partition.

Started by SyncWorkflow as its continuation when the tenant has a cache target (parent-close
ABANDON), or by a ``backfill --what cache``. Id: ``cache/{tenant}::{grain}::{metric}/{span}``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.backfill import LedgerActivities
    from activities.cache import CacheActivities
    from semsync.contracts import (
        CACHE_KIND,
        CacheWorkflowInput,
        CacheWorkflowResult,
        LedgerBatch,
        LedgerEntry,
        LedgerStatus,
    )
    from workflows.failures import describe
    from workflows.options import HEARTBEAT, LOCAL

#: a write: a read from semsync and a bulk load and merge into the target; a user's error is not retried
WRITE = {"start_to_close_timeout": timedelta(minutes=30), "heartbeat_timeout": HEARTBEAT,
         "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1),
                                     maximum_attempts=8)}


@workflow.defn(failure_exception_types=[ValidationError])
class CacheWorkflow:
    @workflow.run
    async def run(self, request: CacheWorkflowInput) -> CacheWorkflowResult:
        partitions = [p.key for p in request.partitions()]
        await self._ledger(request, partitions, LedgerStatus.RUNNING)
        try:
            write = await workflow.execute_activity_method(
                CacheActivities.write_cache, request.cache_request(),
                summary=f"cache {request.key} {request.span}", **WRITE)
        except ActivityError as error:
            await self._ledger(request, partitions, LedgerStatus.FAILED, error=describe(error))
            raise
        await self._ledger(request, partitions, LedgerStatus.SUCCEEDED, rows=write.rows_read,
                           note=None if write.written else "no cache target: nothing written")
        return CacheWorkflowResult(key=request.key.key, partitions=partitions, ledger_status=LedgerStatus.SUCCEEDED,
                                   write=write)

    async def _ledger(self, request: CacheWorkflowInput, partitions: list[str], status: LedgerStatus, *,
                      rows: int = 0, error: str | None = None, note: str | None = None) -> None:
        entry = LedgerEntry(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                            partitions=partitions, kind=CACHE_KIND, status=status, rows=rows, error=error,
                            workflow_id=workflow.info().workflow_id, note=note)
        await workflow.execute_local_activity_method(LedgerActivities.record_ledger, LedgerBatch(entries=[entry]),
                                                     **LOCAL)
