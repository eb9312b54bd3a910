"""The sync service against the embedded PostgreSQL: sync types, windows, atomicity, isolation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sync_helpers import FixedSources, WholeFetch, table_checksum

from semsync.db.session import tenant_scope
from semsync.errors import (
    SourceRequestError,
    SourceUnavailableError,
    TenantSyncDisabledError,
    UnknownMetricError,
    UnknownTenantError,
)
from semsync.partitions import Grain
from semsync.sync.plan import SyncStatus, SyncType
from semsync.sync.service import SemanticSyncRequest
from semsync.sync.status import HISTORY_LIMIT


def request(partition="2025-07-01", end=None, *, tenant="acme", metric="revenue", grain=Grain.DAY, force=False):
    return SemanticSyncRequest(tenant=tenant, metric_id=metric, grain=grain, start_partition=partition,
                               end_partition=end, force_full_sync=force)


async def stored(db, tenant_id: int, table: str = "metric_time_series", where: str = "") -> list[tuple]:
    columns = "date, value" if table == "metric_time_series" else "dimension_name, dimension_slice, date, value"
    async with tenant_scope(db.session_factory, tenant_id) as s:
        return [tuple(r) for r in (await s.execute(text(f"SELECT {columns} FROM {table} {where} ORDER BY 1, 2, 3"
                                                        if table != "metric_time_series" else
                                                        f"SELECT {columns} FROM {table} {where} ORDER BY 1")))]


async def test_first_sync_is_full_then_incremental(service, warehouse):
    first = await service.sync(request("2025-07-01"))
    assert first.success and first.base.sync_type is SyncType.FULL
    assert (first.base.window_start, first.base.window_end) == (date(2024, 7, 1), date(2025, 7, 1))
    assert first.base.rows_fetched == first.base.rows_inserted == 366
    assert first.dimensions_succeeded == ["region", "channel"] and first.dimensions_failed == {}
    region = next(d for d in first.dimensions if d.dimension == "region")
    assert region.sync_type is SyncType.FULL and region.rows_inserted == 366 * 3

    second = await service.sync(request("2025-07-02"))
    assert second.base.sync_type is SyncType.INCREMENTAL
    # the clock says 2026-11-25: everything up to 2025-07-01 had settled when fetched, so only the new day
    assert (second.base.window_start, second.base.window_end) == (date(2025, 7, 2), date(2025, 7, 2))
    assert (second.base.rows_fetched, second.base.rows_inserted, second.base.rows_unchanged) == (1, 1, 0)
    assert all(d.sync_type is SyncType.INCREMENTAL for d in second.dimensions)


async def test_recent_partitions_refetch_the_incremental_lookback(warehouse, scripted):
    from datetime import UTC, datetime

    from semsync.sync.service import SemanticSyncService

    clock = {"now": datetime(2025, 7, 2, 10, tzinfo=UTC)}  # a daily schedule, the day after
    service = SemanticSyncService(warehouse.session_factory, FixedSources(scripted), clock=lambda: clock["now"])
    await service.sync(request("2025-07-01"))
    clock["now"] = datetime(2025, 7, 3, 10, tzinfo=UTC)
    second = await service.sync(request("2025-07-02"))
    # only values fetched 90+ days after their date are settled (through 2025-04-03 here):
    # the last 90 days are fetched again, so restatements are picked up
    assert second.base.sync_type is SyncType.INCREMENTAL
    assert second.base.window_start == date(2025, 4, 4)
    assert (second.base.window_end - second.base.window_start).days + 1 == 90
    assert second.base.rows_unchanged == 89 and second.base.rows_inserted == 1


async def test_forced_full_sync(service):
    await service.sync(request("2025-07-01"))
    forced = await service.sync(request("2025-07-02", force=True))
    assert forced.base.sync_type is SyncType.FULL and forced.base.reason == "forced"
    assert forced.base.window_start == date(2024, 7, 2)
    assert forced.base.rows_inserted == 1 and forced.base.rows_unchanged == 365


async def test_week_and_month_windows(service):
    week = await service.sync(request("2025-W27", grain=Grain.WEEK))
    assert (week.base.window_start, week.base.window_end) == (date(2023, 7, 10), date(2025, 7, 13))
    month = await service.sync(request("2025-07", grain=Grain.MONTH))
    assert (month.base.window_start, month.base.window_end) == (date(2020, 7, 1), date(2025, 7, 31))
    # the warehouse starts in 2024: 19 months of July-2025-and-before data
    assert month.base.rows_inserted == 19


async def test_fetch_failure_leaves_previous_data_untouched(service, scripted, warehouse):
    await service.sync(request("2025-07-01"))
    before = await table_checksum(warehouse, "metric_time_series")
    before_dims = await table_checksum(warehouse, "metric_dimensional_time_series")
    scripted.fail_dimensions[None] = SourceUnavailableError("cube is down")
    failed = await service.sync(request("2025-07-01", force=True))
    assert not failed.success
    assert failed.base.status is SyncStatus.FAILED and failed.base.retryable is True
    assert "cube is down" in failed.base.error
    assert failed.dimensions == []  # a failing base series fails the sync before the dimensions
    assert await table_checksum(warehouse, "metric_time_series") == before
    assert await table_checksum(warehouse, "metric_dimensional_time_series") == before_dims
    async with warehouse.admin_engine.connect() as conn:
        statuses = dict((await conn.execute(text(
            "SELECT coalesce(dimension_name, '(base)') || '/' || sync_type, sync_status "
            "FROM metric_sync_status"))).all())
    # the dimensions were never started: their last attempt still reads SUCCESS, nothing is left RUNNING
    assert statuses == {"(base)/FULL": "FAILED", "region/FULL": "SUCCESS", "channel/FULL": "SUCCESS"}


async def test_duplicate_rows_from_the_source_fail_without_writing(service, scripted, warehouse):
    await service.sync(request("2025-07-01"))
    before = await table_checksum(warehouse, "metric_time_series")
    inner = scripted.inner

    class Duplicating(WholeFetch):
        async def fetch(self, metric, grain, start, end, dimension=None, *, progress=None):
            result = await inner.fetch(metric, grain, start, end, dimension)
            result.rows = [(d, s, v + 1) for d, s, v in result.rows] + result.rows[:1]
            return result

    scripted.inner = Duplicating()
    failed = await service.sync(request("2025-07-01", force=True))
    assert failed.base.status is SyncStatus.FAILED and failed.base.retryable is False
    assert "duplicate" in failed.base.error
    assert await table_checksum(warehouse, "metric_time_series") == before


async def test_failure_after_writing_rolls_the_window_back(service, warehouse, monkeypatch):
    """The window's rows and its status commit together: a failure between them undoes the write."""
    import semsync.sync.service as sync_module

    await service.sync(request("2025-07-01"))
    async with warehouse.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE test_wh.sales SET amount = amount * 2"))  # every value changes
    before = await table_checksum(warehouse, "metric_time_series")
    real_record = sync_module.record_status

    async def failing_record(session, **kwargs):
        if kwargs["status"] is SyncStatus.SUCCESS:
            raise ConnectionResetError("connection lost before commit")
        await real_record(session, **kwargs)

    monkeypatch.setattr(sync_module, "record_status", failing_record)
    failed = await service.sync(request("2025-07-01", force=True))
    assert failed.base.status is SyncStatus.FAILED and failed.base.retryable is True
    assert await table_checksum(warehouse, "metric_time_series") == before


