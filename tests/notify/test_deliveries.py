"""The delivery service on the embedded PostgreSQL, against real local receivers: alerts recorded
once per (story, channel) by the rules, snoozes and rate limits, a send recorded with the
receiver's answer, transient and final failures, a claim that a dead worker let go, digests."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from semsync.contracts import AlertPlanRequest, DigestPlanRequest, SendDeliveryRequest
from semsync.notify.transports import TransientDeliveryError
from tests.notify.helpers import HOSTILE, SECRET, add_story, catalog_yaml, deliveries, load, service
from tests.notify.receivers import HttpReceiver, Reply, SmtpReceiver

SPAN = {"tenant": "acme", "metric_id": "revenue", "grain": "day", "start_partition": "2025-09-01",
        "end_partition": "2025-09-30"}


@pytest.fixture
async def receivers():
    with SmtpReceiver() as smtp:
        async with HttpReceiver() as http:
            yield http, smtp


async def test_alerts_are_recorded_once_per_story_and_channel_by_the_rules(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
    await add_story(db, tenant_id)  # bad revenue: selected, three channels
    await add_story(db, tenant_id, story_type="level_shift_up", polarity="good")  # good: not selected
    await add_story(db, tenant_id, metric="orders")  # orders: not `rev*`
    await add_story(db, tenant_id, on=date(2025, 10, 5))  # outside the span
    await add_story(db, tenant_id, story_type="spike", status="resolved")  # not new
    deliveries_service = service(db, smtp.port)
    plan = await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))
    assert len(plan.deliveries) == 3 and plan.existing == 0
    rows = await deliveries(db)
    assert sorted((r.channel_id, r.channel_type, r.rule_id, r.status) for r in rows) == [
        ("hook", "webhook", "bad-alerts", "pending"), ("mail", "email", "bad-alerts", "pending"),
        ("ops", "slack", "bad-alerts", "pending")]
    again = await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))
    assert sorted(again.deliveries) == sorted(plan.deliveries) and again.existing == 3  # nothing recorded twice
    assert len(await deliveries(db)) == 3


async def test_a_send_reaches_each_channel_once_signed_and_keyed(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
    await add_story(db, tenant_id, slice=HOSTILE, dimension="region", genre="segment", story_type="slice_weaker",
                    pattern="dimension_analysis")
    deliveries_service = service(db, smtp.port)
    plan = await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))
    for delivery_id in plan.deliveries:
        result = await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))
        assert result.outcome == "sent"
        again = await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))
        assert again.outcome == "already_sent"
    rows = {r.channel_id: r for r in await deliveries(db)}
    assert {r.status for r in rows.values()} == {"sent"} and all(r.sent_at for r in rows.values())
    (hook,) = http.received("/hook")
    assert hook.key == rows["hook"].key
    timestamp = hook.headers["x-semsync-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["x-semsync-signature"] == f"v1={expected}"
    body = json.loads(hook.body)
    assert body["story"]["slice"] == HOSTILE and body["idempotency_key"] == rows["hook"].key
    (slack,) = http.received("/services/T0/B0/slack-secret-path")
    assert "<!channel>" not in slack.body.decode()
    (mail,) = smtp.received()
    assert mail.message_id == f"<{rows['mail'].key}@semsync>"


async def test_transient_failures_are_retried_and_final_ones_recorded(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
    await add_story(db, tenant_id)
    deliveries_service = service(db, smtp.port)
    plan = await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))
    rows = {r.id: r for r in await deliveries(db)}
    hook = next(i for i in plan.deliveries if rows[i].channel_id == "hook")
    slack = next(i for i in plan.deliveries if rows[i].channel_id == "ops")
    http.set_reply("/hook", Reply(503, "busy"))
    with pytest.raises(TransientDeliveryError):
        await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=hook))
    http.set_reply("/services/T0/B0/slack-secret-path", Reply(404, "no_service"))
    refused = await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=slack))
    assert refused.outcome == "failed" and "no_service" in (refused.error or "")
    rows = {r.id: r for r in await deliveries(db)}
    assert (rows[hook].status, rows[hook].attempts, rows[hook].status_code) == ("retrying", 1, 503)
    assert (rows[slack].status, rows[slack].status_code) == ("failed", 404)
    assert "slack-secret-path" not in (rows[slack].last_error or "") + (rows[slack].response or "")
    http.set_reply("/hook", None)
    sent = await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=hook))
    assert sent.outcome == "sent" and sent.attempts == 2
    assert [r.ok for r in http.received("/hook")] == [False, True]
    failed_again = await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=slack))
    assert failed_again.outcome == "failed"  # final: not sent again


async def test_a_claim_held_by_a_dead_worker_runs_out_and_the_same_key_is_sent(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port, rules="""
        - {id: all, channels: [hook], mode: alert}"""))
    await add_story(db, tenant_id)
    deliveries_service = service(db, smtp.port)
    (delivery_id,) = (await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))).deliveries
    async with db.admin_engine.begin() as conn:  # an attempt that claimed it and died before recording
        await conn.execute(text("UPDATE deliveries SET status = 'sending', attempts = 1, "
                                "claimed_until = now() + interval '1 minute'"))
    with pytest.raises(TransientDeliveryError, match="being sent by another attempt"):
        await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE deliveries SET claimed_until = now() - interval '1 second'"))
    assert (await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))).outcome == \
        "sent"
    (row,) = await deliveries(db)
    assert row.attempts == 2 and http.received("/hook")[0].key == row.key


async def test_snoozed_metrics_and_rate_limits_hold_alerts_back_for_the_digest(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port, limit=2, rules="""
        - {id: all, channels: [hook], mode: alert}
        - {id: digest, channels: [ops], grains: [day], mode: digest}"""))
    for day in range(2, 7):  # the span's stories carry 09-02 to 10-01
        await add_story(db, tenant_id, on=date(2025, 9, day), salience=0.5 + day / 20)
    await add_story(db, tenant_id, metric="orders")
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("INSERT INTO alert_snoozes (tenant_id, metric_id) VALUES (:t, 'orders')"),
                           {"t": tenant_id})
    deliveries_service = service(db, smtp.port)
    plan = await deliveries_service.plan_alerts(AlertPlanRequest(**SPAN))
    orders = await deliveries_service.plan_alerts(AlertPlanRequest(**{**SPAN, "metric_id": "orders"}))
    assert (len(plan.deliveries), plan.folded, orders.snoozed, orders.deliveries) == (2, 3, 1, [])
    rows = await deliveries(db)
    pending = sorted(r.salience for r in rows if r.status == "pending")
    assert pending == [0.75, 0.8]  # the most salient go now
    assert sorted(r.status for r in rows) == ["folded"] * 3 + ["pending"] * 2 + ["snoozed"]
    # the folded alerts go out in the hook channel's next digest (it has no digest rule of its own)
    at = datetime(2025, 9, 6, 6, 0, tzinfo=UTC)
    await _ledger_told(db, tenant_id, "2025-09-05", ["revenue", "orders"])
    digest = await deliveries_service.plan_digest(DigestPlanRequest(tenant="acme", grain="day", scheduled_at=at))
    assert digest.period == "2025-09-05" and digest.waiting_for == 0 and len(digest.deliveries) == 2
    for delivery_id in digest.deliveries:
        assert (await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))).outcome \
            == "sent"
    rows = await deliveries(db)
    assert sorted(r.status for r in rows if r.kind == "alert") == ["digested"] * 3 + ["pending"] * 2 + ["snoozed"]
    hook_digest = json.loads(http.received("/hook")[-1].body)
    assert hook_digest["kind"] == "digest" and len(hook_digest["folded"]) == 3
    again = await deliveries_service.plan_digest(DigestPlanRequest(tenant="acme", grain="day", scheduled_at=at))
    assert again.deliveries == []  # once per (channel, period)


async def test_a_digest_waits_for_its_periods_stories_then_goes_with_what_there_is(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
    await add_story(db, tenant_id, on=date(2025, 9, 6))
    deliveries_service = service(db, smtp.port)
    # 08:00 in Berlin on 2025-09-06 is 06:00 UTC: the day before, 2025-09-05, whose stories carry 09-06
    at = datetime(2025, 9, 6, 6, 0, tzinfo=UTC)
    waiting = await deliveries_service.plan_digest(DigestPlanRequest(tenant="acme", grain="day", scheduled_at=at))
    assert (waiting.period, waiting.waiting_for, waiting.deliveries) == ("2025-09-05", 2, [])
    await _ledger_told(db, tenant_id, "2025-09-05", ["revenue"])
    late = await deliveries_service.plan_digest(DigestPlanRequest(tenant="acme", grain="day", scheduled_at=at,
                                                                  stop_waiting=True))
    assert late.waiting_for == 1 and len(late.deliveries) == 2  # ops and mail have the daily digest rule
    for delivery_id in late.deliveries:
        await deliveries_service.send(SendDeliveryRequest(tenant="acme", delivery_id=delivery_id))
    (mail,) = smtp.received()
    html = mail.part("text/html")
    assert "Revenue fell 12 %" in html and "orders" in html.lower()  # told, and orders named as not analysed
    # a Berlin midnight: 2025-09-06T23:30Z is already the 7th there, so the digest tells the 6th
    assert (await deliveries_service.plan_digest(DigestPlanRequest(
        tenant="acme", grain="day", scheduled_at=datetime(2025, 9, 6, 23, 30, tzinfo=UTC)))).period == "2025-09-06"


async def test_notifications_are_sealed_at_rest(db, receivers):
    http, smtp = receivers
    await load(db, catalog_yaml(http.base_url, smtp.port))
    async with db.admin_engine.connect() as conn:
        stored = await conn.scalar(text("SELECT notifications::text FROM tenants"))
    assert "slack-secret-path" not in stored and SECRET not in stored and "cfo@acme" not in stored
    assert json.loads(stored)["alerts"] is True


async def _ledger_told(test_database, tenant_id: int, partition: str, metrics: list[str]) -> None:
    async with test_database.admin_engine.begin() as conn:
        for metric in metrics:
            await conn.execute(text(
                "INSERT INTO partition_ledger (tenant_id, metric_id, grain, partition_key, partition_start, kind, "
                "status, last_attempt_at) VALUES (:t, :m, 'day', :p, :d, 'stories', 'succeeded', now())"),
                {"t": tenant_id, "m": metric, "p": partition, "d": date.fromisoformat(partition)})


async def test_a_rotated_key_reseals_the_notifications_too(db, receivers):
    from semsync.catalog.file import parse_catalog
    from semsync.catalog.store import read_notifications, reseal_connections, write_catalog
    from semsync.encryption import SecretBox, new_key

    http, smtp = receivers
    old, new = new_key(), new_key()
    await write_catalog(db.catalog_session_factory, parse_catalog(catalog_yaml(http.base_url, smtp.port)),
                        box=SecretBox([old]))
    assert await reseal_connections(db.catalog_session_factory, box=SecretBox([new, old])) == 1
    tenant = await read_notifications(db.session_factory, "acme", box=SecretBox([new]))  # the old key dropped
    assert tenant.notifications.channel("hook").secret.get_secret_value() == SECRET
    async with db.admin_engine.connect() as conn:
        assert json.loads(await conn.scalar(text("SELECT notifications::text FROM tenants")))["alerts"] is True


async def test_a_rule_with_a_maximum_age_leaves_old_stories_unalerted(db, receivers):
    http, smtp = receivers
    tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port, rules="""
        - {id: recent, channels: [hook], mode: alert, max_age_days: 30}"""))
    await add_story(db, tenant_id)  # 2025-09-02: over a year old
    today = datetime.now(UTC).date()
    await add_story(db, tenant_id, on=today)
    span = {**SPAN, "start_partition": "2025-09-01", "end_partition": (today - timedelta(days=1)).isoformat()}
    plan = await service(db, smtp.port).plan_alerts(AlertPlanRequest(**span))
    assert len(plan.deliveries) == 1
    assert [r.story_date for r in await deliveries(db)] == [today]
