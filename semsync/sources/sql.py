"""The SQL source: a metric is an aggregation over a table in a database SQLAlchemy reaches.

Aggregation per grain happens in the database (``date_trunc``; PostgreSQL weeks start on Monday,
as ours do); only one row per period (and slice) comes back, never the raw rows.

The value expression is trusted catalog configuration (an operator writes it, like a Cube measure);
table, column and dimension names are checked identifiers, and filter values are bound parameters.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from semsync.catalog.models import DimensionDef, Filter, FilterOperator, MetricDef, SqlMetricSource
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.sources.base import FetchResult, MetricSource

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPERATORS = {
    FilterOperator.EQUALS: "IN",
    FilterOperator.NOT_EQUALS: "NOT IN",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}


def _quote(name: str, what: str) -> str:
    parts = name.split(".")
    if not all(_IDENT.match(p) for p in parts) or len(parts) > 2:
        raise SourceRequestError(f"{what} {name!r} is not a plain SQL identifier")
    return ".".join(f'"{p}"' for p in parts)


def _filter_sql(f: Filter, index: int, params: dict[str, object]) -> str:
    column = _quote(f.member, "filter member")
    if f.operator is FilterOperator.SET:
        return f"{column} IS NOT NULL"
    if f.operator is FilterOperator.NOT_SET:
        return f"{column} IS NULL"
    if not f.values:
        raise SourceRequestError(f"filter on {f.member!r} with operator {f.operator} needs values")
    op = _OPERATORS[f.operator]
    if op in ("IN", "NOT IN"):
        names = []
        for j, value in enumerate(f.values):
            params[f"f{index}_{j}"] = value
            names.append(f":f{index}_{j}")
        # compare as text so that one catalog spelling works for any column type; notEquals keeps
        # NULLs, as Cube's does
        compared = f"CAST({column} AS TEXT) {op} ({', '.join(names)})"
        return f"({compared} OR {column} IS NULL)" if op == "NOT IN" else compared
    # An untyped literal takes the column's type (numeric, date, timestamp…), as Cube's filters do;
    # a bound parameter would be typed by the driver from the Python string and be refused.
    literal = "'" + f.values[0].replace("'", "''") + "'"
    return f"{column} {op} {literal}"


def build_query(source: SqlMetricSource, grain: Grain, start: date, end: date,
                dimension: DimensionDef | None) -> tuple[str, dict[str, object]]:
    """The aggregate query and its parameters for one metric, grain, window and optional dimension."""
    time_col = _quote(source.time_column, "time column")
    params: dict[str, object] = {"start": start, "end_exclusive": end + timedelta(days=1)}
    period = f"CAST(date_trunc('{grain.value}', {time_col}) AS DATE)"
    select = [f"{period} AS period"]
    group = ["1"]
    if dimension is not None:
        select.append(f"CAST({_quote(dimension.member, 'dimension member')} AS TEXT) AS slice")
        group.append("2")
    else:
        select.append("CAST(NULL AS TEXT) AS slice")
    select.append(f"CAST(({source.value}) AS DOUBLE PRECISION) AS value")
    where = [f"{time_col} >= :start", f"{time_col} < :end_exclusive"]
    where += [_filter_sql(f, i, params) for i, f in enumerate(source.filters)]
    sql = (
        f"SELECT {', '.join(select)} FROM {_quote(source.table, 'table')} "
        f"WHERE {' AND '.join(where)} GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
    )
    return sql, params


class SqlSource(MetricSource):
    """Aggregates SQL-source metrics in the database behind `engine` (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine | str) -> None:
        self._owns_engine = isinstance(engine, str)
        self.engine = create_async_engine(engine) if isinstance(engine, str) else engine

    async def fetch(self, metric: MetricDef, grain: Grain, start: date, end: date,
                    dimension: DimensionDef | None = None) -> FetchResult:
        if not isinstance(metric.source, SqlMetricSource):
            raise SourceRequestError(f"metric {metric.id!r} is not defined over SQL ({metric.source.type})")
        if self.engine.dialect.name != "postgresql":
            raise SourceRequestError(
                f"the SQL source aggregates per grain on PostgreSQL, not {self.engine.dialect.name}"
            )
        sql, params = build_query(metric.source, Grain(grain), start, end, dimension)
        try:
            async with self.engine.connect() as conn:
                rows = (await conn.execute(text(sql), params)).all()
        except (ProgrammingError, DBAPIError) as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise SourceUnavailableError(f"SQL source unavailable for {metric.id!r}: {exc.orig}") from exc
            raise SourceRequestError(f"SQL source rejected the query of {metric.id!r}: {exc.orig}") from exc
        except OSError as exc:
            raise SourceUnavailableError(f"SQL source unreachable for {metric.id!r}: {exc}") from exc
        result = FetchResult()
        for period, slice_, value in rows:
            if value is None or (dimension is not None and slice_ is None):
                result.dropped_nulls += 1
            else:
                result.rows.append((period, slice_, value))
        return result

    async def aclose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()
