"""The one interface every catalog implements: which tenants are synced, with which metrics.

`CatalogProvider.load()` answers the question discovery and the sync ask: *the sync-enabled tenants
with their metrics*. Tenants whose sync is disabled are never in its answer; the file catalog keeps
them in the file (and `read_catalog_file` returns them, so `catalog load` can record the flag in the
tables), the HTTP catalog filters them out at the service.

Providers: `FileCatalog` (YAML, the embedded default), `HttpCatalog` (the original product's
services) and `DatabaseCatalog` (the catalog tables written by `python -m starter catalog load`);
`semsync.catalog.factory.provider_from_settings` picks the configured one (in a module of its own, so
that this base knows none of its implementations).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from semsync.catalog.models import Catalog


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
