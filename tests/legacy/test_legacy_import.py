"""`python -m starter legacy import` from a scratch database of the original system into semsync's."""

from __future__ import annotations

import json
from datetime import date

import yaml
from conftest import ACME, MONDAYS, TENANT_MAP, WEDNESDAY, day_value, invoke
from sqlalchemy import text
from sqlalchemy.engine import make_url

from semsync.backfill.plan import plan_backfill
from semsync.catalog.models import TargetDef
from semsync.catalog.store import lookup_tenant
from semsync.contracts.backfill import BackfillMode, ContextSelector, GrainRange, PlanBackfillInput
from semsync.db.session import tenant_scope
from semsync.partitions import Grain, Partition
from semsync.sync.plan import SyncType
from semsync.sync.service import SemanticSyncRequest, SemanticSyncService


async def import_json(legacy, *extra: str) -> dict:
    result = await invoke("legacy", "import", "--from", legacy.url, *TENANT_MAP, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def tables(report: dict, tenant: str) -> dict:
    return next(t for t in report["tenants"] if t["tenant"] == tenant)["tables"]


async def rows(db, tenant: str, sql: str, **params) -> list[tuple]:
    tenant_id, _ = await lookup_tenant(db.session_factory, tenant)
    async with tenant_scope(db.session_factory, tenant_id) as session:
        return [tuple(r) for r in await session.execute(text(sql), {"t": tenant_id, **params})]


async def test_import_counts_per_table_and_skips_the_defects(legacy, semsync_db, settings_env):
    report = await import_json(legacy)
    acme = tables(report, "acme")
    series = acme["metric_time_series"]
    assert (series["read"], series["inserted"], series["updated"]) == (56, 44, 0)
    assert series["skipped"] == {"null value": 1, "date not a period start": 1, "metric not in catalog": 10}
    dims = acme["metric_dimensional_time_series"]
    assert (dims["read"], dims["inserted"], dims["skipped"]) == (103, 98, {"dimension not in catalog": 5})
    statuses = acme["metric_sync_status"]
    assert (statuses["read"], statuses["inserted"]) == (11, 9)
    assert statuses["skipped"] == {"duplicate": 1, "dimension not in catalog": 1}
    assert acme["partition_ledger"]["inserted"] == 30 + 8 + 6
    # targets are catalog data: checked, not written
    assert acme["metric_target"] == {"read": 2, "inserted": 0, "updated": 0, "unchanged": 1,
                                     "skipped": {"not in semsync's catalog": 1}}
    assert "pattern_results" not in acme
    globex = tables(report, "globex")
    assert (globex["metric_time_series"]["inserted"], globex["metric_dimensional_time_series"]["inserted"],
            globex["metric_sync_status"]["inserted"]) == (10, 10, 2)

    stored = await rows(semsync_db, "acme", "SELECT date, value FROM metric_time_series "
                                            "WHERE grain = 'day' ORDER BY date")
    assert stored[0] == (date(2025, 6, 1), day_value(date(2025, 6, 1))) and len(stored) == 30
    # the original's Monday dates are semsync's week dates; the Wednesday row is not a week
    weeks = await rows(semsync_db, "acme", "SELECT date FROM metric_time_series WHERE grain = 'week' ORDER BY date")
    assert [w for (w,) in weeks] == MONDAYS and WEDNESDAY not in [w for (w,) in weeks]
    keys = await rows(semsync_db, "acme", "SELECT partition_key, status, workflow_id FROM partition_ledger "
                                          "WHERE grain = 'week' AND kind = 'sync' ORDER BY partition_start")
    assert [k for k, _, _ in keys] == [Partition(Grain.WEEK, m).key for m in MONDAYS]
    assert keys[0] == ("2025-W18", "succeeded", "legacy-import")
    # globex's rows are globex's: the original's id 9 became semsync's id of globex
    assert await rows(semsync_db, "globex", "SELECT count(*) FROM metric_time_series") == [(10,)]


async def test_a_second_import_changes_nothing_and_says_so(legacy, semsync_db, settings_env):
    first = await invoke("legacy", "import", "--from", legacy.url, *TENANT_MAP)
    assert first.exit_code == 0, first.output
    assert "metric_time_series" in first.output and "changed" in first.output
    second = await invoke("legacy", "import", "--from", legacy.url, *TENANT_MAP)
    assert second.exit_code == 0, second.output
    assert "nothing changed: semsync already holds everything imported" in second.output
    report = await import_json(legacy)
    assert report["changed"] == 0
    assert all(counts["inserted"] == counts["updated"] == 0
               for tenant in report["tenants"] for counts in tenant["tables"].values())


async def test_the_next_syncs_after_an_import_are_incremental(legacy, semsync_db, settings_env):
    await import_json(legacy)
    service = SemanticSyncService(semsync_db.session_factory, sources=None)

    async def plan(grain: Grain, partition: str) -> dict:
        request = SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=grain, start_partition=partition)
        return {c.dimension: c for c in (await service.plan(request)).components}

    day = await plan(Grain.DAY, "2025-07-01")
    assert {d: c.sync_type for d, c in day.items()} == {
        None: SyncType.INCREMENTAL, "region": SyncType.INCREMENTAL, "channel": SyncType.INCREMENTAL}
    assert day[None].start == date(2025, 4, 2)  # the INCREMENTAL lookback of 90 days, not 365
    week = await plan(Grain.WEEK, "2025-W27")
    assert (week[None].sync_type, week["region"].sync_type) == (SyncType.INCREMENTAL, SyncType.INCREMENTAL)
    # left RUNNING in the original: its outcome is unknown, so semsync fetches it FULL
    assert week["channel"].sync_type is SyncType.FULL and week["channel"].reason == "last attempt failed"
    month = await plan(Grain.MONTH, "2025-07")
    assert month[None].sync_type is SyncType.FULL  # its FULL failed in the original

    [(status, error, history)] = await rows(
        semsync_db, "acme", "SELECT sync_status, error, history FROM metric_sync_status "
                            "WHERE grain = 'week' AND dimension_name = 'channel' AND sync_type = 'INCREMENTAL'")
    assert status == "FAILED" and error.startswith("RUNNING in the original system")
    assert history[0]["imported_from"] == "legacy"


