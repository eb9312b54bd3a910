"""A Cube data model (YAML) for SQL-source metrics, and the same metrics defined over Cube.

So that a catalog written for the SQL source can be served by Cube, each `SqlMetricSource` metric
becomes one cube over its table and a `CubeMetricSource` pointing at it, giving the same values
through either source:

- ``sql_table`` is the metric's table; the measure ``value`` is of type ``number`` with the metric's
  aggregate expression as its SQL (Cube puts a ``number`` measure's SQL into the SELECT as written,
  so ``sum(revenue) / nullif(sum(orders), 0)`` stays one ratio of sums, not a sum of ratios);
- the time dimension is the metric's time column (Cube truncates it in UTC, weeks on Monday, as the
  SQL source's ``date_trunc`` does);
- every `DimensionDef` column becomes a ``string`` dimension ``CAST(column AS TEXT)``, as the SQL
  source reads slices;
- filters become query filters on generated dimensions, not measure ``filters`` (Cube wraps those in
  ``CASE WHEN`` inside an aggregate, which breaks a measure whose SQL is already an aggregate).
  ``equals``/``notEquals``/``set``/``notSet`` act on the ``CAST(column AS TEXT)`` dimension, as the
  SQL source compares values as text; ``gt``/``gte``/``lt``/``lte`` on a ``<column>_value``
  dimension over the bare column, so the database compares in the column's own type.

``notEquals`` keeps rows whose column is NULL in both sources (Cube: ``col <> $1 OR col IS NULL``;
the SQL source adds the same ``OR col IS NULL``).

Metrics that already have a Cube source are passed through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from semsync.catalog.models import (
    Catalog,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    Filter,
    FilterOperator,
    MetricDef,
    SqlMetricSource,
    TenantDef,
)

MEASURE = "value"
_COMPARISONS = {FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class CubeModel:
    """Generated cubes and the metrics that read them. `files` is what `CubeServer` serves."""

    cubes: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[MetricDef] = field(default_factory=list)

    @property
    def yaml(self) -> str:
        return yaml.safe_dump({"cubes": self.cubes}, sort_keys=False, width=200)

    def files(self, name: str = "semsync_metrics") -> dict[str, str]:
        return {f"{name}.yml": self.yaml}


def cube_name(raw: str) -> str:
    """A valid cube or member name from a metric id, tenant or column (Cube reserves ``__``)."""
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", raw))
    return name if re.match(r"^[A-Za-z]", name) else f"m_{name}".replace("__", "_")


def _sql_ident(name: str) -> str:
    """A double-quoted SQL identifier, schema-qualified when dotted (as the SQL source quotes)."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENT.match(p) for p in parts):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return ".".join(f'"{p}"' for p in parts)


def _literal_sql(sql: str, metric: MetricDef) -> str:
    """SQL for a Cube YAML `sql` field, which Cube reads as a Python f-string.

    A brace cannot be written there: ``{x}`` is a template expression and the ``{{`` escape makes
    Cube treat the file as Jinja, which needs its native module (not installed here).
    """
    if "{" in sql or "}" in sql:
        raise ValueError(
            f"metric {metric.id!r}: the value {sql!r} contains a brace, which a Cube YAML model cannot hold"
        )
    return sql


class _Members:
    """Member names of one cube, unique, allocated per (column, kind)."""

    def __init__(self, reserved: Iterable[str]) -> None:
        self.taken = set(reserved)
        self.by_key: dict[tuple[str, str], str] = {}
        self.dimensions: list[dict[str, Any]] = []

    def dimension(self, column: str, kind: str) -> str:
        key = (column, kind)
        if key in self.by_key:
            return self.by_key[key]
        base = cube_name(column if kind == "text" else f"{column}_{kind}")
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        self.by_key[key] = name
        column_sql = "{CUBE}." + _sql_ident(column)
        if kind == "text":
            self.dimensions.append({"name": name, "type": "string", "sql": f"CAST({column_sql} AS TEXT)"})
        else:
            self.dimensions.append({"name": name, "type": "number", "sql": column_sql})
        return name


def metric_cube(metric: MetricDef, name: str) -> tuple[dict[str, Any], MetricDef]:
    """The cube `name` serving a SQL-source `metric`, and the metric redefined over that cube."""
    source = metric.source
    if not isinstance(source, SqlMetricSource):
        raise ValueError(f"metric {metric.id!r} has no SQL source to model")
    time_name = cube_name(source.time_column)
    members = _Members(reserved={MEASURE, time_name})
    dimensions = [
        DimensionDef(id=d.id, label=d.label, member=f"{name}.{members.dimension(d.member, 'text')}")
        for d in metric.dimensions
    ]
    filters = [
        Filter(
            member=f"{name}.{members.dimension(f.member, 'value' if f.operator in _COMPARISONS else 'text')}",
            operator=f.operator,
            values=list(f.values),
        )
        for f in source.filters
    ]
    cube = {
        "name": name,
        "sql_table": _sql_ident(source.table),
        "measures": [{"name": MEASURE, "type": "number", "sql": _literal_sql(source.value, metric)}],
        "dimensions": [
            {"name": time_name, "type": "time", "sql": "{CUBE}." + _sql_ident(source.time_column)},
            *members.dimensions,
        ],
    }
    cube_metric = metric.model_copy(
        update={
            "source": CubeMetricSource(
                measure=f"{name}.{MEASURE}", time_dimension=f"{name}.{time_name}", filters=filters
            ),
            "dimensions": dimensions,
        }
    )
    return cube, cube_metric


def cube_model(
    metrics: Iterable[MetricDef], *, cube_prefix: str = "", taken: set[str] | None = None
) -> CubeModel:
    """One cube per SQL-source metric, named `cube_prefix` + metric id; Cube metrics pass through.

    `taken` holds cube names already used in the same deployment (it is updated); a name that
    would clash gets a ``_2``, ``_3`` … suffix.
    """
    model = CubeModel()
    taken = set() if taken is None else taken
    for metric in metrics:
        if not isinstance(metric.source, SqlMetricSource):
            model.metrics.append(metric)
            continue
        base = cube_name(f"{cube_prefix}{metric.id}")
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        cube, cube_metric = metric_cube(metric, name)
        model.cubes.append(cube)
        model.metrics.append(cube_metric)
    return model


def catalog_cube_model(
    catalog: Catalog, connection: CubeConnection | Callable[[TenantDef], CubeConnection]
) -> tuple[dict[str, str], Catalog]:
    """Model files (one per tenant, cubes prefixed by the tenant) and the catalog redefined over Cube.

    `connection` is the Cube deployment serving the files, or a function giving each tenant's.
    """
    files: dict[str, str] = {}
    tenants: list[TenantDef] = []
    taken: set[str] = set()
    for tenant in catalog.tenants:
        prefix = cube_name(tenant.identifier) + "_"
        model = cube_model(tenant.metrics, cube_prefix=prefix, taken=taken)
        if model.cubes:
            files.update(model.files(cube_name(tenant.identifier)))
        tenant_connection = connection(tenant) if callable(connection) else connection
        tenants.append(tenant.model_copy(update={"semantic_layer": tenant_connection, "metrics": model.metrics}))
    return files, Catalog(tenants=tenants)
