"""The HTTP catalog: tenants and metrics from the original product's services.

The protocol, as assumed from the original product (every call carries ``Authorization: Bearer``
from :class:`~semsync.catalog.oauth.ClientCredentialsAuth`, authlib's client credentials, when a token
URL is configured; close the catalog with `aclose()`, or use it as ``async with``):

- ``GET {tenants_url}/tenants/all?enable_metric_sync=true&offset=&limit=`` →
  ``{"results": [{"id", "identifier", "name", "enable_metric_sync"?, ...}], "count": N}``.
  Pages are read until `count` rows arrived (or a short or empty page). The service is asked to
  filter; a row that still says ``"enable_metric_sync": false`` is dropped here too.
- ``GET {tenants_url}/tenant/config`` with ``X-Tenant-Id: <id>`` →
  ``{"cube_connection_config": {"cube_api_url", "cube_auth_type": "TOKEN"|"SECRET_KEY",
  "cube_auth_token", "cube_auth_secret_key"}, ...}``.
- ``GET {metrics_url}/metrics?offset=&limit=`` with ``X-Tenant-Id: <id>`` → ``{"results": [{"metric_id",
  "label", "meta_data": {"semantic_meta": {"cube", "member", "time_dimension": {"cube", "member"}}},
  "dimensions": [{"dimension_id", "label", "meta_data": {"semantic_meta": {"cube", "member"}}}]}], "count": N}``;
  a metric becomes a `CubeMetricSource` with measure ``cube.member``.

Transport failures and the statuses `semsync.http.status` calls transient (5xx, 408, 425, 429) raise
CatalogUnavailableError (retryable), other 4xx CatalogRequestError: a
catalog is returned whole or not at all, so discovery never mistakes a failed call for removed
tenants. A tenant or metric the service describes incompletely (no Cube URL, no time dimension,
an id semsync cannot use) is skipped, logged and listed in `problems`: it cannot be synced, and it
must not stop the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from semsync.catalog.models import Catalog, CubeConnection, MetricDef, TenantDef
from semsync.catalog.oauth import ClientCredentialsAuth, raise_for_status
from semsync.catalog.provider import CatalogProvider
from semsync.catalog.validation import catalog_error
from semsync.config import CatalogSettings
from semsync.errors import CatalogError, CatalogRequestError, CatalogUnavailableError
from semsync.http.limits import RequestDeadlineError, ResponseTooLargeError, bounded_request
from semsync.http.url_policy import checked_service_url

log = logging.getLogger(__name__)


class _Page(BaseModel):
    results: list[dict[str, Any]]
    count: int | None = None


class _TenantRow(BaseModel):
    id: int | str
    identifier: str
    name: str | None = None
    enable_metric_sync: bool | None = None


class HttpCatalog(CatalogProvider):
    """The sync-enabled tenants of the product's tenant service, with their metrics."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        tenants_url: str,
        metrics_url: str,
        auth: ClientCredentialsAuth | None = None,
        page_size: int = 100,
        max_concurrent_tenants: int = 8,
        max_pages: int = 10_000,
        max_response_bytes: int = 16 * 2**20,
        request_deadline_s: float = 60.0,
    ) -> None:
        self._client = client
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes
        self.request_deadline_s = request_deadline_s
        self.tenants_url = tenants_url.rstrip("/")
        self.metrics_url = metrics_url.rstrip("/")
        self.auth = auth
        self.page_size = page_size
        self._max_concurrent = max_concurrent_tenants
        #: tenants and metrics the last `load()` skipped, and why
        self.problems: list[str] = []

    @classmethod
    def from_settings(cls, settings: CatalogSettings, client: httpx.AsyncClient) -> HttpCatalog:
        """From ``SEMSYNC_CATALOG__*``; without a token URL the services are called unauthenticated."""
        if not settings.tenants_url or not settings.metrics_url:
            raise CatalogError(
                "the http catalog needs SEMSYNC_CATALOG__TENANTS_URL and SEMSYNC_CATALOG__METRICS_URL",
                part="catalog settings",
            )
        for name in ("tenants_url", "metrics_url", "token_url"):
            _check_service_url(name, getattr(settings, name))
        auth = None
        if settings.token_url:
            if not settings.client_id or settings.client_secret is None:
                raise CatalogError(
                    "SEMSYNC_CATALOG__TOKEN_URL needs SEMSYNC_CATALOG__CLIENT_ID and SEMSYNC_CATALOG__CLIENT_SECRET",
                    part="catalog settings",
                )
            auth = ClientCredentialsAuth(
                token_url=settings.token_url, client_id=settings.client_id,
                client_secret=settings.client_secret, audience=settings.audience,
                timeout_s=client.timeout.read or 30.0,
            )
        return cls(client, tenants_url=settings.tenants_url, metrics_url=settings.metrics_url, auth=auth,
                   max_pages=settings.max_pages, max_response_bytes=int(settings.max_response_mb * 2**20),
                   request_deadline_s=settings.request_deadline_s)

    async def aclose(self) -> None:
        if self.auth is not None:
            await self.auth.aclose()

    async def load(self) -> Catalog:
        problems: list[str] = []
        rows = await self._paginate(f"{self.tenants_url}/tenants/all", params={"enable_metric_sync": "true"})
        tenants: list[_TenantRow] = []
        for index, row in enumerate(rows):
            try:
                tenant = _TenantRow.model_validate(row)
            except ValidationError as exc:
                problems.append(str(catalog_error(exc, row, source=f"tenants/all results[{index}]")))
                continue
            if tenant.enable_metric_sync is not False:
                tenants.append(tenant)
        limit = asyncio.Semaphore(self._max_concurrent)

        async def one(tenant: _TenantRow) -> tuple[TenantDef | None, list[str]]:
            async with limit:
                skipped: list[str] = []  # per tenant, so the report's order does not depend on timing
                return await self._tenant(tenant, skipped), skipped

        # All tenants finish before the first error is raised: no task is left running unobserved.
        results = await asyncio.gather(*(one(t) for t in tenants), return_exceptions=True)
        loaded: dict[str, TenantDef] = {}
        for result in results:
            if isinstance(result, BaseException):
                raise result
            tenant_def, skipped = result
            problems.extend(skipped)
            if tenant_def is not None and tenant_def.identifier in loaded:
                problems.append(f"tenant {tenant_def.identifier!r}: listed twice by tenants/all; the first is kept")
            elif tenant_def is not None:
                loaded[tenant_def.identifier] = tenant_def
        for problem in problems:
            log.warning("http catalog: skipped %s", problem)
        self.problems = problems
        return Catalog(tenants=list(loaded.values()))

    async def _tenant(self, row: _TenantRow, problems: list[str]) -> TenantDef | None:
        where = f"tenant {row.identifier!r} (id {row.id})"
        config = await self._get_json(f"{self.tenants_url}/tenant/config", tenant_id=row.id)
        try:
            connection = connection_from_config(config)
        except CatalogError as exc:
            problems.append(f"{where}: {exc}")
            return None
        metrics: list[MetricDef] = []
        for index, item in enumerate(await self._paginate(f"{self.metrics_url}/metrics", tenant_id=row.id)):
            try:
                metrics.append(metric_from_service(item, problems=problems, where=where))
            except CatalogError as exc:
                problems.append(f"{where} metrics results[{index}]: {exc}")
        data = {"identifier": row.identifier, "name": row.name or row.identifier}
        try:
            return TenantDef(**data, semantic_layer=connection, metrics=metrics)
        except ValidationError as exc:
            problems.append(str(catalog_error(exc, data, source=where)))
            return None

    async def _paginate(
        self, url: str, *, params: dict[str, str] | None = None, tenant_id: int | str | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        for _ in range(self.max_pages):
            query = {**(params or {}), "offset": str(len(items)), "limit": str(self.page_size)}
            payload = await self._get_json(url, params=query, tenant_id=tenant_id)
            try:
                page = _Page.model_validate(payload)
            except ValidationError as exc:
                raise CatalogRequestError(str(catalog_error(exc, payload, source=f"GET {url} page"))) from None
            if previous is not None and page.results and page.results == previous:
                raise CatalogRequestError(f"catalog service GET {url} answered offset {len(items)} with the page "
                                          "it gave for the offset before: it ignores `offset` (paging would not end)")
            previous = page.results
            items.extend(page.results)
            if page.count is not None:
                done = len(items) >= page.count
            else:  # no count: a short page is the last one
                done = len(page.results) < self.page_size
            if done or not page.results:
                return items
        raise CatalogRequestError(f"catalog service GET {url} had more than {self.max_pages} pages of "
                                  f"{self.page_size} (SEMSYNC_CATALOG__MAX_PAGES): a service that never ends its "
                                  "listing, or a catalog larger than the setting allows")

    async def _get_json(
        self, url: str, *, params: dict[str, str] | None = None, tenant_id: int | str | None = None
    ) -> Any:
        what = f"catalog service GET {url}" + (f" (tenant id {tenant_id})" if tenant_id is not None else "")
        headers = {"Accept": "application/json"}
        if tenant_id is not None:
            headers["X-Tenant-Id"] = str(tenant_id)
        try:
            response = await bounded_request(self._client, "GET", url, params=params, headers=headers, auth=self.auth,
                                             max_bytes=self.max_response_bytes, deadline_s=self.request_deadline_s)
        except ResponseTooLargeError as exc:
            raise CatalogRequestError(f"{what}: {exc} (SEMSYNC_CATALOG__MAX_RESPONSE_MB)") from None
        except RequestDeadlineError as exc:
            raise CatalogUnavailableError(f"{what}: {exc} (SEMSYNC_CATALOG__REQUEST_DEADLINE_S)") from None
        except httpx.HTTPError as exc:
            raise CatalogUnavailableError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        raise_for_status(response, what)
        try:
            return response.json()
        except ValueError:
            raise CatalogUnavailableError(f"{what} answered {response.status_code} without JSON") from None


def _check_service_url(name: str, url: str | None) -> None:
    """A service URL that can never be called (no http(s) scheme, no host) or that would carry the
    client secret or a tenant's data in clear text or to a metadata address (`semsync.http.url_policy`) is
    a configuration error, refused before any request."""
    if url is None:
        return
    try:
        checked_service_url(url, credentials_in_url=True)
    except ValueError as exc:
        raise CatalogError(f"SEMSYNC_CATALOG__{name.upper()} {url!r} {exc} (e.g. https://tenants.internal/api)",
                           part="catalog settings", value=url) from None


def connection_from_config(config: Any) -> CubeConnection:
    """A tenant config's ``cube_connection_config`` as a `CubeConnection`; raises CatalogError."""
    cube = config.get("cube_connection_config") if isinstance(config, dict) else None
    if not isinstance(cube, dict) or not cube.get("cube_api_url"):
        raise CatalogError("tenant/config has no cube_connection_config.cube_api_url", part="cube_connection_config")
    data = {
        "cube_api_url": cube["cube_api_url"],
        "auth_type": cube.get("cube_auth_type") or "TOKEN",
        "token": cube.get("cube_auth_token") or None,
        "secret_key": cube.get("cube_auth_secret_key") or None,
    }
    try:
        return CubeConnection.model_validate(data)
    except ValidationError as exc:
        raise catalog_error(exc, data, source="tenant/config cube_connection_config") from None


def metric_from_service(item: Any, *, problems: list[str] | None = None, where: str = "") -> MetricDef:
    """A metrics-service entry as a `MetricDef` with a Cube source; raises CatalogError.

    A dimension without a Cube member is left out (and noted in `problems`): the metric and its
    other dimensions can still be synced.
    """
    if not isinstance(item, dict):
        raise CatalogError(f"expected an object, found {type(item).__name__}", part="metric")
    metric_id = item.get("metric_id")
    meta = _semantic_meta(item)
    measure = _member(meta)
    time_dimension = _member(meta.get("time_dimension"))
    if measure is None or time_dimension is None:
        missing = "cube and member" if measure is None else "time_dimension.cube and .member"
        raise CatalogError(f"metric {metric_id!r}: meta_data.semantic_meta has no {missing}", part="semantic_meta")
    dimensions = []
    for index, dim in enumerate(item.get("dimensions") or []):
        member = _member(_semantic_meta(dim)) if isinstance(dim, dict) else None
        if member is None:
            if problems is not None:
                problems.append(f"{where} metric {metric_id!r} dimensions[{index}]: no meta_data.semantic_meta cube "
                                "and member; dimension left out")
            continue
        dimensions.append({"id": dim.get("dimension_id"), "label": dim.get("label"), "member": member})
    data = {
        "id": metric_id,
        "label": item.get("label") or metric_id,
        "source": {"type": "cube", "measure": measure, "time_dimension": time_dimension,
                   "filters": _filters(meta, metric_id)},
        "dimensions": dimensions,
    }
    try:
        return MetricDef.model_validate(data)
    except ValidationError as exc:
        raise catalog_error(exc, data, source=f"metric {metric_id!r}") from None


def _filters(meta: dict[str, Any], metric_id: Any) -> list[dict[str, Any]]:
    """``semantic_meta.filters``: Cube filters ``{member | dimension, operator, values}``, where the member
    is ``cube.member`` or, with a separate ``cube``, just the member. A metric whose filters cannot be
    read is refused (CatalogError), never synced unfiltered."""
    raw = meta.get("filters") or []
    if not isinstance(raw, list):
        raise CatalogError(f"metric {metric_id!r}: semantic_meta.filters is not a list", part="filters")
    filters = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise CatalogError(f"metric {metric_id!r}: semantic_meta.filters[{index}] is not an object",
                               part="filters")
        member = item.get("member") or item.get("dimension")
        if isinstance(member, str) and "." not in member and isinstance(item.get("cube"), str):
            member = f"{item['cube']}.{member}"
        values = item.get("values", [])
        filters.append({"member": member, "operator": item.get("operator"),
                        "values": [str(v) for v in values] if isinstance(values, list) else values})
    return filters


def _semantic_meta(item: dict[str, Any]) -> dict[str, Any]:
    meta_data = item.get("meta_data")
    meta = meta_data.get("semantic_meta") if isinstance(meta_data, dict) else None
    return meta if isinstance(meta, dict) else {}


def _member(meta: Any) -> str | None:
    """Cube's `cube.member` name, or None when either part is missing."""
    if not isinstance(meta, dict):
        return None
    cube, member = meta.get("cube"), meta.get("member")
    return f"{cube}.{member}" if isinstance(cube, str) and cube and isinstance(member, str) and member else None