async def test_a_backfill_of_missing_partitions_skips_the_imported_ones(legacy, semsync_db, settings_env):
    await import_json(legacy, "--tenant", "acme", "--since", "2025-06-10")
    plan = await plan_backfill(semsync_db.session_factory, PlanBackfillInput(
        ranges=[GrainRange(grain=Grain.DAY, first="2025-06-01", last="2025-07-05"),
                GrainRange(grain=Grain.WEEK, first="2025-W18", last="2025-W26")],
        selector=ContextSelector(contexts=["acme::revenue"]), mode=BackfillMode.MISSING))
    assert [(lane.grain, lane.runs) for lane in plan.lanes] == [
        (Grain.DAY, [("2025-06-01", "2025-06-09"), ("2025-07-01", "2025-07-05")]),  # before --since; after
        (Grain.WEEK, [("2025-W18", "2025-W23"), ("2025-W26", "2025-W26")])]  # Mondays before --since; W26 none
    assert plan.skipped_partitions == 21 + 2


async def test_since_limits_the_values_by_date(legacy, semsync_db, settings_env):
    report = await import_json(legacy, "--tenant", "acme", "--since", "2025-06-20")
    assert [t["tenant"] for t in report["tenants"]] == ["acme"]
    acme = tables(report, "acme")
    # days 2025-06-20..30 (11), the Monday 2025-06-23, no month; the null value of 2025-07-01 and the
    # Wednesday are read and skipped; churn from 2025-06-01..10 is before the date
    assert (acme["metric_time_series"]["read"], acme["metric_time_series"]["inserted"]) == (14, 12)
    assert acme["metric_sync_status"]["inserted"] == 9  # statuses are state, imported whole
    dates = await rows(semsync_db, "acme", "SELECT min(date) FROM metric_time_series")
    assert dates == [(date(2025, 6, 20),)]
    assert await rows(semsync_db, "globex", "SELECT count(*) FROM metric_time_series") == [(0,)]


