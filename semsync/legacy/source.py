"""The original system's database, read-only: its tables per tenant, in batches.

The original's tables (``original-system-notes.md``) carry ``tenant_id`` and ``created_at``/``updated_at``
on every row; its values may be ``numeric`` and its dates ``date`` or ISO text: every query casts,
so either reads the same. The original kept row-level security keyed on ``app.current_tenant`` under a
non-owner role: each read sets it for its transaction, so a read-only role of the original works
as well as its owner.

Rows are plain tuples, fetched from a server-side cursor `BATCH_ROWS` at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from semsync.errors import SemsyncError, is_configuration_error
from semsync.redaction import redact

#: rows fetched from the original (and copied into semsync) per round trip
BATCH_ROWS = 20_000

#: the original's tables this package reads
TABLES = ("metric_time_series", "metric_dimensional_time_series", "metric_sync_status", "metric_target",
          "pattern_results", "tenants")


class LegacyDatabaseError(SemsyncError):
    """The original's database cannot be reached or read; retryable unless it is a refusal (role,
    password, database name) or a table is missing."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def safe_url(url: str) -> str:
    """`url` without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown redacted as given
        return redact(url)


def asyncpg_dsn(url: str) -> str:
    """A ``postgresql://`` DSN for asyncpg from a SQLAlchemy or libpq URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise LegacyDatabaseError(f"the original's database URL {safe_url(url)} is not PostgreSQL "
                                  "(postgresql://user:password@host:port/database)", retryable=False)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class SeriesQuery:
    """Which values to read: `grain` (None: all), dates from `since` (or `first`) through `last`,
    `metrics` (None: all)."""

    since: date | None = None
    last: date | None = None
    grain: str | None = None
    metrics: tuple[str, ...] | None = None


