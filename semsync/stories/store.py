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
from semsync.stories.model import STORY_VERSION, Story, StoryStatus
from semsync.stories.rules.base import EVENTS
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


# the latest row of each story key on or before a date: the story holds there when that row is `new`
# and it is a state (an event holds on its own date only)
_LATEST = """
SELECT DISTINCT ON (s.metric_id, s.grain, s.story_type, s.dimension, s.slice) s.*,
       coalesce(m.label, s.metric_id) AS label
FROM stories s
LEFT JOIN metrics m ON m.tenant_id = s.tenant_id AND m.metric_id = s.metric_id
WHERE s.tenant_id = :t AND s.version = :v AND s.story_date <= :on
  AND (CAST(:metrics AS text[]) IS NULL OR s.metric_id = ANY(CAST(:metrics AS text[])))
  AND (CAST(:grain AS text) IS NULL OR s.grain = :grain)
  AND (s.pattern, s.pattern_version) IN (SELECT * FROM unnest(CAST(:patterns AS text[]), CAST(:versions AS text[])))
ORDER BY s.metric_id, s.grain, s.story_type, s.dimension, s.slice, s.story_date DESC
"""
_HOLDING = f"""
SELECT * FROM ({_LATEST}) latest
WHERE latest.status = 'new' AND (latest.story_date = :on OR NOT latest.story_type = ANY(CAST(:events AS text[])))
"""


async def prior_stories(session: AsyncSession, *, tenant_id: int, metric_id: str, grain: str, on: date,
                        versions: dict[str, str]) -> list[Any]:
    """The states that hold on `on` as stored (their story_type, dimension, slice and started_on)."""
    rows = await session.execute(text(_HOLDING), _params(tenant_id, versions, metrics=[metric_id], grain=grain,
                                                         on=on))
    return [row for row in rows if row.story_type not in EVENTS]


def _params(tenant_id: int, versions: dict[str, str], **more: Any) -> dict[str, Any]:
    return {"t": tenant_id, "v": STORY_VERSION, "patterns": list(versions), "versions": list(versions.values()),
            "events": sorted(EVENTS), **more}


_READ = """
SELECT s.metric_id, s.grain, s.story_date, s.story_type, s.genre, s.dimension, s.slice, s.status, s.started_on,
       s.polarity, s.salience, s.title, s.detail, s.variables, s.series, s.series_dates, s.pattern,
       s.pattern_version, s.analysis_date, s.version, s.grouped_under, s.also, coalesce(m.label, s.metric_id) AS label
FROM stories s
LEFT JOIN metrics m ON m.tenant_id = s.tenant_id AND m.metric_id = s.metric_id
WHERE s.tenant_id = :t AND s.version = :v
  AND (CAST(:metrics AS text[]) IS NULL OR s.metric_id = ANY(CAST(:metrics AS text[])))
  AND (CAST(:grain AS text) IS NULL OR s.grain = :grain)
  AND (CAST(:first AS date) IS NULL OR s.story_date >= :first)
  AND (CAST(:last AS date) IS NULL OR s.story_date <= :last)
  AND (CAST(:types AS text[]) IS NULL OR s.story_type = ANY(CAST(:types AS text[])))
  AND (CAST(:statuses AS text[]) IS NULL OR s.status = ANY(CAST(:statuses AS text[])))
  AND (s.pattern, s.pattern_version) IN (SELECT * FROM unnest(CAST(:patterns AS text[]), CAST(:versions AS text[])))
  AND (:grouped OR s.grouped_under IS NULL)
ORDER BY CASE WHEN :newest THEN s.story_date END DESC, s.salience DESC, s.story_date DESC, s.metric_id,
         s.story_type, s.dimension NULLS FIRST, s.slice
LIMIT :limit
"""


async def read_stories(session: AsyncSession, *, tenant_id: int, tenant: str, versions: dict[str, str],
                       metrics: list[str] | None = None, grain: str | None = None, first: date | None = None,
                       last: date | None = None, types: list[str] | None = None, statuses: list[str] | None = None,
                       grouped: bool = False, limit: int = 20, newest_first: bool = True) -> list[Story]:
    """Stored stories of one tenant (current story version, `versions` pattern → version), newest
    and most salient first (most salient first: `newest_first` False); a group's members only with
    `grouped`. In the caller's tenant scope."""
    rows = await session.execute(text(_READ), _params(
        tenant_id, versions, metrics=metrics, grain=grain, first=first, last=last, types=types, statuses=statuses,
        grouped=grouped, limit=limit, newest=newest_first))
    return [_story(tenant, r) for r in rows]


async def holding_stories(session: AsyncSession, *, tenant_id: int, tenant: str, versions: dict[str, str], on: date,
                          metrics: list[str] | None = None, grain: str | None = None) -> list[Story]:
    """The stories that hold on `on`: told that day (`new`), or earlier and not resolved since
    (status `ongoing`, with the date they began and their sentences of that day), most salient
    first, group leads only. In the caller's tenant scope."""
    rows = await session.execute(text(_HOLDING), _params(tenant_id, versions, metrics=metrics, grain=grain, on=on))
    stories = [_story(tenant, r) for r in rows if r.grouped_under is None]
    for story in stories:
        if story.story_date < on:
            story.status = StoryStatus.ONGOING
    return sorted(stories, key=lambda s: (-s.salience, s.metric, s.story_type))


def _story(tenant: str, r: Any) -> Story:
    return Story(tenant=tenant, metric=r.metric_id, metric_label=r.label, grain=r.grain, story_date=r.story_date,
                  story_type=r.story_type, genre=r.genre, dimension=r.dimension, slice=r.slice, status=r.status,
                  started_on=r.started_on, polarity=r.polarity, salience=r.salience, title=r.title,
                  detail=r.detail, variables=r.variables, series=r.series, series_dates=r.series_dates,
                  pattern=r.pattern, pattern_version=r.pattern_version, analysis_date=r.analysis_date,
                  version=r.version, grouped_under=r.grouped_under, also=r.also)
