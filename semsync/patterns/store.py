"""The result store: pattern results upserted on their natural key, so a re-run replaces them.

The key is (tenant, metric, pattern, version, grain, analysis_date, dimension_name), with NULL
dimension names taking part in it (`NULLS NOT DISTINCT`). Results are written with one
``INSERT … ON CONFLICT … DO UPDATE`` per batch inside the tenant's scope; results that share a key
within one call keep the last.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.db.models import PatternResult
from semsync.db.session import tenant_scope
from semsync.partitions import Grain
from semsync.patterns.base import AnalysisResult

KEY = ("tenant_id", "metric_id", "pattern", "version", "grain", "analysis_date", "dimension_name")
BATCH_SIZE = 1000  # rows per statement: 9 parameters a row stays far below PostgreSQL's 32,767


def _row(tenant_id: int, result: AnalysisResult) -> dict[str, Any]:
    payload = result.model_dump(mode="json")
    return {
        "tenant_id": tenant_id,
        "metric_id": result.metric_id,
        "pattern": result.pattern,
        "version": result.version,
        "grain": result.grain.value,
        "analysis_date": result.analysis_date,
        "dimension_name": result.dimension_name,
        "analysis_window": payload["analysis_window"],
        "error": payload["error"],
        "run_result": payload,
    }


async def store_results(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int, results: Iterable[AnalysisResult]
) -> int:
    """Upsert `results` for `tenant_id` in one transaction; returns how many rows were written."""
    rows: dict[tuple, dict[str, Any]] = {}
    for result in results:
        row = _row(tenant_id, result)
        rows[tuple(row[k] for k in KEY)] = row
    batch = list(rows.values())
    if not batch:
        return 0
    async with tenant_scope(session_factory, tenant_id) as session:
        for offset in range(0, len(batch), BATCH_SIZE):
            statement = insert(PatternResult).values(batch[offset : offset + BATCH_SIZE])
            excluded = statement.excluded
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=list(KEY),
                    set_={
                        "analysis_window": excluded.analysis_window,
                        "error": excluded.error,
                        "run_result": excluded.run_result,
                        "updated_at": func.now(),
                    },
                )
            )
    return len(batch)


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
