"""The Cube source against a local server speaking Cube's REST protocol (see cube_fake.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import jwt
import pytest
from cube_fake import FakeCube, Reply, continue_wait, data, error

from semsync.catalog.models import (
    CubeAuthType,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    Filter,
    FilterOperator,
    MetricDef,
    SqlMetricSource,
)
from semsync.config import SemanticLayerSettings
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import NULL_SLICE
from semsync.sources.cube import ContinueWaitExpiredError, CubeSource

REVENUE = MetricDef(
    id="revenue",
    label="Revenue",
    source=CubeMetricSource(
        measure="orders.revenue",
        time_dimension="orders.created_at",
        filters=[
            Filter(member="orders.status", operator=FilterOperator.EQUALS, values=["paid", "shipped"]),
            Filter(member="orders.amount", operator=FilterOperator.GT, values=["0"]),
        ],
    ),
    dimensions=[DimensionDef(id="region", member="orders.region")],
)
REGION = REVENUE.dimension("region")
FAST = SemanticLayerSettings(request_timeout_s=2.0, continue_wait_deadline_s=5.0,
                             page_retry_initial_s=0.01, page_retry_max_s=0.05)


@pytest.fixture
def cube() -> Iterator[FakeCube]:
    fake = FakeCube().start()
    yield fake
    fake.stop()


def token_source(cube: FakeCube, settings: SemanticLayerSettings = FAST, **kwargs) -> CubeSource:
    return CubeSource(CubeConnection(cube_api_url=cube.url, token="tok-123"), settings=settings, **kwargs)


async def fetch(source: CubeSource, grain: Grain = Grain.DAY, dimension: DimensionDef | None = None):
    try:
        return await source.fetch(REVENUE, grain, date(2025, 7, 1), date(2025, 7, 31), dimension)
    finally:
        await source.aclose()


async def test_query_names_measure_time_dimension_window_filters_and_dimension(cube: FakeCube) -> None:
    await fetch(token_source(cube), Grain.DAY, REGION)

    [request] = cube.requests
    assert (request.method, request.path) == ("POST", "/cubejs-api/v1/load")
    query = request.query
    assert query["measures"] == ["orders.revenue"]
    assert query["timeDimensions"] == [
        {"dimension": "orders.created_at", "granularity": "day", "dateRange": ["2025-07-01", "2025-07-31"]}
    ]
    assert query["dimensions"] == ["orders.region"]
    assert query["filters"] == [
        {"member": "orders.status", "operator": "equals", "values": ["paid", "shipped"]},
        {"member": "orders.amount", "operator": "gt", "values": ["0"]},
    ]
    # an explicit limit (Cube silently truncates at 10,000 otherwise) and a total order to page by
    assert query["limit"] == 10_000
    assert query["order"] == [["orders.created_at", "asc"], ["orders.region", "asc"]]


async def test_base_series_query_has_no_dimension(cube: FakeCube) -> None:
    await fetch(token_source(cube))
    query = cube.requests[0].query
    assert "dimensions" not in query
    assert query["order"] == [["orders.created_at", "asc"]]


async def test_rows_become_dated_sliced_floats(cube: FakeCube) -> None:
    cube.rows = [
        {"orders.created_at.day": "2025-07-01T00:00:00.000", "orders.created_at": "2025-07-01T00:00:00.000",
         "orders.region": "EU", "orders.revenue": "123.4"},
        {"orders.created_at.day": "2025-07-01T00:00:00.000", "orders.region": "US", "orders.revenue": 7},
        {"orders.created_at.day": "2025-07-02T00:00:00.000", "orders.region": "EU", "orders.revenue": "1e3"},
    ]
    result = await fetch(token_source(cube), Grain.DAY, REGION)
    assert result.rows == [
        (date(2025, 7, 1), "EU", 123.4),
        (date(2025, 7, 1), "US", 7.0),
        (date(2025, 7, 2), "EU", 1000.0),
    ]
    assert result.dropped_nulls == 0


@pytest.mark.parametrize(
    ("grain", "stamps", "periods"),
    [
        # Cube's weeks start on Monday, like ours: 2025-06-30 is the Monday of the week holding July 1st
        (Grain.WEEK, ["2025-06-30T00:00:00.000", "2025-07-07T00:00:00.000"], [date(2025, 6, 30), date(2025, 7, 7)]),
        (Grain.MONTH, ["2025-07-01T00:00:00.000"], [date(2025, 7, 1)]),
    ],
)
async def test_week_and_month_grains(cube: FakeCube, grain: Grain, stamps: list[str], periods: list[date]) -> None:
    key = f"orders.created_at.{grain.value}"
    cube.rows = [{key: stamp, "orders.revenue": "5.5"} for stamp in stamps]
    result = await fetch(token_source(cube), grain)
    assert cube.requests[0].query["timeDimensions"][0]["granularity"] == grain.value
    assert result.rows == [(period, None, 5.5) for period in periods]


async def test_a_null_value_is_dropped_and_a_null_slice_kept_as_one_slice(cube: FakeCube) -> None:
    cube.rows = [
        {"orders.created_at.day": "2025-07-01T00:00:00.000", "orders.region": "EU", "orders.revenue": "1"},
        {"orders.created_at.day": "2025-07-01T00:00:00.000", "orders.region": None, "orders.revenue": "2"},
        {"orders.created_at.day": "2025-07-02T00:00:00.000", "orders.region": "EU", "orders.revenue": None},
    ]
    result = await fetch(token_source(cube), Grain.DAY, REGION)
    assert result.rows == [(date(2025, 7, 1), "EU", 1.0), (date(2025, 7, 1), NULL_SLICE, 2.0)]
    assert (result.dropped_nulls, result.null_slices) == (1, 1)


async def test_pages_through_results_larger_than_a_page(cube: FakeCube) -> None:
    cube.rows = [
        {"orders.created_at.day": f"2025-07-{day:02d}T00:00:00.000", "orders.revenue": str(day)} for day in range(1, 8)
    ]
    result = await fetch(token_source(cube, page_size=3))
    assert [r[2] for r in result.rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [(r.query["limit"], r.query.get("offset", 0)) for r in cube.requests] == [(3, 0), (3, 3), (3, 6)]


async def test_continue_wait_is_polled_until_the_answer(cube: FakeCube) -> None:
    cube.script(continue_wait(), continue_wait(), data([
        {"orders.created_at.day": "2025-07-01T00:00:00.000", "orders.revenue": "9"},
    ]))
    result = await fetch(token_source(cube))
    assert result.rows == [(date(2025, 7, 1), None, 9.0)]
    assert len(cube.requests) == 3
    assert cube.requests[0].body == cube.requests[2].body  # the same query asked again


async def test_continue_wait_past_the_deadline_is_retryable(cube: FakeCube) -> None:
    cube.script(*[continue_wait()] * 100)
    settings = SemanticLayerSettings(request_timeout_s=2.0, continue_wait_deadline_s=0.5)
    with pytest.raises(SourceUnavailableError, match="Continue wait") as caught:
        await fetch(token_source(cube, settings))
    assert caught.value.retryable and isinstance(caught.value, ContinueWaitExpiredError)
    # backoff 0.1, 0.2, then capped by the deadline: a handful of polls, not a busy loop, and the
    # page is not asked again (it has waited its deadline already; Temporal retries it later)
    assert 3 <= len(cube.requests) <= 6


async def test_bad_query_is_not_retryable_and_carries_cubes_message(cube: FakeCube) -> None:
    cube.script(error(400, "'nope' not found for path 'orders.nope'", type="UserError"))
    with pytest.raises(SourceRequestError, match="'nope' not found for path 'orders.nope'") as caught:
        await fetch(token_source(cube))
    assert not caught.value.retryable
    assert len(cube.requests) == 1


async def test_rejected_token_is_not_retryable(cube: FakeCube) -> None:
    cube.script(error(403, "Invalid token"))
    with pytest.raises(SourceRequestError, match="Invalid token"):
        await fetch(token_source(cube))


async def test_data_source_down_reported_as_400_is_retryable(cube: FakeCube) -> None:
    # Cube answers an orchestrator error (its database unreachable) with HTTP 400
    cube.script(*[error(400, "connect ECONNREFUSED 127.0.0.1:5432")] * FAST.page_attempts)
    with pytest.raises(SourceUnavailableError, match="ECONNREFUSED"):
        await fetch(token_source(cube))
    assert len(cube.requests) == FAST.page_attempts


@pytest.mark.parametrize("reply", [error(500, "Internal Server Error"), error(503, "overloaded"),
                                   Reply(502, "<html>bad gateway</html>"), error(429, "slow down")])
async def test_server_errors_are_retryable(cube: FakeCube, reply: Reply) -> None:
    cube.script(*[reply] * FAST.page_attempts)
    with pytest.raises(SourceUnavailableError, match=f"after 3 attempts: .*HTTP {reply.status}") as caught:
        await fetch(token_source(cube))
    assert caught.value.retryable
    assert len(cube.requests) == FAST.page_attempts


async def test_timeout_is_retryable(cube: FakeCube) -> None:
    cube.script(Reply(200, {"data": []}, delay_s=1.0))
    settings = SemanticLayerSettings(request_timeout_s=0.2, continue_wait_deadline_s=5.0, page_attempts=1)
    with pytest.raises(SourceUnavailableError, match="after 1 attempt: .*did not answer within 0.2s"):
        await fetch(token_source(cube, settings))


async def test_unreachable_cube_is_retryable() -> None:
    closed = FakeCube().start()
    url = closed.url
    closed.stop()
    source = CubeSource(CubeConnection(cube_api_url=url, token="t"), settings=FAST)
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        await fetch(source)


async def test_token_goes_in_the_authorization_header_without_bearer(cube: FakeCube) -> None:
    await fetch(token_source(cube))
    assert cube.requests[0].headers["authorization"] == "tok-123"


async def test_secret_key_signs_a_jwt_reused_across_requests(cube: FakeCube) -> None:
    connection = CubeConnection(cube_api_url=cube.url, auth_type=CubeAuthType.SECRET_KEY,
                                secret_key="tenant-secret-that-is-long-enough-for-hs256")
    source = CubeSource(connection, settings=SemanticLayerSettings(jwt_ttl_s=600))
    await source.fetch(REVENUE, Grain.DAY, date(2025, 7, 1), date(2025, 7, 2))
    await source.fetch(REVENUE, Grain.WEEK, date(2025, 7, 1), date(2025, 7, 2))
    await source.aclose()

    first, second = (r.headers["authorization"] for r in cube.requests)
    assert first == second
    claims = jwt.decode(first, "tenant-secret-that-is-long-enough-for-hs256", algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - time.time()) < 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(first, "another-tenants-secret-also-long-enough-x", algorithms=["HS256"])


async def test_a_sql_metric_is_refused(cube: FakeCube) -> None:
    sql_metric = MetricDef(id="m", label="M", source=SqlMetricSource(table="t", value="sum(x)", time_column="d"))
    source = token_source(cube)
    with pytest.raises(SourceRequestError, match="not a Cube source"):
        await source.fetch(sql_metric, Grain.DAY, date(2025, 7, 1), date(2025, 7, 2))
    await source.aclose()
    assert cube.requests == []
