"""Alerts and digests end to end, disturbed: a backfill over the demo warehouse with notification
rules on two tenants, `python worker.py` as a process, the Temporal dev server of this test, a
Slack/webhook receiver and an SMTP server that fail 30 % of requests. The worker is SIGKILLed while
deliveries are in flight and the Temporal server is restarted; then the tenants' digests go out and
the backfill runs again.

Every alert the rules select (counted independently from the stored stories) and each digest reach
their receiver: every delivery's idempotency key answered 2xx at least once (none lost); a key answered
more than once is the duplicate a receiver drops by it, possible only for a send the kill interrupted;
the re-run records and sends nothing new.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from faultkit import (
    WorkerProcess,
    backfill_request,
    finish_backfill,
    fresh_database,
    settings_for,
    start_backfill,
    until,
)
from sqlalchemy import text
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from devstack import TemporalDevServer, free_port
from devstack.demo import demo_catalog
from semsync.catalog.models import Catalog
from semsync.contracts import AlertWorkflowResult, BackfillMode, ContextSelector, DigestInput, GrainRange
from semsync.contracts import alert_workflow_id as alerts_id
from semsync.notify.channels import Notifications
from semsync.partitions import MetricContext
from tests.notify.receivers import HttpReceiver, SmtpReceiver
from workflows.deliveries import DigestWorkflow

pytestmark = pytest.mark.temporal

SECRET = "0123456789abcdef0123456789abcdef"
CONTEXTS = ["acme::revenue", "acme::orders", "globex::orders", "globex::revenue"]
RANGE = GrainRange(grain="day", first="2025-07-01", last="2025-12-10")
MIN_SALIENCE = 0.1


def notifying_catalog(base_url: str) -> Catalog:
    """The demo's acme and globex with a Slack, a webhook and an email channel each, bad stories of
    salience ≥ MIN_SALIENCE alerted, every daily story in the digest."""
    tenants = []
    for tenant in demo_catalog().tenants:
        if tenant.identifier not in ("acme", "globex"):
            continue
        notifications = Notifications.model_validate({
            "timezone": "Europe/Berlin",
            "channels": [
                {"id": "ops", "type": "slack", "webhook_url": f"{base_url}/slack/{tenant.identifier}"},
                {"id": "hook", "type": "webhook", "url": f"{base_url}/hook/{tenant.identifier}", "secret": SECRET},
                {"id": "mail", "type": "email", "recipients": [f"ops@{tenant.identifier}.example"]}],
            "rules": [
                {"id": "bad", "channels": ["ops", "hook", "mail"], "polarity": ["bad"],
                 "min_salience": MIN_SALIENCE, "mode": "alert"},
                {"id": "daily", "channels": ["ops", "mail"], "grains": ["day"], "mode": "digest"}]})
        tenants.append(tenant.model_copy(update={"notifications": notifications}))
    return Catalog(tenants=tenants)


async def selected_alerts(engine) -> int:
    """The alerts the rules select, from the stored stories: new bad group leads of salience ≥ the
    rule's, on the span's analysis dates, each to three channels."""
    async with engine.connect() as conn:
        stories = await conn.scalar(text(
            "SELECT count(*) FROM stories s JOIN tenants t ON t.id = s.tenant_id "
            "WHERE t.identifier IN ('acme', 'globex') AND s.status = 'new' AND s.polarity = 'bad' "
            "AND s.grouped_under IS NULL AND s.salience >= :m AND s.grain = 'day' "
            "AND s.story_date BETWEEN :first AND :last"),
            {"m": MIN_SALIENCE, "first": date(2025, 7, 2), "last": date(2025, 12, 11)})
    return 3 * stories


async def delivery_rows(engine) -> list:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT key, kind, channel_type, status, attempts FROM deliveries"))
        return list(rows.all())


async def test_alerts_and_digests_arrive_once_through_a_killed_worker_and_a_restarted_server(pg_server, tmp_path):
    server = TemporalDevServer(tmp_path / "temporal", free_port())
    server.start()
    with SmtpReceiver(fail_rate=0.3, seed=1) as smtp:
        async with HttpReceiver(fail_rate=0.3, seed=2) as http:
            database = await fresh_database(pg_server, notifying_catalog(http.base_url),
                                            seed_until=date(2025, 12, 31))
            settings = settings_for(database.app_url, server.address)
            worker = WorkerProcess.for_settings(
                settings, tmp_path / "worker.log", SEMSYNC_NOTIFY__SMTP_PORT=str(smtp.port),
                SEMSYNC_NOTIFY__SMTP_TLS="none", SEMSYNC_NOTIFY__RETRY_INITIAL_S="0.2",
                SEMSYNC_NOTIFY__RETRY_MAX_S="2", SEMSYNC_NOTIFY__DIGEST_WAIT_H="0")
            try:
                client = await Client.connect(server.address, data_converter=pydantic_data_converter)
                await worker.start()
                request = backfill_request(settings, ranges=[RANGE], selector=ContextSelector(contexts=CONTEXTS))
                await start_backfill(client, settings, request)

                async def sending() -> bool:
                    return any(r.status == "sending" for r in await delivery_rows(database.admin))

                # 1. the worker dies while a send is in flight, and comes back
                await until(sending, "a delivery in flight", within=240, every=0.05)
                await worker.kill()
                in_flight = sum(r.status == "sending" for r in await delivery_rows(database.admin))
                await worker.start()
                # 2. the Temporal server goes away while deliveries are retried, and comes back
                await until(sending, "a delivery in flight again", within=240, every=0.05)
                server.stop()
                server.start()
                await finish_backfill(client, request)
                span = f"{RANGE.first}:{RANGE.last}"
                for context in CONTEXTS:  # every context told new stories and its tenant has alert rules
                    alerts = client.get_workflow_handle(alerts_id(RANGE.grain, span, MetricContext.from_string(
                        context)), result_type=AlertWorkflowResult)
                    assert (await asyncio.wait_for(alerts.result(), 300)).failed == 0
                expected = await selected_alerts(database.admin)
                # 3. the tenants' digests of the span's last day, through the same failing receivers
                for tenant in ("acme", "globex"):
                    digest = await client.execute_workflow(
                        DigestWorkflow.run, DigestInput(tenant=tenant, grain="day", period=RANGE.last),
                        id=f"digest/{tenant}/day/{RANGE.last}", task_queue=settings.temporal.sync_task_queue)
                    assert (digest.sent, digest.failed) == (2, 0), digest
                rows = await delivery_rows(database.admin)
                received = {r.key for r in http.received() if r.ok} | {
                    key.removeprefix("<").removesuffix("@semsync>") for key in smtp.unique_keys()}
                # 4. the backfill again: nothing new recorded or sent
                before = (len(http.received()), len(smtp.received()))
                # synced, analysed (forced: the data did not change) and told again
                again = backfill_request(settings, ranges=[RANGE], selector=ContextSelector(contexts=CONTEXTS),
                                         mode=BackfillMode.ALL, force_analysis=True)
                await start_backfill(client, settings, again)
                await finish_backfill(client, again)
                for context in CONTEXTS:
                    handle = client.get_workflow_handle(alerts_id(RANGE.grain, span, MetricContext.from_string(
                        context)), result_type=AlertWorkflowResult)
                    rerun = await asyncio.wait_for(handle.result(), 300)
                    assert (rerun.sent, rerun.already_sent, rerun.failed) == (0, 0, 0), rerun
                after_rows = await delivery_rows(database.admin)
                after = (len(http.received()), len(smtp.received()))
            finally:
                await worker.stop()
                server.stop()
                await database.dispose()
    alerts = [r for r in rows if r.kind == "alert"]
    digests = [r for r in rows if r.kind == "digest"]
    assert expected > 0 and len(alerts) == expected  # every selected alert recorded, once
    assert len(digests) == 4 and {r.status for r in rows} == {"sent"}
    assert received == {r.key for r in rows}  # none lost: every delivery's key answered 2xx
    duplicates = sum(n - 1 for n in http.duplicates().values()) + sum(n - 1 for n in smtp.duplicates().values())
    assert duplicates <= in_flight  # only a send the kill interrupted can arrive twice (same key: dropped)
    assert max(r.attempts for r in rows) > 1  # the receivers failed some: retried
    assert len(after_rows) == len(rows) and after == before
    print(f"deliveries end to end: alerts={len(alerts)} digests={len(digests)} requests={before[0] + before[1]} "
          f"in_flight_at_kill={in_flight} duplicates={duplicates} lost={len({r.key for r in rows} - received)}")
