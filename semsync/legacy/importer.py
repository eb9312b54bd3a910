"""Import the original system's tables into semsync's, tenant by tenant.

What is imported, per tenant (as semsync's app role, inside the tenant's row-level-security scope,
the whole tenant in one transaction: it is imported completely or not at all):

- ``metric_time_series`` and ``metric_dimensional_time_series``: the values, streamed from the
  original in batches, COPYed into a staging table, written by one ``INSERT … SELECT … ON CONFLICT``
  per table. A row is skipped (and counted, by reason) when its value is null, its grain unknown, its
  date not the first day of its period (weekly rows must be Mondays, as semsync's and the original's
  are), or its metric or dimension is not in semsync's catalog. A stored value is replaced only when
  the original wrote its value later than semsync did (``updated_at``): a re-import changes nothing,
  and never undoes a value semsync synced after the import.
- ``metric_sync_status``: one row per (metric, grain, dimension, sync type) with the original's
  status, window, counts and error, and one history event saying it was imported. A successful FULL
  makes the next sync of that component INCREMENTAL (`semsync.sync.plan`), so moving over re-fetches
  the INCREMENTAL lookback, not years. A status RUNNING in the original is imported as FAILED (its
  outcome is unknown: the next sync is FULL). A row replaces semsync's only if its ``last_sync_at``
  is later.
- ``partition_ledger``: each (metric, grain, period) that has imported values is recorded ``succeeded``
  (kind ``sync``, workflow id ``legacy-import``) unless semsync already recorded it, so ``backfill
  --mode missing`` does not fetch again what the original had. Weekly periods are keyed ``%Y-W%W``
  from the original's Monday dates.
- ``pattern_results`` (only when asked): deduplicated (the original's unique key holds a NULL
  dimension, so its base results could repeat: the newest wins), under version ``legacy-<version>``
  so that semsync's patterns and stories never read them as their own.

Targets are semsync's catalog (``catalog load``; the app role cannot write them, and a reload would
remove any that the catalog does not list): they are checked, not written — the counts say how many of
the original's targets semsync's catalog holds with the same value. The original's stories are not
imported: semsync tells its own, on a unique key, from the pattern results.

``since`` limits values, targets and pattern results to dates from then; sync statuses are
imported whole (they say what was synced, not a value).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.db.rows import NULL_SLICE
from semsync.db.session import driver_connection, tenant_scope
from semsync.legacy.counts import ImportReport, TableCounts, TenantImport
from semsync.legacy.source import BATCH_ROWS, LegacyDatabase, SeriesQuery
from semsync.legacy.targets import check_targets
from semsync.legacy.tenants import TenantPair
from semsync.partitions import Grain, Partition
from semsync.sync.status import HISTORY_LIMIT

LEDGER_WORKFLOW_ID = "legacy-import"
#: the prefix of an imported pattern result's version (semsync's `version` column holds 16 characters)
PATTERN_VERSION_PREFIX = "legacy-"
GRAINS = tuple(g.value for g in Grain)


class _DryRun(Exception):
    """Rolls a tenant's transaction back after its counts are known."""


STAGE = "legacy_stage_series"

#: why a staged row is not written, in order of precedence (first match counts)
_SKIP_REASON = f"""
CASE WHEN s.value IS NULL THEN 'null value'
     WHEN s.grain IS NULL OR s.grain NOT IN ({", ".join(f"'{g}'" for g in GRAINS)}) THEN 'unknown grain'
     WHEN s.date IS NULL OR CAST(date_trunc(s.grain, CAST(s.date AS timestamp)) AS date) <> s.date
          THEN 'date not a period start'
     WHEN s.dimensional AND s.dimension_name IS NULL THEN 'no dimension name'
     WHEN NOT EXISTS (SELECT 1 FROM metrics m WHERE m.tenant_id = :t AND m.metric_id = s.metric_id)
          THEN 'metric not in catalog'
     WHEN s.dimension_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM metric_dimensions d WHERE d.tenant_id = :t
          AND d.metric_id = s.metric_id AND d.dimension_id = s.dimension_name) THEN 'dimension not in catalog'
END"""


