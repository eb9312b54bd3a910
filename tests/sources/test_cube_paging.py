"""A paged Cube fetch under failures and limits: a failed page is retried alone, progress is reported
per step, and a rate limit bounds the requests sent to one Cube deployment (see cube_fake.py)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from cube_fake import FakeCube, Reply, continue_wait, error
from sqlalchemy.ext.asyncio import create_async_engine

from semsync.catalog.models import CubeConnection, CubeMetricSource, MetricDef, TenantDef
from semsync.config import SemanticLayerSettings
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import FetchResult
from semsync.sources.cube import CubeSource
from semsync.sources.registry import SourceRegistry

REVENUE = MetricDef(
    id="revenue", label="Revenue",
    source=CubeMetricSource(measure="orders.revenue", time_dimension="orders.created_at"),
)
FIRST = date(2025, 7, 1)
#: quick retries, so that a test waits milliseconds, not seconds
QUICK = SemanticLayerSettings(request_timeout_s=2.0, continue_wait_deadline_s=5.0,
                              page_retry_initial_s=0.01, page_retry_max_s=0.05)


def cube_rows(days: int) -> list[dict]:
    return [{"orders.created_at.day": f"{FIRST + timedelta(days=i)}T00:00:00.000", "orders.revenue": str(i + 0.5)}
            for i in range(days)]


@pytest.fixture
def cube() -> Iterator[FakeCube]:
    fake = FakeCube(rows=cube_rows(7)).start()  # pages of 3: offsets 0, 3 and 6
    yield fake
    fake.stop()


async def fetch(cube: FakeCube, settings: SemanticLayerSettings = QUICK, *, page_size: int = 3,
                progress=None) -> FetchResult:
    source = CubeSource(CubeConnection(cube_api_url=cube.url, token="t"), settings=settings, page_size=page_size)
    try:
        return await source.fetch(REVENUE, Grain.DAY, FIRST, FIRST + timedelta(days=30), progress=progress)
    finally:
        await source.aclose()


async def test_a_page_failing_twice_is_asked_again_alone_and_the_result_is_whole(cube: FakeCube) -> None:
    undisturbed = await fetch(cube)
    cube.requests.clear()

    cube.script_page(3, error(500, "Internal Server Error"), error(500, "Internal Server Error"))
    result = await fetch(cube)

    assert result == undisturbed and len(result.rows) == 7
    assert Counter(cube.offsets()) == {0: 1, 3: 3, 6: 1}
    assert cube.offsets() == [0, 3, 3, 3, 6]


@pytest.mark.parametrize("attempts", [1, 4])
async def test_a_page_failing_on_every_attempt_raises_after_page_attempts(cube: FakeCube, attempts: int) -> None:
    cube.script_page(3, *[error(503, "overloaded")] * 10)
    settings = QUICK.model_copy(update={"page_attempts": attempts})
    plural = "s" if attempts > 1 else ""
    message = f"page 2 .* after {attempts} attempt{plural}: .*HTTP 503"
    with pytest.raises(SourceUnavailableError, match=message) as caught:
        await fetch(cube, settings)
    assert caught.value.retryable
    assert cube.offsets() == [0] + [3] * attempts


async def test_a_rejected_page_is_not_retried(cube: FakeCube) -> None:
    cube.script_page(3, error(400, "'orders.nope' not found"))
    with pytest.raises(SourceRequestError, match="orders.nope"):
        await fetch(cube)
    assert cube.offsets() == [0, 3]


async def test_progress_reports_each_page_each_retry_and_each_continue_wait(cube: FakeCube) -> None:
    cube.script_page(3, error(503, "overloaded"))
    cube.script_page(6, continue_wait())
    lines: list[str] = []
    await fetch(cube, progress=lines.append)

    expected = [
        r"page 1: 3 rows",
        r"page 2 failed \(HTTP 503\), retry 1 of 2 in 0\.\d+s",
        r"page 2: 6 rows",
        r"page 3: Continue wait 1, asking again in 0\.1s",
        r"page 3: 7 rows",
    ]
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


async def test_a_timed_out_page_is_reported_as_a_timeout(cube: FakeCube) -> None:
    cube.script_page(0, Reply(200, {"data": []}, delay_s=0.5))
    lines: list[str] = []
    settings = QUICK.model_copy(update={"request_timeout_s": 0.1})
    result = await fetch(cube, settings, progress=lines.append)
    assert len(result.rows) == 7
    assert re.fullmatch(r"page 1 failed \(timeout\), retry 1 of 2 in 0\.\d+s", lines[0]), lines


def max_in_window(times: list[float], window_s: float) -> int:
    """The most of `times` that fall in any half-open window ``[t, t + window_s)``."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window_s) for i, t in enumerate(times))


