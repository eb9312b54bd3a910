"""The HTTP catalog against a local server speaking the product's tenant, metrics and token protocol."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import authlib.oauth2.rfc6749.wrappers
import httpx
import pytest
from pydantic import SecretStr

from semsync.catalog.factory import provider_from_settings
from semsync.catalog.http import HttpCatalog
from semsync.catalog.models import CubeAuthType, CubeConnection
from semsync.catalog.oauth import ClientCredentialsAuth
from semsync.config import CatalogSettings
from semsync.errors import CatalogError, CatalogRequestError, CatalogUnavailableError

CLIENT = {"client_id": "semsync", "client_secret": "shh-very-secret", "audience": "https://product/api"}


def metric(metric_id: str, dims: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "metric_id": metric_id,
        "label": metric_id.title(),
        "meta_data": {"semantic_meta": {"cube": "orders", "member": metric_id,
                                        "time_dimension": {"cube": "orders", "member": "created_at"}}},
        "dimensions": [
            {"dimension_id": d, "label": d.title(), "meta_data": {"semantic_meta": {"cube": "orders", "member": d}}}
            for d in dims
        ],
    }


def signing_key(n: int) -> str:
    return f"key-{n}-".ljust(32, "x")  # HS256 needs 32 bytes


def cube_config(n: int) -> dict[str, Any]:
    return {"cube_connection_config": {"cube_api_url": f"https://cube-{n}.local", "cube_auth_type": "SECRET_KEY",
                                       "cube_auth_secret_key": signing_key(n), "cube_auth_token": None},
            "enable_story_generation": True}


@dataclass
class FakeServices:
    """State of the fake product services; tests edit it, the server thread reads it."""

    tenants: list[dict[str, Any]] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    expires_in: int | None = 3600
    issued: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    #: path → statuses to answer (one per request) before answering normally
    failures: dict[str, list[int]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]], str | None]] = field(default_factory=list)
    url: str = ""


class Handler(BaseHTTPRequestHandler):
    services: FakeServices

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        expected = {"grant_type": ["client_credentials"], **{k: [v] for k, v in CLIENT.items()}}
        if form != expected:
            return self.reply(401, {"error": "access_denied", "error_description": "Unauthorized"})
        token = f"token-{len(self.services.issued) + 1}"
        self.services.issued.append(token)
        self.services.valid_tokens.add(token)
        self.reply(200, {"access_token": token, "expires_in": self.services.expires_in, "token_type": "Bearer"})

    def do_GET(self) -> None:
        s = self.services
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        tenant = self.headers.get("X-Tenant-Id")
        s.requests.append((url.path, query, tenant))
        if s.failures.get(url.path):
            return self.reply(s.failures[url.path].pop(0), {"detail": "injected failure"})
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in s.valid_tokens:
            return self.reply(401, {"detail": "Not authenticated"})
        offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["100"])[0])
        if url.path == "/tenants/all":
            return self.reply(200, {"results": s.tenants[offset:offset + limit], "count": len(s.tenants)})
        if url.path == "/tenant/config" and tenant in s.configs:
            return self.reply(200, s.configs[tenant])
        if url.path == "/metrics" and tenant in s.metrics:
            rows = s.metrics[tenant]
            return self.reply(200, {"results": rows[offset:offset + limit], "count": len(rows)})
        self.reply(404, {"detail": "Not Found"})


@pytest.fixture
def services() -> Iterator[FakeServices]:
    state = FakeServices()
    handler = type("BoundHandler", (Handler,), {"services": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def product(services: FakeServices) -> FakeServices:
    """Five tenants (one with sync disabled), three metrics each, pages of two."""
    for n in range(1, 6):
        services.tenants.append({"id": n, "identifier": f"tenant_{n}", "name": f"Tenant {n}",
                                 "enable_metric_sync": n != 3, "domains": [f"t{n}.example"]})
        services.configs[str(n)] = cube_config(n)
        services.metrics[str(n)] = [metric("revenue", ("region", "channel")), metric("orders"), metric("margin")]
    return services


class Clock:
    """The wall clock as authlib reads it to tell a token's expiry (`time.time()`), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(authlib.oauth2.rfc6749.wrappers, "time", clock)
    return clock


def make_catalog(client: httpx.AsyncClient, url: str, **auth: Any) -> HttpCatalog:
    oauth = ClientCredentialsAuth(token_url=f"{url}/oauth/token", **{**CLIENT, **auth})
    return HttpCatalog(client, tenants_url=url, metrics_url=url, auth=oauth, page_size=2)


