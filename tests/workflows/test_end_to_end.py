"""End to end on the Temporal dev server, the embedded PostgreSQL and the demo warehouse: the real
worker (`worker.make_workers`, a pattern process pool) runs backfills, checked against an independent
recomputation of the warehouse's aggregates."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import uuid
from contextlib import aclosing
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.common import SearchAttributeKey
from typer.testing import CliRunner

import worker as worker_module
from devstack.demo import demo_catalog, seed_warehouse
from semsync.backfill.plan import BackfillPlanner
from semsync.catalog.models import Catalog, Filter, MetricDef, SqlMetricSource, TenantDef
from semsync.catalog.store import write_catalog
from semsync.config import DatabaseSettings, Settings, TemporalSettings, get_settings
from semsync.contracts import (
    BackfillInput,
    BackfillMode,
    BackfillResult,
    BackfillStage,
    ComponentRetry,
    ContextSelector,
    GrainRange,
    PatternWorkflowResult,
    PlanBackfillInput,
    StoryWorkflowResult,
    SyncWorkflowInput,
    pattern_workflow_id,
)
from semsync.errors import SourceUnavailableError
from semsync.partitions import Grain, MetricContext, partitions_between
from semsync.patterns import get_pattern, pattern_names
from semsync.services import open_services, pattern_process_pool
from starter.cli import app
from workflows.backfill import BackfillWorkflow
from workflows.sync import SyncWorkflow

pytestmark = pytest.mark.temporal

RANGES = [GrainRange(grain="day", first="2025-07-01", last="2025-07-14"),
          GrainRange(grain="week", first="2025-W27", last="2025-W28"),
          GrainRange(grain="month", first="2025-07", last="2025-08")]
FAST_RETRY = ComponentRetry(initial_interval_s=0.05, maximum_interval_s=0.2, maximum_attempts=10)
BROKEN = TenantDef(identifier="broken", name="Broken", metrics=[MetricDef(
    id="revenue", label="Revenue",
    source=SqlMetricSource(table="warehouse.no_such_table", value="sum(revenue)", time_column="day",
                           filters=[Filter(member="tenant", operator="equals", values=["broken"])]))])


class ChaosSources:
    """The real sources, failing a share of fetches with a retryable error (a seeded coin); counts them."""

    def __init__(self, inner) -> None:
        self.inner, self.rate, self.failures, self.fetches = inner, 0.0, 0, 0
        self.coin = random.Random(30)

    async def source_for(self, tenant):
        source = await self.inner.source_for(tenant)
        chaos = self

        class Flaky:
            async def pages(self, *args, **kwargs):
                chaos.fetches += 1
                if chaos.coin.random() < chaos.rate:
                    chaos.failures += 1
                    raise SourceUnavailableError("chaos: HTTP 500 from the semantic layer")
                async with aclosing(source.pages(*args, **kwargs)) as pages:
                    async for page in pages:
                        yield page

        return Flaky()


@pytest.fixture(scope="module")
async def stack(test_database, temporal_env):
    """The demo warehouse and catalog (plus a broken tenant), and a real worker on fresh task queues."""
    await test_database.truncate()
    await seed_warehouse(test_database.admin_url, until=date(2025, 9, 30))
    catalog = demo_catalog()
    await write_catalog(test_database.catalog_session_factory, Catalog(tenants=[*catalog.tenants, BROKEN]))
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(database=DatabaseSettings(url=test_database.app_url),
                        temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}",
                                                  pattern_task_queue=f"patterns-{suffix}"))
    executor = pattern_process_pool(2)
    async with open_services(settings, pattern_executor=executor) as services:
        chaos = ChaosSources(services.sources)
        services.sync.sources = chaos
        workers = worker_module.make_workers(temporal_env.client, services)
        async with workers[0], workers[1]:
            yield settings, chaos
    executor.shutdown(wait=True, cancel_futures=True)


async def run_backfill(client, settings, **fields) -> BackfillResult:
    request = BackfillInput(backfill_id=f"e2e-{uuid.uuid4()}", pattern_task_queue=settings.temporal.pattern_task_queue,
                            retry=FAST_RETRY, **fields)
    result = await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                           task_queue=settings.temporal.sync_task_queue)
    if request.run_patterns:  # wait for the pattern runs the syncs started and their story runs (deterministic ids)
        for lane_range in request.ranges:
            for context in await contexts_of(request.selector):
                workflow_id = pattern_workflow_id(lane_range.grain, f"{lane_range.first}:{lane_range.last}", context)
                patterns = await client.get_workflow_handle(workflow_id, result_type=PatternWorkflowResult).result()
                if patterns.stories_workflow_id:
                    await client.get_workflow_handle(patterns.stories_workflow_id,
                                                     result_type=StoryWorkflowResult).result()
    return result


async def contexts_of(selector: ContextSelector) -> list[MetricContext]:
    if selector.contexts:
        return [MetricContext.from_string(c) for c in selector.contexts]
    tenant = next(t for t in demo_catalog().tenants if t.identifier == selector.tenant)
    return [MetricContext(tenant=tenant.identifier, metric=m.id) for m in tenant.metrics]


async def recomputed(engine, metric: MetricDef, grain: Grain, first: date, last: date) -> dict[date, float]:
    """The metric's aggregates straight from the warehouse table, by plain SQL (UTC periods)."""
    source = metric.source
    [tenant_filter] = source.filters
    async with engine.connect() as conn:
        await conn.execute(text("SET TIME ZONE 'UTC'"))
        rows = await conn.execute(text(
            f"SELECT date_trunc('{grain.value}', {source.time_column})::date AS d, {source.value} AS v "
            f"FROM {source.table} WHERE {tenant_filter.member} = :t "
            f"AND {source.time_column} >= :first AND {source.time_column} < CAST(:last AS date) + 1 GROUP BY 1"),
            {"t": tenant_filter.values[0], "first": first, "last": last})
        return {r.d: float(r.v) for r in rows if r.v is not None}


