"""Turn a pydantic ValidationError on catalog input into a CatalogError an operator can act on.

Pydantic reports locations like ``('tenants', 1, 'metrics', 2, 'source', 'sql', 'value')``. An
operator needs ``catalog.yaml: tenants[1] (globex) metrics[2] (revenue) source.value: Field required``:
the file, the entry by position and by its identifier, and the field. The raw input is walked along
each location to find the identifiers and to drop the discriminator tags pydantic inserts for
tagged unions (``'sql'`` above). With the YAML node tree at hand the line of the entry is added too.

Pattern settings (a tenant's or a metric's ``patterns:``) are checked against the pattern registry
one layer up, in `semsync.patterns.catalog_settings` (the catalog knows nothing of the patterns); their
errors, in pydantic's form, are described here like the others, e.g.
``catalog.yaml:21: tenants[0] (acme) metrics[1] (revenue) patterns.forecasting.min_periods: ...``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from semsync.catalog.models import IDENTIFIER
from semsync.errors import CatalogError

#: keys whose value names an entry of a list (tenants by identifier, metrics/dimensions by id)
_ENTRY_KEYS = ("identifier", "id", "metric_id", "dimension_id")
#: errors shown in one CatalogError; more are summarised as a count
MAX_ERRORS = 20
_IDENTIFIER_RULE = "1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
#: fields whose value is a secret: never kept as the error's `value`
_SECRET_FIELDS = ("token", "secret_key", "database_url", "client_secret", "webhook_url", "url", "secret")
#: the error type of the checks made here (pydantic's own types for the rest)
_RULE = "catalog_rule"


def catalog_error(
    exc: ValidationError | Sequence[Mapping[str, Any]],
    data: Any,
    *,
    source: str,
    root_node: yaml.Node | None = None,
) -> CatalogError:
    """A CatalogError with one line per validation error, each naming `source`, entry and field.

    `exc` is pydantic's error or a list of errors in its form (``type``, ``loc``, ``msg``, ``input``)."""
    lines: list[str] = []
    first_part: str | None = None
    first_value: object = None
    errors = exc.errors() if isinstance(exc, ValidationError) else list(exc)
    for err in errors[:MAX_ERRORS]:
        path, line = describe_location(err["loc"], data, root_node)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = f"{path}.type" if path else "type"
        where = f"{source}:{line}" if line else source
        lines.append(f"{where}: {path or '(top level)'}: {error_message(err)}")
        if first_part is None:
            first_part = path
            secret = path.rsplit(".", 1)[-1] in _SECRET_FIELDS
            first_value = None if err["type"] == "missing" or secret else err.get("input")
    if len(errors) > MAX_ERRORS:
        lines.append(f"... and {len(errors) - MAX_ERRORS} more errors")
    return CatalogError("\n".join(lines), part=first_part, value=first_value)


def catalog_notification_errors(data: Any) -> list[dict[str, Any]]:
    """Rules of raw catalog input that name a channel their tenant does not have, located at the name."""
    errors: list[dict[str, Any]] = []
    for i, tenant in mappings(data, "tenants"):
        notifications = tenant.get("notifications")
        channels = {c.get("id") for _, c in mappings(notifications, "channels")}
        for j, rule in mappings(notifications, "rules"):
            names = rule.get("channels")
            for k, name in enumerate(names if isinstance(names, list) else []):
                if isinstance(name, str) and name not in channels:
                    known = ", ".join(sorted(str(c) for c in channels if c)) or "none"
                    errors.append(rule_error(("tenants", i, "notifications", "rules", j, "channels", k), name,
                                        f"unknown channel {name!r}; the tenant's channels are {known}"))
    return errors


def catalog_notification_warnings(data: Any) -> list[dict[str, Any]]:
    """What a valid catalog's rules select to no effect: a metric glob that matches none of the
    tenant's metrics (a typo, or a metric not added yet), in pydantic's error form."""
    warnings: list[dict[str, Any]] = []
    for i, tenant in mappings(data, "tenants"):
        metrics = [m.get("id") for _, m in mappings(tenant, "metrics") if isinstance(m.get("id"), str)]
        for j, rule in mappings(tenant.get("notifications"), "rules"):
            globs = rule.get("metrics")
            for k, glob in enumerate(globs if isinstance(globs, list) else []):
                if isinstance(glob, str) and not fnmatch.filter(metrics, glob):
                    warnings.append(rule_error(("tenants", i, "notifications", "rules", j, "metrics", k), glob,
                                          f"{glob!r} matches none of the tenant's metrics "
                                          f"({', '.join(metrics) or 'none'}): the rule selects nothing by it"))
    return warnings


def describe_problems(problems: Sequence[Mapping[str, Any]], data: Any, *, source: str,
                      root_node: yaml.Node | None = None) -> list[str]:
    """Problems in pydantic's error form as `file:line: entry field: problem` lines."""
    lines = []
    for problem in problems:
        path, line = describe_location(problem["loc"], data, root_node)
        lines.append(f"{source}:{line}: {path}: {error_message(problem)}" if line else f"{source}: {path}: "
                     f"{error_message(problem)}")
    return lines


def mappings(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key) if isinstance(data, dict) else None
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def describe_location(
    loc: Sequence[int | str], data: Any, root_node: yaml.Node | None = None
) -> tuple[str, int | None]:
    """A pydantic location as an operator reads it, e.g. `tenants[1] (globex) metrics[0] (revenue) source.value`.

    Also returns the 1-based line of the deepest entry or field found in `root_node`, if given.
    """
    text = ""
    separator = ""
    node: Any = data
    ynode = root_node
    line = ynode.start_mark.line + 1 if ynode is not None else None
    for element in loc:
        if isinstance(element, int):
            text += f"[{element}]"
            node = node[element] if isinstance(node, list) and 0 <= element < len(node) else None
            ynode = _yaml_child(ynode, element)
            label = _entry_label(node)
            if label is not None:
                text += f" ({label})"
                separator = " "
            else:
                separator = "."
        else:
            if isinstance(node, dict) and element not in node and node.get("type") == element:
                continue  # the discriminator tag of a tagged union, not a field of the input
            text += f"{separator}{element}"
            separator = "."
            node = node.get(element) if isinstance(node, dict) else None
            ynode = _yaml_child(ynode, element)
        if ynode is not None:
            line = ynode.start_mark.line + 1
    return text, line


def _entry_label(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in _ENTRY_KEYS:
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)
    return None


def _yaml_child(ynode: yaml.Node | None, element: int | str) -> yaml.Node | None:
    if isinstance(ynode, yaml.SequenceNode) and isinstance(element, int):
        return ynode.value[element] if 0 <= element < len(ynode.value) else None
    if isinstance(ynode, yaml.MappingNode) and isinstance(element, str):
        for key_node, value_node in ynode.value:
            if getattr(key_node, "value", None) == element:
                return value_node
    return None


def rule_error(loc: tuple[int | str, ...], value: Any, message: str) -> dict[str, Any]:
    return {"type": _RULE, "loc": loc, "msg": message, "input": value}


def error_message(err: Any) -> str:
    kind = err["type"]
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == IDENTIFIER:
        return f"{err['input']!r} is not a valid identifier ({_IDENTIFIER_RULE})"
    if kind == "union_tag_invalid":
        return f"unknown type {err['ctx']['tag']!r}; expected one of {err['ctx']['expected_tags']}"
    if kind == "union_tag_not_found":
        return "the `type` field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the catalog format; check the spelling)"
    return err["msg"]
