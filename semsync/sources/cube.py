"""Metric values from Cube's REST API (``POST {cube_api_url}/cubejs-api/v1/load``).

One query per (metric, grain, window[, dimension]): the metric's measure, its time dimension at the
grain over ``dateRange: [start, end]`` (Cube reads whole days, UTC), the dimension's member when one is
given, and the metric's filters. Cube's ``week`` is the ISO week starting Monday, as ours.

- **Paging.** Cube caps a query at ``CUBEJS_DB_QUERY_LIMIT`` rows (default 50,000) and answers
  10,000 when no limit is given, silently truncating. We ask for pages of `page_size` rows (10,000 by
  default, which every Cube accepts), totally ordered by (time, dimension), and fetch the next page
  while a page comes back full. A typical query is one round trip.
- **Continue wait.** Cube answers ``200 {"error": "Continue wait"}`` while a query is still running;
  we ask again with exponential backoff (0.1 s doubling to 2 s) until
  `SemanticLayerSettings.continue_wait_deadline_s`, then raise `SourceUnavailableError`.
- **Auth.** ``TOKEN``: the token as the ``Authorization`` header (no ``Bearer``). ``SECRET_KEY``: an
  HS256 JWT signed with the tenant's secret, with ``iat``/``exp`` (`jwt_ttl_s`), reused until a minute
  before it expires.
- **Errors.** 4xx → `SourceRequestError` carrying Cube's message (a bad member, a bad token: retrying
  cannot help), except 408 and 429; 5xx, 408, 429, timeouts and connection errors →
  `SourceUnavailableError`. Cube reports a data source it cannot reach as a 400 "orchestrator error";
  such a 400 whose message names a connection failure is retryable too.
- **Nulls.** A row with a null value, or a null slice when grouped by a dimension, is dropped and
  counted in `FetchResult.dropped_nulls`.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date
from typing import Any

import httpx
import jwt

from semsync.catalog.models import CubeAuthType, CubeConnection, CubeMetricSource, DimensionDef, MetricDef
from semsync.config import SemanticLayerSettings
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import FetchResult, MetricSource, SourceRow

LOAD_PATH = "/cubejs-api/v1/load"
CONTINUE_WAIT = "Continue wait"
DEFAULT_PAGE_SIZE = 10_000
_BACKOFF_INITIAL_S = 0.1
_BACKOFF_MAX_S = 2.0
_JWT_RENEW_BEFORE_S = 60
_RETRYABLE_4XX = {408, 429}
#: messages of Cube 400s that are really an unreachable or failing data source
_DATA_SOURCE_DOWN = re.compile(
    r"ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection terminated|"
    r"connection timeout|timeout exceeded|the database system is (starting up|shutting down)|"
    r"too many clients|terminating connection",
    re.IGNORECASE,
)


def build_query(
    source: CubeMetricSource,
    grain: Grain,
    start: date,
    end: date,
    dimension: DimensionDef | None = None,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> dict[str, Any]:
    """The Cube query for one metric, grain, inclusive window and optional dimension."""
    order: list[list[str]] = [[source.time_dimension, "asc"]]
    query: dict[str, Any] = {
        "measures": [source.measure],
        "timeDimensions": [
            {
                "dimension": source.time_dimension,
                "granularity": Grain(grain).value,
                "dateRange": [start.isoformat(), end.isoformat()],
            }
        ],
        "filters": [
            {"member": f.member, "operator": f.operator.value, "values": list(f.values)} for f in source.filters
        ],
        "timezone": "UTC",
        "limit": limit,
    }
    if dimension is not None:
        query["dimensions"] = [dimension.member]
        order.append([dimension.member, "asc"])
    query["order"] = order
    if offset:
        query["offset"] = offset
    return query


def parse_rows(
    data: list[dict[str, Any]], source: CubeMetricSource, grain: Grain, dimension: DimensionDef | None
) -> tuple[list[SourceRow], int]:
    """Cube's `data` rows as source rows, and how many were dropped for a null value or slice."""
    time_key = f"{source.time_dimension}.{Grain(grain).value}"
    rows: list[SourceRow] = []
    dropped = 0
    for item in data:
        value = item.get(source.measure)
        slice_ = item.get(dimension.member) if dimension is not None else None
        stamp = item.get(time_key) or item.get(source.time_dimension)
        if value is None or (dimension is not None and slice_ is None) or stamp is None:
            dropped += 1
            continue
        try:
            period = date.fromisoformat(str(stamp)[:10])
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise SourceRequestError(
                f"Cube returned an unreadable row for {source.measure}: {item!r} ({exc})"
            ) from None
        rows.append((period, None if slice_ is None else str(slice_), number))
    return rows, dropped


