"""The sync and pattern activities: results pass through, errors become the right ApplicationError."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.patterns import PatternActivities
from activities.sync import SyncActivities
from semsync.errors import SourceRequestError, SourceUnavailableError
from semsync.partitions import Grain
from semsync.pattern_runs import PatternRunRequest, PatternRunService
from semsync.sync import SemanticSyncRequest, SemanticSyncResponse


def sync_request(**overrides) -> SemanticSyncRequest:
    fields = {"tenant": "acme", "metric_id": "revenue", "grain": Grain.DAY, "start_partition": "2025-07-01"}
    return SemanticSyncRequest(**(fields | overrides))


async def test_sync_activity_returns_the_response(service):
    response = await ActivityEnvironment().run(SyncActivities(service).sync_partition, sync_request())
    assert response.success and response.base.rows_inserted == 366


@pytest.mark.parametrize(
    ("overrides", "error_type"),
    [({"metric_id": "profit"}, "UnknownMetricError"), ({"start_partition": "2025-7-1"}, "PartitionKeyError")],
)
async def test_bad_input_is_non_retryable(service, overrides, error_type):
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(SyncActivities(service).sync_partition, sync_request(**overrides))
    assert raised.value.type == error_type and raised.value.non_retryable


@pytest.mark.parametrize(
    ("error", "non_retryable"),
    [(SourceUnavailableError("503 from cube"), False), (SourceRequestError("400: unknown member"), True)],
)
async def test_failed_base_series_fails_the_activity_as_its_error_is(service, scripted, error, non_retryable):
    scripted.fail_dimensions[None] = error
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(SyncActivities(service).sync_partition, sync_request())
    assert raised.value.type == type(error).__name__ and raised.value.non_retryable is non_retryable
    assert raised.value.details[0]["base"]["status"] == "FAILED"


async def test_pattern_activity_runs_and_maps_errors(service, warehouse):
    await service.sync(sync_request(end_partition="2025-07-31"))
    activities = PatternActivities(PatternRunService(warehouse.session_factory))
    request = PatternRunRequest(tenant="acme", metric_id="revenue", pattern="drift_detection", grain=Grain.DAY,
                                start_partition="2025-07-20", end_partition="2025-07-21")
    assert (await ActivityEnvironment().run(activities.run_pattern, request)).results_stored == 2
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.run_pattern, request.model_copy(update={"pattern": "nope"}))
    assert raised.value.type == "NotFoundError" and raised.value.non_retryable


@workflow.defn(sandboxed=False)
class CallSync:
    """A stand-in caller: the real SyncWorkflow comes with the Temporal layer."""

    @workflow.run
    async def run(self, request: SemanticSyncRequest) -> SemanticSyncResponse:
        return await workflow.execute_activity(
            "sync_partition", request, result_type=SemanticSyncResponse,
            start_to_close_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_attempts=2),
        )


async def test_worker_runs_the_sync_activity_on_a_real_server(temporal_env, warehouse, monkeypatch):
    from temporalio.worker import Worker

    import worker as worker_module
    from semsync.config import get_settings

    monkeypatch.setenv("SEMSYNC_DATABASE__URL", warehouse.app_url)
    monkeypatch.setenv("SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE", f"sync-{uuid.uuid4()}")
    get_settings.cache_clear()
    settings = get_settings()
    client = temporal_env.client
    async with worker_module.build_workers(client, settings) as workers:
        caller = Worker(client, task_queue=settings.temporal.sync_task_queue, workflows=[CallSync])
        async with workers[0], caller:
            response = await client.execute_workflow(
                CallSync.run, sync_request(), id=f"sync/day/2025-07-01/acme::revenue/{uuid.uuid4()}",
                task_queue=settings.temporal.sync_task_queue, result_type=SemanticSyncResponse,
            )
            assert response.success and response.base.rows_inserted == 366
            with pytest.raises(WorkflowFailureError) as failed:
                await client.execute_workflow(
                    CallSync.run, sync_request(metric_id="profit"), id=f"sync-bad-{uuid.uuid4()}",
                    task_queue=settings.temporal.sync_task_queue, result_type=SemanticSyncResponse,
                )
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and cause.cause.type == "UnknownMetricError"
    assert cause.retry_state.name == "NON_RETRYABLE_FAILURE"
    get_settings.cache_clear()
