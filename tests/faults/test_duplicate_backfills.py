"""Two identical backfills started at once: the second is recognised by its id, or is harmless."""

from __future__ import annotations

import asyncio

import pytest
from faultkit import (
    contents,
    duplicate_pattern_results,
    finish_backfill,
    fresh_database,
    in_process_worker,
    settings_for,
    standard_request,
    start_backfill,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

pytestmark = pytest.mark.temporal


async def test_the_same_backfill_started_twice_at_once_starts_once(pg_server, temporal_env, reference):
    client = temporal_env.client
    database = await fresh_database(pg_server)
    try:
        settings = settings_for(database.app_url)
        request = standard_request(settings)
        async with in_process_worker(client, settings):
            outcomes = await asyncio.gather(start_backfill(client, settings, request),
                                            start_backfill(client, settings, request), return_exceptions=True)
            refused = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(refused) == 1 and isinstance(refused[0], WorkflowAlreadyStartedError), outcomes
            result = await finish_backfill(client, request)
        assert result.progress.chunks_succeeded == 2 and not result.failures
        assert await contents(database.admin) == reference
    finally:
        await database.dispose()


async def test_two_backfills_of_the_same_partitions_at_once_leave_one_result_set(pg_server, temporal_env,
                                                                                  reference):
    """Different backfill ids, same work: their children share deterministic ids, so each sync runs
    once (the other backfill is told it is already running) and the tables equal one undisturbed run."""
    client = temporal_env.client
    database = await fresh_database(pg_server)
    try:
        settings = settings_for(database.app_url)
        first, second = standard_request(settings), standard_request(settings)
        async with in_process_worker(client, settings):
            handles = await asyncio.gather(start_backfill(client, settings, first),
                                           start_backfill(client, settings, second))
            results = await asyncio.gather(*(finish_backfill(client, r, h)
                                             for r, h in zip((first, second), handles, strict=True)))
        for result in results:  # every chunk ran here, or was recognised as running elsewhere
            assert result.progress.chunks_done == 2
            assert all("already running" in f.reason for f in result.failures), result.failures
        assert sum(r.progress.chunks_succeeded for r in results) >= 2
        assert await duplicate_pattern_results(database.admin) == 0
        assert await contents(database.admin) == reference
    finally:
        await database.dispose()
