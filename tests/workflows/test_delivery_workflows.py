"""AlertWorkflow and DigestWorkflow on the time-skipping server, with the real delivery activities on
the embedded PostgreSQL and real local receivers that fail a share of requests."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities.backfill import LedgerActivities
from activities.deliveries import DeliveryActivities
from semsync.contracts import (
    AlertWorkflowInput,
    AlertWorkflowResult,
    DigestInput,
    StoryRunRequest,
    StoryRunResponse,
    StoryWorkflowInput,
)
from tests.notify.helpers import SECRET, add_story, catalog_yaml, deliveries, load, service
from tests.notify.receivers import HttpReceiver, SmtpReceiver
from workflows.deliveries import AlertWorkflow, DigestWorkflow
from workflows.stories import StoryWorkflow

SPAN = {"tenant": "acme", "metric_id": "revenue", "grain": "day", "start_partition": "2025-09-01",
        "end_partition": "2025-09-30"}


class _Ledger:
    async def record(self, entries) -> int:
        return len(entries)


@activity.defn(name="tell_stories")
async def told(request: StoryRunRequest) -> StoryRunResponse:
    partitions = request.partitions()
    return StoryRunResponse(tenant=request.tenant, tenant_id=1, metric_id=request.metric_id, grain=request.grain,
                            first_partition=partitions[0].key, last_partition=partitions[-1].key, results_read=1,
                            stories=5, new=5, resolved=0, written=5, deleted=0, duration_s=0.1, alerts=True)


def workers(client, test_database, smtp_port: int, queue: str, **settings):
    activities = DeliveryActivities(service(test_database, smtp_port, **settings))
    ledger = LedgerActivities(_Ledger())
    return Worker(client, task_queue=queue, workflows=[StoryWorkflow, AlertWorkflow, DigestWorkflow],
                  activities=[activities.plan_alerts, activities.plan_digest, activities.send_delivery,
                              activities.give_up_delivery, ledger.record_ledger, told])


HISTORIES = Path(__file__).parent / "histories"


async def keep(handle, name: str) -> None:
    """With SEMSYNC_RECORD_HISTORIES=1, the workflow's history for `test_replay.py`."""
    if os.environ.get("SEMSYNC_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text((await handle.fetch_history()).to_json())


async def finished(client, workflow_id: str, result_type):
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    for _ in range(600):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not complete")


async def test_new_stories_are_alerted_once_on_every_channel_through_failing_receivers(own_clock, db):
    client = own_clock.client
    with SmtpReceiver(fail_rate=0.3, seed=3) as smtp:
        async with HttpReceiver(fail_rate=0.3, seed=5) as http:
            tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
            for day in range(2, 12):  # the span of September carries the stories of 09-02 to 10-01
                await add_story(db, tenant_id, on=date(2025, 9, day), salience=0.5 + day / 50)
            queue = f"deliveries-{uuid.uuid4()}"
            async with workers(client, db, smtp.port, queue):
                stories = StoryWorkflowInput(**SPAN)
                story_handle = await client.start_workflow(StoryWorkflow.run, stories, id=f"{uuid.uuid4()}",
                                                           task_queue=queue)
                result = await story_handle.result()
                await keep(story_handle, "stories_with_alerts")
                assert result.alerts_workflow_id == "alerts/day/2025-09-01:2025-09-30/acme::revenue"
                alerts = await finished(client, result.alerts_workflow_id, AlertWorkflowResult)
                assert (alerts.sent, alerts.failed) == (30, 0)
                history = (await client.get_workflow_handle(result.alerts_workflow_id).fetch_history()).to_json()
                # deliveries travel as ids: no address or secret in the history (errors name scheme://host)
                assert "slack-secret-path" not in history and SECRET not in history and "/hook" not in history
                await keep(client.get_workflow_handle(result.alerts_workflow_id), "alerts_with_retries")
                # the alert step again (a re-run backfill): nothing is sent twice
                again = await client.execute_workflow(AlertWorkflow.run, AlertWorkflowInput(**SPAN),
                                                      id=f"{uuid.uuid4()}", task_queue=queue)
                assert (again.sent, again.already_sent, again.failed) == (0, 0, 0)
            rows = await deliveries(db)
    assert len(rows) == 30 and {r.status for r in rows} == {"sent"}
    assert max(r.attempts for r in rows) > 1  # the receivers failed some: retried
    assert len([r for r in http.received() if r.ok]) == 20 and not http.duplicates()
    assert len(smtp.received()) == 10 and not smtp.duplicates()
    mailed = {key.removeprefix("<").removesuffix("@semsync>") for key in smtp.unique_keys()}
    assert {r.key for r in http.received() if r.ok} | mailed == {r.key for r in rows}


async def test_a_refused_delivery_is_final_and_one_that_keeps_failing_gives_up(own_clock, db):
    client = own_clock.client
    with SmtpReceiver(refuse={"cfo@acme.example"}) as smtp:
        async with HttpReceiver(fail_rate=1.0) as http:
            tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port, rules="""
                - {id: all, channels: [hook, mail], mode: alert}"""))
            await add_story(db, tenant_id)
            queue = f"deliveries-{uuid.uuid4()}"
            # retries run in real time here (the server skips time only while the workflow waits on a timer)
            async with workers(client, db, smtp.port, queue, retry_for_h=0.002, retry_max_s=1):
                handle = await client.start_workflow(AlertWorkflow.run, AlertWorkflowInput(**SPAN),
                                                     id=f"{uuid.uuid4()}", task_queue=queue)
                result = await handle.result()
                await keep(handle, "alerts_refused_and_given_up")
            rows = {r.channel_id: r for r in await deliveries(db)}
    assert (result.sent, result.failed) == (0, 2)
    assert rows["mail"].status == "failed" and rows["mail"].attempts == 1 and "550" in rows["mail"].last_error
    assert rows["hook"].status == "failed" and rows["hook"].attempts > 3 and "gave up" in rows["hook"].last_error