class LegacyDatabase:
    """One connection to the original's database."""

    def __init__(self, connection: asyncpg.Connection, url: str) -> None:
        self.connection = connection
        self.url = url
        self._columns: dict[str, set[str]] = {}

    @classmethod
    async def connect(cls, url: str) -> LegacyDatabase:
        try:
            connection = await asyncpg.connect(asyncpg_dsn(url), timeout=30)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            refused = is_configuration_error(exc)
            reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise LegacyDatabaseError(
                f"cannot use the original's database {safe_url(url)}: {reason}"
                + (" (check the role, password and database name)" if refused else ""), retryable=not refused,
            ) from None
        database = cls(connection, url)
        await database._read_columns()
        return database

    async def close(self) -> None:
        await self.connection.close()

    async def _read_columns(self) -> None:
        rows = await self.connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])", list(TABLES))
        for row in rows:
            self._columns.setdefault(row["table_name"], set()).add(row["column_name"])

    def has_table(self, table: str) -> bool:
        return table in self._columns

    def require(self, table: str) -> None:
        if not self.has_table(table):
            raise LegacyDatabaseError(f"the original's database {safe_url(self.url)} has no table {table}: "
                                      "is this the original system's database?", retryable=False)

    def _updated(self, table: str) -> str:
        # which of the original's writes is newer than semsync's decides a re-import (see importer)
        return "CAST(updated_at AS timestamptz)" if "updated_at" in self._columns.get(table, ()) \
            else "CAST(NULL AS timestamptz)"

    async def tenant_map(self) -> dict[int, str]:
        """id → identifier from the original's ``tenants`` table, if it has one (else empty)."""
        if not {"id", "identifier"} <= self._columns.get("tenants", set()):
            return {}
        rows = await self.connection.fetch("SELECT id, identifier FROM tenants ORDER BY id")
        return {int(row["id"]): str(row["identifier"]) for row in rows}

    async def status_tenant_ids(self) -> set[int]:
        """The tenant ids the original's sync statuses name (what it synced; a small table). Under its
        row-level security without a tenant set, none: then nothing can be said of unmapped tenants."""
        rows = await self.connection.fetch("SELECT DISTINCT tenant_id FROM metric_sync_status")
        return {int(row["tenant_id"]) for row in rows}

    async def batches(self, tenant_id: int, query: str, *args: Any) -> AsyncIterator[list[tuple]]:
        """`query`'s rows for one tenant (RLS set to it; `tenant_id` is its $1, `args` $2…), `BATCH_ROWS` at a time."""
        async with self.connection.transaction(readonly=True):
            await self.connection.execute("SELECT set_config('app.current_tenant', $1, true)", str(tenant_id))
            cursor = await self.connection.cursor(query, tenant_id, *args)
            while rows := await cursor.fetch(BATCH_ROWS):
                yield [tuple(row) for row in rows]

    def series_sql(self, dimensional: bool, query: SeriesQuery) -> tuple[str, list[Any]]:
        """(metric_id, grain, date, dimension_name, dimension_slice, value, updated_at) rows; $1 is the tenant."""
        table = "metric_dimensional_time_series" if dimensional else "metric_time_series"
        self.require(table)
        dimension = "dimension_name, dimension_slice" if dimensional else "CAST(NULL AS text), CAST(NULL AS text)"
        sql = (f"SELECT metric_id, lower(grain), CAST(date AS date), {dimension}, CAST(value AS float8), "
               f"{self._updated(table)} FROM {table} WHERE tenant_id = $1 "
               "AND ($2::date IS NULL OR CAST(date AS date) >= $2) AND ($3::date IS NULL OR CAST(date AS date) <= $3) "
               "AND ($4::text IS NULL OR lower(grain) = $4) AND ($5::text[] IS NULL OR metric_id = ANY($5))")
        return sql, [query.since, query.last, query.grain, list(query.metrics) if query.metrics else None]

    def statuses_sql(self) -> str:
        """(metric_id, grain, dimension_name, sync_type, sync_status, last_sync_at, start_date, end_date,
        records_processed, error) rows; $1 is the tenant. A base series' dimension is NULL or ''."""
        self.require("metric_sync_status")
        return ("SELECT metric_id, lower(grain), NULLIF(dimension_name, ''), upper(sync_type), upper(sync_status), "
                f"COALESCE(CAST(last_sync_at AS timestamptz), {self._updated('metric_sync_status')}), "
                "CAST(start_date AS date), CAST(end_date AS date), COALESCE(records_processed, 0), "
                "CAST(error AS text) FROM metric_sync_status WHERE tenant_id = $1")

    def pattern_results_sql(self) -> str:
        """Deduplicated (the original's key holds a NULL dimension, so base results repeat: the newest
        wins) (metric_id, pattern, version, grain, analysis_date, dimension_name, analysis_window,
        error, run_result) rows; $1 is the tenant, $2 the first analysis date or NULL."""
        self.require("pattern_results")
        return ("SELECT DISTINCT ON (metric_id, pattern, version, lower(grain), CAST(analysis_date AS date), "
                "NULLIF(dimension_name, '')) metric_id, pattern, CAST(version AS text), lower(grain), "
                "CAST(analysis_date AS date), NULLIF(dimension_name, ''), CAST(analysis_window AS text), "
                "CAST(error AS text), CAST(run_result AS text) FROM pattern_results WHERE tenant_id = $1 "
                "AND ($2::date IS NULL OR CAST(analysis_date AS date) >= $2) "
                "ORDER BY metric_id, pattern, version, lower(grain), CAST(analysis_date AS date), "
                f"NULLIF(dimension_name, ''), {self._updated('pattern_results')} DESC NULLS LAST")

    async def count(self, tenant_id: int, table: str, since_column: str | None = None,
                    since: date | None = None) -> int:
        """Rows of `table` for one tenant (from `since` on `since_column`); 0 for a missing table."""
        if not self.has_table(table):
            return 0
        where = f" AND CAST({since_column} AS date) >= $2" if since_column and since else ""
        async with self.connection.transaction(readonly=True):
            await self.connection.execute("SELECT set_config('app.current_tenant', $1, true)", str(tenant_id))
            return await self.connection.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1{where}",
                                                  tenant_id, *([since] if where else []))
