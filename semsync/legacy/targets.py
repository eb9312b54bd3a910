"""The original's targets: checked against semsync's catalog, and printed in the catalog's form.

Targets are catalog data in semsync (``catalog load`` writes them as the catalog role, and removes the
ones the catalog does not list), so an import does not write them: it counts how many of the
original's targets the catalog holds with the same value, and `legacy_targets` gives them in the
catalog's form to add.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.legacy.counts import TableCounts
from semsync.legacy.source import LegacyDatabase
from semsync.legacy.tenants import TenantPair

#: `semsync.catalog.models.TargetDef`'s fields after grain and date
TARGET_FIELDS = ("target_value", "target_upper_bound", "target_lower_bound", "yellow_buffer", "red_buffer")
NOT_IN_CATALOG = "not in semsync's catalog"
DIFFERENT = "different in semsync's catalog"


async def check_targets(session: AsyncSession, legacy: LegacyDatabase, pair: TenantPair,
                        since: date | None) -> TableCounts:
    """The original's targets of one tenant (from `since`) against semsync's: equal ones are
    ``unchanged``, the others skipped as not in the catalog or different there."""
    counts = TableCounts()
    stored = {(r[0], r[1], r[2]): r[3] for r in await session.execute(text(
        "SELECT metric_id, grain, target_date, target_value FROM metric_targets WHERE tenant_id = :t"),
        {"t": pair.semsync_id})}
    sql = ("SELECT metric_id, lower(grain), CAST(target_date AS date), CAST(target_value AS float8) FROM metric_target "
           "WHERE tenant_id = $1 AND ($2::date IS NULL OR CAST(target_date AS date) >= $2)")
    async for rows in legacy.batches(pair.legacy_id, sql, since):
        counts.read += len(rows)
        for metric, grain, target_date, value in rows:
            held = stored.get((metric, grain, target_date))
            reason = (NOT_IN_CATALOG if held is None
                      else DIFFERENT if value is None or abs(held - value) > 1e-9 * max(abs(held), abs(value), 1.0)
                      else None)
            if reason:
                counts.skipped[reason] = counts.skipped.get(reason, 0) + 1
    return counts


async def legacy_targets(legacy: LegacyDatabase, pair: TenantPair, since: date | None = None,
                         ) -> dict[str, list[dict[str, Any]]]:
    """The original's targets of one tenant in the catalog's form (`TargetDef` fields), per metric, by
    grain and date: what to add under each metric's ``targets:`` in semsync's catalog."""
    legacy.require("metric_target")
    columns = ", ".join(f"CAST({name} AS float8)" for name in TARGET_FIELDS)
    sql = (f"SELECT metric_id, lower(grain), CAST(target_date AS date), {columns} FROM metric_target "
           "WHERE tenant_id = $1 AND ($2::date IS NULL OR CAST(target_date AS date) >= $2) "
           "ORDER BY metric_id, lower(grain), CAST(target_date AS date)")
    targets: dict[str, list[dict[str, Any]]] = {}
    async for rows in legacy.batches(pair.legacy_id, sql, since):
        for metric, grain, target_date, *values in rows:
            targets.setdefault(metric, []).append(
                {"grain": grain, "target_date": target_date} | dict(zip(TARGET_FIELDS, values, strict=True)))
    return targets