def _write_sql(dimensional: bool) -> str:
    table = "metric_dimensional_time_series" if dimensional else "metric_time_series"
    key = "metric_id, grain, dimension_name, date, dimension_slice" if dimensional else "metric_id, grain, date"
    staged_key = ("s.metric_id, s.grain, s.dimension_name, s.date, COALESCE(s.dimension_slice, :null_slice)"
                  if dimensional else "s.metric_id, s.grain, s.date")
    # the original's own write time (else now) is kept as updated_at: a re-import compares with it
    return f"""
WITH valid AS (
    SELECT DISTINCT ON ({staged_key}) {staged_key}, s.value, COALESCE(s.updated_at, now()) AS updated_at
    FROM {STAGE} s WHERE s.dimensional = :dimensional AND ({_SKIP_REASON}) IS NULL
    ORDER BY {staged_key}, s.updated_at DESC NULLS LAST),
written AS (
    INSERT INTO {table} AS t (tenant_id, {key}, value, updated_at)
    SELECT :t, valid.* FROM valid
    ON CONFLICT (tenant_id, {key}) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
    WHERE t.value IS DISTINCT FROM EXCLUDED.value AND EXCLUDED.updated_at > t.updated_at
    RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written"""


_SKIPS = f"""
SELECT reason, count(*) FROM (SELECT {_SKIP_REASON} AS reason FROM {STAGE} s WHERE s.dimensional = :dimensional) r
WHERE reason IS NOT NULL GROUP BY reason"""

_PERIODS = f"""
SELECT s.metric_id, s.grain, s.date, count(*) FROM {STAGE} s WHERE ({_SKIP_REASON}) IS NULL
GROUP BY s.metric_id, s.grain, s.date"""

_LEDGER = """
INSERT INTO partition_ledger (tenant_id, metric_id, grain, partition_key, partition_start, kind, status, attempts,
                              last_attempt_at, last_success_at, rows, workflow_id)
SELECT :t, m, g, k, d, 'sync', 'succeeded', 1, :at, :at, n, :workflow_id
FROM unnest(CAST(:m AS text[]), CAST(:g AS text[]), CAST(:k AS text[]), CAST(:d AS date[]), CAST(:n AS int[]))
     AS u(m, g, k, d, n)
ON CONFLICT (tenant_id, metric_id, grain, partition_key, kind) DO NOTHING"""

_STATUSES = f"""
WITH written AS (
INSERT INTO metric_sync_status AS s (tenant_id, metric_id, grain, dimension_name, sync_type, sync_status,
    last_sync_at, last_success_at, start_date, end_date, records_processed, error, history)
SELECT :t, m, g, d, ty, st, la, CASE WHEN st = 'SUCCESS' THEN la END, sd, ed, n, e, jsonb_build_array(CAST(ev AS jsonb))
FROM unnest(CAST(:m AS text[]), CAST(:g AS text[]), CAST(:d AS text[]), CAST(:ty AS text[]), CAST(:st AS text[]),
            CAST(:la AS timestamptz[]), CAST(:sd AS date[]), CAST(:ed AS date[]), CAST(:n AS int[]),
            CAST(:e AS text[]), CAST(:ev AS text[])) AS u(m, g, d, ty, st, la, sd, ed, n, e, ev)
ON CONFLICT (tenant_id, metric_id, grain, dimension_name, sync_type) DO UPDATE SET
    sync_status = EXCLUDED.sync_status, last_sync_at = EXCLUDED.last_sync_at,
    last_success_at = COALESCE(EXCLUDED.last_success_at, s.last_success_at),
    start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
    records_processed = EXCLUDED.records_processed, error = EXCLUDED.error,
    history = (SELECT jsonb_agg(x.e ORDER BY x.i) FROM jsonb_array_elements(EXCLUDED.history || s.history)
               WITH ORDINALITY AS x(e, i) WHERE x.i <= {HISTORY_LIMIT}),
    updated_at = now()
WHERE s.last_sync_at < EXCLUDED.last_sync_at
RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written"""

_PATTERN_RESULTS = """
INSERT INTO pattern_results (tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name,
                             analysis_window, error, run_result)
SELECT :t, m, p, v, g, a, d, CAST(w AS jsonb), CAST(e AS jsonb), CAST(r AS jsonb)
FROM unnest(CAST(:m AS text[]), CAST(:p AS text[]), CAST(:v AS text[]), CAST(:g AS text[]), CAST(:a AS date[]),
            CAST(:d AS text[]), CAST(:w AS text[]), CAST(:e AS text[]), CAST(:r AS text[]))
     AS u(m, p, v, g, a, d, w, e, r)
ON CONFLICT (tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name) DO NOTHING"""