async def stored(engine, tenant: str, metric_id: str, grain: Grain) -> dict[date, float]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT s.date, s.value FROM metric_time_series s JOIN tenants t ON t.id = s.tenant_id "
            "WHERE t.identifier = :t AND s.metric_id = :m AND s.grain = :g"), {"t": tenant, "m": metric_id,
                                                                                "g": grain.value})
        return {r.date: r.value for r in rows}


async def contents(engine) -> dict[str, str]:
    """md5 of each table's contents, timestamps left out (a result's evaluation time included)."""
    tables = {
        "metric_time_series": "tenant_id, metric_id, grain, date, value",
        "metric_dimensional_time_series": "tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value",
        "pattern_results": "tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name, "
                           "analysis_window, error, run_result - 'evaluation_time'",
        "stories": "tenant_id, metric_id, grain, story_date, story_type, dimension, slice, version, pattern_version, "
                   "status, started_on, salience, title, detail, variables, series, also, grouped_under",
    }
    async with engine.connect() as conn:
        return {table: await conn.scalar(text(
            f"SELECT md5(coalesce(string_agg(row({cols})::text, ',' ORDER BY {cols}), '')) FROM {table}"))
            for table, cols in tables.items()}


@pytest.fixture(scope="module")
async def acme_backfill(stack, temporal_env) -> BackfillResult:
    """acme's backfill of every grain, run once for the tests that read what it stored."""
    settings, _ = stack
    return await run_backfill(temporal_env.client, settings, ranges=RANGES, selector=ContextSelector(tenant="acme"),
                              max_concurrency=4)


