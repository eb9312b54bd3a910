"""The delivery activities: a thin adapter from Temporal to `semsync.notify.service.DeliveryService`.

A transient send failure (a 5xx, a timeout, a refused connection, Slack's 429, SMTP's 4xx) is a
retryable `ApplicationError` (with the receiver's Retry-After as the next delay when it gave one);
the workflow's retry policy backs off. A final one (a 4xx, a refused address) is recorded and
returned, not raised: it is the receiver's answer, not a fault of the step.

Counters (`activities.telemetry`): `semsync_deliveries` (channel, status: sent, failed, retried).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import as_application_errors
from activities.telemetry import DELIVERIES, count
from semsync.contracts import (
    AlertPlan,
    AlertPlanRequest,
    DigestPlan,
    DigestPlanRequest,
    GiveUpRequest,
    SendDeliveryRequest,
    SendDeliveryResult,
)
from semsync.observability import log_context

if TYPE_CHECKING:
    from semsync.notify.service import DeliveryService

class DeliveryActivities:
    def __init__(self, service: DeliveryService) -> None:
        self.service = service

    @activity.defn
    async def plan_alerts(self, request: AlertPlanRequest) -> AlertPlan:
        """Record the alerts of a context's new stories over a span; the ids of those to send."""
        with log_context(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                         partition=request.span), as_application_errors():
            plan = await self.service.plan_alerts(request)
        activity.logger.info("alerts: %d to send, %d snoozed, %d folded, %d recorded before",
                             len(plan.deliveries), plan.snoozed, plan.folded, plan.existing)
        return plan

    @activity.defn
    async def plan_digest(self, request: DigestPlanRequest) -> DigestPlan:
        """The period of a tenant's digest; its deliveries once the period's stories are told."""
        with log_context(tenant=request.tenant, grain=request.grain.value), as_application_errors():
            return await self.service.plan_digest(request)

    @activity.defn
    async def send_delivery(self, request: SendDeliveryRequest) -> SendDeliveryResult:
        """One attempt at one delivery."""
        # here, not at the top: the workflows import this module, and the transports bring httpx and
        # aiosmtplib, which have no place in the workflow sandbox
        from semsync.notify.transports import DeliveryError, TransientDeliveryError

        with log_context(tenant=request.tenant), as_application_errors():
            try:
                result = await self.service.send(request)
            except DeliveryError as exc:
                count(DELIVERIES, channel=getattr(exc, "channel_type", None) or "unknown", status="retried")
                delay = exc.retry_after if isinstance(exc, TransientDeliveryError) else None
                raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=False,
                                       next_retry_delay=timedelta(seconds=delay) if delay else None) from None
        if result.outcome in ("sent", "failed"):
            count(DELIVERIES, channel=result.channel_type, status=result.outcome)
        if result.outcome == "failed":
            activity.logger.warning("delivery %d refused: %s", result.delivery_id, result.error)
        return result

    @activity.defn
    async def give_up_delivery(self, request: GiveUpRequest) -> None:
        """Record a delivery whose retries ran out as failed."""
        with log_context(tenant=request.tenant), as_application_errors():
            channel = await self.service.give_up(request)
        if channel:
            count(DELIVERIES, channel=channel, status="failed")
