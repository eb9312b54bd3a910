"""The cache service: one cache partition's span written from semsync's tables into the tenant's target."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.cache.rows import BASE_DIMENSION, Scope, read_rows
from semsync.catalog.models import SnowflakeCacheTarget, SqlCacheTarget
from semsync.catalog.store import read_cache_target
from semsync.contracts import CacheRequest, CacheWriteResult
from semsync.db.session import tenant_scope
from semsync.encryption import SecretBox
from semsync.partitions.cache_keys import CacheKey

_CACHED_TENANTS = """
SELECT id, identifier FROM tenants WHERE sync_enabled AND cache_target IS NOT NULL
  AND (CAST(:tenant AS text) IS NULL OR identifier = CAST(:tenant AS text)) ORDER BY identifier COLLATE "C"
"""
_ACTIVE_METRICS = """
SELECT metric_id FROM metric_contexts WHERE tenant_id = :t AND is_active ORDER BY metric_id COLLATE "C"
"""


def scopes_of(request: CacheRequest) -> list[Scope]:
    """The windows a request writes: the sync's (base ``''`` and each dimension), or the span's whole."""
    if request.windows is None:
        partitions = request.partitions()
        return [Scope(None, partitions[0].start, partitions[-1].end)]
    return [Scope(w.dimension or BASE_DIMENSION, w.start, w.end) for w in request.windows]


class CacheService:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 snowflake_connect: Callable[..., Any] | None = None,
                 snowflake_connect_args: dict[str, Any] | None = None, box: SecretBox | None = None) -> None:
        #: opens the tenants' cache targets (the composition root hands it in; None: the settings' keys)
        self.box = box
        self.session_factory = session_factory
        self.snowflake_connect = snowflake_connect
        self.snowflake_connect_args = snowflake_connect_args

    def writer(self, target: SnowflakeCacheTarget | SqlCacheTarget):
        if isinstance(target, SnowflakeCacheTarget):
            from semsync.cache.snowflake import SnowflakeCacheWriter

            return SnowflakeCacheWriter(target, connect=self.snowflake_connect,
                                        connect_args=self.snowflake_connect_args)
        from semsync.cache.postgres import PostgresCacheWriter

        return PostgresCacheWriter(target)

    async def write(self, request: CacheRequest) -> CacheWriteResult:
        """Make the target's cache equal semsync over the request's windows; idempotent."""
        began = time.perf_counter()
        tenant_id, target = await read_cache_target(self.session_factory, request.tenant, self.box)
        if target is None:
            return CacheWriteResult(written=False)
        scopes = scopes_of(request)
        async with tenant_scope(self.session_factory, tenant_id) as session:
            rows = await read_rows(session, tenant_id, request.metric_id, request.grain.value, scopes)
        writer = self.writer(target)
        try:
            inserted, updated, deleted = await writer.write(request.tenant, request.metric_id, request.grain.value,
                                                            scopes, rows)
        finally:
            await writer.aclose()
        return CacheWriteResult(target=writer.where, rows_read=len(rows), rows_inserted=inserted,
                                rows_updated=updated, rows_deleted=deleted,
                                duration_s=round(time.perf_counter() - began, 3))

    async def partitions(self, tenant: str | None = None) -> list[CacheKey]:
        """The cache partitions: every grain of each active metric context of a sync-enabled tenant
        that has a cache target (discovery registers the contexts; the target makes them cached)."""
        from semsync.partitions import Grain

        async with self.session_factory() as session:
            tenants = (await session.execute(text(_CACHED_TENANTS), {"tenant": tenant})).all()
        keys = []
        for tenant_id, identifier in tenants:  # metric_contexts is row-level secured: one tenant at a time
            async with tenant_scope(self.session_factory, tenant_id) as session:
                metrics = (await session.execute(text(_ACTIVE_METRICS), {"t": tenant_id})).scalars().all()
            keys += [CacheKey(tenant=identifier, grain=g, metric=m) for m in metrics for g in Grain]
        return keys
