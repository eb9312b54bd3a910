"""The one interface every catalog implements: which tenants are synced, with which metrics.

`CatalogProvider.load()` answers the question discovery and the sync ask: *the sync-enabled tenants
with their metrics*. Tenants whose sync is disabled are never in its answer; the file catalog keeps
them in the file (and `read_catalog_file` returns them, so `catalog load` can record the flag in the
tables), the HTTP catalog filters them out at the service.

Providers: `FileCatalog` (YAML, the embedded default), `HttpCatalog` (the original product's
services) and `DatabaseCatalog` (the catalog tables written by `python -m starter catalog load`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Self

from semsync.catalog.models import Catalog
from semsync.errors import CatalogError

if TYPE_CHECKING:
    import httpx

    from semsync.config import CatalogSettings


class CatalogProvider(ABC):
    """A source of tenants and metric definitions; ``async with`` closes what it holds (e.g. a token client)."""

    @abstractmethod
    async def load(self) -> Catalog:
        """All sync-enabled tenants with their metrics."""

    async def aclose(self) -> None:
        """Release what the provider holds; nothing by default."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def sync_enabled(catalog: Catalog) -> Catalog:
    """The catalog without the tenants whose sync is disabled."""
    return Catalog(tenants=[t for t in catalog.tenants if t.sync_enabled])


def provider_from_settings(
    settings: CatalogSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
) -> CatalogProvider:
    """The provider `settings.provider` names: ``file`` (the YAML at `settings.file`) or ``http``."""
    if settings.provider == "http":
        from semsync.catalog.http import HttpCatalog

        if http_client is None:
            raise ValueError("the http catalog needs an httpx.AsyncClient")
        return HttpCatalog.from_settings(settings, http_client)
    if settings.provider == "file":
        from semsync.catalog.file import FileCatalog

        return FileCatalog(settings.file)
    raise CatalogError(f"unknown catalog provider {settings.provider!r}", part="provider", value=settings.provider)