async def catalog_components(session: AsyncSession, tenant_id: int) -> tuple[set[str], set[tuple[str, str]]]:
    """The tenant's metrics and (metric, dimension) pairs in semsync's catalog."""
    metrics = {row[0] for row in await session.execute(
        text("SELECT metric_id FROM metrics WHERE tenant_id = :t"), {"t": tenant_id})}
    dimensions = {(row[0], row[1]) for row in await session.execute(
        text("SELECT metric_id, dimension_id FROM metric_dimensions WHERE tenant_id = :t"), {"t": tenant_id})}
    return metrics, dimensions


async def _import_series(session: AsyncSession, legacy: LegacyDatabase, pair: TenantPair, since: date | None,
                         report: TenantImport) -> None:
    await session.execute(text(
        f"CREATE TEMP TABLE {STAGE} (dimensional bool, metric_id text, grain text, date date, dimension_name text, "
        "dimension_slice text, value float8, updated_at timestamptz) ON COMMIT DROP"))
    driver = await driver_connection(session)
    params: dict[str, Any] = {"t": pair.semsync_id, "null_slice": NULL_SLICE}
    for dimensional, name in ((False, "metric_time_series"), (True, "metric_dimensional_time_series")):
        counts = report.tables[name] = TableCounts()
        sql, args = legacy.series_sql(dimensional, SeriesQuery(since=since))
        async for rows in legacy.batches(pair.legacy_id, sql, *args):
            counts.read += len(rows)
            await driver.copy_records_to_table(STAGE, records=[(dimensional, *row) for row in rows])
        await session.execute(text(f"ANALYZE {STAGE}"))
        step = params | {"dimensional": dimensional}
        counts.skipped = {reason: n for reason, n in await session.execute(text(_SKIPS), step)}
        counts.inserted, counts.updated = (await session.execute(text(_write_sql(dimensional)), step)).one()
    await _record_ledger(session, pair, report)


async def _record_ledger(session: AsyncSession, pair: TenantPair, report: TenantImport) -> None:
    """Ledger rows for the imported periods, `BATCH_ROWS` at a time (their keys come from
    `semsync.partitions`, the one place that knows ``%Y-W%W``)."""
    counts = report.tables["partition_ledger"] = TableCounts()
    periods = await session.stream(text(_PERIODS), {"t": pair.semsync_id})
    now = datetime.now(UTC)
    async for batch in periods.partitions(BATCH_ROWS):
        counts.read += len(batch)
        counts.inserted += (await session.execute(text(_LEDGER), {
            "t": pair.semsync_id, "at": now, "workflow_id": LEDGER_WORKFLOW_ID,
            "m": [p[0] for p in batch], "g": [p[1] for p in batch],
            "k": [Partition(Grain(p[1]), p[2]).key for p in batch], "d": [p[2] for p in batch],
            "n": [p[3] for p in batch]})).rowcount


def _status_event(row: tuple, status: str, error: str | None) -> str:
    _, _, _, sync_type, _, at, start, end, records, _ = row
    return json.dumps({"at": at.isoformat(), "status": status, "sync_type": sync_type,
                       "start": start.isoformat() if start else None, "end": end.isoformat() if end else None,
                       "records": records, "error": error, "fetched_at": None, "imported_from": "legacy"})


async def _import_statuses(session: AsyncSession, legacy: LegacyDatabase, pair: TenantPair,
                           catalog: tuple[set[str], set[tuple[str, str]]], report: TenantImport) -> None:
    counts = report.tables["metric_sync_status"] = TableCounts()
    metrics, dimensions = catalog
    newest: dict[tuple, tuple] = {}
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    async for rows in legacy.batches(pair.legacy_id, legacy.statuses_sql()):
        counts.read += len(rows)
        for row in rows:
            metric, grain, dimension, sync_type, status, at = row[:6]
            if grain not in GRAINS or sync_type not in ("FULL", "INCREMENTAL") or at is None:
                skip("unknown grain, type or time")
            elif metric not in metrics:
                skip("metric not in catalog")
            elif dimension is not None and (metric, dimension) not in dimensions:
                skip("dimension not in catalog")
            else:
                key = (metric, grain, dimension, sync_type)
                if key in newest:  # a base row repeated (NULL in the original's key): the latest counts
                    skip("duplicate")
                    if newest[key][5] >= at:
                        continue
                newest[key] = row
    counts.skipped = skipped
    if not newest:
        return
    columns: dict[str, list] = {name: [] for name in ("m", "g", "d", "ty", "st", "la", "sd", "ed", "n", "e", "ev")}
    for row in newest.values():
        metric, grain, dimension, sync_type, status, at, start, end, records, error = row
        if status not in ("SUCCESS", "FAILED"):  # RUNNING (or unknown): its outcome is unknown
            error = f"{status} in the original system when imported: outcome unknown" + (f"; {error}" if error else "")
            status = "FAILED"
        for name, value in zip(columns, (metric, grain, dimension, sync_type, status, at, start, end, records, error,
                                         _status_event(row, status, error)), strict=True):
            columns[name].append(value)
    counts.inserted, counts.updated = (await session.execute(text(_STATUSES), {"t": pair.semsync_id} | columns)).one()


