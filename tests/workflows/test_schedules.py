"""Schedules and discovery on the Temporal dev server (the time-skipping server has no schedules), with
the real worker, the embedded PostgreSQL and a catalog file that the tests edit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from temporalio.client import ScheduleBackfill, ScheduleOverlapPolicy

import worker as worker_module
from devstack.demo import catalog_yaml, demo_catalog, seed_warehouse
from semsync.catalog.models import Catalog, TenantDef
from semsync.config import CatalogSettings, DatabaseSettings, ScheduleSettings, Settings, TemporalSettings
from semsync.contracts import (
    BackfillInput,
    BackfillMode,
    BackfillResult,
    ContextSelector,
    CrossGrain,
    DiscoveryInput,
    DiscoveryResult,
    GrainRange,
    PlanBackfillInput,
    ScheduledRunInput,
    ScheduledRunResult,
)
from semsync.partitions import Grain, last_complete_partition
from semsync.patterns import pattern_names
from semsync.services import open_services
from starter.schedules import apply_schedules, pause_schedule, unpause_schedule, wanted_schedules
from workflows.backfill import BackfillWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.scheduled import ScheduledRunWorkflow

pytestmark = pytest.mark.temporal


def catalog_file(path, metrics: list[str]) -> None:
    acme = next(t for t in demo_catalog().tenants if t.identifier == "acme")
    tenant = TenantDef(identifier="sched", name="Scheduled", metrics=[acme.metric(m) for m in metrics])
    path.write_text(catalog_yaml(Catalog(tenants=[tenant])))


@pytest.fixture(scope="module")
async def setup(test_database, temporal_env, tmp_path_factory):
    await test_database.truncate()
    await seed_warehouse(test_database.admin_url, until=date(2025, 8, 31))
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    catalog_file(catalog, ["revenue", "orders"])
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        database=DatabaseSettings(url=test_database.app_url),
        temporal=TemporalSettings(address=temporal_env.client.service_client.config.target_host,
                                  sync_task_queue=f"sync-{suffix}", pattern_task_queue=f"patterns-{suffix}"),
        catalog=CatalogSettings(provider="file", file=catalog),
        schedules=ScheduleSettings(run_patterns=False, max_concurrency=4),
    )
    async with open_services(settings) as services:
        workers = worker_module.make_workers(temporal_env.client, services)
        async with workers[0], workers[1]:
            yield settings, services, catalog
    for item in wanted_schedules(settings):
        try:
            await temporal_env.client.get_schedule_handle(item.schedule_id).delete()
        except Exception:  # noqa: BLE001 - already gone
            pass


async def discover(client, settings, **fields) -> DiscoveryResult:
    return await client.execute_workflow(
        DiscoveryWorkflow.run, DiscoveryInput(pattern_task_queue=settings.temporal.pattern_task_queue, **fields),
        id=f"discovery/test-{uuid.uuid4()}", task_queue=settings.temporal.sync_task_queue)


async def test_discovery_registers_new_gone_and_returning_contexts(setup, temporal_env, test_database):
    settings, services, catalog = setup
    client = temporal_env.client
    first = await discover(client, settings)
    assert first.diff.new == ["sched::orders", "sched::revenue"] and first.diff.pattern_contexts_added == 10
    assert (await discover(client, settings)).diff.new == []  # nothing changed: nothing to say
    catalog_file(catalog, ["revenue", "visits"])
    changed = (await discover(client, settings)).diff
    assert (changed.new, changed.deactivated) == (["sched::visits"], ["sched::orders"])
    assert (changed.pattern_contexts_added, changed.pattern_contexts_deactivated) == (5, 5)
    plan = await services.planner.plan(PlanBackfillInput(
        ranges=[GrainRange(grain="day", first="2025-07-01", last="2025-07-02")], selector=ContextSelector(),
        mode=BackfillMode.ALL))
    assert sorted(lane.context for lane in plan.lanes) == ["sched::revenue", "sched::visits"]  # the active ones
    catalog_file(catalog, ["revenue", "visits", "orders"])
    back = (await discover(client, settings)).diff
    assert back.reactivated == ["sched::orders"] and back.pattern_contexts_reactivated == 5
    async with test_database.admin_engine.connect() as conn:
        contexts = dict((await conn.execute(text("SELECT context_key, is_active FROM metric_contexts"))).all())
        patterns = await conn.scalar(text("SELECT count(*) FROM metric_pattern_contexts WHERE is_active"))
        activated = dict((await conn.execute(text("SELECT metric_id, activated_at FROM metric_contexts"))).all())
    assert contexts == {"sched::revenue": True, "sched::orders": True, "sched::visits": True}
    assert activated["orders"] > activated["visits"] > activated["revenue"]  # reactivated last; revenue never left
    assert back.started_at is not None and activated["orders"] >= back.started_at > activated["visits"]
    assert patterns == 3 * len(pattern_names())


async def test_discovery_starts_the_initial_sync_of_new_contexts(setup, temporal_env, test_database):
    settings, _, catalog = setup
    catalog_file(catalog, ["revenue", "visits", "orders", "signups"])
    result = await discover(temporal_env.client, settings, initial_sync=True, run_patterns=False)
    assert result.diff.new == ["sched::signups"] and len(result.initial_syncs) == 3
    for workflow_id in result.initial_syncs:  # by activation time: the new context alone, however many others
        backfill = await temporal_env.client.get_workflow_handle(workflow_id, result_type=BackfillResult).result()
        assert backfill.progress.contexts == 1
    now = datetime.now(UTC)
    async with test_database.admin_engine.connect() as conn:
        synced = dict((await conn.execute(text(
            "SELECT grain, partition_key FROM partition_ledger WHERE metric_id = 'signups' "
            "AND status = 'succeeded'"))).all())
    assert synced == {grain.value: last_complete_partition(grain, now).key for grain in Grain}


async def test_apply_is_an_idempotent_create_or_update(setup, temporal_env):
    settings, _, _ = setup
    client = temporal_env.client
    assert set((await apply_schedules(client, settings)).values()) <= {"created", "unchanged"}
    assert set((await apply_schedules(client, settings)).values()) == {"unchanged"}
    await client.get_schedule_handle("semsync-daily").pause(note="semsync spec - maintenance")
    busier = settings.model_copy(update={"schedules": ScheduleSettings(run_patterns=False, max_concurrency=6)})
    outcome = await apply_schedules(client, busier)
    assert outcome == {"semsync-daily": "updated", "semsync-weekly": "updated", "semsync-monthly": "updated",
                       "semsync-discovery": "unchanged"}
    daily = await client.get_schedule_handle("semsync-daily").describe()
    assert daily.schedule.state.paused  # the operator's pause survives the update
    [argument] = client.data_converter.payload_converter.from_payloads(daily.schedule.action.args,
                                                                      [ScheduledRunInput])
    assert argument.max_concurrency == 6
    assert daily.schedule.policy.overlap is ScheduleOverlapPolicy.BUFFER_ALL
    assert daily.schedule.policy.catchup_window == timedelta(days=7)
    assert set((await apply_schedules(client, busier)).values()) == {"unchanged"}
    await client.get_schedule_handle("semsync-daily").unpause()
    await apply_schedules(client, settings)


async def scheduled_runs(client, grain: str, count: int) -> list[ScheduledRunResult]:
    """The results of the first `count` ScheduledRunWorkflows of `grain` (waiting for visibility)."""
    query = f"WorkflowType = 'ScheduledRunWorkflow' AND SemsyncGrain = '{grain}'"
    for _ in range(200):
        found = [w async for w in client.list_workflows(query)]
        if len(found) >= count:
            break
        await asyncio.sleep(0.1)
    return [await client.get_workflow_handle(w.id, run_id=w.run_id, result_type=ScheduledRunResult).result()
            for w in found]


async def test_a_schedule_backfill_processes_the_partition_of_each_slot(setup, temporal_env, test_database):
    settings, _, _ = setup
    client = temporal_env.client
    await apply_schedules(client, settings)
    handle = client.get_schedule_handle("semsync-daily")
    await handle.backfill(ScheduleBackfill(start_at=datetime(2025, 7, 2, tzinfo=UTC),
                                           end_at=datetime(2025, 7, 4, tzinfo=UTC),
                                           overlap=ScheduleOverlapPolicy.ALLOW_ALL))
    runs = await scheduled_runs(client, "day", 2)
    assert sorted(r.partition for r in runs) == ["2025-07-01", "2025-07-02"]
    assert {r.scheduled_at for r in runs} == {datetime(2025, 7, 2, 10, tzinfo=UTC), datetime(2025, 7, 3, 10,
                                                                                              tzinfo=UTC)}
    assert all(r.started and r.result is not None and not r.result.failures for r in runs)
    async with test_database.admin_engine.connect() as conn:
        ledger = (await conn.execute(text(
            "SELECT partition_key, count(*) FROM partition_ledger WHERE grain = 'day' AND kind = 'sync' "
            "AND status = 'succeeded' AND partition_key IN ('2025-07-01', '2025-07-02') GROUP BY 1"))).all()
    assert dict(ledger) == {"2025-07-01": 4, "2025-07-02": 4}  # every active context of the catalog


async def test_a_slot_run_twice_leaves_one_result_set(setup, temporal_env, test_database):
    settings, _, _ = setup
    client = temporal_env.client
    await apply_schedules(client, settings)
    handle = client.get_schedule_handle("semsync-monthly")
    slot = ScheduleBackfill(start_at=datetime(2025, 8, 1, tzinfo=UTC), end_at=datetime(2025, 8, 2, tzinfo=UTC),
                            overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    await handle.backfill(slot, slot)  # the same slot twice at once: one run (the run's id is the slot's)
    first = await scheduled_runs(client, "month", 1)
    assert {r.partition for r in first} == {"2025-07"}
    once = await month_contents(test_database)
    await handle.backfill(slot)  # and once more, later
    again = await scheduled_runs(client, "month", len(first) + 1)
    assert len(again) == len(first) + 1 and all(r.partition == "2025-07" and r.started for r in again)
    assert await month_contents(test_database) == once
    assert once[0] == 4  # one value per active context, no more


async def month_contents(test_database) -> tuple[int, str, int]:
    async with test_database.admin_engine.connect() as conn:
        rows, digest = (await conn.execute(text(
            "SELECT count(*), md5(string_agg(row(tenant_id, metric_id, date, value)::text, ',' ORDER BY metric_id)) "
            "FROM metric_time_series WHERE grain = 'month' AND date = '2025-07-01'"))).one()
        duplicates = await conn.scalar(text(
            "SELECT count(*) FROM (SELECT 1 FROM partition_ledger WHERE grain = 'month' GROUP BY tenant_id, "
            "metric_id, partition_key, kind HAVING count(*) > 1) d"))
    return rows, digest, duplicates


async def test_digest_schedules_run_at_each_tenants_local_time_and_go_with_its_notifications(setup, temporal_env):
    from semsync.notify.channels import Notifications

    settings, _, _ = setup
    client = temporal_env.client

    def tenant(identifier: str, zone: str) -> TenantDef:
        return TenantDef(identifier=identifier, name=identifier, notifications=Notifications.model_validate({
            "timezone": zone, "digest_time": "08:00",
            "channels": [{"id": "mail", "type": "email", "recipients": ["a@b.example"]}],
            "rules": [{"id": "d", "channels": ["mail"], "mode": "digest"}]}))

    tenants = [tenant("berlin", "Europe/Berlin"), tenant("newyork", "America/New_York")]
    outcome = await apply_schedules(client, settings, tenants)
    digests = {k: v for k, v in outcome.items() if k.startswith("semsync-digest-")}
    assert digests == {f"semsync-digest-{t}-{g}": "created" for t in ("berlin", "newyork")
                       for g in ("daily", "weekly", "monthly")}
    for schedule_id, zone in (("semsync-digest-berlin-daily", "Europe/Berlin"),
                              ("semsync-digest-newyork-daily", "America/New_York")):
        description = await client.get_schedule_handle(schedule_id).describe()
        assert description.schedule.spec.time_zone_name == zone
        upcoming = description.info.next_action_times[:3]
        # 08:00 local on each day, whatever UTC offset the zone has that day (DST included)
        assert all(t.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "08:00" for t in upcoming), upcoming
        assert len({t.astimezone(ZoneInfo(zone)).date() for t in upcoming}) == 3
    weekly = (await client.get_schedule_handle("semsync-digest-berlin-weekly").describe()).info.next_action_times
    assert all(t.astimezone(ZoneInfo("Europe/Berlin")).weekday() == 0 for t in weekly[:3])
    monthly = (await client.get_schedule_handle("semsync-digest-newyork-monthly").describe()).info.next_action_times
    assert all(t.astimezone(ZoneInfo("America/New_York")).day == 1 for t in monthly[:3])
    assert set((await apply_schedules(client, settings, tenants)).values()) == {"unchanged"}
    gone = await apply_schedules(client, settings, tenants[:1])  # newyork's notifications removed
    assert {k for k, v in gone.items() if v == "deleted"} == {f"semsync-digest-newyork-{g}"
                                                             for g in ("daily", "weekly", "monthly")}
    await apply_schedules(client, settings, [])


async def test_a_paused_schedule_whose_definition_did_not_change_is_unchanged(setup, temporal_env):
    settings, _, _ = setup
    client = temporal_env.client
    await apply_schedules(client, settings)
    daily = client.get_schedule_handle("semsync-daily")
    await pause_schedule(daily, "maintenance")
    assert set((await apply_schedules(client, settings)).values()) == {"unchanged"}
    assert (await daily.describe()).schedule.state.note.endswith("- maintenance")
    await unpause_schedule(daily)
    assert set((await apply_schedules(client, settings)).values()) == {"unchanged"}


async def week_rows(test_database, week: str) -> dict[str, tuple[str, str | None]]:
    async with test_database.admin_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT metric_id, status, note FROM partition_ledger WHERE grain = 'week' AND kind = 'sync' "
            "AND partition_key = :k"), {"k": week})
        return {r.metric_id: (r.status, r.note) for r in rows}


async def day_statuses(test_database, first: date, last: date) -> dict[tuple[str, str], str]:
    async with test_database.admin_engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT metric_id, partition_key, status FROM partition_ledger WHERE grain = 'day' AND kind = 'sync' "
            "AND partition_start BETWEEN :a AND :b"), {"a": first, "b": last})
        return {(r.metric_id, r.partition_key): r.status for r in rows}


async def test_a_weekly_run_past_its_deadline_runs_and_names_the_missing_days(setup, temporal_env, test_database):
    settings, _, _ = setup
    client = temporal_env.client
    request = ScheduledRunInput(grain="week", run_patterns=False, cross_grain=CrossGrain.WAIT,
                                cross_grain_deadline_h=4 / 3600, cross_grain_poll_min=1 / 60,
                                pattern_task_queue=settings.temporal.pattern_task_queue)
    week = last_complete_partition(Grain.WEEK, datetime.now(UTC))
    result = await client.execute_workflow(ScheduledRunWorkflow.run, request, id=f"scheduled/test-{uuid.uuid4()}",
                                           task_queue=settings.temporal.sync_task_queue)
    days = ", ".join((week.start + timedelta(days=i)).isoformat() for i in range(7))
    assert result.partition == week.key and result.started and result.resolutions == []  # waited, synced none
    rows = await week_rows(test_database, week.key)
    assert result.days_missing == 7 * len(rows) and rows
    assert set(rows.values()) == {("succeeded", f"days missing: {days}")}
    assert await day_statuses(test_database, week.start, week.end) == {}


async def test_a_weekly_run_syncs_the_missing_days_of_its_week_first(setup, temporal_env, test_database):
    settings, _, _ = setup
    client = temporal_env.client
    week = last_complete_partition(Grain.WEEK, datetime.now(UTC))
    five = GrainRange(grain="day", first=week.start.isoformat(), last=(week.start + timedelta(days=4)).isoformat())
    backfill = BackfillInput(backfill_id=f"days-{uuid.uuid4().hex[:8]}", ranges=[five], mode=BackfillMode.ALL,
                             run_patterns=False, pattern_task_queue=settings.temporal.pattern_task_queue)
    await client.execute_workflow(BackfillWorkflow.run, backfill, id=backfill.workflow_id,
                                  task_queue=settings.temporal.sync_task_queue)
    contexts = {metric for metric, _ in await day_statuses(test_database, week.start, week.end)}
    request = ScheduledRunInput(grain="week", run_patterns=False,
                                pattern_task_queue=settings.temporal.pattern_task_queue)
    assert request.cross_grain is CrossGrain.RESOLVE  # the default
    result = await client.execute_workflow(ScheduledRunWorkflow.run, request, id=f"scheduled/test-{uuid.uuid4()}",
                                           task_queue=settings.temporal.sync_task_queue)
    assert (result.days_missing, result.resolutions) == (0, [f"backfill/scheduled-week-{week.key}-days-1"])
    resolution = await client.get_workflow_handle(result.resolutions[0], result_type=BackfillResult).result()
    assert resolution.progress.partitions_done == 2 * len(contexts)  # the two missing days of each context
    days = await day_statuses(test_database, week.start, week.end)
    assert set(days.values()) == {"succeeded"} and len(days) == 7 * len(contexts)
    assert set((await week_rows(test_database, week.key)).values()) == {("succeeded", None)}  # the note is gone
