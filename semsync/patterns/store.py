"""The result store: pattern results upserted on their natural key, so a re-run replaces them.

The key is (tenant, metric, pattern, version, grain, analysis_date, dimension_name), with NULL
dimension names taking part in it (`NULLS NOT DISTINCT`). The write path is the sync's: each result
is serialised once (pydantic's compact JSON), the rows are COPYed into a temporary staging table,
and one set-based ``INSERT … SELECT … ON CONFLICT DO UPDATE`` moves them into `pattern_results`
inside the tenant's scope. A stored result whose content is unchanged (everything but its
`evaluation_time`) is not rewritten: it keeps its evaluation time and costs no write and no dead
tuple. Results that share a key within one call keep the last.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.db.models import PatternResult
from semsync.db.session import driver_connection, tenant_scope
from semsync.partitions import Grain
from semsync.patterns.base import AnalysisResult

KEY = ("tenant_id", "metric_id", "pattern", "version", "grain", "analysis_date", "dimension_name")
STAGE = "semsync_stage_results"
_STAGE_COLUMNS = ["metric_id", "pattern", "version", "grain", "analysis_date", "dimension_name",
                  "analysis_window", "error", "run_result"]

_CREATE_STAGE = (
    f"CREATE TEMP TABLE {STAGE} (metric_id text, pattern text, version text, grain text, "
    "analysis_date date, dimension_name text, analysis_window text, error text, run_result text) "
    "ON COMMIT DELETE ROWS; "
    # The staged JSON is read once, by the upsert: compressing it on the way in (a document is 1-6 KB)
    # and decompressing it on the way out cost a third of the store's database time, measured.
    f"ALTER TABLE {STAGE} ALTER analysis_window SET STORAGE EXTERNAL, ALTER run_result SET STORAGE EXTERNAL"
)
# each JSON text is parsed once, as a COPY into the table would
_UPSERT = f"""
    INSERT INTO pattern_results (tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name,
                                 analysis_window, error, run_result)
    SELECT :tenant_id, s.metric_id, s.pattern, s.version, s.grain, s.analysis_date, s.dimension_name,
           s.analysis_window::jsonb, s.error::jsonb, s.run_result::jsonb
    FROM {STAGE} s
    ON CONFLICT ({", ".join(KEY)}) DO UPDATE
    SET analysis_window = excluded.analysis_window, error = excluded.error, run_result = excluded.run_result,
        updated_at = now()
    WHERE (pattern_results.run_result - 'evaluation_time') IS DISTINCT FROM (excluded.run_result - 'evaluation_time')
"""


class ResultRecord(NamedTuple):
    """The staging row of one result, in the staging table's column order: its key, its window and
    error, and its JSON, each serialised once (a tuple: it crosses the process boundary compactly
    and is COPYed as it is)."""

    metric_id: str
    pattern: str
    version: str
    grain: str
    analysis_date: date
    dimension_name: str | None
    analysis_window: str
    error: str | None
    result: str

    @property
    def key(self) -> tuple[str, str, str, str, date, str | None]:
        return self[:6]


def result_record(result: AnalysisResult) -> ResultRecord:
    """The staging row of one result."""
    error = result.error.model_dump_json() if result.error is not None else None
    return ResultRecord(result.metric_id, result.pattern, result.version, result.grain.value, result.analysis_date,
                        result.dimension_name, result.analysis_window.model_dump_json(), error,
                        result.model_dump_json())


async def store_results(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int, results: Iterable[AnalysisResult]
) -> int:
    """Upsert `results` for `tenant_id` in one transaction; returns how many distinct results are
    stored (written, or already stored with the same content)."""
    return await store_records(session_factory, tenant_id, (result_record(r) for r in results))


async def store_records(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int, records: Iterable[ResultRecord]
) -> int:
    """`store_results` for records already made by `result_record` (e.g. in a worker process, so
    that only compact rows cross the process boundary)."""
    rows: dict[tuple, ResultRecord] = {}
    for record in records:
        rows[record.key] = record
    if not rows:
        return 0
    async with tenant_scope(session_factory, tenant_id) as session:
        await write_records(session, tenant_id, list(rows.values()))
    return len(rows)


async def write_records(session: AsyncSession, tenant_id: int, records: list[ResultRecord]) -> int:
    """Stage `records` (distinct keys) and upsert them in the caller's transaction and tenant scope;
    returns how many rows were inserted or changed."""
    # the table lives as long as the pooled connection, its rows one transaction
    if (await session.execute(text(f"SELECT to_regclass('pg_temp.{STAGE}') IS NULL"))).scalar():
        await (await driver_connection(session)).execute(_CREATE_STAGE)
    else:
        await session.execute(text(f"DELETE FROM {STAGE}"))  # empty already unless staged twice in one transaction
    await (await driver_connection(session)).copy_records_to_table(STAGE, records=records, columns=_STAGE_COLUMNS)
    return (await session.execute(text(_UPSERT), {"tenant_id": tenant_id})).rowcount


async def load_results(
    session_factory: async_sessionmaker[AsyncSession],
    tenant_id: int,
    metric_id: str,
    pattern: str,
    grain: Grain | str,
    start: date,
    end: date,
) -> list[dict[str, Any]]:
    """Stored results (their JSON) of one pattern for analysis dates `start..end`, in date order."""
    table = PatternResult
    async with tenant_scope(session_factory, tenant_id) as session:
        rows = await session.execute(
            select(table.run_result)
            .where(table.tenant_id == tenant_id, table.metric_id == metric_id, table.pattern == pattern,
                   table.grain == Grain(grain).value, table.analysis_date.between(start, end))
            .order_by(table.analysis_date, table.dimension_name, table.version)
        )
        return [row[0] for row in rows.all()]


_LATEST = """
SELECT pattern, version, analysis_date, dimension_name, error, run_result FROM pattern_results
WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND pattern = :p AND version = :v
  AND analysis_date = coalesce(CAST(:on AS date), (
      SELECT max(analysis_date) FROM pattern_results
      WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND pattern = :p AND version = :v))
ORDER BY dimension_name NULLS FIRST
"""


async def latest_results(
    session: AsyncSession, *, tenant_id: int, metric_id: str, grain: Grain | str, pattern: str, version: str,
    on: date | None = None,
) -> list[Any]:
    """The stored results of one pattern version at one analysis date (`on`, else the latest), one row per
    dimension: ``pattern, version, analysis_date, dimension_name, error, run_result``. In the caller's
    tenant scope."""
    params = {"t": tenant_id, "m": metric_id, "g": Grain(grain).value, "p": pattern, "v": version, "on": on}
    return list((await session.execute(text(_LATEST), params)).all())
