"""The sync status table: what the last attempts of each component did, with a bounded history.

One row per (tenant, metric, grain, dimension, sync type). A component is marked RUNNING when its
fetch starts (the previous attempt's window, counts and error stay until it finishes); when it
finishes it records SUCCESS or FAILED with the window, counts and error, and pushes that event onto
``history`` (newest first, at most ``HISTORY_LIMIT``).
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.errors import cut
from semsync.redaction import redact
from semsync.sync.plan import ComponentHistory, SyncStatus, SyncType

HISTORY_LIMIT = 20

# A start only says so: the last finished attempt's window, counts and error stay readable meanwhile.
_MARK_RUNNING = """
INSERT INTO metric_sync_status AS s
    (tenant_id, metric_id, grain, dimension_name, sync_type, sync_status, last_sync_at, start_date, end_date)
VALUES (:tenant_id, :metric_id, :grain, :dimension_name, :sync_type, 'RUNNING', :at, :start, :end)
ON CONFLICT (tenant_id, metric_id, grain, dimension_name, sync_type) DO UPDATE SET
    sync_status = 'RUNNING', last_sync_at = EXCLUDED.last_sync_at, updated_at = now()
"""

_UPSERT = f"""
INSERT INTO metric_sync_status AS s
    (tenant_id, metric_id, grain, dimension_name, sync_type, sync_status, last_sync_at, last_success_at,
     start_date, end_date, records_processed, settled_through, error, history)
VALUES (:tenant_id, :metric_id, :grain, :dimension_name, :sync_type, :status, :at,
        CASE WHEN CAST(:status AS varchar) = 'SUCCESS' THEN CAST(:at AS timestamptz) END,
        :start, :end, :records, :settled_through, :error, jsonb_build_array(CAST(:event AS jsonb)))
ON CONFLICT (tenant_id, metric_id, grain, dimension_name, sync_type) DO UPDATE SET
    sync_status = EXCLUDED.sync_status,
    last_sync_at = EXCLUDED.last_sync_at,
    last_success_at = COALESCE(EXCLUDED.last_success_at, s.last_success_at),
    start_date = EXCLUDED.start_date,
    end_date = EXCLUDED.end_date,
    records_processed = EXCLUDED.records_processed,
    settled_through = COALESCE(EXCLUDED.settled_through, s.settled_through),
    error = EXCLUDED.error,
    history = (
        SELECT jsonb_agg(e ORDER BY i)
        FROM jsonb_array_elements(jsonb_build_array(CAST(:event AS jsonb)) || s.history) WITH ORDINALITY AS x(e, i)
        WHERE i <= {HISTORY_LIMIT}),
    updated_at = now()
"""


async def load_histories(
    session: AsyncSession, tenant_id: int, metric_id: str, grain: str
) -> dict[str | None, ComponentHistory]:
    """Per dimension name (None = base series): what decides the next sync type and window."""
    rows = (
        await session.execute(
            text(
                "SELECT dimension_name, sync_type, last_success_at, settled_through, history "
                "FROM metric_sync_status WHERE tenant_id = :t AND metric_id = :m AND grain = :g"
            ),
            {"t": tenant_id, "m": metric_id, "g": grain},
        )
    ).all()
    grouped: dict[str | None, list] = {}
    for row in rows:
        grouped.setdefault(row.dimension_name, []).append(row)
    histories = {}
    for dimension, component_rows in grouped.items():
        finished = [event for row in component_rows for event in row.history]
        latest = max(finished, key=lambda e: datetime.fromisoformat(e["at"]), default=None)
        settled = [row.settled_through for row in component_rows if row.settled_through]
        histories[dimension] = ComponentHistory(
            has_successful_full=any(
                row.sync_type == SyncType.FULL and row.last_success_at is not None for row in component_rows
            ),
            last_attempt_failed=latest is not None and latest["status"] == SyncStatus.FAILED,
            settled_through=max(settled, default=None),
        )
    return histories


async def record_status(
    session: AsyncSession,
    *,
    tenant_id: int,
    metric_id: str,
    grain: str,
    dimension_name: str | None,
    sync_type: SyncType,
    status: SyncStatus,
    at: datetime,
    start: date,
    end: date,
    records: int = 0,
    settled_through: date | None = None,
    error: str | None = None,
    fetched_at: datetime | None = None,
) -> None:
    """Upsert the component's status row; a finished attempt also goes onto its history (with when
    its data was fetched, which decides between overlapping writes: see `newer_windows`)."""
    keys = {"tenant_id": tenant_id, "metric_id": metric_id, "grain": grain, "dimension_name": dimension_name,
            "sync_type": sync_type.value, "at": at, "start": start, "end": end}
    if status is SyncStatus.RUNNING:
        await session.execute(text(_MARK_RUNNING), keys)
        return
    # a status row outlives the error: no credential in it, and not a source's whole 100 KB answer
    error = cut(redact(error)) if error else error
    event = json.dumps({
            "at": at.isoformat(), "status": status.value, "sync_type": sync_type.value,
            "start": start.isoformat(), "end": end.isoformat(), "records": records, "error": error,
            "fetched_at": fetched_at.isoformat() if fetched_at else None,
        })
    await session.execute(
        text(_UPSERT),
        keys | {"status": status.value, "records": records, "settled_through": settled_through, "error": error,
                "event": event},
    )


async def newer_windows(
    session: AsyncSession, *, tenant_id: int, metric_id: str, grain: str, dimension_name: str | None,
    fetched_at: datetime,
) -> list[tuple[date, date]]:
    """Windows of this component that a successful write stored from a fetch made after `fetched_at`.

    Two syncs of one component can overlap in time (a schedule and a manual run): the advisory lock
    makes their writes take turns, and this is how the one that fetched first, if it commits last,
    leaves the later fetch's values in place. Call it under the component's lock.
    """
    rows = await session.execute(
        text("SELECT e FROM metric_sync_status s, jsonb_array_elements(s.history) AS e "
             "WHERE s.tenant_id = :t AND s.metric_id = :m AND s.grain = :g "
             "AND s.dimension_name IS NOT DISTINCT FROM CAST(:d AS varchar) "
             "AND e->>'status' = 'SUCCESS' AND e->>'fetched_at' IS NOT NULL"),
        {"t": tenant_id, "m": metric_id, "g": grain, "d": dimension_name},
    )
    windows = []
    for (event,) in rows:
        if datetime.fromisoformat(event["fetched_at"]) > fetched_at:
            windows.append((date.fromisoformat(event["start"]), date.fromisoformat(event["end"])))
    return windows
