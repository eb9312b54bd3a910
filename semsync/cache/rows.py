"""What a cache write reads from semsync: the rows of a metric's windows, base and dimensions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: the base series' dimension and slice in the cache table
BASE_DIMENSION = ""


@dataclass(frozen=True)
class Scope:
    """A window of the cache that a write makes equal to semsync: one dimension (``''`` the base
    series) or, with dimension None, the base series and every dimension."""

    dimension: str | None
    start: date
    end: date


#: (metric, grain, date, dimension, slice, value)
Row = tuple[str, str, date, str, str, float]

_BASE = """
SELECT metric_id, grain, date, '' AS dimension, '' AS slice, value FROM metric_time_series
WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND date BETWEEN :s AND :e
"""

_DIMENSIONS = """
SELECT metric_id, grain, date, dimension_name, dimension_slice, value FROM metric_dimensional_time_series
WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND date BETWEEN :s AND :e
  AND (CAST(:d AS text) IS NULL OR dimension_name = CAST(:d AS text))
"""


async def read_rows(session: AsyncSession, tenant_id: int, metric: str, grain: str, scopes: list[Scope]) -> list[Row]:
    """The rows of `scopes`, in the caller's (tenant-scoped) session."""
    rows: list[Row] = []
    for scope in scopes:
        params = {"t": tenant_id, "m": metric, "g": grain, "s": scope.start, "e": scope.end, "d": scope.dimension}
        if scope.dimension in (None, BASE_DIMENSION):
            rows.extend(tuple(r) for r in await session.execute(text(_BASE), params))
        if scope.dimension != BASE_DIMENSION:
            rows.extend(tuple(r) for r in await session.execute(text(_DIMENSIONS), params))
    return rows


def scope_condition(scopes: list[Scope], placeholder, alias: str = "t") -> tuple[str, list]:
    """A SQL condition on the cache table's `alias` that holds for the rows of `scopes`, and its
    parameters in order; `placeholder(i)` spells the i-th parameter of the target's driver."""
    clauses, params = [], []
    for scope in scopes:
        window = f"{alias}.date BETWEEN {placeholder(len(params))} AND {placeholder(len(params) + 1)}"
        params += [scope.start, scope.end]
        if scope.dimension is not None:
            window += f" AND {alias}.dimension = {placeholder(len(params))}"
            params.append(scope.dimension)
        clauses.append(f"({window})")
    return " OR ".join(clauses) or "false", params
