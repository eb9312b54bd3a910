"""The deliveries table: recording deliveries once, claiming one for a send, recording its outcome.

Every function runs in the caller's tenant scope (`semsync.db.session.tenant_scope`: RLS). A
delivery's `key` is its idempotency key and (tenant, key) is unique: `record_deliveries` inserts
what is not recorded yet and leaves the rest alone, so asking twice records once.

The life of a delivery: ``pending`` → (`claim`) ``sending`` → ``sent`` | ``retrying`` (→ claimed
again) | ``failed``. A claim holds the delivery for a while (`CLAIM`); a worker that died mid-send
lets it go when the claim runs out, and the next attempt sends again with the same key (the one
duplicate a receiver can drop by it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from semsync.contracts import DeliveryStatus
from semsync.errors import MAX_ERROR_TEXT, cut  # `semsync.notify.store.cut` stays importable

#: how long an attempt holds its delivery: past the send activity's start-to-close timeout (30 s), so a
#: claim outlives only an attempt whose worker died (the send's own timeout is shorter still)
CLAIM = timedelta(seconds=40)
#: the receiver's answer and an error as stored: the start and the end of anything longer
MAX_TEXT = MAX_ERROR_TEXT
#: the statuses an alert counts against its channel's rate limit in
COUNTED = ("pending", "sending", "retrying", "sent", "failed")
UNFINISHED = ("pending", "sending", "retrying")


def delivery_key(kind: str, *parts: object) -> str:
    """A stable idempotency key: the same delivery always has the same one (``a-``/``d-``/``t-`` + 40 hex)."""
    digest = hashlib.sha256("\x1f".join(str(p) if p is not None else "" for p in (kind, *parts)).encode())
    return f"{kind[0]}-{digest.hexdigest()[:40]}"


@dataclass
class NewDelivery:
    key: str
    kind: str
    channel_id: str
    channel_type: str
    status: str = DeliveryStatus.PENDING.value
    rule_id: str | None = None
    metric_id: str | None = None
    grain: str | None = None
    story_date: date | None = None
    story_type: str | None = None
    dimension: str | None = None
    slice: str | None = None
    period: str | None = None
    title: str | None = None
    salience: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_COLUMNS = ("key", "kind", "channel_id", "channel_type", "status", "rule_id", "metric_id", "grain", "story_date",
            "story_type", "dimension", "slice", "period", "title", "salience")
_TYPES = {"story_date": "date", "salience": "float8"}


async def existing_keys(session: AsyncSession, tenant_id: int, keys: list[str]) -> set[str]:
    rows = await session.execute(text(
        "SELECT key FROM deliveries WHERE tenant_id = :t AND key = ANY(CAST(:keys AS text[]))"),
        {"t": tenant_id, "keys": keys})
    return set(rows.scalars())


async def record_deliveries(session: AsyncSession, tenant_id: int, deliveries: list[NewDelivery], *,
                            workflow_id: str | None = None) -> int:
    """Insert the deliveries not recorded yet (set-based; a recorded key is left as it is); returns
    how many were inserted."""
    if not deliveries:
        return 0
    arrays = ", ".join(f"CAST(:{c} AS {_TYPES.get(c, 'text')}[])" for c in _COLUMNS)
    result = await session.execute(text(
        f"INSERT INTO deliveries (tenant_id, workflow_id, {', '.join(_COLUMNS)}) "
        f"SELECT :t, :w, * FROM unnest({arrays}) ON CONFLICT (tenant_id, key) DO NOTHING"),
        {"t": tenant_id, "w": workflow_id, **{c: [getattr(d, c) for d in deliveries] for c in _COLUMNS}})
    return result.rowcount


async def recent_alerts(session: AsyncSession, tenant_id: int, channel_ids: list[str], since: datetime
                        ) -> dict[str, int]:
    """Alerts per channel counted against the rate limit since `since`."""
    rows = await session.execute(text(
        "SELECT channel_id, count(*) FROM deliveries WHERE tenant_id = :t AND kind = 'alert' "
        "AND channel_id = ANY(CAST(:channels AS text[])) AND created_at >= :since "
        "AND status = ANY(CAST(:counted AS text[])) GROUP BY channel_id"),
        {"t": tenant_id, "channels": channel_ids, "since": since, "counted": list(COUNTED)})
    return dict(rows.all())


async def lock_tenant(session: AsyncSession, tenant_id: int) -> None:
    """Serialise the recording of one tenant's alerts (rate limits count what others record)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('semsync deliveries'), :t)"), {"t": tenant_id})


async def unfinished(session: AsyncSession, tenant_id: int, keys: list[str]) -> list[int]:
    """The ids of those of `keys` still to send, the most salient first."""
    rows = await session.execute(text(
        "SELECT id FROM deliveries WHERE tenant_id = :t AND key = ANY(CAST(:keys AS text[])) "
        "AND status = ANY(CAST(:open AS text[])) "
        "ORDER BY salience DESC NULLS LAST, id"), {"t": tenant_id, "keys": keys, "open": list(UNFINISHED)})
    return list(rows.scalars())


