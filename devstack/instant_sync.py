"""A stand-in SyncWorkflow (registered under the real name) that answers at once: for measuring what
the orchestration around the syncs carries at catalog scale (`bench/scale.py`, the payload test),
with no source and no database behind it. Never registered by the worker."""

from __future__ import annotations

from temporalio import workflow

from semsync.contracts import (
    ComponentResult,
    LedgerStatus,
    SyncStatus,
    SyncType,
    SyncWorkflowInput,
    SyncWorkflowResult,
)


@workflow.defn(name="SyncWorkflow", sandboxed=False)  # trivially deterministic; its package is not sandbox-light
class InstantSync:
    @workflow.run
    async def run(self, request: SyncWorkflowInput) -> SyncWorkflowResult:
        at = workflow.now().date()
        base = ComponentResult(dimension=None, sync_type=SyncType.FULL, reason="stand-in", window_start=at,
                               window_end=at, status=SyncStatus.SUCCESS)
        return SyncWorkflowResult(base=base, tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                  partitions=[request.start_partition], ledger_status=LedgerStatus.SUCCEEDED)
