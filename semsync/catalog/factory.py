"""The catalog provider the settings name (``SEMSYNC_CATALOG__PROVIDER``): the file or the HTTP catalog."""

from __future__ import annotations

import httpx

from semsync.catalog.provider import CatalogProvider
from semsync.config import CatalogSettings
from semsync.errors import CatalogError


def provider_from_settings(
    settings: CatalogSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
) -> CatalogProvider:
    """The provider `settings.provider` names: ``file`` (the YAML at `settings.file`) or ``http``.

    Each is imported when named: the other's dependencies (authlib; YAML) are not loaded for nothing."""
    if settings.provider == "http":
        from semsync.catalog.http import HttpCatalog

        if http_client is None:
            raise ValueError("the http catalog needs an httpx.AsyncClient")
        return HttpCatalog.from_settings(settings, http_client)
    if settings.provider == "file":
        from semsync.catalog.file import FileCatalog

        return FileCatalog(settings.file)
    raise CatalogError(f"unknown catalog provider {settings.provider!r}", part="provider", value=settings.provider)