async def test_loads_sync_enabled_tenants_across_pages_with_one_token(product):
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as http_catalog:
        catalog = await http_catalog.load()
    assert [t.identifier for t in catalog.tenants] == ["tenant_1", "tenant_2", "tenant_4", "tenant_5"]
    acme = catalog.tenants[0]
    assert acme.semantic_layer == CubeConnection(
        cube_api_url="https://cube-1.local", auth_type=CubeAuthType.SECRET_KEY, secret_key=SecretStr(signing_key(1))
    )
    assert [m.id for m in acme.metrics] == ["revenue", "orders", "margin"]
    revenue = acme.metric("revenue")
    assert (revenue.source.measure, revenue.source.time_dimension) == ("orders.revenue", "orders.created_at")
    assert [(d.id, d.label, d.member) for d in revenue.dimensions] == [
        ("region", "Region", "orders.region"), ("channel", "Channel", "orders.channel")
    ]
    # 3 pages of tenants, then per enabled tenant its config and 2 pages of metrics: all on one token
    assert len(product.requests) == 3 + 4 * 3
    assert product.issued == ["token-1"]
    tenant_pages = [(q["offset"], q["limit"]) for path, q, _ in product.requests if path == "/tenants/all"]
    assert tenant_pages == [(["0"], ["2"]), (["2"], ["2"]), (["4"], ["2"])]
    assert {t for path, _, t in product.requests if path == "/metrics"} == {"1", "2", "4", "5"}


async def test_token_is_reused_until_shortly_before_expiry(product, clock):
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        await catalog.load()
        clock.now += 3600 - 61  # still more than the refresh margin (60 s) before expiry
        await catalog.load()
        assert catalog.auth.token_requests == 1
        clock.now += 2
        await catalog.load()
    assert product.issued == ["token-1", "token-2"]


@pytest.mark.parametrize(("expires_in", "kept_s"), [(None, 300 - 60), (40, 20)])
async def test_a_token_without_a_lifetime_or_a_short_one_is_renewed_in_time(product, clock, expires_in, kept_s):
    # no `expires_in`: DEFAULT_EXPIRES_IN_S (300 s); a short lifetime: renewed half-way through
    product.expires_in = expires_in
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        await catalog.auth.token()
        clock.now += kept_s - 1
        assert await catalog.auth.token() == "token-1"
        clock.now += 2
        assert await catalog.auth.token() == "token-2"


async def test_concurrent_callers_share_one_token_request(product):
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        tokens = await asyncio.gather(*(catalog.auth.token() for _ in range(20)))
    assert set(tokens) == {"token-1"} and product.issued == ["token-1"]


async def test_revoked_token_is_replaced_once(product):
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        await catalog.load()
        product.valid_tokens.clear()  # the identity provider revoked it
        reloaded = await catalog.load()
    assert len(reloaded.tenants) == 4
    assert product.issued == ["token-1", "token-2"]


async def test_service_rejecting_every_token_is_a_clear_non_retryable_error(product):
    product.failures["/tenants/all"] = [401, 401]
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        with pytest.raises(CatalogRequestError) as info:
            await catalog.load()
    assert f"GET {product.url}/tenants/all answered 401 Unauthorized" in str(info.value)
    assert info.value.retryable is False
    assert product.issued == ["token-1", "token-2"]  # one retry with a fresh token, then give up


async def test_bad_client_credentials(product):
    async with httpx.AsyncClient() as client:
        with pytest.raises(CatalogRequestError) as info:
            async with make_catalog(client, product.url, client_secret="wrong-secret") as catalog:
                await catalog.load()
    message = str(info.value)
    assert f"token endpoint POST {product.url}/oauth/token rejected the client credentials" in message
    assert "401" in message and "wrong-secret" not in message


async def test_server_error_is_retryable_and_names_the_call(product):
    product.failures["/metrics"] = [500]
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        with pytest.raises(CatalogUnavailableError) as info:
            await catalog.load()
    assert info.value.retryable is True
    assert f"catalog service GET {product.url}/metrics (tenant id " in str(info.value)
    assert "500 Internal Server Error" in str(info.value)


async def test_unreachable_service_is_retryable(services):
    async with httpx.AsyncClient() as client:
        catalog = HttpCatalog(client, tenants_url="http://127.0.0.1:9", metrics_url="http://127.0.0.1:9")
        with pytest.raises(CatalogUnavailableError, match="GET http://127.0.0.1:9/tenants/all failed: ConnectError"):
            await catalog.load()