async def test_a_value_semsync_wrote_later_is_not_undone_and_the_original_newer_one_is_taken(
        legacy, semsync_db, settings_env):
    await import_json(legacy)
    async with semsync_db.admin_engine.begin() as conn:  # semsync synced 2025-06-02 after the import
        await conn.execute(text("UPDATE metric_time_series SET value = 1.5, updated_at = now() "
                                "WHERE date = '2025-06-02' AND grain = 'day'"))
    await legacy.execute("UPDATE metric_time_series SET value = 7.5, updated_at = now() "
                         "WHERE tenant_id = $1 AND date = '2025-06-03' AND grain = 'day'", ACME)
    report = await import_json(legacy, "--tenant", "acme")
    assert tables(report, "acme")["metric_time_series"]["updated"] == 1
    stored = dict(await rows(semsync_db, "acme", "SELECT date, value FROM metric_time_series WHERE grain = 'day' "
                                                 "AND date IN ('2025-06-02', '2025-06-03')"))
    assert stored == {date(2025, 6, 2): 1.5, date(2025, 6, 3): 7.5}


async def test_pattern_results_are_deduplicated_and_kept_apart(legacy, semsync_db, settings_env):
    report = await import_json(legacy, "--tenant", "acme", "--pattern-results")
    results = tables(report, "acme")["pattern_results"]
    assert (results["read"], results["inserted"], results["skipped"]) == (3, 2, {"duplicate": 1})
    stored = await rows(semsync_db, "acme", "SELECT pattern, version, dimension_name, run_result "
                                            "FROM pattern_results ORDER BY pattern")
    assert stored == [("dimension_analysis", "legacy-1.0", "region", {"slices": []}),
                      ("performance_status", "legacy-1.0", None, {"status": "on_track"})]
    again = await import_json(legacy, "--tenant", "acme", "--pattern-results")
    assert again["changed"] == 0