def _json_text(value: str | None, *, required: bool) -> str | None:
    """The original's JSON column as JSON text: text that is not JSON becomes ``{"message": text}``."""
    if value is None:
        return "{}" if required else None
    try:
        json.loads(value)
        return value
    except ValueError:
        return json.dumps({"message": value})


async def _import_pattern_results(session: AsyncSession, legacy: LegacyDatabase, pair: TenantPair,
                                  since: date | None, metrics: set[str], report: TenantImport) -> None:
    counts = report.tables["pattern_results"] = TableCounts()
    total = await legacy.count(pair.legacy_id, "pattern_results", "analysis_date", since)
    async for rows in legacy.batches(pair.legacy_id, legacy.pattern_results_sql(), since):
        counts.read += len(rows)
        known = [row for row in rows if row[0] in metrics and row[3] in GRAINS]
        if len(known) < len(rows):
            counts.skipped["metric or grain not in catalog"] = (
                counts.skipped.get("metric or grain not in catalog", 0) + len(rows) - len(known))
        if not known:
            continue
        counts.inserted += (await session.execute(text(_PATTERN_RESULTS), {
            "t": pair.semsync_id, "m": [r[0] for r in known], "p": [r[1] for r in known],
            "v": [(PATTERN_VERSION_PREFIX + r[2])[:16] for r in known], "g": [r[3] for r in known],
            "a": [r[4] for r in known], "d": [r[5] for r in known],
            "w": [_json_text(r[6], required=True) for r in known],
            "e": [_json_text(r[7], required=False) for r in known],
            "r": [_json_text(r[8], required=True) for r in known]})).rowcount
    if total > counts.read:  # the original's duplicates, read once
        counts.skipped["duplicate"] = total - counts.read
        counts.read = total


async def import_tenant(
    session_factory: async_sessionmaker[AsyncSession], legacy: LegacyDatabase, pair: TenantPair, *,
    since: date | None = None, pattern_results: bool = False, dry_run: bool = False,
) -> TenantImport:
    """Import one tenant in one transaction (rolled back when `dry_run`, after counting)."""
    report = TenantImport(pair.identifier, pair.legacy_id)
    try:
        async with tenant_scope(session_factory, pair.semsync_id) as session:
            catalog = await catalog_components(session, pair.semsync_id)
            await _import_series(session, legacy, pair, since, report)
            await _import_statuses(session, legacy, pair, catalog, report)
            if legacy.has_table("metric_target"):
                report.tables["metric_target"] = await check_targets(session, legacy, pair, since)
            if pattern_results:
                await _import_pattern_results(session, legacy, pair, since, catalog[0], report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


async def import_legacy(
    session_factory: async_sessionmaker[AsyncSession], legacy: LegacyDatabase, tenants: list[TenantPair], *,
    since: date | None = None, pattern_results: bool = False, dry_run: bool = False,
    on_tenant: Callable[[TenantImport], None] | None = None, tenant_map: dict[int, str] | None = None,
) -> ImportReport:
    """Import every tenant of `tenants`, one transaction each (a failure leaves the tenants before it
    imported and its own untouched: run again, it is idempotent). With the whole `tenant_map` given,
    the report names the original's tenant ids that it leaves out."""
    for table in ("metric_time_series", "metric_dimensional_time_series", "metric_sync_status"):
        legacy.require(table)
    if pattern_results:
        legacy.require("pattern_results")
    report = ImportReport(dry_run=dry_run)
    if tenant_map is not None:
        report.unmapped = sorted(await legacy.status_tenant_ids() - tenant_map.keys())
    for pair in tenants:
        tenant_report = await import_tenant(session_factory, legacy, pair, since=since,
                                            pattern_results=pattern_results, dry_run=dry_run)
        report.tenants.append(tenant_report)
        if on_tenant:
            on_tenant(tenant_report)
    return report
