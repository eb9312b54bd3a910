"""The sync activity: a thin adapter from Temporal to `semsync.sync.SemanticSyncService`."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import as_application_errors
from semsync.sync import SemanticSyncRequest, SemanticSyncResponse, SemanticSyncService


class SyncActivities:
    def __init__(self, service: SemanticSyncService) -> None:
        self.service = service

    @activity.defn(name="sync_partition")
    async def sync_partition(self, request: SemanticSyncRequest) -> SemanticSyncResponse:
        """Sync one context, grain and partition range; a failed base series fails the activity
        (retryable or not, as its error is), failed dimensions are reported in the result."""
        with as_application_errors():
            response = await self.service.sync(request)
        if not response.success:
            raise ApplicationError(
                f"base series of {request.tenant}::{request.metric_id} failed: {response.base.error}",
                response.model_dump(mode="json"),
                type=response.base.error_type or "SyncFailed",
                non_retryable=response.base.retryable is False,
            )
        return response