async def test_failing_dimension_is_isolated_and_recorded(service, scripted, warehouse):
    scripted.fail_dimensions["channel"] = SourceRequestError("unknown member sales.channel")
    result = await service.sync(request("2025-07-01"))
    assert result.success
    assert result.dimensions_succeeded == ["region"]
    assert result.dimensions_failed == {"channel": "SourceRequestError: unknown member sales.channel"}
    channel = next(d for d in result.dimensions if d.dimension == "channel")
    assert channel.retryable is False
    tenant_id = result.tenant_id
    rows = await stored(warehouse, tenant_id, "metric_dimensional_time_series")
    assert {r[0] for r in rows} == {"region"}
    async with tenant_scope(warehouse.session_factory, tenant_id) as s:
        status = (await s.execute(text(
            "SELECT sync_status, error, jsonb_array_length(history) FROM metric_sync_status "
            "WHERE dimension_name = 'channel'"))).one()
    assert status[0] == "FAILED" and "unknown member" in status[1] and status[2] == 1

    # the dimension recovers: its last attempt failed, so its next sync is FULL while the others stay INCREMENTAL
    scripted.fail_dimensions.clear()
    again = await service.sync(request("2025-07-02"))
    by_name = {d.dimension: d for d in again.dimensions}
    assert by_name["channel"].sync_type is SyncType.FULL and by_name["channel"].reason == "no successful FULL sync yet"
    assert by_name["region"].sync_type is SyncType.INCREMENTAL


