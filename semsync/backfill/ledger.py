"""The partition ledger: the last word on each partition's sync and on each pattern run over it.

One row per (tenant, metric, grain, partition, kind), kind ``sync`` or a pattern's name, with its
status (running, succeeded, partial, failed), attempts, last attempt and success, rows, error and the
workflow id. Backfills read it to skip what is synced (mode ``missing``) or to redo what failed (mode
``failed``); ``python -m starter status`` draws it as a partition health map. Writes are one
set-based upsert per span, inside the tenant's row-level-security scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import find_tenant
from semsync.contracts import SYNC_KIND, LedgerEntry
from semsync.db.session import tenant_scope
from semsync.errors import cut
from semsync.partitions import Grain, parse_partition
from semsync.redaction import redact

_UPSERT = """
INSERT INTO partition_ledger AS l
    (tenant_id, metric_id, grain, partition_key, partition_start, kind, status, attempts, last_attempt_at,
     last_success_at, rows, error, workflow_id, failed_components, fingerprint, note)
SELECT :tenant_id, :metric_id, :grain, k.key, k.start, :kind, CAST(:status AS varchar), 1, :at,
       CASE WHEN CAST(:status AS varchar) IN ('succeeded', 'partial') THEN CAST(:at AS timestamptz) END,
       :rows, :error, :workflow_id, CAST(:failed AS text[]), :fingerprint, :note
FROM unnest(CAST(:keys AS text[]), CAST(:starts AS date[])) AS k(key, start)
ON CONFLICT (tenant_id, metric_id, grain, partition_key, kind) DO UPDATE SET
    status = EXCLUDED.status,
    attempts = l.attempts + CASE WHEN EXCLUDED.status = 'running' THEN 1 ELSE 0 END,
    last_attempt_at = EXCLUDED.last_attempt_at,
    last_success_at = COALESCE(EXCLUDED.last_success_at, l.last_success_at),
    rows = CASE WHEN EXCLUDED.status = 'running' THEN l.rows ELSE EXCLUDED.rows END,
    error = CASE WHEN EXCLUDED.status = 'running' THEN l.error ELSE EXCLUDED.error END,
    workflow_id = EXCLUDED.workflow_id,
    failed_components = CASE WHEN EXCLUDED.status = 'running' THEN l.failed_components
                             ELSE EXCLUDED.failed_components END,
    fingerprint = CASE WHEN EXCLUDED.status = 'running' THEN l.fingerprint ELSE EXCLUDED.fingerprint END,
    note = CASE WHEN EXCLUDED.status = 'running' THEN l.note ELSE EXCLUDED.note END
"""


_NOTE_MISSING_DAYS = """
WITH days AS (
    SELECT d::date AS day, to_char(d, 'YYYY-MM-DD') AS key
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
), missing AS (
    SELECT p.metric_id, string_agg(days.key, ', ' ORDER BY days.key) AS keys
    FROM partition_ledger p CROSS JOIN days
    WHERE p.tenant_id = :t AND p.grain = :g AND p.partition_key = :k AND p.kind = :kind
      AND NOT EXISTS (SELECT 1 FROM partition_ledger d WHERE d.tenant_id = p.tenant_id AND d.metric_id = p.metric_id
                      AND d.grain = 'day' AND d.kind = :kind AND d.partition_key = days.key
                      AND d.status IN ('succeeded', 'partial'))
    GROUP BY p.metric_id
)
UPDATE partition_ledger p SET note = 'days missing: ' || missing.keys
FROM missing
WHERE p.tenant_id = :t AND p.grain = :g AND p.partition_key = :k AND p.kind = :kind
  AND p.metric_id = missing.metric_id
