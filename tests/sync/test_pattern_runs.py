"""Pattern runs over synced series: read once per range, store on the natural key, re-runs replace."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from semsync.backfill.ledger import Ledger
from semsync.catalog.store import read_catalog, write_catalog
from semsync.contracts import LedgerEntry, LedgerStatus
from semsync.errors import CatalogError, InvalidInputError, NotFoundError
from semsync.partitions import Grain
from semsync.patterns import get_pattern, pattern_names
from semsync.patterns.runs import PatternBatchRequest, PatternRunRequest, PatternRunService
from semsync.sync.service import SemanticSyncRequest


@pytest.fixture
async def synced(service, warehouse):
    response = await service.sync(SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                                       start_partition="2025-07-01", end_partition="2025-07-31"))
    assert response.success
    return warehouse


def run_request(pattern: str, start="2025-07-10", end="2025-07-20") -> PatternRunRequest:
    return PatternRunRequest(tenant="acme", metric_id="revenue", pattern=pattern, grain=Grain.DAY,
                             start_partition=start, end_partition=end)


async def count_results(db) -> dict[str, int]:
    async with db.admin_engine.connect() as conn:
        return dict((await conn.execute(text("SELECT pattern, count(*) FROM pattern_results GROUP BY 1"))).all())


async def test_range_run_stores_one_result_per_date_and_rerun_replaces(synced):
    service = PatternRunService(synced.session_factory)
    drift = await service.run(run_request("drift_detection"))
    assert drift.results_stored == 11 and drift.errors == {}
    assert (str(drift.first_analysis_date), str(drift.last_analysis_date)) == ("2025-07-11", "2025-07-21")
    dims = await service.run(run_request("dimension_analysis"))
    assert dims.results_stored == 11 * 2  # once per dimension: region and channel
    await service.run(run_request("drift_detection"))
    assert await count_results(synced) == {"drift_detection": 11, "dimension_analysis": 22}


async def with_pattern_settings(db, settings: dict, tenant_settings: dict | None = None) -> None:
    catalog = await read_catalog(db.session_factory)
    tenants = []
    for tenant in catalog.tenants:
        metrics = [m.model_copy(update={"patterns": settings}) for m in tenant.metrics]
        tenants.append(tenant.model_copy(update={"metrics": metrics, "patterns": tenant_settings or {}}))
    await write_catalog(db.catalog_session_factory, catalog.model_copy(update={"tenants": tenants}))


async def test_catalog_settings_override_defaults(synced):
    service = PatternRunService(synced.session_factory)
    await with_pattern_settings(synced, {"forecasting": {"no_such_setting": 1}})
    with pytest.raises(InvalidInputError, match="no_such_setting"):
        await service.run(run_request("forecasting"))
    assert await count_results(synced) == {}

    await with_pattern_settings(synced, {"drift_detection": {"lookback_day": 15}})
    short = await service.run(run_request("drift_detection", "2025-07-20", "2025-07-20"))
    async with synced.admin_engine.connect() as conn:
        window = await conn.scalar(text("SELECT analysis_window FROM pattern_results"))
    assert short.results_stored == 1
    assert (window["start"], window["end"]) == ("2025-07-06", "2025-07-20")

    # a tenant-wide override applies where the metric has none; the metric's own wins where it has one
    await with_pattern_settings(synced, {}, tenant_settings={"drift_detection": {"lookback_day": 20}})
    await service.run(run_request("drift_detection", "2025-07-20", "2025-07-20"))
    async with synced.admin_engine.connect() as conn:
        assert (await conn.scalar(text("SELECT analysis_window FROM pattern_results")))["start"] == "2025-07-01"
    await with_pattern_settings(synced, {"drift_detection": {"lookback_day": 15}},
                                tenant_settings={"drift_detection": {"lookback_day": 20}})
    await service.run(run_request("drift_detection", "2025-07-20", "2025-07-20"))
    async with synced.admin_engine.connect() as conn:
        assert (await conn.scalar(text("SELECT analysis_window FROM pattern_results")))["start"] == "2025-07-06"


async def test_unknown_pattern_is_a_typed_error(synced):
    with pytest.raises(NotFoundError, match="unknown pattern 'seasonality'"):
        await PatternRunService(synced.session_factory).run(run_request("seasonality"))


async def test_settings_stored_before_the_catalog_checked_them_are_refused_in_one_line(synced):
    # `catalog load` refuses these now; a catalog written by an older semsync may still hold them
    await with_pattern_settings(synced, {"forecasting": {"min_periods": "many", "no_such_setting": 1}},
                                tenant_settings={"forecasting": {"damped_trend": "sometimes"}})
    with pytest.raises(CatalogError) as refused:
        await PatternRunService(synced.session_factory).run(run_request("forecasting"))
    assert str(refused.value) == (
        "tenant 'acme' patterns.forecasting.damped_trend: Input should be a valid boolean, unable to interpret "
        "input; tenant 'acme' metric 'revenue' patterns.forecasting.min_periods: Input should be a valid integer, "
        "unable to parse string as an integer; tenant 'acme' metric 'revenue' patterns.forecasting.no_such_setting: "
        "unknown setting of forecasting; its settings are lookback_day, lookback_week, lookback_month, "
        "refit_every_day, refit_every_week, refit_every_month, min_periods, seasonal, damped_trend, aggregation, "
        "threshold_ratio; correct the catalog and reload it with `python -m starter catalog load FILE`"
    )
    # the other patterns of the metric are not held up by the forecasting settings
    assert (await PatternRunService(synced.session_factory).run(run_request("drift_detection"))).results_stored


async def stored_results(db) -> dict[tuple, str]:
    """Every stored result's JSON without its evaluation time, by key."""
    async with db.admin_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT pattern, analysis_date, dimension_name, (run_result - 'evaluation_time')::text AS body "
            "FROM pattern_results"))
        return {(r.pattern, r.analysis_date, r.dimension_name): r.body for r in rows}


