"""The sync activities: thin adapters from Temporal to `semsync.sync.service.SemanticSyncService`.

Planning, each component (the base series, one dimension) and the record of a component's final
failure are separate activities, so Temporal retries each on its own. Typed semsync errors become
`ApplicationError`s that are non-retryable when a retry cannot help (`activities.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from activities.heartbeat import report_progress
from activities.telemetry import (
    COMPONENT_ATTEMPTS,
    COMPONENT_FAILURES,
    ROWS_SYNCED,
    ROWS_WRITTEN,
    count,
    error_type,
    request_context,
)
from semsync.contracts import ComponentFailureInput, ComponentResult, SemanticSyncRequest, SyncComponentInput, SyncPlan

if TYPE_CHECKING:
    from semsync.sync.service import SemanticSyncService


class SyncActivities:
    def __init__(self, service: SemanticSyncService) -> None:
        self.service = service

    @activity.defn
    async def plan_sync(self, request: SemanticSyncRequest) -> SyncPlan:
        """Each component's sync type (FULL/INCREMENTAL) and window."""
        with request_context(request), as_application_errors():
            return await self.service.plan(request)

    @activity.defn
    async def sync_component(self, work: SyncComponentInput) -> ComponentResult:
        """Fetch one component's window and replace it atomically; heartbeats its progress."""
        labels = {"tenant": work.request.tenant, "grain": work.request.grain.value,
                  "component": "dimension" if work.plan.dimension else "base"}
        with request_context(work.request, dimension=work.plan.dimension):
            count(COMPONENT_ATTEMPTS, **labels)
            try:
                with as_application_errors():
                    result = await self.service.sync_component(work, report_progress)
            except Exception as exc:
                count(COMPONENT_FAILURES, error_type=error_type(exc), final="false", **labels)
                raise
            labels["sync_type"] = result.sync_type.value
            count(ROWS_SYNCED, value=result.rows_fetched, **labels)
            count(ROWS_WRITTEN, value=result.rows_written, **labels)
            activity.logger.info("synced %s %s %s..%s: %d rows fetched, %d written, %d deleted", work.name,
                                 result.sync_type.value, result.window_start, result.window_end, result.rows_fetched,
                                 result.rows_written, result.rows_deleted)
            return result

    @activity.defn
    async def record_component_failure(self, failure: ComponentFailureInput) -> ComponentResult:
        """Mark a component FAILED after its last attempt, with the reason."""
        with request_context(failure.request, dimension=failure.plan.dimension), as_application_errors():
            result = await self.service.record_component_failure(failure)
            count(COMPONENT_FAILURES, tenant=failure.request.tenant, grain=failure.request.grain.value,
                  component="dimension" if failure.plan.dimension else "base", error_type=failure.error_type,
                  final="true")
            activity.logger.warning("%s FAILED after its last attempt (%s): %s",
                                    failure.plan.dimension or "base", failure.error_type, failure.error)
            return result
