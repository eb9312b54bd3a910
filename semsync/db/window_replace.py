"""Atomic, set-based replacement of one component's window of a time series.

Inside the caller's transaction (and tenant scope):

1. the fetched rows are COPYed into a temporary staging table, page by page as the source streams
   them (`open_stage`, then `stage_rows` per page): the process holds one page, never the component;
2. the staged rows are checked for duplicates (one value per date and slice), in the database;
3. a transaction-level advisory lock on the component serialises writers of the same series (two
   backfill children whose windows overlap), so their writes never interleave or deadlock;
4. one statement compares the staged rows with the stored window (a full join) into a small
   difference table; then three statements apply only that difference: plain INSERTs of new rows,
   UPDATEs of changed values, DELETEs of rows the source no longer returns (`apply_staged`). An
   unchanged row costs no write and leaves no dead tuple.

Staging touches only the connection's own temporary table, so the lock is taken after it and held
only while the window is written. Nothing is deleted before the whole new data is staged, and a
failure at any step (a page that never comes, a row cap, a duplicate) rolls the whole window back:
the previous data stays untouched. `replace_window` does it all for rows already in a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.db.rows import NULL_SLICE, SourceRow
from semsync.db.session import driver_connection
from semsync.errors import SourceRequestError

STAGE = "semsync_stage_rows"


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: staged rows of the window in the slice `NULL_SLICE`
    null_slice: int = 0


DIFF = "semsync_stage_diff"


def _component_sql(dimensional: bool) -> dict[str, str]:
    """The four set-based statements of one kind of component (base series or one dimension)."""
    table = "metric_dimensional_time_series" if dimensional else "metric_time_series"
    component = "t.tenant_id = :tenant_id AND t.metric_id = :metric_id AND t.grain = :grain"
    columns = "tenant_id, metric_id, grain, date, value"
    values = ":tenant_id, :metric_id, :grain, d.date, d.value"
    stored_slice, on_slice, key_slice = "NULL::text", "", ""
    if dimensional:
        component += " AND t.dimension_name = :dimension_name"
        columns = "tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value"
        values = ":tenant_id, :metric_id, :grain, :dimension_name, d.date, d.slice, d.value"
        stored_slice = "t.dimension_slice"
        on_slice, key_slice = " AND s.slice = w.slice", " AND t.dimension_slice = d.slice"
    return {
        # the difference between what the source returned and what is stored, in one full join
        "window_has_rows": f"""
            SELECT EXISTS (SELECT 1 FROM {table} t WHERE {component} AND t.date BETWEEN :start AND :end)""",
        "insert_staged": f"""
            INSERT INTO {table} ({columns}) SELECT {values} FROM {STAGE} d WHERE d.date BETWEEN :start AND :end""",
        "diff": f"""
            WITH changed AS (
            INSERT INTO {DIFF} (date, slice, value, op)
            SELECT COALESCE(s.date, w.date), COALESCE(s.slice, w.slice), s.value,
                   CASE WHEN w.date IS NULL THEN 'i' WHEN s.date IS NULL THEN 'd' ELSE 'u' END
            FROM (SELECT date, slice, value FROM {STAGE} WHERE date BETWEEN :start AND :end) s
            FULL JOIN (SELECT t.date, {stored_slice} AS slice, t.value FROM {table} t
                       WHERE {component} AND t.date BETWEEN :start AND :end) w
              ON s.date = w.date{on_slice}
            WHERE w.date IS NULL OR s.date IS NULL OR s.value IS DISTINCT FROM w.value
            RETURNING op)
            SELECT count(*) FILTER (WHERE op = 'i'), count(*) FILTER (WHERE op = 'u'),
                   count(*) FILTER (WHERE op = 'd')
            FROM changed""",
        "insert": f"INSERT INTO {table} ({columns}) SELECT {values} FROM {DIFF} d WHERE d.op = 'i'",
        "update": f"""
            UPDATE {table} t SET value = d.value, updated_at = now() FROM {DIFF} d
            WHERE d.op = 'u' AND {component} AND t.date = d.date{key_slice}""",
        "delete": f"""
            DELETE FROM {table} t USING {DIFF} d
            WHERE d.op = 'd' AND {component} AND t.date = d.date{key_slice}""",
    }


_SQL = {False: _component_sql(False), True: _component_sql(True)}


async def open_stage(session: AsyncSession) -> None:
    """An empty staging table (and difference table) for this transaction's rows."""
    # ON COMMIT DELETE ROWS: the table lives as long as the pooled connection, its rows one transaction.
    await session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (date date, slice text, value float8) ON COMMIT DELETE ROWS")
    )
    await session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {DIFF} (date date, slice text, value float8, op char) "
             "ON COMMIT DELETE ROWS")
    )
    # Joins from the stored table into the difference stay index lookups whatever the planner
    # believes of the stored table's size (its statistics lag behind a large first load).
    await session.execute(text(f"CREATE INDEX IF NOT EXISTS {DIFF}_key ON {DIFF} (date, slice)"))
    await session.execute(text(f"TRUNCATE {STAGE}, {DIFF}"))


