"""The monitoring files under `deploy/` as the tests read them: the alert rules, the Grafana dashboard,
the PromQL expressions they hold and the metric names those expressions use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy/prometheus/rules/semsync.rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/rules/semsync.rules.test.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboards/semsync.json"

#: what Grafana puts in place of the dashboard's variables, for promtool and Prometheus
VARIABLES = {"$__rate_interval": "5m", "$tenant": ".*", "$grain": ".*"}

#: semsync's own metrics and the Temporal SDK's; Prometheus's own (`up`, …) are not the worker's to serve
_METRIC = re.compile(r"\b(?:semsync|temporal)_[a-zA-Z0-9_]*[a-zA-Z0-9]\b")
_SELECTOR = re.compile(r"\b((?:semsync|temporal)_\w+)\s*(?:\{([^}]*)\})?")
_GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


def rules() -> list[dict]:
    """Every rule of every group of the rules file."""
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def panels(dashboard: dict | None = None) -> Iterator[dict]:
    """Every panel, those inside rows included."""
    dashboard = dashboard if dashboard is not None else json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions() -> dict[str, str]:
    """``"panel title #n"`` to the PromQL of each of its targets."""
    return {f"{panel['title']} #{i}": target["expr"] for panel in panels()
            for i, target in enumerate(panel.get("targets", [])) if target.get("expr")}


def substituted(expr: str) -> str:
    """A dashboard expression with its variables as Grafana fills them (every tenant and grain)."""
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expressions) -> set[str]:
    """The semsync and Temporal metric names (with any histogram suffix) the expressions use."""
    return {name for expr in expressions for name in _METRIC.findall(expr)}


def label_uses(expr: str) -> dict[str, set[str]]:
    """Per metric of `expr`, the labels it must carry: those its own selector matches on, and those the
    expression groups or joins by (every metric of one of our expressions is grouped alike); ``le``
    is a histogram's own."""
    grouped = {name.strip() for names in _GROUPING.findall(expr) for name in names.split(",") if name.strip()}
    uses: dict[str, set[str]] = {}
    for metric, matchers in _SELECTOR.findall(expr):
        uses.setdefault(metric, set()).update(grouped | set(_MATCHER.findall(matchers)))
    return {metric: labels - {"le"} for metric, labels in uses.items()}


def monitored_label_uses() -> dict[str, set[str]]:
    """`label_uses` over the dashboard and the rules, merged per metric."""
    merged: dict[str, set[str]] = {}
    for expr in [*dashboard_expressions().values(), *(rule["expr"] for rule in rules())]:
        for metric, labels in label_uses(expr).items():
            merged.setdefault(metric, set()).update(labels)
    return merged


def monitored_metric_names() -> set[str]:
    return metric_names([*dashboard_expressions().values(), *(rule["expr"] for rule in rules())])


def exposed_names(exposition: str) -> set[str]:
    """The sample names of a Prometheus text page (``name{…} value`` or ``name value``)."""
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in exposition.splitlines()
            if line and not line.startswith("#")}


def exposed_labels(exposition: str) -> dict[str, set[str]]:
    """Per sample name of a Prometheus text page, the label names its series carry."""
    found: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            labels = re.findall(r'(\w+)="', rest.rpartition("}")[0]) if rest else []
            found.setdefault(name.split(" ")[0], set()).update(labels)
    return found
