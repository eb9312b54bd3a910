"""`python -m starter sync run` against the test database, through Typer's CliRunner."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from semsync.config import get_settings
from starter.cli import app


@pytest.fixture
def cli(warehouse, monkeypatch):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", warehouse.app_url)
    monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__WAREHOUSE_SCHEMAS", "test_wh")  # the tests' warehouse schema
    get_settings.cache_clear()

    async def invoke(*args: str):
        # the CLI runs its own event loop: keep it off the test's loop
        return await asyncio.to_thread(CliRunner().invoke, app, ["sync", "run", *args])

    yield invoke
    get_settings.cache_clear()


async def test_sync_run_syncs_a_range(cli):
    result = await cli("acme::revenue", "--grain", "day", "--partitions", "2025-07-01:2025-07-31")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "FULL" in result.output
    again = await cli("acme::revenue", "-p", "2025-08-01")
    assert again.exit_code == 0, again.output
    assert "INCREMENTAL" in again.output and "2025-08-01..2025-08-01" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme::profit", "-p", "2025-07-01"], "UnknownMetricError"),
        (["nobody::revenue", "-p", "2025-07-01"], "UnknownTenantError"),
        (["acme::revenue", "-p", "2025-07-31:2025-07-01"], "PartitionRangeError"),
        (["acme::revenue", "-g", "week", "-p", "2025-07-08"], "PartitionKeyError"),
        (["acme:revenue", "-p", "2025-07-01"], "ContextError"),
        (["acme::revenue", "-p", "2099-01-01"], "PartitionRangeError"),
    ],
)
async def test_bad_input_exits_2_with_a_clear_message(cli, args, message):
    result = await cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