class CubeSource(MetricSource):
    """A tenant's Cube deployment. Pass a shared `client` to reuse connections; otherwise one is made."""

    def __init__(
        self,
        connection: CubeConnection,
        client: httpx.AsyncClient | None = None,
        settings: SemanticLayerSettings | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.connection = connection
        self.settings = settings or SemanticLayerSettings()
        self.page_size = page_size
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self.settings.request_timeout_s)
        self._url = connection.cube_api_url.rstrip("/") + LOAD_PATH
        self._jwt: str | None = None
        self._jwt_expires = 0.0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def fetch(
        self,
        metric: MetricDef,
        grain: Grain,
        start: date,
        end: date,
        dimension: DimensionDef | None = None,
    ) -> FetchResult:
        source = metric.source
        if not isinstance(source, CubeMetricSource):
            raise SourceRequestError(f"metric {metric.id!r} has a {source.type!r} source, not a Cube source")
        if start > end:
            raise SourceRequestError(f"window start {start} is after its end {end}")
        result = FetchResult()
        offset = 0
        first_of_page: dict[str, Any] | None = None
        while True:
            query = build_query(source, grain, start, end, dimension, limit=self.page_size, offset=offset)
            data = await self.load(query)
            if offset and data and data[0] == first_of_page:
                raise SourceRequestError(f"Cube ignores `offset`: cannot page through {source.measure}")
            first_of_page = data[0] if data else None
            rows, dropped = parse_rows(data, source, grain, dimension)
            result.rows.extend(rows)
            result.dropped_nulls += dropped
            if len(data) < self.page_size:
                return result
            offset += len(data)

    async def load(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """POST one query; poll through "Continue wait" until the deadline; the answer's `data`."""
        deadline = time.monotonic() + self.settings.continue_wait_deadline_s
        backoff = _BACKOFF_INITIAL_S
        while True:
            body = await self._post(query)
            if body.get("error") == CONTINUE_WAIT:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceUnavailableError(
                        f"Cube still answers 'Continue wait' after {self.settings.continue_wait_deadline_s:g}s "
                        f"for {query['measures']}"
                    )
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            if "error" in body:
                raise SourceRequestError(f"Cube error for {query['measures']}: {body['error']}")
            data = body.get("data")
            if not isinstance(data, list):
                raise SourceUnavailableError(f"Cube answered without a `data` list: {str(body)[:500]}")
            return data

    async def _post(self, query: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": self._authorization()}
        try:
            response = await self._client.post(
                self._url, json={"query": query}, headers=headers, timeout=self.settings.request_timeout_s
            )
        except httpx.TimeoutException as exc:
            raise SourceUnavailableError(
                f"Cube at {self._url} did not answer within {self.settings.request_timeout_s:g}s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise SourceUnavailableError(f"Cube at {self._url} is unreachable: {exc!r}") from exc
        status = response.status_code
        if status >= 500 or status in _RETRYABLE_4XX:
            raise SourceUnavailableError(f"Cube answered HTTP {status}: {_error_message(response)}")
        if status >= 400:
            message = _error_message(response)
            if status == 400 and _DATA_SOURCE_DOWN.search(message):
                raise SourceUnavailableError(f"Cube cannot reach its data source (HTTP 400): {message}")
            raise SourceRequestError(f"Cube rejected the query (HTTP {status}): {message}")
        try:
            body = response.json()
        except ValueError:
            raise SourceUnavailableError(
                f"Cube answered HTTP {status} with a body that is not JSON: {response.text[:500]}"
            ) from None
        if not isinstance(body, dict):
            raise SourceUnavailableError(f"Cube answered HTTP {status} with unexpected JSON: {response.text[:500]}")
        return body

    def _authorization(self) -> str:
        conn = self.connection
        if conn.auth_type is CubeAuthType.TOKEN:
            assert conn.token is not None  # CubeConnection validates this
            return conn.token.get_secret_value()
        now = time.time()
        if self._jwt is None or now >= self._jwt_expires - _JWT_RENEW_BEFORE_S:
            assert conn.secret_key is not None
            issued = int(now)
            expires = issued + self.settings.jwt_ttl_s
            self._jwt = jwt.encode(
                {"iat": issued, "exp": expires}, conn.secret_key.get_secret_value(), algorithm="HS256"
            )
            self._jwt_expires = expires
        return self._jwt


def _error_message(response: httpx.Response) -> str:
    """Cube's `error` field when the body is JSON with one, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and body.get("error") is not None:
        return str(body["error"])
    return response.text[:500]
