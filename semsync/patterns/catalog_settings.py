"""A pattern's settings for one metric, from the catalog: the defaults, then the tenant's
overrides, then the metric's, and the metric's direction.

    overrides = pattern_overrides(tenant, metric, pattern.name)
    settings = pattern.settings(overrides)   # invalid catalog settings fail here, before any read

`PatternSettingsTable` does this once per run for every (metric, pattern) of a tenant, so that a
backfill's many pattern calls do not each look the catalog up again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from semsync.catalog.models import MetricDef, TenantDef
from semsync.patterns.base import PatternSettings
from semsync.patterns.registry import get_pattern


def pattern_overrides(tenant: TenantDef, metric: MetricDef, pattern_name: str) -> dict[str, Any]:
    """The settings overrides of `pattern_name` for `metric`: the tenant's, then the metric's (which
    win), and the metric's direction (which a per-pattern override cannot contradict)."""
    return {
        **tenant.patterns.get(pattern_name, {}),
        **metric.patterns.get(pattern_name, {}),
        "direction": metric.direction,
    }


@dataclass(frozen=True)
class PatternSettingsTable:
    """Validated settings of every pattern for every metric of one tenant, read once per run."""

    settings: dict[tuple[str, str], PatternSettings] = field(default_factory=dict)

    @classmethod
    def build(
        cls, tenant: TenantDef, metrics: Iterable[MetricDef], pattern_names: Iterable[str]
    ) -> PatternSettingsTable:
        names = list(pattern_names)
        return cls({
            (metric.id, name): get_pattern(name).settings(pattern_overrides(tenant, metric, name))
            for metric in metrics for name in names
        })

    def get(self, metric_id: str, pattern_name: str) -> PatternSettings:
        return self.settings[(metric_id, pattern_name)]
