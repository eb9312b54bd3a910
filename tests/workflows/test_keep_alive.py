"""The worker's keep-alive heartbeat: an activity that reports no progress still beats, so a short
heartbeat timeout catches a dead worker without failing a slow live one (on the dev server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from activities.heartbeat import KeepAliveInterceptor


class Quiet(BaseModel):
    seconds: float


@activity.defn
async def quiet_work(request: Quiet) -> float:
    await asyncio.sleep(request.seconds)  # no heartbeat of its own
    return request.seconds


@workflow.defn(sandboxed=False)
class QuietWorkflow:
    @workflow.run
    async def run(self, request: Quiet) -> float:
        return await workflow.execute_activity(
            quiet_work, request, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1), retry_policy=RetryPolicy(maximum_attempts=1))


async def run_quiet(client, interceptors: list) -> float:
    queue = f"quiet-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[QuietWorkflow], activities=[quiet_work],
                      interceptors=interceptors):
        return await client.execute_workflow(QuietWorkflow.run, Quiet(seconds=2.5), id=f"quiet-{uuid.uuid4()}",
                                             task_queue=queue)


async def test_a_quiet_activity_outlives_its_heartbeat_timeout_with_the_keep_alive(temporal_env):
    assert await run_quiet(temporal_env.client, [KeepAliveInterceptor()]) == 2.5


async def test_without_the_keep_alive_the_same_activity_times_out(temporal_env):
    with pytest.raises(WorkflowFailureError) as failed:
        await run_quiet(temporal_env.client, [])
    assert "heartbeat" in str(failed.value.cause.cause).lower() or "Heartbeat" in repr(failed.value.cause)