async def test_a_dry_run_counts_and_writes_nothing(legacy, semsync_db, settings_env):
    result = await invoke("legacy", "import", "--from", legacy.url, *TENANT_MAP, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written" in result.output and "would change" in result.output
    assert await rows(semsync_db, "acme", "SELECT count(*) FROM metric_time_series") == [(0,)]
    assert await rows(semsync_db, "acme", "SELECT count(*) FROM metric_sync_status") == [(0,)]


async def test_the_tenant_map_from_a_file_or_the_original_tenants_table(legacy, semsync_db, settings_env, tmp_path):
    answer = tmp_path / "tenants.json"  # what the original's tenant service answered, saved by curl
    answer.write_text(json.dumps({"results": [{"id": ACME, "identifier": "acme", "name": "Acme"}], "count": 1}))
    result = await invoke("legacy", "import", "--from", legacy.url, "--tenant-map", str(answer), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["tenant"] for t in report["tenants"]] == ["acme"]
    assert report["unmapped_tenant_ids"] == [9]  # globex's id: the answer named acme only
    said = await invoke("legacy", "import", "--from", legacy.url, "--tenant-map", str(answer))
    assert "not imported: the original's tenant ids 9 have sync statuses but are not in the tenant map" in said.output

    await legacy.execute("CREATE TABLE tenants (id integer PRIMARY KEY, identifier varchar NOT NULL);"
                         "INSERT INTO tenants VALUES (7, 'acme'), (9, 'globex')")
    result = await invoke("legacy", "import", "--from", legacy.url, "--tenant", "globex", "--json")
    assert result.exit_code == 0, result.output
    assert tables(json.loads(result.stdout), "globex")["metric_time_series"]["inserted"] == 10


async def test_tenant_mapping_errors_exit_2_with_one_line(legacy, semsync_db, settings_env, tmp_path):
    cases = [
        ((), "no tenant map: the original's database has no tenants table"),
        (("--tenant-map", "seven=acme"), "'seven=acme' (--tenant-map) is not ID=identifier"),
        (("--tenant-map", "7=acme", "--tenant-map", "9=acme"), "'acme' is mapped from both ids 7 and 9"),
        (("--tenant-map", "7=acme", "--tenant-map", "5=initech"), "not in semsync's catalog: initech"),
        (("--tenant-map", "5=initech", "--tenant", "initech"), "unknown tenant 'initech'"),
        ((*TENANT_MAP, "--tenant", "initech"), "tenant 'initech' has no id of the original"),
        (("--tenant-map", str(tmp_path / "missing.json")), "is neither ID=identifier nor a file"),
        ((*TENANT_MAP, "--since", "June"), "--since 'June' is not a date"),
    ]
    for options, message in cases:
        result = await invoke("legacy", "import", "--from", legacy.url, *options)
        assert result.exit_code == 2, (options, result.output)
        assert message in result.output, (options, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert await rows(semsync_db, "acme", "SELECT count(*) FROM metric_time_series") == [(0,)]


async def test_an_unusable_original_database_is_one_line(legacy, semsync_db, settings_env, pg_server):
    missing = pg_server.superuser_url("no_such_database")
    result = await invoke("legacy", "import", "--from", missing, *TENANT_MAP)
    assert result.exit_code == 2, result.output
    assert "cannot use the original's database" in result.output and "check the role" in result.output
    assert "postgres:***@" in result.output  # the password is not shown
    result = await invoke("legacy", "import", "--from", "sqlite:///original.db", *TENANT_MAP)
    assert result.exit_code == 2, result.output
    assert "is not PostgreSQL" in result.output


async def test_small_batches_import_the_same(legacy, semsync_db, settings_env, monkeypatch):
    import semsync.legacy.importer
    import semsync.legacy.source

    for module in (semsync.legacy.source, semsync.legacy.importer):
        monkeypatch.setattr(module, "BATCH_ROWS", 7)
    acme = tables(await import_json(legacy, "--tenant", "acme", "--pattern-results"), "acme")
    assert (acme["metric_time_series"]["inserted"], acme["metric_dimensional_time_series"]["inserted"],
            acme["partition_ledger"]["inserted"], acme["metric_sync_status"]["inserted"],
            acme["pattern_results"]["inserted"]) == (44, 98, 44, 9, 2)
    assert await rows(semsync_db, "acme", "SELECT count(*) FROM partition_ledger") == [(44,)]


async def test_the_original_targets_as_catalog_yaml(legacy, semsync_db, settings_env):
    result = await invoke("legacy", "targets", "--from", legacy.url, *TENANT_MAP)
    assert result.exit_code == 0, result.output
    found = yaml.safe_load(result.stdout)
    assert found == {"acme": {"revenue": [
        {"grain": "month", "target_date": date(2025, 7, 1), "target_value": 1000.0, "target_upper_bound": None,
         "target_lower_bound": None, "yellow_buffer": None, "red_buffer": None},
        {"grain": "month", "target_date": date(2025, 8, 1), "target_value": 1100.0, "target_upper_bound": None,
         "target_lower_bound": None, "yellow_buffer": None, "red_buffer": None}]}, "globex": {}}
    assert [TargetDef.model_validate(t).target_value for t in found["acme"]["revenue"]] == [1000.0, 1100.0]
    later = await invoke("legacy", "targets", "--from", legacy.url, *TENANT_MAP, "--tenant", "acme",
                         "--since", "2025-08-01")
    assert [t["target_date"] for t in yaml.safe_load(later.stdout)["acme"]["revenue"]] == [date(2025, 8, 1)]


async def test_the_original_read_only_role_under_its_row_level_security(legacy, semsync_db, settings_env, pg_server):
    role = f"original_app_{legacy.name[-8:]}"
    policies = "".join(
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY; "
        f"CREATE POLICY tenant ON {table} USING "
        "(tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::integer); "
        for table in ("metric_time_series", "metric_dimensional_time_series", "metric_sync_status",
                      "metric_target", "pattern_results"))
    await legacy.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader'; "
                         f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; {policies}")
    try:
        reader = make_url(legacy.url).set(username=role, password="reader").render_as_string(hide_password=False)
        result = await invoke("legacy", "import", "--from", reader, *TENANT_MAP, "--json", "--pattern-results")
        assert result.exit_code == 0, result.output
        acme = tables(json.loads(result.stdout), "acme")
        assert (acme["metric_time_series"]["inserted"], acme["metric_dimensional_time_series"]["inserted"],
                acme["metric_sync_status"]["inserted"], acme["pattern_results"]["inserted"]) == (44, 98, 9, 2)
        compared = await invoke("legacy", "compare", "--against", reader, *TENANT_MAP, "--grain", "day",
                                "--partition-range", "2025-06-01:2025-06-30")
        assert compared.exit_code == 0, compared.output
    finally:
        await legacy.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