async def test_the_rate_limit_bounds_the_requests_in_any_second() -> None:
    # 24 rows in pages of 1: 25 requests at 10 per second, in bursts of at most 10. Paging is
    # sequential, so request k+20 is sent after request k was answered: whatever the machine's speed,
    # 20 requests need at least (20 - 10) / 10 = 1 s, and the fetch (25 - 10) / 10 = 1.5 s. Without
    # the limit, all 25 arrive within milliseconds.
    fake = FakeCube(rows=cube_rows(24)).start()
    try:
        settings = QUICK.model_copy(update={"requests_per_second": 10})
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await fetch(fake, settings, page_size=1)
        elapsed = loop.time() - started
    finally:
        fake.stop()
    assert len(result.rows) == 24 and len(fake.requests) == 25
    assert max_in_window([r.at for r in fake.requests], 1.0) <= 20
    assert elapsed >= 1.5 - 0.01


async def test_sources_of_one_cube_deployment_share_its_rate_limit() -> None:
    # two tenants (two tokens) on one Cube URL, 13 requests each, fetched at once: together they
    # need (26 - 10) / 10 = 1.6 s at 10 requests per second; limited apart, each would need 0.3 s
    fake = FakeCube(rows=cube_rows(12)).start()
    engine = create_async_engine("sqlite+aiosqlite://")  # the registry wants one; no tenant uses SQL
    settings = QUICK.model_copy(update={"requests_per_second": 10})
    registry = SourceRegistry(engine, settings=settings)
    try:
        tenants = [TenantDef(identifier=name, name=name, metrics=[REVENUE],
                             semantic_layer=CubeConnection(cube_api_url=url, token=f"token-{name}"))
                   for name, url in (("acme", fake.url), ("globex", fake.url + "/"))]
        sources = [await registry.source_for(t) for t in tenants]
        assert sources[0] is not sources[1]
        for source in sources:
            assert isinstance(source, CubeSource)
            source.page_size = 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(*(s.fetch(REVENUE, Grain.DAY, FIRST, FIRST + timedelta(days=30))
                                         for s in sources))
        elapsed = loop.time() - started
    finally:
        await registry.aclose()
        await engine.dispose()
        fake.stop()
    assert [len(r.rows) for r in results] == [12, 12]
    assert {r.headers["authorization"] for r in fake.requests} == {"token-acme", "token-globex"}
    assert len(fake.requests) == 26
    assert elapsed >= 1.6 - 0.01


async def test_each_page_is_handed_over_before_the_next_is_asked_for(cube: FakeCube) -> None:
    source = CubeSource(CubeConnection(cube_api_url=cube.url, token="t"), settings=QUICK, page_size=3)
    try:
        sizes = []
        async for page in source.pages(REVENUE, Grain.DAY, FIRST, FIRST + timedelta(days=30)):
            sizes.append(len(page.rows))
            assert len(cube.offsets()) == len(sizes)  # the next page is not read ahead and held
    finally:
        await source.aclose()
    assert sizes == [3, 3, 1]
