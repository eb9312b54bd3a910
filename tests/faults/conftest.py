"""Fixtures of the fault tests: the undisturbed reference run that every disturbed run is compared with."""

from __future__ import annotations

import pytest
from faultkit import (
    CONTEXTS,
    contents,
    duplicate_pattern_results,
    fresh_database,
    in_process_worker,
    run_backfill,
    settings_for,
    standard_request,
)


@pytest.fixture(scope="session")
async def reference(pg_server, temporal_env):
    """Table contents after the standard backfill ran undisturbed on a fresh database."""
    database = await fresh_database(pg_server)
    try:
        settings = settings_for(database.app_url)
        async with in_process_worker(temporal_env.client, settings):
            result = await run_backfill(temporal_env.client, settings, standard_request(settings))
        assert result.progress.chunks_succeeded == len(CONTEXTS) and not result.failures, result
        expected = await contents(database.admin)
        assert await duplicate_pattern_results(database.admin) == 0
        assert all(count > 0 for count, _ in expected.values()), expected
        return expected
    finally:
        await database.dispose()
