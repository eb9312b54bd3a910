"""The Temporal dev server (SQLite persistence) stopped and started again in the middle of a backfill:
the backfill, its syncs and their pattern runs carry on from the persisted histories and complete,
and the tables equal an undisturbed run."""

from __future__ import annotations

import pytest
from faultkit import (
    CONTEXTS,
    RANGES,
    contents,
    duplicate_pattern_results,
    finish_backfill,
    fresh_database,
    in_process_worker,
    settings_for,
    standard_request,
    start_backfill,
    until,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from devstack import TemporalDevServer, free_port
from semsync.contracts import sync_workflow_id
from semsync.partitions import MetricContext

pytestmark = pytest.mark.temporal

FIRST_SYNC = sync_workflow_id(RANGES[0].grain, f"{RANGES[0].first}:{RANGES[0].last}",
                              MetricContext.from_string(CONTEXTS[0]))


async def test_a_backfill_survives_a_restart_of_the_temporal_server(pg_server, reference, tmp_path):
    server = TemporalDevServer(tmp_path / "temporal", free_port())
    server.start()
    database = await fresh_database(pg_server)
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        settings = settings_for(database.app_url, server.address)
        request = standard_request(settings, max_concurrency=1)  # the contexts one after the other
        async with in_process_worker(client, settings):
            await start_backfill(client, settings, request)

            async def first_sync_working() -> bool:
                try:
                    described = await client.get_workflow_handle(FIRST_SYNC).describe()
                except RPCError:
                    return False
                return any(a.activity_type.name == "sync_component"
                           for a in described.raw_description.pending_activities)

            await until(first_sync_working, "the first sync's components", within=60, every=0.02)
            # the server goes away while the first sync's components run: they complete into the void
            server.stop()
            server.start()
            described = await client.get_workflow_handle(request.workflow_id).describe()
            assert described.status is WorkflowExecutionStatus.RUNNING  # it came back from the database file
            result = await finish_backfill(client, request)
        assert result.progress.state == "completed" and not result.failures, result.failures
        assert result.progress.chunks_succeeded == len(CONTEXTS)
        assert await duplicate_pattern_results(database.admin) == 0
        assert await contents(database.admin) == reference
    finally:
        server.stop()
        await database.dispose()
