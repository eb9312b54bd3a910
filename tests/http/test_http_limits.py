"""Answers with bounds, against a real local HTTP server: a catalog service that ignores `offset`, an
answer too large to hold, one too slow to wait for — each one clear error, never an endless loop or
an unbounded read."""

from __future__ import annotations

import json

import httpx
import pytest

from semsync.catalog.http import HttpCatalog
from semsync.catalog.models import CubeConnection
from semsync.config import SemanticLayerSettings
from semsync.errors import CatalogRequestError, CatalogUnavailableError, SourceRequestError, SourceUnavailableError
from semsync.http.limits import RequestDeadlineError, ResponseTooLargeError, bounded_request
from semsync.sources.cube import LOAD_PATH, CubeSource
from tests.notify.receivers import HttpReceiver, Reply

PAGE = {"count": 10_000, "results": [{"id": i, "identifier": f"t{i}", "name": f"T{i}"} for i in range(100)]}


async def test_a_body_past_the_limit_and_a_request_past_its_deadline_are_refused():
    async with HttpReceiver(routes={"/big": Reply(200, "x" * 3_000_000)}) as server:
        async with httpx.AsyncClient() as client:
            fine = await bounded_request(client, "GET", server.url("/small"), max_bytes=100, deadline_s=5)
            assert fine.status_code == 200 and fine.text == "ok"
            with pytest.raises(ResponseTooLargeError, match="larger than 1.0 MB"):
                await bounded_request(client, "GET", server.url("/big"), max_bytes=2**20, deadline_s=5)
    async with HttpReceiver(delay_s=3) as slow, httpx.AsyncClient(timeout=30) as client:
        with pytest.raises(RequestDeadlineError, match="within 0.5s"):
            await bounded_request(client, "GET", slow.url("/x"), max_bytes=100, deadline_s=0.5)


async def test_a_catalog_service_that_ignores_offset_is_refused_not_paged_forever():
    async with HttpReceiver(routes={"/tenants/all": Reply(200, json.dumps(PAGE))}) as server:
        async with httpx.AsyncClient() as client:
            catalog = HttpCatalog(client, tenants_url=server.base_url, metrics_url=server.base_url)
            with pytest.raises(CatalogRequestError, match="ignores `offset`"):
                await catalog._paginate(server.url("/tenants/all"))
            assert len(server.received()) == 2  # the second page gave it away
            bounded = HttpCatalog(client, tenants_url=server.base_url, metrics_url=server.base_url,
                                  max_response_bytes=1000)
            with pytest.raises(CatalogRequestError, match="MAX_RESPONSE_MB"):
                await bounded._paginate(server.url("/tenants/all"))
    async with HttpReceiver(delay_s=2) as slow, httpx.AsyncClient(timeout=30) as client:
        catalog = HttpCatalog(client, tenants_url=slow.base_url, metrics_url=slow.base_url, request_deadline_s=0.5)
        with pytest.raises(CatalogUnavailableError, match="REQUEST_DEADLINE_S"):
            await catalog._paginate(slow.url("/tenants/all"))


async def test_a_cube_page_too_large_is_a_request_error_and_a_slow_one_retryable():
    async with HttpReceiver(routes={LOAD_PATH: Reply(200, json.dumps({"data": [{"v": "x" * 1000}] * 2000}))}) as cube:
        source = CubeSource(CubeConnection(cube_api_url=cube.base_url, token="t"),
                            settings=SemanticLayerSettings(max_response_mb=1))
        try:
            with pytest.raises(SourceRequestError, match="MAX_RESPONSE_MB"):
                await source._post({"measures": ["orders.count"]})
        finally:
            await source.aclose()
    async with HttpReceiver(delay_s=2) as slow:
        source = CubeSource(CubeConnection(cube_api_url=slow.base_url, token="t"),
                            settings=SemanticLayerSettings(request_deadline_s=0.5))
        try:
            with pytest.raises(SourceUnavailableError, match="REQUEST_DEADLINE_S"):
                await source._post({"measures": ["orders.count"]})
        finally:
            await source.aclose()
