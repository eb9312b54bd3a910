"""Service-to-service auth for the product's HTTP services: OAuth2 client credentials, by authlib.

`ClientCredentialsAuth` is an httpx `Auth`. Its tokens come from authlib's `AsyncOAuth2Client`
(grant ``client_credentials``, the client id and secret in the form, and the configured ``audience``):
authlib keeps the token and asks for a new one shortly before it expires, under its own lock, so one
token serves every call and concurrent callers share one token request. "Shortly" is
`refresh_margin_s` (60 s), at most half of the token's lifetime; a token endpoint that does not say
``expires_in`` (it is optional in RFC 6749) is taken to give `DEFAULT_EXPIRES_IN_S`. A call answered
401 (the token was revoked, or expired early) is sent once more with a fresh token, as httpx's own
auth flows do. Also home of the typed errors of the HTTP catalog.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncGenerator, Generator
from functools import partial
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.auth import encode_client_secret_post
from pydantic import SecretStr

with warnings.catch_warnings():
    # authlib warns, on every import, that its httpx integration prefers the httpx2 fork; semsync is on
    # httpx, which authlib supports (pyproject pins the versions tested)
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from semsync.errors import CatalogRequestError, CatalogUnavailableError
from semsync.http.status import StatusClass, classify_status

#: lifetime assumed when the token endpoint does not say (`expires_in` is optional in RFC 6749)
DEFAULT_EXPIRES_IN_S = 300
#: the token authlib starts from: expired, so that its refresh (under its lock) asks for the first one too
_NO_TOKEN = {"access_token": "", "token_type": "Bearer", "expires_at": 0}


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


def _secret_post_with_audience(audience: str, client: Any, method: str, uri: str, headers: dict[str, str],
                               body: str) -> tuple[str, dict[str, str], str]:
    """authlib's ``client_secret_post`` with the API's ``audience`` in the form too (Auth0 and the like)."""
    uri, headers, body = encode_client_secret_post(client, method, uri, headers, body)
    body = str(httpx.QueryParams(body).add("audience", audience))
    if "Content-Length" in headers:
        headers["Content-Length"] = str(len(body))
    return uri, headers, body


class ClientCredentialsAuth(httpx.Auth):
    """Bearer tokens from `POST token_url` (grant_type=client_credentials), kept by authlib until near expiry.

    Owns the small HTTP client that calls the token endpoint: `aclose()` when done.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        audience: str | None = None,
        refresh_margin_s: float = 60.0,
        timeout_s: float = 30.0,
    ) -> None:
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.token_url = token_url
        self._client_id = client_id
        self._margin = refresh_margin_s
        self._oauth = AsyncOAuth2Client(
            client_id=client_id, client_secret=secret.get_secret_value(),
            token_endpoint_auth_method=(partial(_secret_post_with_audience, audience) if audience
                                        else "client_secret_post"),
            token_endpoint=token_url, grant_type="client_credentials", token=dict(_NO_TOKEN),
            leeway=refresh_margin_s, timeout=timeout_s, follow_redirects=False,
        )
        self._oauth.register_compliance_hook("access_token_response", self._checked)
        #: token requests made so far (observability, and what the tests count)
        self.token_requests = 0

    @property
    def _what(self) -> str:
        return f"token endpoint POST {self.token_url}"

    async def token(self) -> str:
        """A valid access token, requested only when none is kept or it is about to expire."""
        try:
            await self._oauth.ensure_active_token(self._oauth.token)
            return str(self._oauth.token["access_token"])
        except httpx.HTTPError as exc:
            raise CatalogUnavailableError(f"{self._what} failed: {type(exc).__name__}: {exc}") from exc
        except (OAuthError, ValueError, KeyError, TypeError) as exc:
            raise CatalogRequestError(f"{self._what} answered without a usable access_token: {exc!r}") from None

    def invalidate(self, token: str) -> None:
        """Forget `token` (answered 401); a concurrent caller may already have replaced it."""
        if self._oauth.token.get("access_token") == token:
            self._oauth.token = dict(_NO_TOKEN)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: once more with a fresh token
            self.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await self.token()}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentialsAuth asks for its tokens asynchronously: use an httpx.AsyncClient")

    async def aclose(self) -> None:
        await self._oauth.aclose()

    def _checked(self, response: httpx.Response) -> httpx.Response:
        """authlib's hook on the token endpoint's answer: refused credentials and failures as the catalog's
        typed errors; the token's lifetime (`DEFAULT_EXPIRES_IN_S` when not given) and the refresh margin
        for it (at most half of it)."""
        self.token_requests += 1
        if response.status_code in (400, 401, 403):
            raise CatalogRequestError(
                f"{self._what} rejected the client credentials of client {self._client_id!r} "
                f"({response.status_code} {response.reason_phrase}: {' '.join(response.text.split())[:200]}); "
                "check SEMSYNC_CATALOG__CLIENT_ID, __CLIENT_SECRET and __AUDIENCE"
            )
        raise_for_status(response, self._what)
        try:
            payload = response.json()
            expires_in = float(payload.get("expires_in") or DEFAULT_EXPIRES_IN_S)
        except (ValueError, AttributeError, TypeError) as exc:
            raise CatalogRequestError(f"{self._what} answered without a usable access_token: {exc!r}") from None
        # Refresh a margin before expiry, but never later than half-way through a short lifetime.
        self._oauth.leeway = min(self._margin, expires_in / 2)
        return httpx.Response(response.status_code, json={**payload, "expires_in": int(expires_in)},
                              request=response.request)

