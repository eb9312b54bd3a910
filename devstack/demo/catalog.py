"""The demo catalog: the three demo tenants over the demo warehouse, with targets and settings.

Targets are planned from the noise-free model (`expected_cells`) without the planted events, times
each tenant's plan factor, for complete periods from START through TARGETS_THROUGH. The catalog
therefore does not depend on the seeded data and is committed as `semsync/demo_catalog.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from devstack.demo.model import PROFILES, START, TARGETS_THROUGH, TenantProfile, day_range, expected_cells
from semsync.catalog.models import (
    Catalog,
    DimensionDef,
    Filter,
    FilterOperator,
    MetricDef,
    SqlConnection,
    SqlMetricSource,
    TargetDef,
    TenantDef,
)
from semsync.config import DEMO_CATALOG

#: semsync's own default catalog file (`semsync.config.DEMO_CATALOG`, installed with the product)
DEMO_CATALOG_PATH = DEMO_CATALOG
FACTS = "warehouse.daily_facts"
SIGNUPS = "warehouse.signups"

#: metric id → (label, table, time column, value expression)
METRICS: dict[str, tuple[str, str, str, str]] = {
    "revenue": ("Revenue", FACTS, "day", "sum(revenue)"),
    "orders": ("Orders", FACTS, "day", "sum(orders)"),
    "visits": ("Visits", FACTS, "day", "sum(visits)"),
    "average_order_value": ("Average order value", FACTS, "day", "sum(revenue) / nullif(sum(orders), 0)"),
    "conversion_rate": ("Conversion rate", FACTS, "day",
                        "CAST(sum(orders) AS DOUBLE PRECISION) / nullif(sum(visits), 0)"),
    "signups": ("Signups", SIGNUPS, "signed_up_at", "count(*)"),
}
#: how the stories write each metric's values
UNITS = {"revenue": "USD", "average_order_value": "USD", "conversion_rate": "percent", "orders": "count",
         "visits": "count", "signups": "count"}
DIMENSIONS = (
    DimensionDef(id="region", label="Region", member="region"),
    DimensionDef(id="channel", label="Channel", member="channel"),
    DimensionDef(id="product", label="Product", member="product"),
)
#: (tenant, metric) → grains with targets; the first day of daily targets
TARGETS: dict[tuple[str, str], tuple[str, ...]] = {
    ("acme", "revenue"): ("month",), ("globex", "revenue"): ("month",), ("initech", "revenue"): ("month",),
    ("acme", "orders"): ("week",), ("globex", "orders"): ("week",), ("initech", "orders"): ("week",),
    ("globex", "conversion_rate"): ("month",),
    ("acme", "signups"): ("day",),
}
DAILY_TARGETS_FROM = pd.Timestamp("2025-01-01")
#: per-metric pattern settings overrides: a ratio is held to a tighter tolerance than the default 5 %,
#: a small daily count (Poisson noise of about ±11 %) to a wider one
PATTERN_OVERRIDES: dict[tuple[str, str], dict[str, dict]] = {
    ("globex", "conversion_rate"): {"performance_status": {"threshold_ratio": 0.02}},
    ("acme", "signups"): {"performance_status": {"threshold_ratio": 0.15}},
}


def _expected_daily(profile: TenantProfile) -> pd.DataFrame:
    """Noise-free daily totals of the additive measures over the targets' horizon."""
    cells = expected_cells(profile, day_range(START, TARGETS_THROUGH))
    totals = {name: getattr(cells, name).reshape(len(cells.days), -1).sum(axis=1)
              for name in ("visits", "orders", "revenue", "signups")}
    return pd.DataFrame(totals, index=pd.DatetimeIndex(cells.days.astype("datetime64[ns]")))


def _period_totals(daily: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Sums per complete period, indexed by the period's first day (Monday for weeks)."""
    if grain == "day":
        return daily[daily.index >= DAILY_TARGETS_FROM]
    start = daily.index.to_period("W-SUN" if grain == "week" else "M").start_time
    grouped = daily.groupby(start)
    sums, length = grouped.sum(), grouped.size()
    days_in_period = 7 if grain == "week" else sums.index.days_in_month.to_numpy()
    return sums[length.to_numpy() == days_in_period]


def _targets(profile: TenantProfile, metric: str, grains: tuple[str, ...], daily: pd.DataFrame) -> list[TargetDef]:
    targets = []
    for grain in grains:
        totals = _period_totals(daily, grain)
        if metric == "conversion_rate":
            values = (totals["orders"] / totals["visits"] * profile.target_plan).round(5)
        else:
            values = (totals[metric] * profile.target_plan).round(2)
        targets += [TargetDef(grain=grain, target_date=day.date(), target_value=float(value))
                    for day, value in values.items()]
    return targets


def _metric(profile: TenantProfile, metric_id: str, daily: pd.DataFrame) -> MetricDef:
    label, table, time_column, value = METRICS[metric_id]
    key = (profile.identifier, metric_id)
    return MetricDef(
        id=metric_id,
        label=label,
        source=SqlMetricSource(
            table=table, value=value, time_column=time_column,
            filters=[Filter(member="tenant", operator=FilterOperator.EQUALS, values=[profile.identifier])],
        ),
        dimensions=list(DIMENSIONS),
        targets=_targets(profile, metric_id, TARGETS.get(key, ()), daily),
        patterns=PATTERN_OVERRIDES.get(key, {}),
        unit=UNITS[metric_id],
    )


def demo_catalog() -> Catalog:
    """The catalog of the demo warehouse: every tenant reads the semsync database itself."""
    tenants = []
    for profile in PROFILES:
        daily = _expected_daily(profile)
        tenants.append(TenantDef(
            identifier=profile.identifier, name=profile.name, semantic_layer=SqlConnection(),
            metrics=[_metric(profile, metric_id, daily) for metric_id in METRICS],
        ))
    return Catalog(tenants=tenants)


def _flat(value) -> bool:
    """A plain value, or a list of plain values."""
    if isinstance(value, list):
        return all(not isinstance(v, dict | list) for v in value)
    return not isinstance(value, dict)


class _CatalogDumper(yaml.SafeDumper):
    """Block style, except that a mapping of plain values (a target, a filter) takes one line."""

    def represent_mapping(self, tag, mapping, flow_style=None):
        if isinstance(mapping, dict) and mapping and all(_flat(v) for v in mapping.values()):
            flow_style = True
        return super().represent_mapping(tag, mapping, flow_style=flow_style)

    def represent_sequence(self, tag, sequence, flow_style=None):
        if all(not isinstance(v, dict | list) for v in sequence):
            flow_style = True
        return super().represent_sequence(tag, sequence, flow_style=flow_style)


_HEADER = """\
# The demo catalog: tenants and metrics over the demo warehouse (`python -m starter demo seed`).
# Generated by `python -m starter demo catalog` from devstack/demo/; edit the code, not this file.
"""


def catalog_yaml(catalog: Catalog | None = None) -> str:
    data = (catalog or demo_catalog()).model_dump(mode="json", exclude_defaults=False)
    for tenant in data["tenants"]:  # a tenant without notifications or a cache target says nothing of them
        for optional in ("notifications", "cache"):
            if tenant.get(optional) is None:
                tenant.pop(optional, None)
    return _HEADER + yaml.dump(data, Dumper=_CatalogDumper, sort_keys=False, width=200, allow_unicode=True)


def write_demo_catalog(path: str | Path = DEMO_CATALOG_PATH) -> Path:
    """Write the demo catalog as YAML to `path`; returns the path."""
    path = Path(path)
    path.write_text(catalog_yaml(), encoding="utf-8")
    return path
