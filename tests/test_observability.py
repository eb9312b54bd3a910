"""Metrics and logs of the worker: `python worker.py` with `SEMSYNC_WORKER__METRICS_PORT` and
`SEMSYNC_LOG_FORMAT=json` runs a sync and its pattern run on the dev server against the test database;
its Prometheus endpoint shows semsync's counters beside the SDK's metrics, and its log lines are JSON
objects naming tenant, metric, grain and partition."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text

from devstack import free_port
from semsync.catalog.models import Catalog, DimensionDef, Filter, MetricDef, SqlMetricSource, TenantDef
from semsync.catalog.store import write_catalog
from semsync.contracts import (
    BackfillInput,
    BackfillMode,
    ComponentRetry,
    CrossGrain,
    GrainRange,
    PatternWorkflowResult,
    ScheduledRunInput,
    SyncWorkflowInput,
    SyncWorkflowResult,
)
from semsync.observability import ContextFilter, JsonFormatter, TextFormatter, log_context, log_handler
from tests.monitoring import (
    RULES,
    alerts,
    dashboard_expressions,
    exposed_labels,
    exposed_names,
    monitored_label_uses,
    monitored_metric_names,
    substituted,
)
from workflows.backfill import BackfillWorkflow
from workflows.scheduled import ScheduledRunWorkflow
from workflows.sync import SyncWorkflow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def warehouse(db):
    """`obs_wh.sales`: one tenant, a year of days by region; and a catalog with its revenue metric."""
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS obs_wh CASCADE"))
        await conn.execute(text("CREATE SCHEMA obs_wh"))
        await conn.execute(text("CREATE TABLE obs_wh.sales (tenant text, day date, region text, amount numeric)"))
        await conn.execute(text(
            "INSERT INTO obs_wh.sales SELECT 'acme', d::date, r, extract(doy FROM d) + length(r) "
            "FROM generate_series(DATE '2024-06-01', DATE '2025-07-31', INTERVAL '1 day') d, "
            "unnest(ARRAY['eu', 'us']) r"))
        await conn.execute(text("GRANT USAGE ON SCHEMA obs_wh TO semsync_app"))
        await conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA obs_wh TO semsync_app"))
    metric = MetricDef(id="revenue", label="Revenue", dimensions=[DimensionDef(id="region", member="region")],
                       source=SqlMetricSource(table="obs_wh.sales", value="sum(amount)", time_column="day",
                                              filters=[Filter(member="tenant", operator="equals", values=["acme"])]))
    await write_catalog(db.catalog_session_factory, Catalog(tenants=[TenantDef(identifier="acme", name="Acme",
                                                                       metrics=[metric])]))
    return db


@pytest.fixture
async def worker_process(warehouse, temporal_env, tmp_path):
    """`python worker.py` with metrics on a free port and JSON logs; (queues, metrics URL, log path)."""
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    queues = {"sync": f"obs-sync-{suffix}", "patterns": f"obs-patterns-{suffix}"}
    log = tmp_path / "worker.log"
    env = os.environ | {
        "SEMSYNC_DATABASE__URL": warehouse.app_url,
        "SEMSYNC_SEMANTIC_LAYER__WAREHOUSE_SCHEMAS": "obs_wh",  # this test's warehouse schema
        "SEMSYNC_TEMPORAL__ADDRESS": temporal_env.client.service_client.config.target_host,
        "SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE": queues["sync"],
        "SEMSYNC_TEMPORAL__PATTERN_TASK_QUEUE": queues["patterns"],
        "SEMSYNC_WORKER__PATTERN_PROCESSES": "1",
        "SEMSYNC_WORKER__GRACEFUL_SHUTDOWN_S": "5",
        "SEMSYNC_WORKER__METRICS_HOST": "127.0.0.1",
        "SEMSYNC_WORKER__METRICS_PORT": str(port),
        "SEMSYNC_LOG_FORMAT": "json",
    }
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(sys.executable, "worker.py", cwd=ROOT, env=env, stdout=out,
                                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        for _ in range(900):
            if process.returncode is not None or "semsync worker polling" in log.read_text():
                break
            await asyncio.sleep(0.1)
        assert process.returncode is None, f"the worker exited:\n{log.read_text()[-3000:]}"
        yield queues, f"http://127.0.0.1:{port}/metrics", log
    finally:
        if process.returncode is None:
            process.terminate()  # SIGTERM: the worker stops polling and exits
        await asyncio.wait_for(process.wait(), 60)


async def settled(client, result: SyncWorkflowResult) -> None:
    """Wait for the pattern run a sync started and the story run that follows it: they outlive the sync,
    and must not be left running on the session's dev server when this test's worker stops (a later
    test starting the same ids would be handed the orphan, on a queue no worker polls any more). Each
    test syncs a partition of its own, so that their pattern and story workflow ids differ as well."""
    async with asyncio.timeout(180):
        patterns = await client.get_workflow_handle(result.patterns_workflow_id,
                                                    result_type=PatternWorkflowResult).result()
        if patterns.stories_workflow_id:
            await client.get_workflow_handle(patterns.stories_workflow_id).result()


def series_count(exposition: str, name: str) -> int:
    return sum(line.startswith(name + "{") for line in exposition.splitlines())


def samples(exposition: str, name: str) -> list[dict[str, str]]:
    """The label sets of the samples of metric `name` (with a value above 0) in a Prometheus text page."""
    found = []
    for line in exposition.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels, _, value = line[len(name) + 1:].rpartition("} ")
        if float(value) > 0:
            found.append(dict(part.split("=", 1) for part in labels.replace('"', "").split(",") if part))
    return found


async def test_the_worker_serves_semsyncs_and_the_sdks_metrics_and_logs_json_with_the_context(
        worker_process, temporal_env):
    queues, metrics_url, log = worker_process
    client = temporal_env.client
    request = SyncWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                                patterns=["historical_performance"], pattern_task_queue=queues["patterns"])
    result = await client.execute_workflow(SyncWorkflow.run, request, id=request.workflow_id,
                                           task_queue=queues["sync"], result_type=SyncWorkflowResult)
    assert result.success and result.patterns_workflow_id
    await settled(client, result)

    async with httpx.AsyncClient() as http:
        page = (await http.get(metrics_url)).text

    rows = samples(page, "semsync_rows_synced")
    assert {(s["grain"], s["component"], s["sync_type"]) for s in rows} == {("day", "base", "FULL"),
                                                                            ("day", "dimension", "FULL")}, page
    assert all(s["task_queue"] == queues["sync"] for s in rows)  # the SDK's labels come along
    runs = samples(page, "semsync_pattern_runs")
    assert [(s["pattern"], s["grain"], s["status"]) for s in runs] == [("historical_performance", "day",
                                                                       "succeeded")], page
    assert samples(page, "semsync_sync_component_failures") == []
    # and the SDK's own metrics on the same endpoint
    assert samples(page, "temporal_activity_execution_latency_count"), page
    assert any(s.get("task_queue") == queues["sync"] for s in samples(page, "temporal_workflow_completed")), page

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]  # every line is JSON
    synced = [line for line in lines if line["message"].startswith("synced base")]
    assert synced, lines
    assert "workflow_id" not in synced[0]["message"]  # a field of the line, not repeated in the message
    assert {k: synced[0][k] for k in ("tenant", "metric", "grain", "partition", "workflow_id")} == {
        "tenant": "acme", "metric": "revenue", "grain": "day", "partition": "2025-07-01",
        "workflow_id": request.workflow_id}
    stored = next(line for line in lines if line["message"].startswith("pattern historical_performance"))
    assert (stored["tenant"], stored["metric"], stored["pattern"], stored["grain"], stored["partition"]) == (
        "acme", "revenue", "historical_performance", "day", "2025-07-01")
    region = next(line for line in lines if line["message"].startswith("synced region"))
    assert (region["tenant"], region["dimension"], region["partition"]) == ("acme", "region", "2025-07-01")


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="no prometheus binary on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
async def test_a_real_prometheus_scraping_the_worker_evaluates_every_panel_and_rule(
        worker_process, temporal_env, tmp_path):
    """Prometheus itself scrapes the worker after a sync and its patterns, loads the alert rules and
    evaluates them, and answers every panel's query: no query fails (promtool only parses), and the
    panels that sync and slots feed return series."""
    queues, metrics_url, _ = worker_process
    request = SyncWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-05",
                                patterns=["historical_performance"], pattern_task_queue=queues["patterns"])
    result = await temporal_env.client.execute_workflow(SyncWorkflow.run, request, id=request.workflow_id,
                                                        task_queue=queues["sync"], result_type=SyncWorkflowResult)
    await settled(temporal_env.client, result)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "semsync-worker",
                            "static_configs": [{"targets": [metrics_url.split("/")[2]]}]}],
    }))
    prometheus = await asyncio.create_subprocess_exec(
        shutil.which("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"))
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            async def query(expr: str) -> dict:
                return (await http.get(f"{api}/query", params={"query": expr})).json()

            for _ in range(120):  # ready, three scrapes in, and every rule evaluated once
                await asyncio.sleep(0.5)
                assert prometheus.returncode is None, (tmp_path / "prometheus.log").read_text()
                try:
                    scrapes = await query('count_over_time(up{job="semsync-worker"}[1m])')
                    groups = (await http.get(f"{api}/rules")).json()["data"]["groups"]
                except (httpx.TransportError, KeyError, ValueError):
                    continue
                evaluated = [r for g in groups for r in g["rules"] if not r["lastEvaluation"].startswith("0001")]
                if (scrapes["data"]["result"] and float(scrapes["data"]["result"][0]["value"][1]) >= 3
                        and len(evaluated) == len(alerts())):
                    break
            else:
                pytest.fail("Prometheus did not scrape the worker and evaluate the rules in 60 s")
            assert {r["name"]: r["health"] for g in groups for r in g["rules"]} == dict.fromkeys(alerts(), "ok")
            answers = {title: await query(substituted(expr)) for title, expr in dashboard_expressions().items()}
    finally:
        if prometheus.returncode is None:
            prometheus.terminate()
        await asyncio.wait_for(prometheus.wait(), 30)
    failed = {title: answer.get("error") for title, answer in answers.items() if answer["status"] != "success"}
    assert failed == {}
    fed = {title for title, answer in answers.items() if answer["data"]["result"]}
    assert {"Rows synced by grain and tenant #0", "Task slots used by queue #0", "Pollers by queue #0",
            "Activity execution latency (p95) #0", "Pattern runs by pattern and status #0"} <= fed, sorted(fed)


def _log(handler: logging.Handler, message: str, **extra) -> None:
    logger = logging.getLogger(f"test.observability.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning(message, extra=extra)


def _capture(formatter: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter)
    return handler, stream


def test_a_workflow_line_carries_the_context_its_id_names():
    """`workflow.logger` adds `temporal_workflow` with the workflow id; semsync's ids are the context."""
    handler, stream = _capture(JsonFormatter())
    _log(handler, "pattern workflow already running", temporal_workflow={
        "workflow_id": "patterns/week/2025-W27:2025-W30/acme::revenue::forecasting", "run_id": "r1",
        "workflow_type": "PatternWorkflow"})
    line = json.loads(stream.getvalue())
    assert {k: line[k] for k in ("tenant", "metric", "pattern", "grain", "partition", "run_id", "workflow_type")} == {
        "tenant": "acme", "metric": "revenue", "pattern": "forecasting", "grain": "week",
        "partition": "2025-W27:2025-W30", "run_id": "r1", "workflow_type": "PatternWorkflow"}


