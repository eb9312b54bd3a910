"""Service-to-service auth for the product's HTTP services: OAuth2 client credentials.

One token serves every call until shortly before it expires; concurrent callers share one token
request. A call answered 401 invalidates the token it used (it may have been revoked), so the next
call asks for a new one. Also home of the typed errors of the HTTP catalog.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from semsync.errors import CatalogRequestError, CatalogUnavailableError
from semsync.http_status import StatusClass, classify_status

#: lifetime assumed when the token endpoint does not say (`expires_in` is optional in RFC 6749)
DEFAULT_EXPIRES_IN_S = 300.0


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an HTTP error answer into the typed error an operator (and a retry policy) can act on."""
    kind = classify_status(response.status_code)
    if kind is StatusClass.SUCCESS:
        return
    body = " ".join(response.text.split())[:300]
    message = f"{what} answered {response.status_code} {response.reason_phrase}" + (f": {body}" if body else "")
    if kind is StatusClass.TRANSIENT:
        raise CatalogUnavailableError(message)
    raise CatalogRequestError(message)


class ClientCredentialsAuth:
    """Bearer tokens from `POST token_url` (grant_type=client_credentials), cached until near expiry."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        audience: str | None = None,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.token_url = token_url
        self._client_id = client_id
        self._secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self._audience = audience
        self._margin = refresh_margin_s
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        #: token requests made so far (observability, and what the tests count)
        self.token_requests = 0

    async def token(self) -> str:
        """A valid access token, requested only when none is cached or it is about to expire."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = await self._request_token()
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (answered 401); a concurrent caller may already have replaced it."""
        if self._token == token:
            self._token = None

    async def _request_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret.get_secret_value(),
        }
        if self._audience:
            form["audience"] = self._audience
        what = f"token endpoint POST {self.token_url}"
        self.token_requests += 1
        started = self._clock()
        try:
            response = await self._client.post(self.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise CatalogUnavailableError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (400, 401, 403):
            raise CatalogRequestError(
                f"{what} rejected the client credentials of client {self._client_id!r} "
                f"({response.status_code} {response.reason_phrase}: {' '.join(response.text.split())[:200]}); "
                "check SEMSYNC_CATALOG__CLIENT_ID, __CLIENT_SECRET and __AUDIENCE"
            )
        raise_for_status(response, what)
        try:
            payload = response.json()
            token = payload["access_token"]
            expires_in = float(payload.get("expires_in") or DEFAULT_EXPIRES_IN_S)
        except (ValueError, KeyError, TypeError) as exc:
            raise CatalogRequestError(f"{what} answered without a usable access_token: {exc!r}") from None
        # Refresh a margin before expiry, but never later than half-way through a short lifetime.
        return str(token), started + max(expires_in - self._margin, expires_in / 2)
