"""The delivery service: which stories go where, recorded once, and one delivery sent.

- `plan_alerts`: a context's new stories of a span (group leads) × the tenant's alert rules → one
  delivery per (story, channel), recorded once; a snoozed metric's alerts are recorded `snoozed`,
  those beyond a channel's hourly rate limit `folded` (they go out in the channel's next digest).
- `plan_digest`: a tenant's digest of one grain's period (the one before the scheduled time, in
  the tenant's time zone) → one delivery per channel that has digest rules of the grain or folded
  alerts; recorded only once the period's stories are told (or waiting is over).
- `send`: claims one delivery, renders it from what is stored (the story, the period's stories,
  the channel from the sealed catalog), sends it, records the outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import TenantNotifications, read_notifications
from semsync.config import NotifySettings
from semsync.contracts import (
    STORIES_KIND,
    SYNC_KIND,
    AlertPlan,
    AlertPlanRequest,
    DeliveryRetry,
    DeliveryStatus,
    DigestPlan,
    DigestPlanRequest,
    GiveUpRequest,
    SendDeliveryRequest,
    SendDeliveryResult,
)
from semsync.db.session import tenant_scope
from semsync.encryption import SecretBox
from semsync.errors import InvalidInputError
from semsync.notify import store
from semsync.notify.channels import NotificationRule, Notifications
from semsync.notify.content import Alert, Digest, DigestMetric, TestMessage
from semsync.notify.store import NewDelivery, delivery_key
from semsync.partitions import Grain, Partition, parse_partition, partition_for_date
from semsync.patterns.periods import analysis_date_for
from semsync.stories import Polarity, Story, current_versions
from semsync.stories.store import holding_stories, read_stories

log = logging.getLogger(__name__)


def digest_period(grain: Grain, local: date) -> Partition:
    """The period a digest going out on the local date `local` tells: the last one complete by then
    (the day before a daily digest, the week before a Monday's, the month before the 1st's)."""
    return partition_for_date(grain, local).prev()


class DeliveryRefused(InvalidInputError):
    """A delivery that cannot be sent whatever is retried (its channel or story is gone)."""


@dataclass(frozen=True)
class Outgoing:
    """What one send needs, read in one go: the claimed row, the tenant and its channel."""

    row: Any
    tenant: TenantNotifications
    notifications: Notifications


class DeliveryService:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: NotifySettings,
                 transports: Any, box: SecretBox | None = None) -> None:
        #: opens the tenants' notifications (the composition root hands it in; None: the settings' keys)
        self.box = box
        self.session_factory = session_factory
        self.settings = settings
        self.transports = transports

    @property
    def retry(self) -> DeliveryRetry:
        return DeliveryRetry(initial_s=self.settings.retry_initial_s, max_s=self.settings.retry_max_s,
                             for_h=self.settings.retry_for_h)

    # -- alerts ---------------------------------------------------------------------------------------

    async def plan_alerts(self, request: AlertPlanRequest) -> AlertPlan:
        tenant = await read_notifications(self.session_factory, request.tenant, self.box)
        plan = AlertPlan(retry=self.retry)
        rules = [r for r in (tenant.notifications.rules if tenant.notifications else []) if r.mode == "alert"]
        if not rules:
            return plan
        partitions = request.partitions()
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            stories = await read_stories(
                session, tenant_id=tenant.tenant_id, tenant=tenant.identifier, versions=current_versions(),
                metrics=[request.metric_id], grain=request.grain.value, first=analysis_date_for(partitions[0]),
                last=analysis_date_for(partitions[-1]), statuses=["new"], limit=1_000_000, newest_first=False)
            wanted = self._alerts(tenant.notifications, rules, stories)
            if not wanted:
                return plan
            await store.lock_tenant(session, tenant.tenant_id)
            keys = [d.key for d in wanted]
            existing = await store.existing_keys(session, tenant.tenant_id, keys)
            fresh = [d for d in wanted if d.key not in existing]
            plan.existing = len(wanted) - len(fresh)
            snoozed = await store.snoozed_metrics(session, tenant.tenant_id)
            for delivery in fresh:
                if delivery.metric_id in snoozed:
                    delivery.status = DeliveryStatus.SNOOZED.value
            plan.snoozed = sum(d.status == DeliveryStatus.SNOOZED for d in fresh)
            plan.folded = await self._rate_limit(session, tenant, fresh)
            await store.record_deliveries(session, tenant.tenant_id, fresh, workflow_id=request.workflow_id)
            plan.deliveries = await store.unfinished(session, tenant.tenant_id, keys)
        return plan

    @staticmethod
    def _alerts(notifications: Notifications, rules: list[NotificationRule], stories: list[Story]
                ) -> list[NewDelivery]:
        """One delivery per (story, channel) that some alert rule selects (the first such rule named),
        the most salient story first."""
        wanted: dict[str, NewDelivery] = {}
        today = datetime.now(UTC).date()
        for story in stories:
            for rule in rules:
                if rule.max_age_days is not None and (today - story.story_date).days > rule.max_age_days:
                    continue
                if not rule.takes(story):
                    continue
                for channel_id in rule.channels:
                    channel = notifications.channel(channel_id)
                    key = delivery_key("alert", story.tenant, channel_id, story.metric, story.grain.value,
                                       story.story_date.isoformat(), story.story_type, story.dimension, story.slice)
                    wanted.setdefault(key, NewDelivery(
                        key=key, kind="alert", channel_id=channel_id, channel_type=channel.type, rule_id=rule.id,
                        metric_id=story.metric, grain=story.grain.value, story_date=story.story_date,
                        story_type=story.story_type, dimension=story.dimension, slice=story.slice,
                        title=story.title, salience=story.salience))
        return sorted(wanted.values(), key=lambda d: (-(d.salience or 0), d.key))

    async def _rate_limit(self, session: AsyncSession, tenant: TenantNotifications, fresh: list[NewDelivery]
                          ) -> int:
        """Fold the alerts beyond each channel's hourly limit (the least salient ones); returns how many."""
        limits = {c.id: c.max_alerts_per_hour for c in tenant.notifications.channels if c.max_alerts_per_hour}
        candidates = [d for d in fresh if d.channel_id in limits and d.status == DeliveryStatus.PENDING]
        if not candidates:
            return 0
        since = datetime.now(UTC) - timedelta(hours=1)
        used = await store.recent_alerts(session, tenant.tenant_id, sorted(limits), since)
        folded = 0
        for delivery in candidates:  # the most salient first
            if used.get(delivery.channel_id, 0) >= limits[delivery.channel_id]:
                delivery.status = DeliveryStatus.FOLDED.value
                folded += 1
            else:
                used[delivery.channel_id] = used.get(delivery.channel_id, 0) + 1
        return folded

    # -- digests --------------------------------------------------------------------------------------

    async def plan_digest(self, request: DigestPlanRequest) -> DigestPlan:
        tenant = await read_notifications(self.session_factory, request.tenant, self.box)
        zone = tenant.notifications.timezone if tenant.notifications else "UTC"
        period = (parse_partition(request.grain, request.period) if request.period
                  else digest_period(request.grain, request.scheduled_at.astimezone(ZoneInfo(zone)).date()))
        plan = DigestPlan(tenant=tenant.identifier, grain=request.grain, period=period.key, retry=self.retry,
                          wait_h=self.settings.digest_wait_h)
        if tenant.notifications is None:
            return plan
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            plan.waiting_for = len(await self._not_analysed(session, tenant.tenant_id, request.grain, period))
            if plan.waiting_for and not request.stop_waiting:
                return plan
            channels = {c for r in tenant.notifications.rules if r.mode == "digest" and request.grain in r.grains
                        for c in r.channels}
            channels |= set(await store.channels_with_folded(session, tenant.tenant_id))
            deliveries = [NewDelivery(key=delivery_key("digest", tenant.identifier, c, request.grain.value, period.key),
                                      kind="digest", channel_id=c, channel_type=tenant.notifications.channel(c).type,
                                      grain=request.grain.value, period=period.key)
                          for c in sorted(channels) if _has_channel(tenant.notifications, c)]
            await store.record_deliveries(session, tenant.tenant_id, deliveries, workflow_id=request.workflow_id)
            plan.deliveries = await store.unfinished(session, tenant.tenant_id, [d.key for d in deliveries])
        return plan

    async def _not_analysed(self, session: AsyncSession, tenant_id: int, grain: Grain, period: Partition
                            ) -> list[str]:
        """The tenant's active metrics whose stories of `period` are not told, and whose sync of it did
        not fail (a failed sync will not be told: nothing to wait for)."""
        rows = await session.execute(text(
            "SELECT m.metric_id FROM metrics m LEFT JOIN metric_contexts c "
            "  ON c.tenant_id = m.tenant_id AND c.metric_id = m.metric_id "
            "WHERE m.tenant_id = :t AND coalesce(c.is_active, true) AND NOT EXISTS ("
            "  SELECT 1 FROM partition_ledger l WHERE l.tenant_id = m.tenant_id AND l.metric_id = m.metric_id "
            "  AND l.grain = :g AND l.partition_key = :p "
            "  AND (l.kind = :stories AND l.status <> 'running' OR l.kind = :sync AND l.status = 'failed')) "
            "ORDER BY m.metric_id"),
            {"t": tenant_id, "g": grain.value, "p": period.key, "stories": STORIES_KIND, "sync": SYNC_KIND})
        return list(rows.scalars())

    async def digest(self, tenant: TenantNotifications, channel_id: str, grain: Grain, period: Partition, *,
                     key: str, folded: list[Story] | None = None) -> Digest:
        """The digest of `period` for one channel: the top stories per metric that its digest rules
        select, bad and good apart, the most salient metric first."""
        from semsync.notify.render import period_label

        notifications = tenant.notifications or Notifications()
        rules = [r for r in notifications.rules
                 if r.mode == "digest" and channel_id in r.channels and grain in r.grains]
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            stories = [] if not rules else await holding_stories(
                session, tenant_id=tenant.tenant_id, tenant=tenant.identifier, versions=current_versions(),
                on=analysis_date_for(period), grain=grain.value)
            missing = await self._not_analysed(session, tenant.tenant_id, grain, period)
        chosen = [s for s in stories if any(r.takes(s) for r in rules)]
        by_metric: dict[str, list[Story]] = {}
        for story in chosen:  # most salient first
            by_metric.setdefault(story.metric, []).append(story)
        metrics = []
        for metric, told in by_metric.items():
            top = told[:notifications.digest_top]
            metrics.append(DigestMetric(
                metric=metric, metric_label=top[0].metric_label,
                link=notifications.link(self.settings.report_url, tenant=tenant.identifier, metric=metric,
                                        grain=grain.value),
                bad=[s for s in top if s.polarity is Polarity.BAD],
                good=[s for s in top if s.polarity is Polarity.GOOD],
                neutral=[s for s in top if s.polarity is Polarity.NEUTRAL], more=len(told) - len(top)))
        return Digest(tenant=tenant.identifier, tenant_name=tenant.name, grain=grain, period=period.key,
                      period_label=period_label(grain, period.key), channel=channel_id, metrics=metrics,
                      folded=folded or [], not_analysed=missing,
                      link=notifications.link(self.settings.report_url, tenant=tenant.identifier, grain=grain.value),
                      idempotency_key=key)

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, request: SendDeliveryRequest) -> SendDeliveryResult:
        """One attempt at one delivery. Raises the transports' TransientDeliveryError (recorded as
        `retrying`) for the caller to retry; a final failure is recorded and returned."""
        from semsync.notify.render import render
        from semsync.notify.transports import DeliveryError, FinalDeliveryError

        tenant = await read_notifications(self.session_factory, request.tenant, self.box)
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            row = await store.claim(session, tenant.tenant_id, request.delivery_id)
            if row is None:
                return await self._unclaimed(session, tenant.tenant_id, request.delivery_id)
        folded_ids: list[int] = []
        try:
            if tenant.notifications is None or not _has_channel(tenant.notifications, row.channel_id):
                raise DeliveryRefused(f"channel {row.channel_id!r} is no longer in tenant "
                                      f"{tenant.identifier!r}'s catalog")
            channel = tenant.notifications.channel(row.channel_id)
            item, folded_ids = await self._content(tenant, row)
            message = render(channel.type, item)
            if channel.type == "slack":
                receipt = await self.transports.slack(channel.webhook_url.get_secret_value(), message, key=row.key)
            elif channel.type == "email":
                receipt = await self.transports.email(channel.recipients, message, key=row.key)
            else:
                receipt = await self.transports.webhook(channel.url.get_secret_value(),
                                                        channel.secret.get_secret_value(), message, key=row.key)
        except (FinalDeliveryError, DeliveryRefused) as exc:
            await self._record(tenant.tenant_id, row.id, DeliveryStatus.FAILED, exc)
            return SendDeliveryResult(delivery_id=row.id, channel_type=row.channel_type, outcome="failed",
                                      attempts=row.attempts, error=str(exc))
        except Exception as exc:  # transient (DeliveryError) or unexpected: recorded, retried by the caller
            await self._record(tenant.tenant_id, row.id, DeliveryStatus.RETRYING, exc)
            if isinstance(exc, DeliveryError):
                exc.channel_type = row.channel_type  # for the retried counter
            raise
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            await store.finish(session, tenant.tenant_id, row.id, DeliveryStatus.SENT,
                               status_code=receipt.status_code, response=receipt.answer)
            if folded_ids:
                await store.mark_digested(session, tenant.tenant_id, folded_ids, row.id)
        return SendDeliveryResult(delivery_id=row.id, channel_type=row.channel_type, outcome="sent",
                                  attempts=row.attempts)

    async def _record(self, tenant_id: int, delivery_id: int, status: DeliveryStatus, exc: Exception) -> None:
        async with tenant_scope(self.session_factory, tenant_id) as session:
            await store.finish(session, tenant_id, delivery_id, status, status_code=getattr(exc, "status_code", None),
                               response=getattr(exc, "answer", None), error=f"{type(exc).__name__}: {exc}")

    async def _unclaimed(self, session: AsyncSession, tenant_id: int, delivery_id: int) -> SendDeliveryResult:
        from semsync.notify.transports import TransientDeliveryError

        row = await store.read_delivery(session, tenant_id, delivery_id)
        if row is None:
            raise DeliveryRefused(f"no delivery {delivery_id} of this tenant")
        if row.status in (DeliveryStatus.SENT, DeliveryStatus.DIGESTED):
            return SendDeliveryResult(delivery_id=row.id, channel_type=row.channel_type, outcome="already_sent",
                                      attempts=row.attempts)
        if row.status in (DeliveryStatus.FAILED, DeliveryStatus.SNOOZED, DeliveryStatus.FOLDED):
            return SendDeliveryResult(delivery_id=row.id, channel_type=row.channel_type, outcome=row.status,
                                      attempts=row.attempts, error=row.last_error)
        raise TransientDeliveryError(f"delivery {delivery_id} is being sent by another attempt "
                                     f"(its claim runs until {row.claimed_until:%H:%M:%S})")

    async def _content(self, tenant: TenantNotifications, row: Any) -> tuple[Any, list[int]]:
        """The alert, digest or test message of a claimed delivery, and the folded alerts a digest carries."""
        if row.kind == "test":
            return TestMessage(tenant=tenant.identifier, tenant_name=tenant.name, channel=row.channel_id,
                               idempotency_key=row.key), []
        if row.kind == "alert":
            story = await self._story(tenant, row)
            return Alert(tenant=tenant.identifier, tenant_name=tenant.name, story=story, rule=row.rule_id or "",
                         channel=row.channel_id, idempotency_key=row.key,
                         link=tenant.notifications.link(self.settings.report_url, tenant=tenant.identifier,
                                                        metric=story.metric, grain=story.grain.value)), []
        grain = Grain(row.grain)
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            folded_rows = await store.folded_alerts(session, tenant.tenant_id, row.channel_id)
        folded = []
        for alert in folded_rows:
            try:
                folded.append(await self._story(tenant, alert))
            except DeliveryRefused:
                continue  # its story is no longer told: nothing to carry
        digest = await self.digest(tenant, row.channel_id, grain, parse_partition(grain, row.period), key=row.key,
                                   folded=folded)
        return digest, [a.id for a in folded_rows]

    async def _story(self, tenant: TenantNotifications, row: Any) -> Story:
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            stories = await read_stories(
                session, tenant_id=tenant.tenant_id, tenant=tenant.identifier, versions=current_versions(),
                metrics=[row.metric_id], grain=row.grain, first=row.story_date, last=row.story_date,
                types=[row.story_type], grouped=True, limit=1000)
        for story in stories:
            if story.dimension == row.dimension and story.slice == row.slice:
                return story
        raise DeliveryRefused(f"the story {row.story_type} of {row.metric_id} on {row.story_date} is no longer told "
                              "(its results were re-analysed since)")

    async def give_up(self, request: GiveUpRequest) -> str | None:
        """Record a delivery whose retries ran out as failed; its channel type (None: it was sent)."""
        tenant = await read_notifications(self.session_factory, request.tenant, self.box)
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            return await store.give_up(session, tenant.tenant_id, request.delivery_id, request.error)

    async def record_test(self, tenant_identifier: str, channel_id: str) -> int:
        """A test delivery to one channel (a fresh key each time); returns its id."""
        tenant = await read_notifications(self.session_factory, tenant_identifier, self.box)
        if tenant.notifications is None or not _has_channel(tenant.notifications, channel_id):
            known = ", ".join(c.id for c in tenant.notifications.channels) if tenant.notifications else "none"
            raise DeliveryRefused(f"tenant {tenant_identifier!r} has no channel {channel_id!r} (its channels: "
                                  f"{known})", part="channel", value=channel_id)
        channel = tenant.notifications.channel(channel_id)
        key = delivery_key("test", tenant.identifier, channel_id, datetime.now(UTC).isoformat())
        async with tenant_scope(self.session_factory, tenant.tenant_id) as session:
            await store.record_deliveries(session, tenant.tenant_id, [NewDelivery(
                key=key, kind="test", channel_id=channel_id, channel_type=channel.type, title="test message")])
            return (await store.unfinished(session, tenant.tenant_id, [key]))[0]


def _has_channel(notifications: Notifications, channel_id: str) -> bool:
    return any(c.id == channel_id for c in notifications.channels)
