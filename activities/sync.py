"""The sync activities: thin adapters from Temporal to `semsync.sync.SemanticSyncService`.

Planning, each component (the base series, one dimension) and the record of a component's final
failure are separate activities, so Temporal retries each on its own. Typed semsync errors become
`ApplicationError`s that are non-retryable when a retry cannot help (`activities.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from activities.heartbeat import heartbeating
from semsync.contracts import ComponentFailureInput, ComponentResult, SemanticSyncRequest, SyncComponentInput, SyncPlan

if TYPE_CHECKING:
    from semsync.sync import SemanticSyncService


class SyncActivities:
    def __init__(self, service: SemanticSyncService) -> None:
        self.service = service

    @activity.defn
    async def plan_sync(self, request: SemanticSyncRequest) -> SyncPlan:
        """Each component's sync type (FULL/INCREMENTAL) and window."""
        with as_application_errors():
            return await self.service.plan(request)

    @activity.defn
    async def sync_component(self, work: SyncComponentInput) -> ComponentResult:
        """Fetch one component's window and replace it atomically; heartbeats its progress."""
        with as_application_errors():
            async with heartbeating() as progress:
                return await self.service.sync_component(work, progress)

    @activity.defn
    async def record_component_failure(self, failure: ComponentFailureInput) -> ComponentResult:
        """Mark a component FAILED after its last attempt, with the reason."""
        with as_application_errors():
            return await self.service.record_component_failure(failure)