async def test_a_backfill_of_all_grains_equals_the_warehouse_and_analyses_every_partition(
        acme_backfill, test_database):
    result = acme_backfill
    acme = next(t for t in demo_catalog().tenants if t.identifier == "acme")
    assert result.progress.state == "completed" and not result.failures
    assert result.progress.chunks_succeeded == len(acme.metrics) * 3  # one child per context and grain
    engine = test_database.admin_engine
    for metric in acme.metrics:
        for grain_range in RANGES:
            values = await stored(engine, "acme", metric.id, grain_range.grain)
            expected = await recomputed(engine, metric, grain_range.grain, min(values), max(values) + _period(
                grain_range.grain))
            assert values.keys() == {d for d in expected if d <= max(values)}, (metric.id, grain_range.grain)
            assert all(values[d] == pytest.approx(expected[d], rel=1e-9) for d in values), metric.id
    async with engine.connect() as conn:
        analysed = {(r.metric_id, r.pattern, r.grain): r.dates for r in await conn.execute(text(
            "SELECT metric_id, pattern, grain, count(DISTINCT analysis_date) AS dates FROM pattern_results "
            "WHERE tenant_id = (SELECT id FROM tenants WHERE identifier = 'acme') GROUP BY 1, 2, 3"))}
        ledger = dict((await conn.execute(text(
            "SELECT kind, count(*) FROM partition_ledger WHERE status = 'succeeded' GROUP BY 1"))).all())
    partitions = sum(len(partitions_between(r.grain, r.first, r.last)) for r in RANGES)
    for metric in acme.metrics:
        for name in pattern_names():
            if get_pattern(name).per_dimension and not metric.dimensions:
                continue
            for grain_range in RANGES:
                count = len(partitions_between(grain_range.grain, grain_range.first, grain_range.last))
                assert analysed[(metric.id, name, grain_range.grain.value)] == count, (metric.id, name)
    assert ledger["sync"] == partitions * len(acme.metrics)
    assert all(ledger[name] == partitions * len(acme.metrics) for name in pattern_names() if name in ledger)
    # each pattern run's continuation told the stories of every partition it analysed
    assert ledger["stories"] == partitions * len(acme.metrics)


def _period(grain: Grain):
    from datetime import timedelta

    return {Grain.DAY: timedelta(days=0), Grain.WEEK: timedelta(days=6), Grain.MONTH: timedelta(days=30)}[grain]


async def test_a_second_identical_backfill_changes_no_row(stack, acme_backfill, temporal_env, test_database):
    settings, _ = stack
    before = await contents(test_database.admin_engine)
    again = await run_backfill(temporal_env.client, settings, ranges=RANGES, selector=ContextSelector(tenant="acme"),
                               mode=BackfillMode.ALL, max_concurrency=4)
    assert again.progress.chunks_succeeded == 18 and not again.failures
    assert await contents(test_database.admin_engine) == before
    missing = await run_backfill(temporal_env.client, settings, ranges=RANGES,
                                 selector=ContextSelector(tenant="acme"), mode=BackfillMode.MISSING)
    assert missing.progress.partitions_planned == 0 and missing.progress.partitions_skipped == 6 * 18
    assert await contents(test_database.admin_engine) == before


async def test_a_failing_context_does_not_fail_the_backfill_and_failed_mode_reruns_only_it(
        stack, temporal_env, test_database):
    settings, _ = stack
    day = [GrainRange(grain="day", first="2025-08-01", last="2025-08-03")]
    selector = ContextSelector(contexts=["acme::orders", "broken::revenue"])
    result = await run_backfill(temporal_env.client, settings, ranges=day, selector=selector, run_patterns=False)
    assert result.progress.chunks_succeeded == 1 and result.progress.chunks_failed == 1
    [failure] = result.failures
    assert failure.context == "broken::revenue" and "no_such_table" in failure.reason
    retry = await run_backfill(temporal_env.client, settings, ranges=day, selector=selector, mode=BackfillMode.FAILED,
                               run_patterns=False)
    assert retry.progress.chunks_planned == 1 and retry.progress.partitions_skipped == 3
    assert [f.context for f in retry.failures] == ["broken::revenue"]
    async with test_database.admin_engine.connect() as conn:
        attempts = dict((await conn.execute(text(
            "SELECT metric_id || '@' || t.identifier, max(attempts) FROM partition_ledger l JOIN tenants t "
            "ON t.id = l.tenant_id WHERE kind = 'sync' AND partition_key = '2025-08-01' GROUP BY 1"))).all())
    assert attempts == {"orders@acme": 1, "revenue@broken": 2}
    # an operator finds every failed sync of the tenant with one query
    query = "SemsyncTenant = 'broken' AND SemsyncStatus = 'FAILED' AND WorkflowType = 'SyncWorkflow'"
    for _ in range(100):
        found = [w async for w in temporal_env.client.list_workflows(query)]
        if len(found) == 2:
            break
        await asyncio.sleep(0.1)
    assert {w.id for w in found} == {"sync/day/2025-08-01:2025-08-03/broken::revenue"} and len(found) == 2
    assert found[0].typed_search_attributes.get(SearchAttributeKey.for_keyword("SemsyncGrain")) == "day"