async def test_a_batch_stores_what_each_pattern_run_alone_stores(synced):
    service = PatternRunService(synced.session_factory)
    for name in pattern_names():
        await service.run(run_request(name))
    alone = await stored_results(synced)
    async with synced.admin_engine.begin() as conn:
        await conn.execute(text("DELETE FROM pattern_results"))
    batch = await service.run_batch(PatternBatchRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                                        start_partition="2025-07-10", end_partition="2025-07-20"))
    assert [o.pattern for o in batch.outcomes] == pattern_names() and all(o.succeeded for o in batch.outcomes)
    assert await stored_results(synced) == alone
    counts = await count_results(synced)
    assert {o.pattern: o.results_stored for o in batch.outcomes} == counts


async def test_a_pattern_that_fails_in_a_batch_fails_alone(synced, monkeypatch):
    service = PatternRunService(synced.session_factory)
    await with_pattern_settings(synced, {"forecasting": {"no_such_setting": 1}})

    def broken(self, *args, **kwargs):
        raise ZeroDivisionError("a bug in the pattern")

    monkeypatch.setattr(get_pattern("drift_detection").__class__, "analyze_many", broken)
    batch = await service.run_batch(PatternBatchRequest(
        tenant="acme", metric_id="revenue", grain=Grain.DAY, start_partition="2025-07-10",
        end_partition="2025-07-20", patterns=["forecasting", "drift_detection", "performance_status", "nope"]))
    outcome = {o.pattern: o for o in batch.outcomes}
    assert outcome["performance_status"].succeeded and outcome["performance_status"].results_stored == 11
    assert "no_such_setting" in outcome["forecasting"].error
    assert outcome["drift_detection"].error == "ZeroDivisionError: a bug in the pattern"
    assert outcome["nope"].error.startswith("NotFoundError")
    assert await count_results(synced) == {"performance_status": 11}  # nothing of the failing patterns


async def test_a_batch_over_unchanged_data_skips_each_pattern_until_its_data_version_or_settings_change(synced):
    service = PatternRunService(synced.session_factory)
    ledger = Ledger(synced.session_factory)
    batch = PatternBatchRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY, start_partition="2025-07-10",
                                end_partition="2025-07-12", patterns=["drift_detection", "performance_status"])

    async def run(**changes) -> dict[str, bool]:
        response = await service.run_batch(batch.model_copy(update=changes))
        await ledger.record([LedgerEntry(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                         partitions=response.partitions, kind=o.pattern, status=LedgerStatus.SUCCEEDED,
                                         rows=o.results_stored, fingerprint=o.fingerprint) for o in response.outcomes])
        assert all(o.succeeded for o in response.outcomes)
        return {o.pattern: o.skipped for o in response.outcomes}

    async def write(statement: str) -> None:
        async with synced.admin_engine.begin() as conn:
            await conn.execute(text(statement))

    assert await run() == {"drift_detection": False, "performance_status": False}
    assert await run() == {"drift_detection": True, "performance_status": True}  # nothing changed
    assert await run(force=True) == {"drift_detection": False, "performance_status": False}
    # a value after the span's end is not read: still skipped; one before it is
    await write("UPDATE metric_time_series SET value = value + 1, updated_at = now() + interval '1 second' "
                "WHERE date = '2025-07-25' AND grain = 'day'")
    assert await run() == {"drift_detection": True, "performance_status": True}
    await write("UPDATE metric_time_series SET value = value + 1, updated_at = now() + interval '1 second' "
                "WHERE date = '2025-07-05' AND grain = 'day'")
    assert await run() == {"drift_detection": False, "performance_status": False}
    await write("DELETE FROM metric_dimensional_time_series WHERE date = '2025-07-02' AND grain = 'day'")
    assert await run() == {"drift_detection": False, "performance_status": False}  # a slice's rows removed
    await with_pattern_settings(synced, {"drift_detection": {"lookback_day": 20}})
    assert await run() == {"drift_detection": False, "performance_status": True}  # only its settings changed
    # a span whose partitions did not all succeed with this fingerprint runs again
    assert await run(end_partition="2025-07-13") == {"drift_detection": False, "performance_status": False}