def test_the_log_context_reaches_the_domains_own_loggers_and_explicit_extra_wins():
    handler, stream = _capture(TextFormatter())
    with log_context(tenant="acme", metric="revenue", grain="month", partition="2025-07"):
        _log(handler, "window replaced")
        _log(handler, "other tenant", tenant="globex")
    _log(handler, "outside")
    first, second, third = stream.getvalue().splitlines()
    assert first.endswith("[acme::revenue month 2025-07]: window replaced")
    assert second.endswith("[globex::revenue month 2025-07]: other tenant")
    assert third.endswith(": outside") and "[" not in third


def test_json_lines_keep_exceptions_and_the_handler_follows_the_setting():
    assert isinstance(log_handler("json").formatter, JsonFormatter)
    assert isinstance(log_handler("text").formatter, TextFormatter)
    handler, stream = _capture(JsonFormatter())
    logger = logging.getLogger("test.observability.exc")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert line["level"] == "ERROR" and "ValueError: boom" in line["exception"] and line["tenant"] is None



async def test_the_worker_exposes_every_metric_the_dashboard_and_the_alert_rules_name(
        warehouse, worker_process, temporal_env):
    """A sync with its patterns and stories, a backfill in which one dimension fails, and a grain run by
    hand: then every metric the dashboard (`deploy/grafana/dashboards/semsync.json`) and the alert
    rules (`deploy/prometheus/rules/semsync.rules.yml`) name is on the worker's endpoint, with the labels
    they group and match by."""
    queues, metrics_url, _ = worker_process
    client = temporal_env.client
    broken = MetricDef(id="orders", label="Orders", dimensions=[DimensionDef(id="channel", member="no_such_column")],
                       source=SqlMetricSource(table="obs_wh.sales", value="count(*)", time_column="day",
                                              filters=[Filter(member="tenant", operator="equals", values=["acme"])]))
    revenue = MetricDef(id="revenue", label="Revenue", dimensions=[DimensionDef(id="region", member="region")],
                        source=SqlMetricSource(table="obs_wh.sales", value="sum(amount)", time_column="day",
                                               filters=[Filter(member="tenant", operator="equals", values=["acme"])]))
    await write_catalog(warehouse.catalog_session_factory, Catalog(tenants=[TenantDef(
        identifier="acme", name="Acme", metrics=[revenue, broken])]))
    async with httpx.AsyncClient() as http:
        at_start = (await http.get(metrics_url)).text
    # the counters of rare events are there from the start, at 0: the first event is an increase
    assert {"semsync_backfill_partitions_planned", "semsync_backfill_partitions_done", "semsync_scheduled_runs",
            "semsync_deliveries"} <= exposed_names(at_start), at_start
    assert samples(at_start, "semsync_scheduled_runs") == []
    retry = ComponentRetry(maximum_attempts=2, initial_interval_s=0.1, maximum_interval_s=0.2)
    sync = SyncWorkflowInput(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-10",
                             patterns=["historical_performance"], pattern_task_queue=queues["patterns"])
    backfill = BackfillInput(backfill_id=f"obs-{uuid.uuid4().hex[:8]}", mode=BackfillMode.ALL, run_patterns=False,
                             ranges=[GrainRange(grain="day", first="2025-07-02", last="2025-07-03")], retry=retry)
    # a week run: the dev server is the session's, and the schedule tests look for the day and month runs
    # (at once: the broken metric's days never sync, so a week waiting for them would wait its deadline)
    grain_run = ScheduledRunInput(grain="week", run_patterns=False, retry=retry, cross_grain=CrossGrain.OFF)
    runs = (
        client.execute_workflow(SyncWorkflow.run, sync, id=sync.workflow_id, task_queue=queues["sync"],
                                result_type=SyncWorkflowResult),
        client.execute_workflow(BackfillWorkflow.run, backfill, id=backfill.workflow_id, task_queue=queues["sync"]),
        client.execute_workflow(ScheduledRunWorkflow.run, grain_run, id=f"scheduled/week-{uuid.uuid4().hex[:8]}",
                                task_queue=queues["sync"]))
    await settled(client, (await asyncio.gather(*runs))[0])
    wanted = monitored_metric_names()
    async with httpx.AsyncClient() as http:
        page = (await http.get(metrics_url)).text
    for rare in ("semsync_backfill_partitions_planned", "semsync_backfill_partitions_done", "semsync_scheduled_runs"):
        # the zeros of the start carry exactly the labels the workflows' meters add: the events added
        # to those series, not to new ones
        assert series_count(page, rare) == series_count(at_start, rare), rare
    assert samples(page, "semsync_backfill_partitions_done") and samples(page, "semsync_scheduled_runs")
    missing = wanted - exposed_names(page)
    assert not missing, f"named by the dashboard or the rules, not on the endpoint: {sorted(missing)}"
    labels = exposed_labels(page)
    unlabelled = {metric: sorted(used - labels[metric]) for metric, used in monitored_label_uses().items()
                  if used - labels[metric]}
    assert unlabelled == {}, "labels the dashboard or the rules use that the series do not carry"