async def test_a_flaky_semantic_layer_still_ends_with_every_row_present(stack, temporal_env, test_database):
    settings, chaos = stack
    chaos.rate = 0.3
    try:
        result = await run_backfill(
            temporal_env.client, settings, ranges=[GrainRange(grain="day", first="2025-07-01", last="2025-07-31")],
            selector=ContextSelector(tenant="globex"), run_patterns=False, max_concurrency=3)
    finally:
        chaos.rate = 0.0
    assert chaos.failures > 5 and not result.failures and result.progress.chunks_succeeded == 6
    engine = test_database.admin_engine
    globex = next(t for t in demo_catalog().tenants if t.identifier == "globex")
    for metric in globex.metrics:
        values = await stored(engine, "globex", metric.id, Grain.DAY)
        expected = await recomputed(engine, metric, Grain.DAY, min(values), max(values))
        assert values == pytest.approx(expected, rel=1e-9), metric.id
    async with engine.connect() as conn:
        dimension_rows = await conn.scalar(text(
            "SELECT count(*) FROM metric_dimensional_time_series d JOIN tenants t ON t.id = d.tenant_id "
            "WHERE t.identifier = 'globex'"))
        failed = await conn.scalar(text("SELECT count(*) FROM metric_sync_status s JOIN tenants t "
                                        "ON t.id = s.tenant_id WHERE t.identifier = 'globex' "
                                        "AND s.sync_status <> 'SUCCESS'"))
    assert dimension_rows > 0 and failed == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["backfill", "--grain", "day", "--partition-range", "2025-07-01:2025-13-01"], "month 13"),
        (["backfill", "--grain", "day", "--partition-range", "2025-06-01:2025-06-30"], "first day partition"),
        (["backfill", "--grain", "day", "--partition-range", "2025-07-01", "--context", "acme::profit"],
         "unknown metric 'profit'"),
        (["backfill", "--grain", "day", "--partition-range", "2025-07-01", "--tenant", "nobody"], "unknown tenant"),
        (["backfill", "--partition-range", "2025-07-01"], "--grain"),
        (["sync", "start", "--partition", "2025-07-01|acme"], "tenant::metric"),
        (["patterns", "start", "--partition", "2025-07-01|acme::revenue"], "tenant::metric::pattern"),
        (["patterns", "start", "--partition", "2025-07-01|acme::revenue::seasonality"], "unknown pattern"),
    ],
)
def test_bad_cli_input_exits_2_with_one_line_before_anything_starts(stack, test_database, monkeypatch, args, says):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", test_database.app_url)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__ADDRESS", "127.0.0.1:1")  # nothing may be started
    get_settings.cache_clear()
    try:
        outcome = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert outcome.exit_code == 2, outcome.output
    assert says in outcome.output and "Traceback" not in outcome.output