"""


async def record(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int, entry: LedgerEntry, *, at: datetime
) -> int:
    """Upsert one ledger row per partition of `entry`; rows of a span are spread evenly over its partitions."""
    grain = Grain(entry.grain)
    starts = [parse_partition(grain, key).start for key in entry.partitions]
    per_partition = entry.rows // max(len(entry.partitions), 1)
    async with tenant_scope(session_factory, tenant_id) as session:
        await session.execute(text(_UPSERT), {
            "tenant_id": tenant_id, "metric_id": entry.metric_id, "grain": grain.value, "kind": entry.kind,
            "status": entry.status.value, "at": at, "rows": per_partition,
            "error": cut(redact(entry.error)) if entry.error else None,
            "workflow_id": entry.workflow_id, "keys": list(entry.partitions), "starts": starts,
            "failed": entry.failed_components, "fingerprint": entry.fingerprint, "note": entry.note,
        })
    return len(entry.partitions)


@dataclass(frozen=True)
class Mark:
    """A ledger row's word on one partition and kind: its status and a partial sync's failed components."""

    status: str
    failed_components: tuple[str, ...] | None = None


async def ledger_marks(
    session: AsyncSession, tenant_id: int, metric_ids: list[str], grain: Grain, kinds: Iterable[str],
    first: date, last: date,
) -> dict[str, dict[str, dict[str, Mark]]]:
    """Per metric of `metric_ids`, per key of its partitions starting from `first` to `last`, per kind
    of `kinds`: the ledger's mark. One query for many contexts of a tenant."""
    rows = await session.execute(
        text("SELECT metric_id, partition_key, kind, status, failed_components FROM partition_ledger "
             "WHERE tenant_id = :t AND metric_id = ANY(CAST(:m AS text[])) AND grain = :g "
             "AND kind = ANY(CAST(:k AS text[])) AND partition_start BETWEEN :a AND :b"),
        {"t": tenant_id, "m": metric_ids, "g": Grain(grain).value, "k": list(kinds), "a": first, "b": last},
    )
    marks: dict[str, dict[str, dict[str, Mark]]] = {}
    for row in rows:
        failed = tuple(sorted(row.failed_components)) if row.failed_components else None
        marks.setdefault(row.metric_id, {}).setdefault(row.partition_key, {})[row.kind] = Mark(row.status, failed)
    return marks


@dataclass(frozen=True)
class LedgerRow:
    tenant: str
    metric_id: str
    grain: str
    partition_key: str
    partition_start: date
    kind: str
    status: str
    attempts: int
    last_attempt_at: datetime
    rows: int
    error: str | None
    workflow_id: str | None
    note: str | None = None


async def read_ledger(
    session_factory: async_sessionmaker[AsyncSession], tenants: dict[str, int], grain: Grain,
    *, kind: str | None = SYNC_KIND, first: date | None = None, last: date | None = None,
) -> list[LedgerRow]:
    """Ledger rows of `tenants` (identifier → id) for one grain (and kind; None: every kind), by date."""
    rows: list[LedgerRow] = []
    for identifier, tenant_id in tenants.items():
        async with tenant_scope(session_factory, tenant_id) as session:
            result = await session.execute(
                text("SELECT metric_id, grain, partition_key, partition_start, kind, status, attempts, "
                     "last_attempt_at, rows, error, workflow_id, note FROM partition_ledger "
                     "WHERE tenant_id = :t AND grain = :g AND (CAST(:k AS text) IS NULL OR kind = :k) "
                     "AND (CAST(:first AS date) IS NULL OR partition_start >= :first) "
                     "AND (CAST(:last AS date) IS NULL OR partition_start <= :last) "
                     "ORDER BY metric_id, kind, partition_start"),
                {"t": tenant_id, "g": Grain(grain).value, "k": kind, "first": first, "last": last},
            )
            rows += [LedgerRow(identifier, *row) for row in result.all()]
    return rows


class Ledger:
    """The ledger as a service: what the workflows' activities and the CLI call."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.session_factory = session_factory
        self.clock = clock

    async def note_missing_days(self, grain: Grain, partition: str, first_day: date, last_day: date) -> int:
        """On each context's ledger row of the week or month `partition`, name the days from `first_day`
        to `last_day` whose sync has not succeeded (``days missing: …``); rows whose days are all
        there are left alone. Per tenant, set-based; how many rows got a note."""
        async with self.session_factory() as session:
            tenants = list((await session.execute(text("SELECT id FROM tenants ORDER BY id"))).scalars())
        noted = 0
        for tenant_id in tenants:
            async with tenant_scope(self.session_factory, tenant_id) as session:
                result = await session.execute(text(_NOTE_MISSING_DAYS), {
                    "t": tenant_id, "g": Grain(grain).value, "k": partition, "kind": SYNC_KIND,
                    "first": first_day, "last": last_day})
                noted += result.rowcount
        return noted

    async def record(self, entries: list[LedgerEntry]) -> int:
        """Upsert every entry (one statement per entry); returns the partition rows written."""
        written = 0
        tenant_ids: dict[str, int] = {}
        for entry in entries:
            if entry.tenant not in tenant_ids:
                tenant_ids[entry.tenant] = (await find_tenant(self.session_factory, entry.tenant)).id
            written += await record(self.session_factory, tenant_ids[entry.tenant], entry, at=self.clock())
        return written
