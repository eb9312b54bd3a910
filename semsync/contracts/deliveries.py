"""Deliveries: the alert and digest steps' requests and results, AlertWorkflow's and DigestWorkflow's
inputs and results.

Nothing here carries a channel's address or secret: a delivery travels as its id, and the send
activity reads the channel from the catalog tables (sealed at rest) when it sends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from semsync.contracts.common import ErrorText, _Model, _Result
from semsync.contracts.stories import StoryRunRequest
from semsync.partitions import Grain, MetricContext


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    #: an attempt is in flight (its claim runs out when the worker died)
    SENDING = "sending"
    #: the last attempt failed transiently; the next one is scheduled
    RETRYING = "retrying"
    SENT = "sent"
    #: final: the receiver refused it (a 4xx, a refused address) or retries ran out
    FAILED = "failed"
    #: an alert of a snoozed metric: recorded, not sent
    SNOOZED = "snoozed"
    #: an alert beyond its channel's rate limit: waits for the channel's next digest
    FOLDED = "folded"
    #: a folded alert that went out in a digest
    DIGESTED = "digested"


class DeliveryRetry(_Result):
    """How a failing send is retried: doubling from `initial_s` to `max_s`, for `for_h` hours in all."""

    initial_s: float = 5.0
    max_s: float = 600.0
    for_h: float = 24.0


class AlertPlanRequest(StoryRunRequest):
    """Record the alerts of one context's new stories over a span: one delivery per (story, channel)
    that an alert rule selects."""

    workflow_id: str | None = None


class AlertPlan(_Result):
    #: the deliveries to send now (pending, or left unsent by an earlier run)
    deliveries: list[int] = Field(default_factory=list)
    #: alerts recorded this time: held by a snooze, folded by a rate limit, already recorded before
    snoozed: int = 0
    folded: int = 0
    existing: int = 0
    retry: DeliveryRetry = Field(default_factory=DeliveryRetry)


class SendDeliveryRequest(_Model):
    tenant: str
    delivery_id: int


class SendDeliveryResult(_Result):
    delivery_id: int
    channel_type: str
    #: sent, failed (final), or already_sent (an earlier attempt or run sent it)
    outcome: str
    attempts: int = 0
    error: ErrorText | None = None


class GiveUpRequest(_Model):
    """Record a delivery whose retries ran out as failed."""

    tenant: str
    delivery_id: int
    error: ErrorText


class AlertWorkflowInput(AlertPlanRequest):
    """AlertWorkflow's input: the StoryWorkflow's context and span."""

    backfill_id: str | None = None

    @property
    def alert_workflow_id(self) -> str:
        return alert_workflow_id(self.grain, self.span, self.context)


def alert_workflow_id(grain: Grain, span: str, context: MetricContext) -> str:
    return f"alerts/{Grain(grain).value}/{span}/{context}"


class ResendInput(_Model):
    """ResendWorkflow's input: deliveries (ids) of one tenant to send again, e.g. those that failed."""

    tenant: str
    deliveries: list[int] = Field(max_length=10_000)
    retry: DeliveryRetry = Field(default_factory=DeliveryRetry)


class DeliveryTally(_Result):
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    snoozed: int = 0
    folded: int = 0


class AlertWorkflowResult(DeliveryTally):
    tenant: str
    metric_id: str
    grain: Grain
    span: str


class DigestInput(_Model):
    """DigestWorkflow's input: a tenant's digest of one grain. The period comes from the run's
    scheduled time (in the tenant's time zone), or from `period` when given (a re-send by hand)."""

    tenant: str
    grain: Grain
    period: str | None = None


class DigestPlanRequest(_Model):
    tenant: str
    grain: Grain
    #: the slot the digest stands for (its schedule's time); the period is the one before it, locally
    scheduled_at: datetime
    period: str | None = None
    #: record the deliveries even though some contexts' stories of the period are not told yet
    stop_waiting: bool = False
    workflow_id: str | None = None


class DigestPlan(_Result):
    tenant: str
    grain: Grain
    period: str
    #: active contexts of the grain whose stories of the period are not told yet
    waiting_for: int = 0
    #: the digest deliveries to send (recorded only when nothing is waited for, or waiting stopped)
    deliveries: list[int] = Field(default_factory=list)
    retry: DeliveryRetry = Field(default_factory=DeliveryRetry)
    #: how long to wait for the period's stories, from the settings
    wait_h: float = 6.0


class DigestResult(DeliveryTally):
    tenant: str
    grain: Grain
    period: str
    #: contexts whose stories were still missing when the digest went out
    not_analysed: int = 0