#: a source's error as long as a whole HTML error page: 100 KB between a recognisable start and end
LONG_ERROR = "unknown member sales.channel: <html>" + "x" * 100_000 + "</html> (end of the answer)"


async def test_a_100_kb_source_error_is_stored_cut_keeping_its_start_and_end(service, scripted, warehouse):
    scripted.fail_dimensions["channel"] = SourceRequestError(LONG_ERROR)
    result = await service.sync(request("2025-07-01"))
    async with tenant_scope(warehouse.session_factory, result.tenant_id) as s:
        error, event_error = (await s.execute(text(
            "SELECT error, history->0->>'error' FROM metric_sync_status WHERE dimension_name = 'channel'"))).one()
    carried = result.dimensions_failed["channel"]
    for text_ in (error, event_error, carried):
        assert len(text_) <= 1000
        assert text_.startswith("SourceRequestError: unknown member sales.channel: <html>")
        assert text_.endswith("</html> (end of the answer)")


async def test_last_failed_attempt_forces_full(service, scripted):
    await service.sync(request("2025-07-01"))
    scripted.fail_dimensions[None] = SourceUnavailableError("timeout")
    await service.sync(request("2025-07-02"))
    scripted.fail_dimensions.clear()
    recovered = await service.sync(request("2025-07-02"))
    assert recovered.base.sync_type is SyncType.FULL and recovered.base.reason == "last attempt failed"


async def test_slice_the_source_stopped_returning_is_removed(service, warehouse):
    first = await service.sync(request("2025-07-01"))
    async with warehouse.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE test_wh.sales SET region = 'emea' "
                                "WHERE region = 'eu' AND tenant = 'acme' AND day >= '2025-06-01'"))
    again = await service.sync(request("2025-07-01", force=True))
    region = next(d for d in again.dimensions if d.dimension == "region")
    assert region.rows_deleted == 31 and region.rows_inserted == 31
    slices = {r[1] for r in await stored(warehouse, first.tenant_id, "metric_dimensional_time_series",
                                         "WHERE date >= '2025-06-01' AND dimension_name = 'region'")}
    assert slices == {"emea", "us", "apac"}


async def test_same_request_twice_leaves_identical_tables(service, warehouse):
    await service.sync(request("2025-07-01", "2025-07-10"))
    checksums = [await table_checksum(warehouse, t) for t in ("metric_time_series", "metric_dimensional_time_series")]
    again = await service.sync(request("2025-07-01", "2025-07-10"))
    assert again.rows_written == 0 and again.rows_deleted == 0
    assert [await table_checksum(warehouse, t)
            for t in ("metric_time_series", "metric_dimensional_time_series")] == checksums


async def test_tenants_are_isolated(service, warehouse):
    acme = await service.sync(request("2025-07-01", tenant="acme"))
    globex = await service.sync(request("2025-07-01", tenant="globex"))
    acme_rows = await stored(warehouse, acme.tenant_id)
    globex_rows = await stored(warehouse, globex.tenant_id)
    assert len(acme_rows) == len(globex_rows) == 366
    # the formula adds the tenant identifier's length: each tenant stored its own values
    assert all(g[1] - a[1] == (6 - 4) * 6 for a, g in zip(acme_rows, globex_rows, strict=True))
    # globex's first sync was FULL: acme's status rows were not visible to it
    assert globex.base.sync_type is SyncType.FULL


async def test_range_request_syncs_a_contiguous_run(service):
    result = await service.sync(request("2025-07-01", "2025-07-31"))
    assert result.partitions[0] == "2025-07-01" and result.partitions[-1] == "2025-07-31"
    assert len(result.partitions) == 31
    assert result.base.window_end == date(2025, 7, 31)


async def test_history_is_bounded(service):
    for _ in range(HISTORY_LIMIT + 3):
        await service.sync(request("2025-07-01"))
    async with tenant_scope(service.session_factory, 1) as s:
        lengths = dict((await s.execute(text(
            "SELECT sync_type, max(jsonb_array_length(history)) FROM metric_sync_status GROUP BY 1"))).all())
    assert lengths == {"FULL": 1, "INCREMENTAL": HISTORY_LIMIT}


