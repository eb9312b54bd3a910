"""The story store: a span's stories replaced on their natural key, in one transaction.

The rows of a story run are COPYed into a temporary stage; then, inside the tenant's scope, the
span's stories of the current versions that the run no longer tells are deleted, new ones inserted
and changed ones updated (`INSERT … ON CONFLICT DO UPDATE … WHERE` something differs), so a re-run
over unchanged results writes nothing and leaves every row as it was.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.db.session import driver_connection
from semsync.stories.model import STORY_VERSION
from semsync.stories.tell import ROW_COLUMNS

STAGE = "semsync_stage_stories"
KEY = ("tenant_id", "metric_id", "grain", "story_date", "story_type", "dimension", "slice", "version",
       "pattern_version")
_JSON = {"variables", "series", "series_dates", "also"}
_TYPES = {"story_date": "date", "started_on": "date", "analysis_date": "date", "salience": "double precision"}
_CREATE_STAGE = (
    f"CREATE TEMP TABLE {STAGE} ("
    + ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in ROW_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_VALUES = ", ".join(f"s.{c}::jsonb" if c in _JSON else f"s.{c}" for c in ROW_COLUMNS)
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS if c not in KEY)
_CHANGED = " OR ".join(f"stories.{c} IS DISTINCT FROM excluded.{c}" for c in ROW_COLUMNS if c not in KEY)
_UPSERT = f"""
    INSERT INTO stories (tenant_id, {", ".join(ROW_COLUMNS)})
    SELECT :tenant_id, {_VALUES} FROM {STAGE} s
    ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET {_UPDATE}, updated_at = now()
    WHERE {_CHANGED}
"""
# what the run no longer tells: the span's stories of the current versions without a staged twin
_DELETE = f"""
    DELETE FROM stories t
    WHERE t.tenant_id = :tenant_id AND t.metric_id = :metric_id AND t.grain = :grain
      AND t.story_date BETWEEN :first AND :last AND t.version = :version
      AND (t.pattern, t.pattern_version) IN (SELECT * FROM unnest(CAST(:patterns AS text[]),
                                                                  CAST(:versions AS text[])))
      AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.story_date = t.story_date AND s.story_type = t.story_type
                      AND s.dimension IS NOT DISTINCT FROM t.dimension AND s.slice IS NOT DISTINCT FROM t.slice
                      AND s.pattern_version = t.pattern_version)
"""


async def replace_stories(session: AsyncSession, *, tenant_id: int, metric_id: str, grain: str, first: date,
                          last: date, versions: dict[str, str], rows: list[tuple]) -> dict[str, int]:
    """Make the stored stories of `metric_id`/`grain` for story dates `first..last` (of the current
    story version and `versions`, pattern → version) equal `rows`, in the caller's transaction and
    tenant scope. Returns how many rows were deleted and written (inserted or changed)."""
    if (await session.execute(text(f"SELECT to_regclass('pg_temp.{STAGE}') IS NULL"))).scalar():
        await (await driver_connection(session)).execute(_CREATE_STAGE)
    else:
        await session.execute(text(f"DELETE FROM {STAGE}"))
    if rows:
        await (await driver_connection(session)).copy_records_to_table(STAGE, records=rows, columns=ROW_COLUMNS)
    deleted = (await session.execute(text(_DELETE), {
        "tenant_id": tenant_id, "metric_id": metric_id, "grain": grain, "first": first, "last": last,
        "version": STORY_VERSION, "patterns": list(versions), "versions": list(versions.values()),
    })).rowcount
    written = (await session.execute(text(_UPSERT), {"tenant_id": tenant_id})).rowcount if rows else 0
    return {"deleted": deleted, "written": written}


_PRIOR = """
SELECT story_type, dimension, slice, started_on, identity FROM stories
WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND story_date = :d AND version = :v
  AND status IN ('new', 'ongoing')
"""


async def prior_stories(session: AsyncSession, *, tenant_id: int, metric_id: str, grain: str,
                        on: date) -> list[Any]:
    """The stories that held on `on` as stored (type, dimension, slice, started_on, identity)."""
    return list((await session.execute(text(_PRIOR), {"t": tenant_id, "m": metric_id, "g": grain, "d": on,
                                                       "v": STORY_VERSION})).all())
