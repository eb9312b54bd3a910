"""Metric values from Cube's REST API (``POST {cube_api_url}/cubejs-api/v1/load``).

One query per (metric, grain, window[, dimension]): the metric's measure, its time dimension at the
grain over ``dateRange: [start, end]`` (Cube reads whole days, UTC), the dimension's member when one is
given, and the metric's filters. Cube's ``week`` is the ISO week starting Monday, as ours.

- **Paging.** Cube caps a query at ``CUBEJS_DB_QUERY_LIMIT`` rows (default 50,000) and answers
  10,000 when no limit is given, silently truncating. We ask for pages of `page_size` rows (10,000 by
  default, which every Cube accepts), totally ordered by (time, dimension), and fetch the next page
  while a page comes back full. A typical query is one round trip.
- **Continue wait.** Cube answers ``200 {"error": "Continue wait"}`` while a query is still running;
  we ask again (tenacity: exponential backoff, 0.1 s doubling to 2 s, the last pause cut to the deadline) until
  `SemanticLayerSettings.continue_wait_deadline_s`, then raise `ContinueWaitExpiredError` (a
  retryable `SourceUnavailableError`).
- **A failed page is retried on its own.** Each page is asked for up to
  `SemanticLayerSettings.page_attempts` times (tenacity: exponential backoff with jitter from
  `page_retry_initial_s` up to `page_retry_max_s`) when it fails with a `SourceUnavailableError`
  (5xx, 408, 425, 429, timeout, connection error); the pages already read are kept, so a long fetch does
  not start again at page 1. After the last attempt the page's error is raised with the number of
  attempts in its message, and Temporal's retry policy takes over. Not retried here: a
  `SourceRequestError` (retrying cannot help) and `ContinueWaitExpiredError` (the page has already
  waited its whole deadline).
- **Rate limit.** With `SemanticLayerSettings.requests_per_second` > 0, every HTTP request (pages,
  "Continue wait" polls, retries) first waits on an `aiolimiter.AsyncLimiter`: a sustained rate of
  that many requests per second, in bursts of at most ``max(1, requests_per_second)``.
  `SourceRegistry` gives every source of one Cube URL the same limiter, so the tenants of one
  deployment share its budget; a `CubeSource` built alone has a limiter of its own.
- **Progress.** `CubeSource.fetch` reports each page read (``"page 3: 30000 rows"``, the running
  total of rows received), each "Continue wait" poll and each page retry
  (``"page 2 failed (HTTP 503), retry 1 of 2 in 0.8s"``).
- **Auth.** ``TOKEN``: the token as the ``Authorization`` header (no ``Bearer``). ``SECRET_KEY``: an
  HS256 JWT signed with the tenant's secret, with ``iat``/``exp`` (`jwt_ttl_s`), reused until a minute
  before it expires.
- **Errors.** As `semsync.http.status` classifies: a final 4xx → `SourceRequestError` carrying Cube's
  message (a bad member, a bad token: retrying cannot help); 5xx, 408, 425, 429, timeouts and
  connection errors → `SourceUnavailableError`. Cube reports a data source it cannot reach as a 400
  "orchestrator error"; such a 400 whose message names a connection failure is retryable too.
- **Nulls.** A row with a null value is dropped and counted in `SourcePage.dropped_nulls`; a row
  whose dimension value is null is kept in the slice `NULL_SLICE` (counted in
  `SourcePage.null_slices`), so that the slices sum to the base series.
- **Streaming.** `CubeSource.pages` yields each page as soon as it is parsed and asks for the next
  only when the caller has taken it (written it to the staging table): one page of a component is in
  memory at a time.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, NoReturn

import httpx
import jwt
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_exponential_jitter,
)

from semsync.catalog.models import (
    CUBE_JWT_ALGORITHM,
    CubeAuthType,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    MetricDef,
)
from semsync.config import SemanticLayerSettings
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.http.limits import RequestDeadlineError, ResponseTooLargeError, bounded_request
from semsync.http.status import StatusClass, classify_status
from semsync.partitions import Grain
from semsync.progress import ProgressCallback, report
from semsync.redaction import redact
from semsync.sources.base import MetricSource, SourcePage, SourceRow, slice_of

LOAD_PATH = "/cubejs-api/v1/load"
CONTINUE_WAIT = "Continue wait"
DEFAULT_PAGE_SIZE = 10_000
_BACKOFF_INITIAL_S = 0.1
_BACKOFF_MAX_S = 2.0
_JWT_RENEW_BEFORE_S = 60
#: messages of Cube 400s that are really an unreachable or failing data source
_DATA_SOURCE_DOWN = re.compile(
    r"ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection terminated|"
    r"connection timeout|timeout exceeded|the database system is (starting up|shutting down)|"
    r"too many clients|terminating connection",
    re.IGNORECASE,
)


class ContinueWaitExpiredError(SourceUnavailableError):
    """Cube still answered "Continue wait" at the deadline.

    Retryable by Temporal (the query may have finished by then, Cube caches it), but not by the
    page retry: the page has already waited `continue_wait_deadline_s`.
    """


def rate_limiter(requests_per_second: float) -> AsyncLimiter | None:
    """A limiter letting `requests_per_second` through (bursts of up to one second's worth), or None for 0."""
    if requests_per_second <= 0:
        return None
    burst = max(1.0, requests_per_second)
    return AsyncLimiter(burst, burst / requests_per_second)


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
) -> tuple[list[SourceRow], int, int]:
    """Cube's `data` rows as source rows, how many were dropped for a null value (or time), and how
    many were put in the null slice."""
    time_key = f"{source.time_dimension}.{Grain(grain).value}"
    rows: list[SourceRow] = []
    dropped = null_slices = 0
    for item in data:
        value = item.get(source.measure)
        stamp = item.get(time_key) or item.get(source.time_dimension)
        if value is None or stamp is None:
            dropped += 1
            continue
        slice_: str | None = None
        if dimension is not None:
            member_value = item.get(dimension.member)
            null_slices += member_value is None
            slice_ = slice_of(member_value)
        try:
            period = date.fromisoformat(str(stamp)[:10])
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise SourceRequestError(
                f"Cube returned an unreadable row for {source.measure}: {item!r} ({exc})"
            ) from None
        rows.append((period, slice_, number))
    return rows, dropped, null_slices


