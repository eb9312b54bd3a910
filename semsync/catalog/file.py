"""The file catalog, the embedded default: tenants and metrics in one YAML file.

Format (every field as in :mod:`semsync.catalog.models`)::

    tenants:
      - identifier: acme
        name: Acme Inc.
        sync_enabled: true            # default true; false keeps the tenant but never syncs it
        semantic_layer: {type: sql}   # or {type: cube, cube_api_url: ..., auth_type: TOKEN, token: ...}
        metrics:
          - id: revenue
            label: Revenue
            source: {type: sql, table: warehouse.orders, value: sum(amount), time_column: ordered_at}
            dimensions: [{id: region, label: Region, member: region}]
            targets: [{grain: month, target_date: 2025-07-01, target_value: 120000}]
            patterns: {performance_status: {threshold_ratio: 0.1}}

Every problem is reported as a CatalogError naming the file, the entry and the field, e.g.
``catalog.yaml:14: tenants[1] (globex) metrics[2] (revenue) source.value: Field required``;
a YAML syntax error names the file, line and column, and a key repeated in one mapping (which
YAML parsers otherwise resolve silently, the last one winning) names both lines. Pattern settings
are checked against the patterns themselves: a pattern or setting that does not exist, or a value
it refuses, is reported like any other field.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from semsync.catalog.models import Catalog
from semsync.catalog.provider import CatalogProvider, sync_enabled
from semsync.catalog.validation import (
    catalog_error,
    catalog_notification_errors,
    catalog_notification_warnings,
    describe_problems,
    mappings,
)
from semsync.errors import CatalogError


class FileCatalog(CatalogProvider):
    """The catalog of one YAML file, read anew on every `load()` (edits apply without a restart)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def load(self) -> Catalog:
        """The file's sync-enabled tenants; raises CatalogError if the file is missing or invalid."""
        return sync_enabled(await asyncio.to_thread(read_catalog_file, self.path))


def read_catalog_file(path: str | Path) -> Catalog:
    """Every tenant of the file, sync-disabled ones included (they are recorded as such in the tables)."""
    return check_catalog_file(path)[0]


def check_catalog_file(path: str | Path) -> tuple[Catalog, list[str]]:
    """`read_catalog_file` and the file's warnings: what is valid but does nothing (a rule's metric
    glob that matches no metric), one `file:line: entry field: problem` line each."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found", part="file", value=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the catalog file: {exc}", part="file", value=str(path)) from None
    catalog, data, root = _parse(text, str(path))
    return catalog, describe_problems(catalog_notification_warnings(data), data, source=str(path), root_node=root)


def parse_catalog(text: str, *, source: str = "<catalog>") -> Catalog:
    """Parse and validate catalog YAML; `source` names the file in error messages."""
    return _parse(text, source)[0]


def _parse(text: str, source: str) -> tuple[Catalog, Any, yaml.Node | None]:
    data, root = _load_yaml(text, source)
    if data is None:
        raise CatalogError(f"{source}: the catalog is empty; expected a mapping with `tenants:`", part="file")
    if not isinstance(data, dict):
        raise CatalogError(
            f"{source}: expected a mapping with `tenants:` at the top level, found {type(data).__name__}",
            part="file",
        )
    # the models' errors and the pattern settings' errors are reported together, in one message
    errors: list[Any] = []
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    errors += _pattern_errors(data) + catalog_notification_errors(data)
    if errors:
        raise catalog_error(errors, data, source=source, root_node=root)
    return catalog, data, root


def _pattern_errors(data: Any) -> list[dict[str, Any]]:
    """What the patterns refuse in the catalog's pattern settings (`semsync.patterns.catalog_settings`).

    The catalog file is the one part of the catalog that knows of the patterns (its format holds their
    settings); the rest of `semsync.catalog` sits below them. The registry imports the analysis stack
    (pandas, scipy, statsmodels: over a second): a catalog without pattern settings, and the CLI
    commands that read one, do without it."""
    tenants = mappings(data, "tenants")
    if not any(t.get("patterns") or any(m.get("patterns") for _, m in mappings(t, "metrics")) for _, t in tenants):
        return []
    from semsync.patterns.catalog_settings import catalog_pattern_errors

    return catalog_pattern_errors(data)


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that names one key twice."""


class _CatalogLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a mapping that repeats a key instead of keeping the last value,
    and reporting an impossible date like any other YAML error (at its line)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults`: keys written next to a merge override it, as YAML means
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error follows
            if earlier is not key_node:
                raise DuplicateKeyError("while constructing a mapping", earlier.start_mark,
                                        f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # a date-shaped value that is no date (2025-13-01) fails in `datetime`, not as a YAML error
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a date ({exc})", node.start_mark) from None


_CatalogLoader.add_constructor("tag:yaml.org,2002:timestamp", _CatalogLoader.construct_yaml_timestamp)


def _load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree (for line numbers), or a CatalogError at the offending line."""
    loader = _CatalogLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1
        raise CatalogError(
            f"{source}:{line}: {exc.problem} (first at line {exc.context_mark.line + 1})", part="yaml", value=line
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem and exc.context_mark is not None:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise CatalogError(
            f"{where}: invalid YAML: {problem}", part="yaml", value=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: invalid YAML: {exc}", part="yaml") from None
    finally:
        loader.dispose()
    return data, root
