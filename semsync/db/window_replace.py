"""Atomic, set-based replacement of one component's window of a time series.

Inside the caller's transaction (and tenant scope): the fetched rows are COPYed into a temporary
staging table, then one ``INSERT … ON CONFLICT DO UPDATE … WHERE value IS DISTINCT FROM`` writes new
and changed rows only (an unchanged row costs no write, no dead tuple), and one anti-join ``DELETE``
removes the rows of the window that the source no longer returns. Nothing is deleted before the new
data is in hand, and a failure rolls the whole window back: the previous data stays untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.sources.base import SourceRow

STAGE = "semsync_stage_rows"


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated


_BASE_UPSERT = f"""
WITH up AS (
    INSERT INTO metric_time_series AS t (tenant_id, metric_id, grain, date, value)
    SELECT DISTINCT ON (s.date) :tenant_id, :metric_id, :grain, s.date, s.value
    FROM {STAGE} s WHERE s.date BETWEEN :start AND :end ORDER BY s.date
    ON CONFLICT (tenant_id, metric_id, grain, date)
    DO UPDATE SET value = EXCLUDED.value, updated_at = now() WHERE t.value IS DISTINCT FROM EXCLUDED.value
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""

_BASE_DELETE = f"""
DELETE FROM metric_time_series t
WHERE t.tenant_id = :tenant_id AND t.metric_id = :metric_id AND t.grain = :grain
  AND t.date BETWEEN :start AND :end
  AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.date = t.date)
"""

_DIM_UPSERT = f"""
WITH up AS (
    INSERT INTO metric_dimensional_time_series AS t
        (tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value)
    SELECT DISTINCT ON (s.date, s.slice) :tenant_id, :metric_id, :grain, :dimension_name, s.date, s.slice, s.value
    FROM {STAGE} s WHERE s.date BETWEEN :start AND :end ORDER BY s.date, s.slice
    ON CONFLICT (tenant_id, metric_id, grain, dimension_name, date, dimension_slice)
    DO UPDATE SET value = EXCLUDED.value, updated_at = now() WHERE t.value IS DISTINCT FROM EXCLUDED.value
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""

_DIM_DELETE = f"""
DELETE FROM metric_dimensional_time_series t
WHERE t.tenant_id = :tenant_id AND t.metric_id = :metric_id AND t.grain = :grain
  AND t.dimension_name = :dimension_name AND t.date BETWEEN :start AND :end
  AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.date = t.date AND s.slice = t.dimension_slice)
"""


async def _stage_rows(session: AsyncSession, rows: list[SourceRow]) -> None:
    # ON COMMIT DELETE ROWS: the table lives as long as the pooled connection, its rows one transaction.
    await session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (date date, slice text, value float8) ON COMMIT DELETE ROWS")
    )
    await session.execute(text(f"TRUNCATE {STAGE}"))
    if rows:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(STAGE, records=rows, columns=["date", "slice", "value"])
        await session.execute(text(f"ANALYZE {STAGE}"))


async def replace_window(
    session: AsyncSession,
    *,
    tenant_id: int,
    metric_id: str,
    grain: str,
    dimension_name: str | None,
    start: date,
    end: date,
    rows: list[SourceRow],
) -> WriteCounts:
    """Make the stored window [start, end] of one component equal `rows`; returns what changed."""
    await _stage_rows(session, rows)
    params = {"tenant_id": tenant_id, "metric_id": metric_id, "grain": grain, "start": start, "end": end}
    if dimension_name is None:
        upsert, delete = _BASE_UPSERT, _BASE_DELETE
    else:
        upsert, delete = _DIM_UPSERT, _DIM_DELETE
        params["dimension_name"] = dimension_name
    inserted, updated = (await session.execute(text(upsert), params)).one()
    deleted = (await session.execute(text(delete), params)).rowcount
    in_window = sum(1 for row in rows if start <= row[0] <= end)
    return WriteCounts(inserted, updated, max(in_window - inserted - updated, 0), deleted)