class CubeSource(MetricSource):
    """A tenant's Cube deployment. Pass a shared `client` to reuse connections; otherwise one is made.

    `limiter` is the rate limit shared with the other sources of the same deployment (see
    `SourceRegistry`); without one, a source makes its own from `settings.requests_per_second`.
    """

    def __init__(
        self,
        connection: CubeConnection,
        client: httpx.AsyncClient | None = None,
        settings: SemanticLayerSettings | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        self.connection = connection
        self.settings = settings or SemanticLayerSettings()
        self.page_size = page_size
        self.limiter = limiter if limiter is not None else rate_limiter(self.settings.requests_per_second)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self.settings.request_timeout_s)
        self._url = connection.cube_api_url.rstrip("/") + LOAD_PATH
        self._safe_url = redact(self._url)  # for messages: they reach logs, histories and status rows
        self._jwt: str | None = None
        self._jwt_expires = 0.0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def pages(
        self,
        metric: MetricDef,
        grain: Grain,
        start: date,
        end: date,
        dimension: DimensionDef | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> AsyncIterator[SourcePage]:
        """Each Cube page as it is read (the next is asked for once the caller has taken this one)."""
        source = metric.source
        if not isinstance(source, CubeMetricSource):
            raise SourceRequestError(f"metric {metric.id!r} has a {source.type!r} source, not a Cube source")
        if start > end:
            raise SourceRequestError(f"window start {start} is after its end {end}")
        offset = 0
        received = 0
        first_of_page: dict[str, Any] | None = None
        for page in itertools.count(1):
            query = build_query(source, grain, start, end, dimension, limit=self.page_size, offset=offset)
            data = await self._load_page(query, page, progress)
            if offset and data and data[0] == first_of_page:
                raise SourceRequestError(f"Cube ignores `offset`: cannot page through {source.measure}")
            first_of_page = data[0] if data else None
            rows, dropped, null_slices = parse_rows(data, source, grain, dimension)
            received += len(data)
            full = len(data) >= self.page_size
            offset += len(data)
            del data  # only the parsed rows stay while the caller writes them
            report(progress, f"page {page}: {received} rows")
            yield SourcePage(rows=rows, dropped_nulls=dropped, null_slices=null_slices)
            if not full:
                break

    async def _load_page(
        self, query: dict[str, Any], page: int, progress: ProgressCallback | None
    ) -> list[dict[str, Any]]:
        """`load` one page, retried on its own while Cube is unavailable (see the module docstring)."""
        settings = self.settings

        def before_retry(state: RetryCallState) -> None:
            assert state.outcome is not None and state.next_action is not None
            report(progress, f"page {page} failed ({_reason(state.outcome.exception())}), "
                             f"retry {state.attempt_number} of {settings.page_attempts - 1} "
                             f"in {state.next_action.sleep:.1f}s")

        def give_up(state: RetryCallState) -> NoReturn:
            assert state.outcome is not None
            last = state.outcome.exception()
            tries = f"{state.attempt_number} attempt{'s' if state.attempt_number > 1 else ''}"
            raise SourceUnavailableError(f"page {page} of {query['measures']} failed after {tries}: {last}") from last

        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.page_attempts),
            wait=wait_exponential_jitter(
                multiplier=settings.page_retry_initial_s, jitter=settings.page_retry_initial_s,
                max=settings.page_retry_max_s,
            ),
            retry=retry_if_exception(_page_retryable),
            before_sleep=before_retry,
            retry_error_callback=give_up,
        )

        def page_progress(message: str) -> None:
            report(progress, f"page {page}: {message}")

        return await retrying(self.load, query, progress=page_progress)

    async def load(
        self, query: dict[str, Any], *, progress: ProgressCallback | None = None
    ) -> list[dict[str, Any]]:
        """POST one query; poll through "Continue wait" until the deadline; the answer's `data`."""
        deadline_s = self.settings.continue_wait_deadline_s
        backoff = wait_exponential(multiplier=_BACKOFF_INITIAL_S, max=_BACKOFF_MAX_S)

        def pause(state: RetryCallState) -> float:
            # the backoff, but never past the deadline: the last poll is at the deadline itself
            return max(0.0, min(backoff(state), deadline_s - state.seconds_since_start))

        def before_poll(state: RetryCallState) -> None:
            assert state.next_action is not None
            report(progress, f"Continue wait {state.attempt_number}, asking again in {state.next_action.sleep:.1f}s")

        def expired(state: RetryCallState) -> NoReturn:
            raise ContinueWaitExpiredError(
                f"Cube still answers 'Continue wait' after {deadline_s:g}s for {query['measures']}")

        polling = AsyncRetrying(
            retry=retry_if_result(lambda body: body.get("error") == CONTINUE_WAIT),
            stop=stop_after_delay(deadline_s),
            wait=pause,
            before_sleep=before_poll,
            retry_error_callback=expired,
        )
        body = await polling(self._post, query)
        if "error" in body:
            raise SourceRequestError(f"Cube error for {query['measures']}: {body['error']}")
        data = body.get("data")
        if not isinstance(data, list):
            raise SourceUnavailableError(f"Cube answered without a `data` list: {str(body)[:500]}")
        return data

    async def _post(self, query: dict[str, Any]) -> dict[str, Any]:
        if self.limiter is not None:
            await self.limiter.acquire()
        headers = {"Authorization": self._authorization()}
        try:
            response = await bounded_request(
                self._client, "POST", self._url, json={"query": query}, headers=headers,
                timeout=self.settings.request_timeout_s, deadline_s=self.settings.request_deadline_s,
                max_bytes=int(self.settings.max_response_mb * 2**20))
        except ResponseTooLargeError as exc:
            raise SourceRequestError(
                f"Cube at {self._safe_url}: {exc} (SEMSYNC_SEMANTIC_LAYER__MAX_RESPONSE_MB); a page this large "
                "is refused rather than held in memory") from None
        except RequestDeadlineError as exc:
            raise SourceUnavailableError(
                f"Cube at {self._safe_url}: {exc} (SEMSYNC_SEMANTIC_LAYER__REQUEST_DEADLINE_S)") from None
        except httpx.TimeoutException as exc:
            raise SourceUnavailableError(
                f"Cube at {self._safe_url} did not answer within {self.settings.request_timeout_s:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise SourceUnavailableError(f"Cube at {self._safe_url} is unreachable: {redact(repr(exc))}") from exc
        status = response.status_code
        kind = classify_status(status)
        if kind is StatusClass.TRANSIENT:
            raise SourceUnavailableError(f"Cube answered HTTP {status}: {_error_message(response)}")
        if kind is StatusClass.FINAL:
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
                {"iat": issued, "exp": expires}, conn.secret_key.get_secret_value(), algorithm=CUBE_JWT_ALGORITHM
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


def _page_retryable(exc: BaseException) -> bool:
    return isinstance(exc, SourceUnavailableError) and not isinstance(exc, ContinueWaitExpiredError)


def _reason(exc: BaseException | None) -> str:
    """A few words on why a page failed, for progress lines: ``HTTP 503``, ``timeout``…"""
    cause = exc.__cause__ if exc is not None else None
    if isinstance(cause, httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, httpx.TransportError):
        return "connection error"
    status = re.search(r"HTTP (\d{3})", str(exc))
    return f"HTTP {status.group(1)}" if status else type(exc).__name__
