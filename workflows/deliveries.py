"""AlertWorkflow and DigestWorkflow: stories delivered to Slack, email and webhooks, once.

AlertWorkflow is the StoryWorkflow's continuation (parent-close ABANDON) when the span told new
stories and the tenant has alert rules: one activity records the deliveries (the deliveries table's
unique key makes a re-run record nothing twice), then each is sent by its own activity, retried with
backoff for as long as the settings say (`SEMSYNC_NOTIFY__RETRY_*`; a receiver down for hours is
waited out), a few at once. Id: ``alerts/{grain}/{span}/{tenant}::{metric}``.

DigestWorkflow is what a tenant's digest schedule starts (``semsync-digest-{tenant}-{grain}``, at
the tenant's local time): the period is the one before the scheduled time in the tenant's time zone;
it waits (durably, re-checking every 15 minutes, at most `SEMSYNC_NOTIFY__DIGEST_WAIT_H`) for the
period's stories to be told, then records one delivery per channel and sends them. A slot missed by
an outage runs on return (the schedule's one-day catch-up), and its deliveries' unique key sends it
once.

Neither carries an address or a secret: deliveries travel as ids.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.deliveries import DeliveryActivities
    from semsync.contracts import (
        AlertPlanRequest,
        AlertWorkflowInput,
        AlertWorkflowResult,
        DeliveryRetry,
        DeliveryTally,
        DigestInput,
        DigestPlanRequest,
        DigestResult,
        GiveUpRequest,
        ResendInput,
        SendDeliveryRequest,
    )
    from workflows import search_attributes as sa
    from workflows.failures import describe
    from workflows.options import QUICK
    from workflows.slots import scheduled_time

#: sends at once per workflow (each its own activity)
PARALLEL_SENDS = 4
#: one attempt at one send (the transports' own timeout, `SEMSYNC_NOTIFY__TIMEOUT_S`, is shorter); a
#: worker that died mid-send is noticed after it, and its claim (`semsync.notify.store.CLAIM`) runs out soon after
SEND_TIMEOUT = timedelta(seconds=30)
#: how often a digest re-checks whether its period's stories are told
DIGEST_POLL = timedelta(minutes=15)


async def send_all(tenant: str, deliveries: list[int], retry: DeliveryRetry, tally: DeliveryTally) -> None:
    """Send every delivery (a few at once), each retried per `retry`; a delivery whose retries run
    out is recorded failed. Adds the outcomes to `tally`."""
    gate = asyncio.Semaphore(PARALLEL_SENDS)
    policy = RetryPolicy(initial_interval=timedelta(seconds=retry.initial_s), backoff_coefficient=2.0,
                         maximum_interval=timedelta(seconds=retry.max_s), maximum_attempts=0,
                         non_retryable_error_types=["DeliveryRefused", "UnknownTenantError", "CatalogError"])

    async def one(delivery_id: int) -> None:
        async with gate:
            request = SendDeliveryRequest(tenant=tenant, delivery_id=delivery_id)
            try:
                result = await workflow.execute_activity_method(
                    DeliveryActivities.send_delivery, request, start_to_close_timeout=SEND_TIMEOUT,
                    schedule_to_close_timeout=timedelta(hours=retry.for_h), retry_policy=policy,
                    summary=f"delivery {delivery_id}")
            except ActivityError as error:
                reason = f"gave up: {describe(error)}"
                await workflow.execute_activity_method(
                    DeliveryActivities.give_up_delivery,
                    GiveUpRequest(tenant=tenant, delivery_id=delivery_id, error=reason), **QUICK)
                tally.failed += 1
                return
            if result.outcome == "sent":
                tally.sent += 1
            elif result.outcome == "already_sent":
                tally.already_sent += 1
            elif result.outcome == "failed":
                tally.failed += 1

    await asyncio.gather(*(one(d) for d in deliveries))


@workflow.defn(failure_exception_types=[ValidationError])
class AlertWorkflow:
    @workflow.run
    async def run(self, request: AlertWorkflowInput) -> AlertWorkflowResult:
        sa.upsert(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                  partition=request.span, pattern="alerts", backfill=request.backfill_id, status="RUNNING")
        plan_request = AlertPlanRequest(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                        start_partition=request.start_partition, end_partition=request.end_partition,
                                        workflow_id=workflow.info().workflow_id)
        plan = await workflow.execute_activity_method(DeliveryActivities.plan_alerts, plan_request,
                                                      summary=f"alerts {request.grain.value} {request.span}", **QUICK)
        result = AlertWorkflowResult(tenant=request.tenant, metric_id=request.metric_id, grain=request.grain,
                                     span=request.span, snoozed=plan.snoozed, folded=plan.folded)
        await send_all(request.tenant, plan.deliveries, plan.retry, result)
        sa.upsert(status="FAILED" if result.failed else "SUCCESS")
        return result


@workflow.defn(failure_exception_types=[ValidationError])
class DigestWorkflow:
    @workflow.run
    async def run(self, request: DigestInput) -> DigestResult:
        at = scheduled_time()
        sa.upsert(tenant=request.tenant, grain=request.grain.value, pattern="digest", status="RUNNING")
        plan_request = DigestPlanRequest(tenant=request.tenant, grain=request.grain, scheduled_at=at,
                                         period=request.period, workflow_id=workflow.info().workflow_id)
        while True:
            plan = await workflow.execute_activity_method(DeliveryActivities.plan_digest, plan_request,
                                                          summary=f"digest {request.grain.value}", **QUICK)
            if not plan.waiting_for or plan_request.stop_waiting:
                break
            left = at + timedelta(hours=plan.wait_h) - workflow.now()
            if left <= timedelta(0):
                plan_request.stop_waiting = True  # the period's stories are late: send what there is
                continue
            workflow.logger.info("digest of %s waits for %d contexts' stories", plan.period, plan.waiting_for)
            await workflow.sleep(min(DIGEST_POLL, left))
        sa.upsert(partition=plan.period)
        result = DigestResult(tenant=request.tenant, grain=request.grain, period=plan.period,
                              not_analysed=plan.waiting_for)
        await send_all(request.tenant, plan.deliveries, plan.retry, result)
        sa.upsert(status="FAILED" if result.failed else "SUCCESS")
        return result


@workflow.defn(failure_exception_types=[ValidationError])
class ResendWorkflow:
    """`deliveries --resend`: deliveries an operator reset to pending (failed ones, after the receiver
    was fixed), sent again as the alert and digest steps send."""

    @workflow.run
    async def run(self, request: ResendInput) -> DeliveryTally:
        tally = DeliveryTally()
        await send_all(request.tenant, request.deliveries, request.retry, tally)
        return tally
