"""An `Alert`, a `Digest` or a `TestMessage` in the form a channel sends: Slack, email, webhook.

- `slack_payload`: an incoming-webhook payload, ``{"text": fallback, "blocks": [Block Kit]}``
  (`semsync.notify.render_slack`);
- `email_content`: an `EmailContent`, subject, text part and HTML part (`semsync.notify.render_email`);
- `webhook_body`: the JSON body of a generic webhook (below);
- `render`: one of the three by channel type.

All three say the same words (`semsync.notify.render_text`: `digest_summary`, `period_label`) and
treat every text from a story or the catalog as data, escaped for the medium it lands in.

Webhook bodies
--------------
An alert (``kind`` ``"alert"``):

==================  ==========================================================================
``kind``            ``"alert"``
``idempotency_key`` the delivery's key: the same on every attempt (drop a repeat)
``tenant``          the tenant's identifier; ``tenant_name`` its display name
``channel``         the channel the alert was sent to
``rule``            the rule that selected the story
``link``            the report page of the story's metric, or null
``story``           the story, every field of `Story` (``story.model_dump(mode="json")``):
                    ``metric``, ``metric_label``, ``grain``, ``story_date``, ``story_type``,
                    ``genre``, ``dimension``, ``slice``, ``status``, ``polarity``, ``salience``,
                    ``title``, ``detail``, ``variables``, ``series``, ``series_dates``, …
==================  ==========================================================================

A digest (``kind`` ``"digest"``):

==================  ==========================================================================
``kind``            ``"digest"``
``idempotency_key`` the delivery's key
``tenant``          the tenant's identifier; ``tenant_name`` its display name
``channel``         the channel
``grain``           ``"day"``, ``"week"`` or ``"month"``
``period``          the period's key (``2025-07-06``, ``2025-W27``, ``2025-07``)
``period_label``    the period as a reader says it (``Sunday 6 July 2025``)
``summary``         the one-line summary (`digest_summary`)
``metrics``         per metric, the most salient first: ``metric``, ``metric_label``, ``link``,
                    ``bad``, ``good``, ``neutral`` (lists of stories as in an alert) and ``more``
                    (the metric's stories left out)
``folded``          the stories of alerts a rate limit held back for the digest
``not_analysed``    the metrics not analysed by the digest's time (identifiers)
``link``            the tenant's report, or null
==================  ==========================================================================

A test message: ``kind`` ``"test"``, ``idempotency_key``, ``tenant``, ``tenant_name``, ``channel``
and ``message`` (the sentence the other channels show).
"""

from __future__ import annotations

from typing import Any

from semsync.notify.content import Alert, ChannelType, Deliverable, Digest, EmailContent, TestMessage
from semsync.notify.render_email import email_content
from semsync.notify.render_slack import slack_payload
from semsync.notify.render_text import digest_label, digest_summary, period_label, sentence_of_test

__all__ = ["digest_summary", "email_content", "period_label", "render", "slack_payload", "webhook_body"]


def webhook_body(item: Deliverable) -> dict[str, Any]:
    """The JSON body of a generic webhook (the fields in the module's tables); JSON-ready values only."""
    common = {"kind": item.kind, "idempotency_key": item.idempotency_key, "tenant": item.tenant,
              "tenant_name": item.tenant_name, "channel": item.channel}
    if isinstance(item, Alert):
        return common | {"rule": item.rule, "link": item.link, "story": item.story.model_dump(mode="json")}
    if isinstance(item, Digest):
        return common | {
            "grain": item.grain.value,
            "period": item.period,
            "period_label": digest_label(item),
            "summary": digest_summary(item),
            "metrics": [
                {"metric": m.metric, "metric_label": m.metric_label, "link": m.link,
                 "bad": [s.model_dump(mode="json") for s in m.bad],
                 "good": [s.model_dump(mode="json") for s in m.good],
                 "neutral": [s.model_dump(mode="json") for s in m.neutral],
                 "more": m.more}
                for m in item.metrics],
            "folded": [s.model_dump(mode="json") for s in item.folded],
            "not_analysed": list(item.not_analysed),
            "link": item.link,
        }
    if isinstance(item, TestMessage):
        return common | {"message": sentence_of_test(item)}
    raise TypeError(f"cannot render {type(item).__name__} for a webhook")


def render(channel_type: ChannelType, item: Deliverable) -> dict[str, Any] | EmailContent:
    """`item` in the form a channel of `channel_type` sends."""
    if channel_type == "slack":
        return slack_payload(item)
    if channel_type == "email":
        return email_content(item)
    if channel_type == "webhook":
        return webhook_body(item)
    raise ValueError(f"unknown channel type {channel_type!r}: expected slack, email or webhook")
