"""Backfill planning and the partition ledger, as activities."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from semsync.contracts import (
    BackfillPlan,
    BackfillPlanSummary,
    LanePage,
    LedgerBatch,
    LedgerWriteResult,
    NoteMissingDaysInput,
    PlanBackfillInput,
    YieldCheck,
    YieldCheckInput,
)

if TYPE_CHECKING:
    from semsync.backfill.ledger import Ledger
    from semsync.backfill.plan import BackfillPlanner


class LedgerActivities:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @activity.defn
    async def record_ledger(self, batch: LedgerBatch) -> LedgerWriteResult:
        """Upsert the ledger rows of one or more spans."""
        with as_application_errors():
            return LedgerWriteResult(rows_written=await self.ledger.record(batch.entries))

    @activity.defn
    async def note_missing_days(self, request: NoteMissingDaysInput) -> LedgerWriteResult:
        """Name, on each context's row of a week or month, the days it covers that were not synced."""
        with as_application_errors():
            return LedgerWriteResult(rows_written=await self.ledger.note_missing_days(
                request.grain, request.partition, date.fromisoformat(request.first_day),
                date.fromisoformat(request.last_day)))


class BackfillActivities:
    def __init__(self, planner: BackfillPlanner) -> None:
        self.planner = planner

    @activity.defn
    async def plan_backfill(self, request: PlanBackfillInput) -> BackfillPlan:
        """The whole plan at once: what backfills started before plans were paged still ask for."""
        with as_application_errors():
            return await self.planner.plan(request)

    @activity.defn
    async def summarize_backfill(self, request: PlanBackfillInput) -> BackfillPlanSummary:
        """The plan counted (contexts, lanes, partitions, chunks); explicit contexts checked."""
        with as_application_errors():
            return await self.planner.summarize(request)

    @activity.defn
    async def plan_backfill_page(self, request: PlanBackfillInput) -> LanePage:
        """The lanes of the next contexts after the request's cursor, and the cursor after them."""
        with as_application_errors():
            return await self.planner.page(request)


@activity.defn
async def higher_priority_backfills(request: YieldCheckInput) -> YieldCheck:
    """How many BackfillWorkflows of a higher priority (a lower number) are running, from the
    visibility store (`SemsyncPriority`)."""
    higher = ", ".join(f"'{p}'" for p in range(1, request.priority))
    if not higher:
        return YieldCheck(running=0)
    query = f"WorkflowType = 'BackfillWorkflow' AND ExecutionStatus = 'Running' AND SemsyncPriority IN ({higher})"
    return YieldCheck(running=(await activity.client().count_workflows(query)).count)


def backfill_activities(planner: BackfillPlanner) -> list:
    """The planning activities a sync worker registers."""
    activities = BackfillActivities(planner)
    return [activities.plan_backfill, activities.summarize_backfill, activities.plan_backfill_page,
            higher_priority_backfills]
