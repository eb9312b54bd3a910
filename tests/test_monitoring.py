"""The alert rules and the Grafana dashboard under `deploy/`, checked for real with promtool (Debian's
`prometheus` package; `.ci/run` installs it, elsewhere these tests skip saying so): the rules load,
every alert has unit tests that pass (firing and quiet), every panel's PromQL parses, and the
dashboard is one Grafana can provision. `tests/test_observability.py` scrapes a running worker for
every metric these files name."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring import (
    DASHBOARD,
    RULE_TESTS,
    RULES,
    alerts,
    dashboard_expressions,
    metric_names,
    panels,
    substituted,
)

ROOT = Path(__file__).resolve().parents[1]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (Debian: apt-get install prometheus; .ci/run installs it)")

def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def as_recording_rules(expressions: dict[str, str], path: Path) -> Path:
    """The expressions as recording rules of one group: `promtool check rules` parses each."""
    rules = []
    for i, expr in enumerate(expressions.values()):
        rules.append({"record": f"semsync:dashboard_expr_{i}", "expr": substituted(expr)})
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


@needs_promtool
def test_the_alert_rules_load_in_promtool():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout, checked.stdout


@needs_promtool
def test_the_prometheus_config_and_the_rules_it_names_load():
    checked = promtool("check", "config", "deploy/prometheus/prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout and "semsync.rules.yml" in checked.stdout, checked.stdout


@needs_promtool
def test_the_alert_rules_unit_tests_pass():
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_firing_and_quiet():
    """Each alert has a case where it fires (with its labels and annotations) and one where it does not."""
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert firing == set(alerts()) and quiet == set(alerts())
    for case in cases:
        for expected in case.get("exp_alerts") or []:
            assert {"summary", "description"} <= expected.get("exp_annotations", {}).keys(), case


def test_every_alert_has_a_severity_a_summary_and_a_runbook_line():
    readme = (ROOT / "README.md").read_text()
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert {"summary", "description"} <= rule["annotations"].keys(), name
        assert re.search(rf"^- \*\*`{name}`\*\*", readme, re.M), f"README has no runbook line for {name}"


@needs_promtool
def test_every_dashboard_expression_parses(tmp_path):
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    checked = promtool("check", "rules", str(as_recording_rules(expressions, tmp_path / "dashboard.yml")))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # and the check has teeth: an expression that does not parse fails it
    broken = as_recording_rules({"broken": "sum by (grain (rate(semsync_rows_synced[5m]))"}, tmp_path / "bad.yml")
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_dashboard_is_one_grafana_provisions():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "semsync" and dashboard["title"]
    every = list(panels(dashboard))
    assert len({panel["id"] for panel in every}) == len(every), "panel ids repeat"
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    defined = {variable["name"] for variable in dashboard["templating"]["list"]}
    cells = set()
    for panel in every:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        area = {(box["x"] + dx, box["y"] + dy) for dx in range(box["w"]) for dy in range(box["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid and panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= defined, (panel["title"], used - defined)


def test_the_dashboard_shows_what_an_operator_watches():
    """The issue's list: rows synced and failures by grain and tenant, backfill progress, schedule lag,
    pattern and story runs, deliveries, worker slots and activity latency from the SDK."""
    expressions = dashboard_expressions()
    names = metric_names(expressions.values())
    assert {"semsync_rows_synced", "semsync_sync_component_failures", "semsync_backfill_partitions_planned",
            "semsync_backfill_partitions_done", "semsync_schedule_lag_seconds", "semsync_pattern_runs",
            "semsync_story_runs", "semsync_deliveries", "temporal_worker_task_slots_used",
            "temporal_activity_execution_latency_bucket"} <= names
    by_grain_and_tenant = [e for e in expressions.values() if "semsync_rows_synced" in e
                           or "semsync_sync_component_failures" in e]
    assert all("by (grain, tenant)" in e for e in by_grain_and_tenant), by_grain_and_tenant