async def test_sync_disabled_tenant_is_refused(service, warehouse):
    async with warehouse.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE tenants SET sync_enabled = false WHERE identifier = 'acme'"))
    with pytest.raises(TenantSyncDisabledError, match="disabled"):
        await service.sync(request())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"tenant": "nobody"}, UnknownTenantError), ({"metric": "profit"}, UnknownMetricError)],
)
async def test_unknown_contexts_raise_typed_errors_and_write_nothing(service, warehouse, kwargs, error):
    with pytest.raises(error) as raised:
        await service.sync(request(**kwargs))
    assert raised.value.retryable is False
    async with warehouse.admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM metric_sync_status")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM metric_time_series")) == 0


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"partition": "2025-13-01"}, "month"),
        ({"partition": "2025-W27"}, "2025-W27"),
        ({"tenant": "ac me"}, "tenant 'ac me' contains ' '"),
    ],
)
def test_a_malformed_request_is_refused_when_built(kwargs, says):
    with pytest.raises(ValidationError) as raised:
        request(**kwargs)
    assert says in str(raised.value)


async def test_backfill_fetches_each_value_about_once(service, scripted, warehouse):
    await service.sync(request("2025-01-01"))
    scripted.fetched_rows = 0
    partitions = [date(2025, 1, 2) + timedelta(days=i) for i in range(60)]
    for p in partitions:
        await service.sync(request(p.isoformat()))
    # base 1 + region 3 + channel 2 rows per day, fetched once each
    assert scripted.fetched_rows == len(partitions) * 6


async def test_overlapping_syncs_keep_the_later_fetch_whoever_commits_last(service, scripted, warehouse):
    """A schedule and a manual sync of one component overlap: the one that fetched first commits last."""
    import asyncio

    from semsync.contracts import SyncComponentInput

    await service.sync(request("2025-07-01"))
    inner = scripted.inner
    release_first = asyncio.Event()

    class Restating(WholeFetch):
        """Values restated by `offset`; the first caller's fetch is held until the second has committed."""

        def __init__(self, offset: float, hold: bool) -> None:
            self.offset, self.hold = offset, hold

        async def fetch(self, metric, grain, start, end, dimension=None, *, progress=None):
            result = await inner.fetch(metric, grain, start, end, dimension)
            if self.hold:
                await release_first.wait()
            result.rows = [(d, s, v + self.offset) for d, s, v in result.rows]
            return result

    async def sync_base(source) -> object:
        plan = await service.plan(request("2025-07-01", force=True))
        service.sources = FixedSources(source)
        return await service.sync_component(SyncComponentInput(request=plan.request, tenant_id=plan.tenant_id,
                                                               plan=plan.base))

    first = asyncio.create_task(sync_base(Restating(100.0, hold=True)))  # fetches first, is held
    await asyncio.sleep(0.2)
    second = await sync_base(Restating(200.0, hold=False))  # fetches later, commits first
    release_first.set()
    first_result = await first
    expected = [(d, v + 200.0) for d, v in await stored_from_source(inner, warehouse)]
    assert await stored(warehouse, 1) == expected
    assert second.dates_kept_from_later_fetch == 0 and first_result.dates_kept_from_later_fetch == 366
    assert first_result.rows_written == 0


async def stored_from_source(source, warehouse) -> list[tuple]:
    from semsync.catalog.store import get_metric

    metric = await get_metric(warehouse.session_factory, 1, "revenue")
    fetched = await source.fetch(metric, Grain.DAY, date(2024, 7, 1), date(2025, 7, 1))
    return sorted((d, v) for d, _, v in fetched.rows)


@pytest.mark.parametrize(
    ("covered", "parts"),
    [
        ([], [(1, 10)]),
        ([(3, 4)], [(1, 2), (5, 10)]),
        ([(0, 5), (8, 20)], [(6, 7)]),
        ([(1, 10)], []),
        ([(11, 12)], [(1, 10)]),
    ],
)
def test_uncovered_parts_of_a_window(covered, parts):
    from semsync.db.window_replace import uncovered

    def day(n: int) -> date:
        return date(2025, 7, 1) + timedelta(days=n - 1)

    result = uncovered(day(1), day(10), [(day(a), day(b)) for a, b in covered])
    assert result == [(day(a), day(b)) for a, b in parts]
