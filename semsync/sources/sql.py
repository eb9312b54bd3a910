"""The SQL source: a metric is an aggregation over a table in a database SQLAlchemy reaches.

Aggregation per grain happens in the database; only one row per period (and slice) comes back,
never the raw rows. Periods are truncated with each database's own functions (`PERIOD_SQL`):
PostgreSQL (``date_trunc``, Monday weeks as ours) and SQLite (date modifiers); another dialect is
refused with a clear, non-retryable error until its period arithmetic is added and tested.

One query per fetch, read through a server-side cursor in pages of `page_rows` rows: only one page
of a component is in memory at a time, whatever its size. On asyncpg the cursor is asyncpg's own (its
records become rows without a SQLAlchemy row each: the read of 1,000,000 rows takes about half the
time), elsewhere SQLAlchemy's `stream`. `progress` hears before the query is sent and after each page.

Rows of a null dimension value come back as the slice `NULL_SLICE` (mapped here, after the query,
so that a real ``(null)`` value is never summed into it); rows of a null value are dropped and counted.

Errors: PostgreSQL reports a SQLSTATE; connection, resource, shutdown and serialisation classes
(08, 53, 57, 40, 58) are retryable, anything else (a bad column, a bad expression) is not.

The value expression may use only aggregates, arithmetic, CASE and numeric casts
(`semsync.catalog.sql_expression`), checked again here before each query; table, column and
dimension names are checked identifiers; equality filter values are bound parameters, comparison
values quoted literals.

Built with `schemas` (the registry does so for semsync's own database, which it reaches as the app
role), the source is confined to those schemas: the table must be ``schema.table`` in one of them,
columns and members are plain names, and on PostgreSQL the query runs in a read-only transaction
with only those schemas on the search path and a statement timeout. Anything else is refused,
non-retryable, before a query is sent: a tenant's metric cannot read `tenants` or another semsync table.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from datetime import date, timedelta

from asyncpg import PostgresError
from sqlalchemy import Row, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from semsync.catalog.models import DimensionDef, Filter, FilterOperator, MetricDef, SqlMetricSource
from semsync.catalog.sql_expression import expression_problem
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.progress import ProgressCallback, report
from semsync.sources.base import NULL_SLICE, PAGE_ROWS, MetricSource, SourcePage, slice_of

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


#: The first day of the period holding `{col}`, per dialect and grain (weeks start on Monday).
PERIOD_SQL: dict[str, dict[Grain, str]] = {
    "postgresql": {g: f"CAST(date_trunc('{g.value}', {{col}}) AS DATE)" for g in Grain},
    "sqlite": {
        Grain.DAY: "date({col})",
        Grain.WEEK: "date({col}, '-' || ((CAST(strftime('%w', {col}) AS INTEGER) + 6) % 7) || ' days')",
        Grain.MONTH: "date({col}, 'start of month')",
    },
}

_RETRYABLE_SQLSTATE_CLASSES = ("08", "53", "57", "40", "58")


def build_query(source: SqlMetricSource, grain: Grain, start: date, end: date,
                dimension: DimensionDef | None, dialect: str = "postgresql") -> tuple[str, dict[str, object]]:
    """The aggregate query and its parameters for one metric, grain, window and optional dimension."""
    if dialect not in PERIOD_SQL:
        raise SourceRequestError(
            f"the SQL source cannot aggregate per period on {dialect!r} (supported: {', '.join(PERIOD_SQL)})"
        )
    problem = expression_problem(source.value)
    if problem:
        raise SourceRequestError(problem)
    time_col = _quote(source.time_column, "time column")
    end_exclusive = end + timedelta(days=1)
    # SQLite keeps dates as ISO text: compare text with text
    params: dict[str, object] = (
        {"start": start.isoformat(), "end_exclusive": end_exclusive.isoformat()} if dialect == "sqlite"
        else {"start": start, "end_exclusive": end_exclusive}
    )
    period = PERIOD_SQL[dialect][grain].format(col=time_col)
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


def _retryable(exc: DBAPIError | PostgresError) -> bool:
    if isinstance(exc, PostgresError):  # asyncpg's own cursor raises its errors unwrapped
        return str(exc.sqlstate)[:2] in _RETRYABLE_SQLSTATE_CLASSES
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate:
        return str(sqlstate)[:2] in _RETRYABLE_SQLSTATE_CLASSES
    if exc.connection_invalidated:
        return True
    # without a SQLSTATE (SQLite): a locked or busy database is transient, a missing table is not
    message = str(exc.orig).lower()
    return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)


def confinement_problem(source: SqlMetricSource, dimension: DimensionDef | None,
                        schemas: tuple[str, ...]) -> str | None:
    """Why `source` (and `dimension`) would reach outside `schemas`, or None."""
    schema, _, table = source.table.rpartition(".")
    if not schema or schema not in schemas:
        return (f"table {source.table!r} is outside the warehouse schemas: with semsync's own database a "
                f"SQL metric reads `schema.table` in {', '.join(schemas) or '(none)'} "
                "(SEMSYNC_SEMANTIC_LAYER__WAREHOUSE_SCHEMAS), or names its own database_url")
    names = [("time column", source.time_column)] + [("filter member", f.member) for f in source.filters]
    if dimension is not None:
        names.append(("dimension member", dimension.member))
    for what, name in names:
        if not _IDENT.match(name):
            return f"{what} {name!r} is not a plain column name of {source.table}"
    return None


class SqlSource(MetricSource):
    """Aggregates SQL-source metrics in the database behind `engine` (PostgreSQL or SQLite).

    With `schemas`, confined to them (see the module's docstring); `statement_timeout_s` bounds
    each query on PostgreSQL."""

    def __init__(self, engine: AsyncEngine | str, *, schemas: tuple[str, ...] | None = None,
                 statement_timeout_s: float | None = None, page_rows: int = PAGE_ROWS) -> None:
        self._owns_engine = isinstance(engine, str)
        self.engine = create_async_engine(engine) if isinstance(engine, str) else engine
        self.schemas = schemas
        self.statement_timeout_s = statement_timeout_s
        self.page_rows = page_rows

    async def pages(self, metric: MetricDef, grain: Grain, start: date, end: date,
                    dimension: DimensionDef | None = None, *,
                    progress: ProgressCallback | None = None) -> AsyncIterator[SourcePage]:
        if not isinstance(metric.source, SqlMetricSource):
            raise SourceRequestError(f"metric {metric.id!r} is not defined over SQL ({metric.source.type})")
        if self.schemas is not None:
            problem = confinement_problem(metric.source, dimension, self.schemas)
            if problem:
                raise SourceRequestError(f"metric {metric.id!r}: {problem}")
        sql, params = build_query(metric.source, Grain(grain), start, end, dimension, self.engine.dialect.name)
        by = f" by {dimension.id}" if dimension is not None else ""
        report(progress, f"querying {metric.id} per {Grain(grain).value}{by}, {start} to {end}")
        counts = SourcePage()  # the running counts of the progress lines (it keeps no rows)
        kept = 0
        try:
            async with self.engine.connect() as conn, conn.begin():
                await self._limit(conn)
                # a server-side cursor, read `page_rows` at a time, inside the confined transaction
                read = _asyncpg_pages if self.engine.dialect.driver == "asyncpg" else _sqlalchemy_pages
                async with aclosing(read(conn, sql, params, self.page_rows)) as batches:
                    async for records in batches:
                        page = _page(records, by_dimension=dimension is not None)
                        kept += len(page.rows)
                        counts.dropped_nulls += page.dropped_nulls
                        counts.null_slices += page.null_slices
                        report(progress, f"{kept} rows{_counts(counts)}")
                        yield page
        except (DBAPIError, PostgresError) as exc:
            reason = exc.orig if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
            if _retryable(exc):
                raise SourceUnavailableError(f"SQL source unavailable for {metric.id!r}: {reason}") from exc
            raise SourceRequestError(f"SQL source rejected the query of {metric.id!r}: {reason}") from exc
        except (OSError, TimeoutError) as exc:
            raise SourceUnavailableError(f"SQL source unreachable for {metric.id!r}: {exc}") from exc

    async def _limit(self, conn: AsyncConnection) -> None:
        """Read-only (its first statement: the transaction has begun when the cursor opens), on the
        allowed schemas only, for a bounded time (PostgreSQL; for this transaction)."""
        if self.engine.dialect.name != "postgresql":
            return
        await conn.execute(text("SET TRANSACTION READ ONLY"))  # a source only reads, confined or not
        if self.schemas is not None:
            path = ", ".join(_quote(schema, "warehouse schema") for schema in self.schemas)
            await conn.execute(text(f"SET LOCAL search_path TO {path or 'pg_catalog'}"))
        if self.statement_timeout_s is not None:
            await conn.execute(text(f"SET LOCAL statement_timeout = {int(self.statement_timeout_s * 1000)}"))

    async def aclose(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()


async def _asyncpg_pages(conn: AsyncConnection, sql: str, params: dict[str, object],
                         size: int) -> AsyncIterator[Sequence[tuple]]:
    """The query's records `size` at a time, from asyncpg's cursor in `conn`'s transaction."""
    compiled = text(sql).bindparams(**params).compile(dialect=conn.dialect)  # $1::DATE…, as SQLAlchemy sends
    driver = (await conn.get_raw_connection()).driver_connection
    cursor = await driver.cursor(compiled.string, *(compiled.params[name] for name in compiled.positiontup))
    while records := await cursor.fetch(size):
        yield records


async def _sqlalchemy_pages(conn: AsyncConnection, sql: str, params: dict[str, object],
                            size: int) -> AsyncIterator[Sequence[Row]]:
    """The query's rows `size` at a time, from SQLAlchemy's server-side cursor (any driver)."""
    result = await conn.stream(text(sql).execution_options(yield_per=size), params)
    async for rows in result.partitions(size):
        yield rows


def _page(records: Sequence[tuple], *, by_dimension: bool) -> SourcePage:
    """Result rows as a page: dates as dates, a null dimension value in `NULL_SLICE`, null values dropped."""
    page = SourcePage()
    for period, slice_, value in records:
        if isinstance(period, str):  # SQLite returns dates as text
            period = date.fromisoformat(period)
        if value is None:
            page.dropped_nulls += 1
            continue
        if by_dimension:
            page.null_slices += slice_ is None
            slice_ = slice_of(slice_)
        page.rows.append((period, slice_, value))
    return page


def _counts(result: SourcePage) -> str:
    """``", 3 in the null slice, 2 dropped for a null value"``, or nothing."""
    null_slices = f", {result.null_slices} in the null slice {NULL_SLICE}" if result.null_slices else ""
    dropped = f", {result.dropped_nulls} dropped for a null value" if result.dropped_nulls else ""
    return null_slices + dropped
