"""What a notification carries, before and after rendering.

An `Alert` is one new story for one channel; a `Digest` is a tenant's top stories of one period
for one channel. Both carry the `idempotency_key` of their delivery: the same key on every
attempt, so a receiver can drop the one duplicate a worker dying between send and record causes
(a header for webhooks, the Message-ID for email).

`render` turns them into the forms the transports send: a Slack incoming-webhook payload
(``{"text": …, "blocks": […]}``), an `EmailContent`, a webhook body (JSON).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from semsync.partitions import Grain
from semsync.stories.model import Story

ChannelType = Literal["slack", "email", "webhook"]


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Alert(_Content):
    """One new story, as an alert."""

    kind: Literal["alert"] = "alert"
    tenant: str
    tenant_name: str
    story: Story
    #: the rule that selected it (for the receiver's routing), and the channel it goes to
    rule: str
    channel: str
    #: the report page of the story's metric, when the deployment has one (`report_url`)
    link: str | None = None
    idempotency_key: str


class DigestMetric(_Content):
    """One metric's stories in a digest: the top ones by salience, bad and good apart."""

    metric: str
    metric_label: str
    link: str | None = None
    bad: list[Story] = Field(default_factory=list)
    good: list[Story] = Field(default_factory=list)
    neutral: list[Story] = Field(default_factory=list)
    #: stories of the metric left out (beyond the top N)
    more: int = 0


class Digest(_Content):
    """A tenant's stories of one period (a day, a week, a month) for one channel."""

    kind: Literal["digest"] = "digest"
    tenant: str
    tenant_name: str
    grain: Grain
    #: the period's partition key (2025-07-06, 2025-W27, 2025-07) and how a reader says it
    period: str
    period_label: str
    channel: str
    #: metrics with their stories, the most salient metric first
    metrics: list[DigestMetric] = Field(default_factory=list)
    #: alerts a rate limit held back for this digest (never dropped)
    folded: list[Story] = Field(default_factory=list)
    #: metrics whose stories of the period were not told by the digest's time (sync or analysis late)
    not_analysed: list[str] = Field(default_factory=list)
    #: the tenant's report (overview), when the deployment has one
    link: str | None = None
    idempotency_key: str

    @property
    def story_count(self) -> int:
        return sum(len(m.bad) + len(m.good) + len(m.neutral) for m in self.metrics)


class TestMessage(_Content):
    """`starter notify test CHANNEL`: proves a channel's configuration end to end."""

    __test__ = False  # not a pytest class
    kind: Literal["test"] = "test"
    tenant: str
    tenant_name: str
    channel: str
    idempotency_key: str


Deliverable = Alert | Digest | TestMessage


class EmailContent(_Content):
    """A multipart email: the text part and the HTML part (with its charts inline as HTML)."""

    subject: str
    text: str
    html: str
