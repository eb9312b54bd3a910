"""The cache activity: a thin adapter from Temporal to `semsync.cache.CacheService`.

A target that refuses the write for a reason that is the user's (bad credentials, a missing
warehouse) raises a non-retryable `CacheTargetError` of one line; an unreachable one is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from semsync.contracts import CacheRequest, CacheWriteResult

if TYPE_CHECKING:
    from semsync.cache import CacheService


class CacheActivities:
    def __init__(self, service: CacheService) -> None:
        self.service = service

    @activity.defn
    async def write_cache(self, request: CacheRequest) -> CacheWriteResult:
        """Merge one cache partition's windows into the tenant's target, and delete what semsync no longer has."""
        with as_application_errors():
            result = await self.service.write(request)
        activity.logger.info("cache %s %s: %d rows read, %d inserted, %d updated, %d deleted in %s",
                             request.key, request.span, result.rows_read, result.rows_inserted, result.rows_updated,
                             result.rows_deleted, result.target or "no target")
        return result
