"""Backfill planning and the partition ledger, as activities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from semsync.contracts import BackfillPlan, LedgerBatch, LedgerWriteResult, PlanBackfillInput

if TYPE_CHECKING:
    from semsync.backfill_plan import BackfillPlanner
    from semsync.ledger import Ledger


class LedgerActivities:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @activity.defn
    async def record_ledger(self, batch: LedgerBatch) -> LedgerWriteResult:
        """Upsert the ledger rows of one or more spans."""
        with as_application_errors():
            return LedgerWriteResult(rows_written=await self.ledger.record(batch.entries))


class BackfillActivities:
    def __init__(self, planner: BackfillPlanner) -> None:
        self.planner = planner

    @activity.defn
    async def plan_backfill(self, request: PlanBackfillInput) -> BackfillPlan:
        """The selected contexts and, per context and grain, the runs of partitions the mode leaves."""
        with as_application_errors():
            return await self.planner.plan(request)