async def test_a_digest_waits_for_its_stories_durably_and_goes_once(own_clock, db):
    time_skipping_env = own_clock
    client = time_skipping_env.client
    with SmtpReceiver() as smtp:
        async with HttpReceiver() as http:
            tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
            await add_story(db, tenant_id, on=date(2025, 9, 6))
            queue = f"deliveries-{uuid.uuid4()}"
            async with workers(client, db, smtp.port, queue, digest_wait_h=2):
                started = datetime.now(UTC)
                handle = await client.start_workflow(DigestWorkflow.run, DigestInput(tenant="acme", grain="day",
                                                                                     period="2025-09-05"),
                                                     id=f"{uuid.uuid4()}", task_queue=queue)
                await time_skipping_env.sleep(timedelta(hours=3))  # no stories told: it waits 2 hours, then goes
                result = await handle.result()
                second = await client.start_workflow(DigestWorkflow.run, DigestInput(
                    tenant="acme", grain="day", period="2025-09-05"), id=f"{uuid.uuid4()}", task_queue=queue)
                await time_skipping_env.sleep(timedelta(hours=3))
                again = await second.result()
                history = [e async for e in handle.fetch_history_events()]
                await keep(handle, "digest_waiting")
            rows = await deliveries(db)
    assert (result.period, result.sent, result.not_analysed) == ("2025-09-05", 2, 2)
    assert sum(1 for e in history if e.HasField("timer_started_event_attributes")) == 8  # every 15 minutes, 2 h
    assert (again.sent, again.already_sent) == (0, 0)
    assert sorted(r.channel_id for r in rows) == ["mail", "ops"] and {r.status for r in rows} == {"sent"}
    assert len(smtp.received()) == 1 and len(http.received()) == 1
    assert datetime.now(UTC) - started < timedelta(minutes=5)