async def claim(session: AsyncSession, tenant_id: int, delivery_id: int) -> Any | None:
    """Take the delivery for one attempt (its row, attempts counted), or None: sent, final, or held
    by another attempt whose claim has not run out."""
    return (await session.execute(text(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, claimed_until = now() + :hold, "
        "  updated_at = now() "
        "WHERE tenant_id = :t AND id = :id AND (status IN ('pending', 'retrying') "
        "  OR (status = 'sending' AND claimed_until < now())) RETURNING *"),
        {"t": tenant_id, "id": delivery_id, "hold": CLAIM})).first()


async def read_delivery(session: AsyncSession, tenant_id: int, delivery_id: int) -> Any | None:
    return (await session.execute(text("SELECT * FROM deliveries WHERE tenant_id = :t AND id = :id"),
                                  {"t": tenant_id, "id": delivery_id})).first()


async def finish(session: AsyncSession, tenant_id: int, delivery_id: int, status: DeliveryStatus, *,
                 status_code: int | None = None, response: str | None = None, error: str | None = None) -> None:
    """Record an attempt's outcome: sent, retrying (a transient failure) or failed (final)."""
    await session.execute(text(
        "UPDATE deliveries SET status = CAST(:s AS text), status_code = :code, response = :response, "
        "  last_error = :error, "
        "  claimed_until = NULL, updated_at = now(), "
        "  sent_at = CASE WHEN CAST(:s AS text) = 'sent' THEN now() ELSE sent_at END "
        "WHERE tenant_id = :t AND id = :id"),
        {"t": tenant_id, "id": delivery_id, "s": status.value, "code": status_code, "response": cut(response),
         "error": cut(error)})


async def give_up(session: AsyncSession, tenant_id: int, delivery_id: int, error: str) -> str | None:
    """A delivery whose retries ran out: failed, unless an attempt sent it meanwhile; its channel type
    when it was marked."""
    return await session.scalar(text(
        "UPDATE deliveries SET status = 'failed', last_error = :error, claimed_until = NULL, updated_at = now() "
        "WHERE tenant_id = :t AND id = :id AND status <> ALL(CAST(:done AS text[])) RETURNING channel_type"),
        {"t": tenant_id, "id": delivery_id, "error": cut(error), "done": ["sent", "digested"]})


async def folded_alerts(session: AsyncSession, tenant_id: int, channel_id: str) -> list[Any]:
    """The channel's alerts a rate limit held back for its next digest, the most salient first."""
    rows = await session.execute(text(
        "SELECT * FROM deliveries WHERE tenant_id = :t AND channel_id = :c AND kind = 'alert' AND status = 'folded' "
        "ORDER BY salience DESC NULLS LAST, id"), {"t": tenant_id, "c": channel_id})
    return list(rows)


async def channels_with_folded(session: AsyncSession, tenant_id: int) -> list[str]:
    rows = await session.execute(text(
        "SELECT DISTINCT channel_id FROM deliveries WHERE tenant_id = :t AND kind = 'alert' AND status = 'folded'"),
        {"t": tenant_id})
    return sorted(rows.scalars())


async def mark_digested(session: AsyncSession, tenant_id: int, alert_ids: list[int], digest_id: int) -> None:
    await session.execute(text(
        "UPDATE deliveries SET status = 'digested', digest_id = :d, updated_at = now() "
        "WHERE tenant_id = :t AND id = ANY(CAST(:ids AS bigint[])) AND status = 'folded'"),
        {"t": tenant_id, "ids": alert_ids, "d": digest_id})


async def snoozed_metrics(session: AsyncSession, tenant_id: int) -> set[str]:
    rows = await session.execute(text(
        "SELECT metric_id FROM alert_snoozes WHERE tenant_id = :t AND (until IS NULL OR until > now())"),
        {"t": tenant_id})
    return set(rows.scalars())


async def list_deliveries(session: AsyncSession, tenant_id: int, *, status: str | None = None,
                          since: datetime | None = None, kind: str | None = None, limit: int = 100) -> list[Any]:
    rows = await session.execute(text(
        "SELECT * FROM deliveries WHERE tenant_id = :t "
        "AND (CAST(:s AS text) IS NULL OR status = :s) "
        "AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since) "
        "AND (CAST(:k AS text) IS NULL OR kind = :k) ORDER BY created_at DESC, id DESC LIMIT :limit"),
        {"t": tenant_id, "s": status, "since": since, "k": kind, "limit": limit})
    return list(rows)


async def reopen(session: AsyncSession, tenant_id: int, ids: list[int]) -> list[int]:
    """Failed deliveries of `ids` made pending again (to be sent once more); their ids."""
    rows = await session.execute(text(
        "UPDATE deliveries SET status = 'pending', updated_at = now() "
        "WHERE tenant_id = :t AND id = ANY(CAST(:ids AS bigint[])) AND status = 'failed' RETURNING id"),
        {"t": tenant_id, "ids": ids})
    return sorted(rows.scalars())
