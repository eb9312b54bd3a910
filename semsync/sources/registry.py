"""Builds and reuses the source of each tenant's semantic layer connection.

Built once per worker (or CLI run) with the shared resources: the engine of semsync's own database
(where the demo warehouse lives), one `httpx.AsyncClient`, and the semantic layer settings.

With `SemanticLayerSettings.requests_per_second` > 0, the Cube sources of one Cube URL (one
deployment, whatever the tenant and its credentials) share one rate limiter, so that together they
send at most that many requests per second to it.
"""

from __future__ import annotations

import httpx
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncEngine

from semsync.catalog.models import CubeConnection, NoConnection, SqlConnection, TenantDef
from semsync.config import SemanticLayerSettings
from semsync.errors import CatalogError
from semsync.sources.base import MetricSource
from semsync.sources.sql import SqlSource


class SourceRegistry:
    def __init__(
        self,
        default_engine: AsyncEngine,
        http_client: httpx.AsyncClient | None = None,
        settings: SemanticLayerSettings | None = None,
    ) -> None:
        self.default_engine = default_engine
        self.http_client = http_client
        self.settings = settings or SemanticLayerSettings()
        self._sources: dict[str, MetricSource] = {}
        self._limiters: dict[str, AsyncLimiter | None] = {}

    async def source_for(self, tenant: TenantDef) -> MetricSource:
        connection = tenant.semantic_layer
        # SecretStr dumps masked: key on the revealed values, or two connections would collide
        key = repr(sorted(
            (name, value.get_secret_value() if hasattr(value, "get_secret_value") else value)
            for name, value in connection
        ))
        if key not in self._sources:
            self._sources[key] = self._build(connection)
        return self._sources[key]

    def _build(self, connection: SqlConnection | CubeConnection | NoConnection) -> MetricSource:
        if isinstance(connection, NoConnection):
            raise CatalogError("the tenant has no semantic layer connection (it was dropped from the catalog): "
                               "add it back to the catalog and load it", part="tenant")
        if isinstance(connection, CubeConnection):
            from semsync.sources.cube import CubeSource, rate_limiter

            url = connection.cube_api_url.rstrip("/")
            if url not in self._limiters:
                self._limiters[url] = rate_limiter(self.settings.requests_per_second)
            return CubeSource(connection, client=self.http_client, settings=self.settings, limiter=self._limiters[url])
        if connection.database_url is None:
            # semsync's own database, as the app role: confined to the operator's warehouse schemas
            return SqlSource(self.default_engine, schemas=self.settings.warehouse_schema_names,
                             statement_timeout_s=self.settings.request_deadline_s)
        return SqlSource(connection.database_url.get_secret_value())

    async def aclose(self) -> None:
        for source in self._sources.values():
            await source.aclose()
        self._sources.clear()
