"""A pattern's settings for one metric, from the catalog: the defaults, then the tenant's
overrides, then the metric's, and the metric's direction.

    overrides = pattern_overrides(tenant, metric, pattern.name)
    settings = pattern.settings(overrides)   # invalid catalog settings fail here, before any read

`PatternSettingsTable` does this once per run for every (metric, pattern) of a tenant, so that a
backfill's many pattern calls do not each look the catalog up again.

Also the check of a catalog's pattern settings against the registry (`catalog_pattern_errors`, which
`semsync.catalog.file` asks for when a catalog has any): here, one layer above the catalog, so that
the catalog knows nothing of the patterns. The catalog models hold pattern settings as plain
mappings, so that an override stored by an older semsync still reads (and is refused, in one line,
where it is used: `stored_settings_error`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from semsync.catalog.models import MetricDef, TenantDef
from semsync.catalog.validation import describe_location, error_message, mappings, rule_error
from semsync.errors import CatalogError, NotFoundError
from semsync.patterns.base import PatternSettings
from semsync.patterns.registry import get_pattern, pattern_names


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


def pattern_settings_errors(patterns: Any, loc: tuple[int | str, ...] = ()) -> list[dict[str, Any]]:
    """What the patterns refuse in a tenant's or metric's `patterns` (located at `loc`), as errors
    in pydantic's form: a pattern that is not registered, a setting its settings model does not
    have, a value it does not accept, and `direction` (the metric's, for all its patterns).
    What is not a mapping is left to the models' own validation."""
    if not patterns or not isinstance(patterns, Mapping):
        return []
    errors: list[dict[str, Any]] = []
    for name, overrides in patterns.items():
        if not isinstance(name, str) or not isinstance(overrides, Mapping):
            continue
        where = (*loc, name)
        try:
            model = get_pattern(name).settings_model
        except NotFoundError:
            errors.append(rule_error(where, name, f"unknown pattern {name!r}; known patterns are "
                                                  f"{', '.join(pattern_names())}"))
            continue
        if "direction" in overrides:
            errors.append(rule_error((*where, "direction"), overrides["direction"],
                                     "`direction` is the metric's, for all its patterns: set it on the metric"))
        try:
            model.model_validate({key: value for key, value in overrides.items() if key != "direction"})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                err_loc = (*where, *err["loc"])
                if err["type"] == "extra_forbidden":
                    known = ", ".join(field for field in model.model_fields if field != "direction")
                    errors.append(rule_error(err_loc, err["input"],
                                             f"unknown setting of {name}; its settings are {known}"))
                else:
                    errors.append({**err, "loc": err_loc})
    return errors


def catalog_pattern_errors(data: Any) -> list[dict[str, Any]]:
    """`pattern_settings_errors` of every tenant and metric of raw catalog input (as given to
    `Catalog.model_validate`, whose own errors cover what is not a mapping), located in it."""
    errors: list[dict[str, Any]] = []
    for i, tenant in mappings(data, "tenants"):
        errors += pattern_settings_errors(tenant.get("patterns"), ("tenants", i, "patterns"))
        for j, metric in mappings(tenant, "metrics"):
            errors += pattern_settings_errors(metric.get("patterns"), ("tenants", i, "metrics", j, "patterns"))
    return errors


def stored_settings_error(tenant: TenantDef, metric: MetricDef, pattern_name: str) -> CatalogError | None:
    """One line for `pattern_name`'s settings overrides of a catalog stored before they were
    checked (by an older semsync), or None if they are valid."""
    problems: list[str] = []
    for where, patterns in ((f"tenant {tenant.identifier!r}", tenant.patterns),
                            (f"tenant {tenant.identifier!r} metric {metric.id!r}", metric.patterns)):
        if pattern_name in patterns:
            for err in pattern_settings_errors({pattern_name: patterns[pattern_name]}, ("patterns",)):
                problems.append(f"{where} {describe_location(err['loc'], None)[0]}: {error_message(err)}")
    if not problems:
        return None
    return CatalogError("; ".join(problems) + "; correct the catalog and reload it with "
                        "`python -m starter catalog load FILE`", part="patterns", value=pattern_name)
