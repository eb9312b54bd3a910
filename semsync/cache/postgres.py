"""The cache in a PostgreSQL database: the rows staged in a temporary table, then one upsert from it
(``INSERT … ON CONFLICT DO UPDATE … WHERE value IS DISTINCT FROM``) and one delete of the windows'
rows the stage lacks, in one transaction. The table is created first if missing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from semsync.cache.rows import Row, Scope, scope_condition
from semsync.catalog.models import SqlCacheTarget
from semsync.errors import CacheTargetError, CacheTargetUnavailableError, is_configuration_error
from semsync.redaction import redact

_STAGE = """
CREATE TEMPORARY TABLE semsync_cache_stage (date date NOT NULL, dimension text NOT NULL, slice text NOT NULL,
    value double precision NOT NULL) ON COMMIT DROP
"""

_LOAD = """
INSERT INTO semsync_cache_stage SELECT * FROM unnest(CAST(:dates AS date[]), CAST(:dimensions AS text[]),
    CAST(:slices AS text[]), CAST(:values AS float8[]))
"""


def _table_ddl(table: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table} (tenant text NOT NULL, metric text NOT NULL, grain text NOT NULL, "
            "date date NOT NULL, dimension text NOT NULL, slice text NOT NULL, value double precision NOT NULL, "
            "synced_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (tenant, metric, grain, date, dimension, slice))")


def _merge(table: str) -> str:
    return (f"WITH up AS (INSERT INTO {table} AS t (tenant, metric, grain, date, dimension, slice, value) "
            "SELECT :tenant, :metric, :grain, s.date, s.dimension, s.slice, s.value FROM semsync_cache_stage s "
            "ON CONFLICT (tenant, metric, grain, date, dimension, slice) DO UPDATE "
            "SET value = excluded.value, synced_at = now() WHERE t.value IS DISTINCT FROM excluded.value "
            "RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up")


class PostgresCacheWriter:
    """Writes into ``[schema.]table`` of a PostgreSQL database (its URL's driver becomes asyncpg)."""

    def __init__(self, target: SqlCacheTarget) -> None:
        url = make_url(target.url.get_secret_value()).set(drivername="postgresql+asyncpg")
        self.engine: AsyncEngine = create_async_engine(url, poolclass=NullPool)
        self.table = f"{target.schema_}.{target.table}" if target.schema_ else target.table
        self.schema = target.schema_
        self.where = redact(url.render_as_string(hide_password=True))

    async def write(self, tenant: str, metric: str, grain: str, scopes: list[Scope], rows: list[Row]
                    ) -> tuple[int, int, int]:
        """(inserted, updated, deleted)."""
        condition, values = scope_condition(scopes, lambda i: f":w{i}")
        try:
            async with self.engine.begin() as conn:
                if await conn.scalar(text("SELECT to_regclass(:t)"), {"t": self.table}) is None:
                    # concurrent writers' CREATE … IF NOT EXISTS race on the catalog: one creates, under a lock
                    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": self.table})
                    if self.schema:
                        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))
                    await conn.execute(text(_table_ddl(self.table)))
            async with self.engine.begin() as conn:
                await conn.execute(text(_STAGE))
                await conn.execute(text(_LOAD), {"dates": [r[2] for r in rows], "dimensions": [r[3] for r in rows],
                                                 "slices": [r[4] for r in rows], "values": [r[5] for r in rows]})
                keys = {"tenant": tenant, "metric": metric, "grain": grain}
                inserted, updated = (await conn.execute(text(_merge(self.table)), keys)).one()
                deleted = (await conn.execute(text(
                    f"DELETE FROM {self.table} t WHERE t.tenant = :tenant AND t.metric = :metric "
                    f"AND t.grain = :grain AND ({condition}) AND NOT EXISTS (SELECT 1 FROM semsync_cache_stage s "
                    "WHERE s.date = t.date AND s.dimension = t.dimension AND s.slice = t.slice)"),
                    {**keys, **{f"w{i}": v for i, v in enumerate(values)}})).rowcount
        except OSError as exc:
            raise CacheTargetUnavailableError(f"cache target {self.where} unreachable: {exc}") from exc
        except Exception as exc:
            if is_configuration_error(exc):
                cause = getattr(exc, "orig", exc)
                raise CacheTargetError(f"cache target {self.where} refused: {cause}".splitlines()[0]) from None
            raise
        return int(inserted), int(updated), int(deleted)

    async def aclose(self) -> None:
        await self.engine.dispose()