async def test_incomplete_entries_are_skipped_and_reported(product):
    product.configs["2"] = {"cube_connection_config": {}}
    product.metrics["4"][1] = {"metric_id": "orders", "label": "Orders", "meta_data": {}}
    product.metrics["5"][0]["dimensions"][0]["meta_data"] = {}
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as http_catalog:
        catalog = await http_catalog.load()
    assert [t.identifier for t in catalog.tenants] == ["tenant_1", "tenant_4", "tenant_5"]
    assert [m.id for m in catalog.tenants[1].metrics] == ["revenue", "margin"]
    assert [d.id for d in catalog.tenants[2].metric("revenue").dimensions] == ["channel"]
    assert http_catalog.problems == [
        "tenant 'tenant_2' (id 2): tenant/config has no cube_connection_config.cube_api_url",
        "tenant 'tenant_4' (id 4) metrics results[1]: metric 'orders': meta_data.semantic_meta has no cube and member",
        "tenant 'tenant_5' (id 5) metric 'revenue' dimensions[0]: no meta_data.semantic_meta cube and member; "
        "dimension left out",
    ]


async def test_from_settings(product):
    async with httpx.AsyncClient() as client:
        await _check_settings(product, client)


async def _check_settings(product: FakeServices, client: httpx.AsyncClient) -> None:
    settings = CatalogSettings(provider="http", tenants_url=product.url, metrics_url=product.url,
                               token_url=f"{product.url}/oauth/token", client_id="semsync",
                               client_secret=SecretStr("x"), audience="a")
    async with provider_from_settings(settings, http_client=client) as provider:
        assert isinstance(provider, HttpCatalog) and provider.auth is not None
    with pytest.raises(CatalogError, match="SEMSYNC_CATALOG__TENANTS_URL"):
        provider_from_settings(CatalogSettings(provider="http"), http_client=client)
    incomplete = settings.model_copy(update={"client_secret": None})
    with pytest.raises(CatalogError, match="SEMSYNC_CATALOG__CLIENT_SECRET"):
        provider_from_settings(incomplete, http_client=client)
    for name, url in (("tenants_url", "tenants.internal/api"), ("metrics_url", "ftp://metrics"),
                      ("token_url", "https://")):
        with pytest.raises(CatalogError, match=f"SEMSYNC_CATALOG__{name.upper()} '.*' is not an http"):
            provider_from_settings(settings.model_copy(update={name: url}), http_client=client)
    # the client secret and the tenants' connections: never in clear text to a remote host, never to
    # a cloud metadata service
    for name, url, problem in (
        ("token_url", "http://auth.acme.example/oauth/token", "sends in clear text to auth.acme.example"),
        ("tenants_url", "http://169.254.169.254/latest/meta-data", "link-local or cloud metadata"),
        ("metrics_url", "https://metadata.google.internal/v1", "link-local or cloud metadata"),
    ):
        with pytest.raises(CatalogError, match=f"SEMSYNC_CATALOG__{name.upper()} '.*' .*{problem}"):
            provider_from_settings(settings.model_copy(update={name: url}), http_client=client)


async def test_metric_filters_are_kept_and_unreadable_ones_refuse_the_metric(product):
    filtered = metric("paid_orders")
    filtered["meta_data"]["semantic_meta"]["filters"] = [
        {"member": "orders.status", "operator": "equals", "values": ["paid", "shipped"]},
        {"cube": "orders", "dimension": "amount", "operator": "gt", "values": [0]},
    ]
    broken = metric("broken_orders")
    broken["meta_data"]["semantic_meta"]["filters"] = [{"member": "orders.status", "operator": "startsWith"}]
    product.metrics["1"] = [filtered, broken]
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as catalog:
        tenant = (await catalog.load()).tenants[0]
    assert [m.id for m in tenant.metrics] == ["paid_orders"]
    assert [(f.member, f.operator.value, f.values) for f in tenant.metric("paid_orders").source.filters] == [
        ("orders.status", "equals", ["paid", "shipped"]), ("orders.amount", "gt", ["0"])
    ]
    assert any("broken_orders" in p and "operator" in p for p in catalog.problems)


async def test_a_signing_key_too_short_for_hs256_skips_the_tenant_without_showing_the_key(product):
    product.configs["2"]["cube_connection_config"]["cube_auth_secret_key"] = "short-key-2"
    async with httpx.AsyncClient() as client, make_catalog(client, product.url) as http_catalog:
        catalog = await http_catalog.load()
    assert "tenant_2" not in [t.identifier for t in catalog.tenants]
    [problem] = http_catalog.problems
    assert problem.startswith("tenant 'tenant_2' (id 2): tenant/config cube_connection_config: secret_key: "
                              "cannot sign HS256 JWTs with this key: The HMAC key is 11 bytes long")
    assert "short-key-2" not in problem
