"""The two Temporal servers the suite runs: the dev server and the time-skipping test server."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from devstack import SEARCH_ATTRIBUTES


class WaitInput(BaseModel):
    days: int


class WaitResult(BaseModel):
    waited_days: int


@workflow.defn(sandboxed=False)
class WaitWorkflow:
    @workflow.run
    async def run(self, request: WaitInput) -> WaitResult:
        await workflow.sleep(timedelta(days=request.days))
        return WaitResult(waited_days=request.days)


async def _run_wait(client: Client, task_queue: str, days: int) -> WaitResult:
    async with Worker(client, task_queue=task_queue, workflows=[WaitWorkflow]):
        return await client.execute_workflow(
            WaitWorkflow.run, WaitInput(days=days), id=f"wait-{uuid.uuid4()}", task_queue=task_queue,
            result_type=WaitResult,
        )


async def test_time_skipping_server_skips_a_week_of_timers(time_skipping_env, task_queue):
    result = await _run_wait(time_skipping_env.client, task_queue, days=7)
    assert result == WaitResult(waited_days=7)


async def test_dev_server_has_semsync_search_attributes(temporal_env):
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    response = await temporal_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_env.client.namespace)
    )
    assert set(SEARCH_ATTRIBUTES) <= set(response.custom_attributes)


async def test_dev_server_runs_workflows_with_pydantic_payloads(temporal_env, task_queue):
    assert await _run_wait(temporal_env.client, task_queue, days=0) == WaitResult(waited_days=0)