async def stage_rows(session: AsyncSession, rows: list[SourceRow]) -> None:
    """COPY one page of rows into the staging table (`open_stage` first, in the same transaction)."""
    if rows:
        driver = await driver_connection(session)
        await driver.copy_records_to_table(STAGE, records=rows, columns=["date", "slice", "value"])


async def refuse_duplicates(session: AsyncSession, *, metric_id: str, dimension_name: str | None) -> None:
    """SourceRequestError (nothing is written) when the staged rows hold two values for one date and slice."""
    extra, in_null_slice = (await session.execute(text(
        f"SELECT coalesce(sum(n - 1), 0), coalesce(bool_or(slice = :null_slice), false) FROM "
        f"(SELECT slice, count(*) AS n FROM {STAGE} GROUP BY date, slice HAVING count(*) > 1) d"),
        {"null_slice": NULL_SLICE})).one()
    if extra:
        hint = f" (a real {NULL_SLICE!r} value and a null value fall in the same slice)" if in_null_slice else ""
        raise SourceRequestError(
            f"the source returned {extra} duplicate rows for {metric_id}"
            f"{'/' + dimension_name if dimension_name else ''}: one value per date and slice is expected{hint}"
        )


async def lock_component(session: AsyncSession, *, tenant_id: int, metric_id: str, grain: str,
                         dimension_name: str | None) -> None:
    """Take the component's transaction-level advisory lock (re-entrant within the transaction)."""
    lock_key = f"semsync:{tenant_id}:{metric_id}:{grain}:{dimension_name or ''}"
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": lock_key})


def uncovered(start: date, end: date, covered: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """The parts of [start, end] outside every window of `covered`, in order."""
    parts = [(start, end)]
    for c_start, c_end in sorted(covered):
        rest = []
        for p_start, p_end in parts:
            if c_end < p_start or c_start > p_end:
                rest.append((p_start, p_end))
                continue
            if p_start < c_start:
                rest.append((p_start, c_start - timedelta(days=1)))
            if c_end < p_end:
                rest.append((c_end + timedelta(days=1), p_end))
        parts = rest
    return parts


async def apply_staged(
    session: AsyncSession,
    *,
    tenant_id: int,
    metric_id: str,
    grain: str,
    dimension_name: str | None,
    start: date,
    end: date,
) -> WriteCounts:
    """Make the stored window [start, end] of one component equal the staged rows of that window;
    returns what changed. The caller holds the component's lock (`lock_component`)."""
    params = {"tenant_id": tenant_id, "metric_id": metric_id, "grain": grain, "start": start, "end": end}
    if dimension_name is not None:
        params["dimension_name"] = dimension_name
    sql = _SQL[dimension_name is not None]
    in_window, null_slice = (await session.execute(text(
        f"SELECT count(*), count(*) FILTER (WHERE slice = :null_slice) FROM {STAGE} "
        "WHERE date BETWEEN :start AND :end"), {"start": start, "end": end, "null_slice": NULL_SLICE})).one()
    if not (await session.execute(text(sql["window_has_rows"]), params)).scalar():
        # an empty window (a first sync): nothing to compare or delete, insert straight from the stage
        inserted = (await session.execute(text(sql["insert_staged"]), params)).rowcount
        return WriteCounts(inserted=inserted, unchanged=in_window - inserted, null_slice=null_slice)
    to_insert, to_update, to_delete = (await session.execute(text(sql["diff"]), params)).one()
    counts = {}
    for statement, pending in (("insert", to_insert), ("update", to_update), ("delete", to_delete)):
        counts[statement] = (await session.execute(text(sql[statement]), params)).rowcount if pending else 0
    return WriteCounts(counts["insert"], counts["update"], in_window - counts["insert"] - counts["update"],
                       counts["delete"], null_slice)


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
    """Make the stored window [start, end] of one component equal `rows`; returns what changed.

    `rows` must hold one value per date (and slice): duplicates raise SourceRequestError, unwritten.
    A sync streams its pages instead (`open_stage`, `stage_rows`, …, `apply_staged`).
    """
    await open_stage(session)
    await stage_rows(session, rows)
    await refuse_duplicates(session, metric_id=metric_id, dimension_name=dimension_name)
    await lock_component(session, tenant_id=tenant_id, metric_id=metric_id, grain=grain,
                         dimension_name=dimension_name)
    return await apply_staged(session, tenant_id=tenant_id, metric_id=metric_id, grain=grain,
                              dimension_name=dimension_name, start=start, end=end)