async def test_the_cli_plans_starts_follows_and_reports(stack, temporal_env, test_database, monkeypatch):
    settings, _ = stack
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", test_database.app_url)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__ADDRESS", temporal_env.client.service_client.config.target_host)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE", settings.temporal.sync_task_queue)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__PATTERN_TASK_QUEUE", settings.temporal.pattern_task_queue)
    get_settings.cache_clear()

    async def cli(*args: str):
        # in a thread: the CLI runs its own event loop while this one keeps the workers polling
        outcome = await asyncio.to_thread(CliRunner().invoke, app, list(args))
        assert "Traceback" not in outcome.output, outcome.output
        return outcome

    try:
        backfill = ["backfill", "--grain", "day", "--partition-range", "2025-08-04:2025-08-06", "--context",
                    "acme::revenue", "--id", f"cli-{uuid.uuid4().hex[:6]}"]
        planned = await cli(*backfill, "--dry-run")
        assert planned.exit_code == 0 and "3 partitions to sync" in planned.output
        assert "nothing started" in planned.output
        waited = await cli(*backfill, "--wait")
        assert waited.exit_code == 0, waited.output
        assert "completed" in waited.output and "3/3 partitions" in waited.output
        # planned once: the workflow starts from the CLI's counts and only asks for its lanes
        history = await temporal_env.client.get_workflow_handle(f"backfill/{backfill[-1]}").fetch_history()
        activities = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                      if e.HasField("activity_task_scheduled_event_attributes")]
        assert "summarize_backfill" not in activities and "plan_backfill_page" in activities, activities
        status = await cli("status", backfill[-1])
        assert status.exit_code == 0 and "completed" in status.output
        assert "children by stage: sync 1" in status.output and "pattern runs: 1 completed" in status.output
        assert "story runs: 1 completed" in status.output
        # analysis alone, refused where nothing is synced, with the command that syncs first
        unsynced = await cli("backfill", "--grain", "day", "--partition-range", "2025-09-20:2025-09-21", "--context",
                             "acme::revenue", "--what", "patterns", "--dry-run")
        assert unsynced.exit_code == 2 and "2 partitions not synced yet (e.g. acme::revenue day 2025-09-20)" in (
            unsynced.output)
        assert "--with-dependencies" in unsynced.output
        resolved = await cli("backfill", "--grain", "day", "--partition-range", "2025-09-20:2025-09-21", "--context",
                             "acme::revenue", "--what", "patterns", "--with-dependencies", "--dry-run")
        assert resolved.exit_code == 0 and "begins with sync in 1 lane" in resolved.output, resolved.output
        health = await cli("status", "--grain", "day", "--tenant", "acme", "--last", "400")
        assert health.exit_code == 0 and "acme::revenue" in health.output and "succeeded" in health.output
        synced = await cli("sync", "start", "--partition", "2025-08-07|acme::revenue", "--wait", "--no-patterns")
        assert synced.exit_code == 0 and "SUCCESS" in synced.output, synced.output
        analysed = await cli("patterns", "start", "--partition", "2025-08-07|acme::revenue::performance_status",
                             "--wait")
        assert analysed.exit_code == 0 and "performance_status: 1 result stored" in analysed.output, analysed.output
    finally:
        get_settings.cache_clear()


async def test_the_worker_process_serves_both_queues_and_stops_gracefully_on_sigterm(
        stack, temporal_env, test_database, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    queue = f"worker-{uuid.uuid4().hex[:6]}"
    env = os.environ | {"SEMSYNC_DATABASE__URL": test_database.app_url,
                        "SEMSYNC_TEMPORAL__ADDRESS": temporal_env.client.service_client.config.target_host,
                        "SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE": f"{queue}-sync",
                        "SEMSYNC_TEMPORAL__PATTERN_TASK_QUEUE": f"{queue}-patterns",
                        "SEMSYNC_WORKER__PATTERN_PROCESSES": "1"}
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(sys.executable, "worker.py", env=env, stdout=out,
                                                       stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if "polling" in log.read_text() or process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert f"{queue}-sync, {queue}-patterns" in log.read_text(), log.read_text()
        request = SyncWorkflowInput(tenant="acme", metric_id="visits", grain="day", start_partition="2025-08-10",
                                    pattern_task_queue=f"{queue}-patterns", retry=FAST_RETRY)
        result = await temporal_env.client.execute_workflow(
            SyncWorkflow.run, request, id=f"{request.workflow_id}/{uuid.uuid4()}", task_queue=f"{queue}-sync")
        assert result.success and result.patterns_started
        await temporal_env.client.get_workflow_handle(
            result.patterns_workflow_id, result_type=PatternWorkflowResult).result()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert "semsync worker stopped" in log.read_text()
    finally:
        if process.returncode is None:
            process.kill()


async def test_results_show_what_the_patterns_found_and_unsynced_data_is_refused(
        stack, acme_backfill, test_database, monkeypatch):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", test_database.app_url)
    get_settings.cache_clear()
    try:
        shown = await asyncio.to_thread(CliRunner().invoke, app, ["results", "acme::revenue", "--grain", "week"])
        assert shown.exit_code == 0, shown.output
        for name in pattern_names():
            assert name in shown.output
        assert "as of 2025-07-21" in shown.output  # the week after 2025-W28, the last synced week
        told = await asyncio.to_thread(CliRunner().invoke, app, ["stories", "--tenant", "acme", "--limit", "500",
                                                                 "--json"])
        assert told.exit_code == 0, told.output
        stories = [json.loads(line) for line in told.output.splitlines()]
        assert stories and {s["tenant"] for s in stories} == {"acme"}
        assert {"story_date", "story_type", "genre", "polarity", "salience", "title", "detail", "variables",
                "series", "pattern", "pattern_version", "analysis_date", "status"} <= set(stories[0])
        dates = [s["story_date"] for s in stories]
        assert dates == sorted(dates, reverse=True)  # newest first
        assert all(s["grouped_under"] is None for s in stories)  # group leads, with their other facts
        nothing = await asyncio.to_thread(CliRunner().invoke, app,
                                          ["results", "acme::revenue", "--date", "2025-01-01"])
        assert nothing.exit_code == 1 and "backfill" in nothing.output
        unsynced = await asyncio.to_thread(CliRunner().invoke, app,
                                           ["patterns", "run", "initech::visits::forecasting", "-g", "month", "-p",
                                            "2025-07"])
        assert unsynced.exit_code == 2 and "sync it first" in unsynced.output, unsynced.output
        assert "python -m starter sync run initech::visits --grain month" in unsynced.output
    finally:
        get_settings.cache_clear()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("SEMSYNC_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (Debian's `chromium`; .ci/run installs it)")
async def test_the_report_page_loads_in_a_real_browser_without_errors(stack, acme_backfill, test_database, monkeypatch,
                                                                      tmp_path):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", test_database.app_url)
    get_settings.cache_clear()
    page = tmp_path / "report.html"
    try:
        made = await asyncio.to_thread(CliRunner().invoke, app, ["report", "acme::revenue", "--out", str(page)])
    finally:
        get_settings.cache_clear()
    assert made.exit_code == 0, made.output
    written = await asyncio.to_thread(page.read_text)
    assert "forecast" in written and "partition health" in written
    browser = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]
    dom = await asyncio.to_thread(subprocess.run, [*browser, "--dump-dom", page.as_uri()], capture_output=True,
                                  text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    assert dom.stdout.count('class="main-svg"') >= 3  # plotly drew the figures (its JavaScript ran)
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"  # kept: a person can look at what the page shows
    taken = await asyncio.to_thread(subprocess.run, [*browser, "--window-size=1280,1700", f"--screenshot={shot}",
                                                     page.as_uri()], capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert (await asyncio.to_thread(shot.stat)).st_size > 20_000


async def test_a_patterns_only_backfill_analyses_synced_data_and_fetches_nothing(stack, temporal_env, test_database):
    settings, chaos = stack
    client = temporal_env.client
    selector = ContextSelector(contexts=["initech::revenue", "initech::orders", "initech::signups"])
    days = [GrainRange(grain="day", first="2025-08-01", last="2025-08-05")]
    await run_backfill(client, settings, ranges=days, selector=selector, run_patterns=False, mode=BackfillMode.ALL)
    fetched = chaos.fetches

    analysed = await run_backfill(client, settings, ranges=days, selector=selector, what=BackfillStage.PATTERNS)
    assert chaos.fetches == fetched  # nothing fetched: the data was synced
    assert (analysed.progress.chunks_succeeded, analysed.progress.patterns_started) == (3, 3)

    async def pattern_rows() -> dict[tuple[str, str, str], tuple[str, object]]:
        async with test_database.admin_engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT l.metric_id, l.partition_key, l.kind, l.status, l.last_attempt_at FROM partition_ledger l "
                "JOIN tenants t ON t.id = l.tenant_id WHERE t.identifier = 'initech' AND l.grain = 'day' "
                "AND l.kind NOT IN ('sync', 'stories') AND l.partition_key BETWEEN '2025-08-01' AND '2025-08-05'"))
            return {(r.metric_id, r.partition_key, r.kind): (r.status, r.last_attempt_at) for r in rows}

    before = await pattern_rows()
    assert len(before) == 3 * 5 * len(pattern_names()) and {s for s, _ in before.values()} == {"succeeded"}
    # the same again: nothing changed, so nothing is analysed and the ledger says so; no story run follows
    unchanged = await run_backfill(client, settings, ranges=days, selector=selector, what=BackfillStage.PATTERNS,
                                   mode=BackfillMode.ALL)
    assert unchanged.progress.chunks_succeeded == 3
    async with test_database.admin_engine.connect() as conn:
        notes = (await conn.execute(text(
            "SELECT DISTINCT l.note FROM partition_ledger l JOIN tenants t ON t.id = l.tenant_id "
            "WHERE t.identifier = 'initech' AND l.metric_id IN ('revenue', 'orders', 'signups') AND l.grain = 'day' "
            "AND l.kind NOT IN ('sync', 'stories') AND l.partition_key BETWEEN '2025-08-01' AND '2025-08-05'"
            ))).scalars().all()
    assert notes == ["skipped: unchanged"]
    before = await pattern_rows()
    async with test_database.admin_engine.begin() as conn:  # one pattern of one partition failed
        await conn.execute(text(
            "UPDATE partition_ledger SET status = 'failed' WHERE metric_id = 'orders' AND partition_key = '2025-08-03' "
            "AND kind = 'forecasting' AND grain = 'day'"))
    again = await run_backfill(client, settings, ranges=days, selector=selector, what=BackfillStage.PATTERNS,
                               mode=BackfillMode.FAILED)
    assert (again.progress.partitions_planned, again.progress.chunks_succeeded) == (1, 1)
    assert chaos.fetches == fetched
    after = await pattern_rows()
    rerun = {key for key in after if after[key][1] != before[key][1]}
    assert {(metric, day) for metric, day, _ in rerun} == {("orders", "2025-08-03")}  # the others untouched
    assert after[("orders", "2025-08-03", "forecasting")][0] == "succeeded"

    # a partition never synced is refused by the plan (the CLI names the command), or synced first
    later = [GrainRange(grain="day", first="2025-08-05", last="2025-08-07")]
    planner = BackfillPlanner(test_database.database.session_factory)
    refused = await planner.plan(PlanBackfillInput(ranges=later, selector=selector, mode=BackfillMode.MISSING,
                                                   what=BackfillStage.PATTERNS))
    assert refused.unready_partitions == 3 * 2 and refused.unready_sample[0] == "initech::orders day 2025-08-06"
    request = BackfillInput(backfill_id=f"e2e-{uuid.uuid4()}", pattern_task_queue=settings.temporal.pattern_task_queue,
                            retry=FAST_RETRY, ranges=later, selector=selector, what=BackfillStage.PATTERNS,
                            with_dependencies=True)
    resolved = await client.execute_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                             task_queue=settings.temporal.sync_task_queue)
    # per context: day 5 is analysed already (mode missing), days 6-7 synced first, their patterns following
    assert (resolved.progress.chunks_succeeded, resolved.progress.partitions_done) == (3, 3 * 2)
    assert resolved.progress.rows_fetched > 0 and chaos.fetches > fetched
    running = (f"SemsyncBackfill = '{request.backfill_id}' AND ExecutionStatus = 'Running' "
               "AND (WorkflowType = 'PatternWorkflow' OR WorkflowType = 'StoryWorkflow')")
    for _ in range(240):  # the pattern and story runs finish before the module's next test
        if not (await client.count_workflows(running)).count:
            break
        await asyncio.sleep(0.5)
