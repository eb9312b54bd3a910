"""The first partition is a setting (`SEMSYNC_PARTITIONS__FIRST_DATE`): a user with history before
2025-07-01 can sync and backfill it; without the setting such a range is one line naming it, exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from semsync.config import get_settings
from semsync.errors import PartitionRangeError
from semsync.partitions import Grain
from starter.backfill import grain_ranges
from starter.cli import app
from starter.status import window

SETTING = "SEMSYNC_PARTITIONS__FIRST_DATE"


@pytest.fixture
def cli(warehouse, monkeypatch):
    """`python -m starter …` through CliRunner on the test database; `first_date` sets the setting."""
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", warehouse.app_url)
    monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__WAREHOUSE_SCHEMAS", "test_wh")  # the tests' warehouse schema

    async def invoke(*args: str, first_date: str | None = None):
        if first_date is None:
            monkeypatch.delenv(SETTING, raising=False)
        else:
            monkeypatch.setenv(SETTING, first_date)
        get_settings.cache_clear()
        # the CLI runs its own event loop: keep it off the test's loop
        return await asyncio.to_thread(CliRunner().invoke, app, list(args))

    yield invoke
    get_settings.cache_clear()


def one_error_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    return line


async def test_sync_run_before_the_first_partition_needs_the_setting(cli):
    args = ("sync", "run", "acme::revenue", "--grain", "day", "--partitions", "2024-03-01:2024-03-31")
    refused = await cli(*args)
    assert refused.exit_code == 2, refused.output
    line = one_error_line(refused.output)
    assert "2024-03-01 is before the first day partition 2025-07-01" in line and f"{SETTING}=2025-07-01" in line

    synced = await cli(*args, first_date="2024-01-01")
    assert synced.exit_code == 0, synced.output
    assert "succeeded" in synced.output and "2024-03-31" in synced.output


async def test_backfill_before_the_first_partition_needs_the_setting(cli):
    args = ("backfill", "--grain", "week", "--partition-range", "2024-W10:2024-W12", "--tenant", "acme", "--dry-run")
    refused = await cli(*args)
    assert refused.exit_code == 2, refused.output
    assert SETTING in one_error_line(refused.output)

    planned = await cli(*args, first_date="2024-01-01")
    assert planned.exit_code == 0, planned.output
    assert "week  2024-W10:2024-W12: 1 run over 1 context" in planned.output
    assert "dry run: nothing started" in planned.output


def test_every_grain_starts_at_the_configured_first_partitions():
    now = datetime(2025, 8, 15, 9, tzinfo=UTC)
    default = {r.grain.value: (r.first, r.last) for r in grain_ranges(None, True, None, now=now,
                                                                        first_date=date(2025, 7, 1))}
    assert default == {"day": ("2025-07-01", "2025-08-14"), "week": ("2025-W27", "2025-W31"),
                       "month": ("2025-07", "2025-07")}
    earlier = {r.grain.value: r.first for r in grain_ranges(None, True, None, now=now, first_date=date(2024, 1, 17))}
    assert earlier == {"day": "2024-01-17", "week": "2024-W04", "month": "2024-02"}
    # the week and month holding a date range's first day start before the first date: they are left out
    clipped = grain_ranges(None, True, "2024-01-17:2024-03-31", now=now, first_date=date(2024, 1, 17))
    assert {r.grain.value: (r.first, r.last) for r in clipped} == {
        "day": ("2024-01-17", "2024-03-31"), "week": ("2024-W04", "2024-W13"), "month": ("2024-02", "2024-03")}
    with pytest.raises(PartitionRangeError, match=SETTING):
        grain_ranges(None, True, "2024-01-16:2024-03-31", now=now, first_date=date(2024, 1, 17))


def test_the_health_map_window_reaches_back_to_the_configured_first_partition():
    now = datetime(2025, 7, 11, tzinfo=UTC)
    assert [p.key for p in window(Grain.DAY, 30, now, date(2025, 7, 1))] == [f"2025-07-{d:02d}" for d in range(1, 11)]
    assert window(Grain.DAY, 30, now, date(2024, 1, 1))[0].key == "2025-06-11"
    assert [p.key for p in window(Grain.WEEK, 4, now, date(2024, 1, 1))] == ["2025-W23", "2025-W24", "2025-W25",
                                                                            "2025-W26"]
    # no week since 2025-07-01 has ended by Friday 2025-07-11: one clear line, not a crash
    with pytest.raises(PartitionRangeError, match=f"no week partition is complete yet: the first is 2025-W27 "
                                                  f"\\({SETTING}=2025-07-01\\)"):
        window(Grain.WEEK, 4, now, date(2025, 7, 1))


@pytest.mark.parametrize("value", ["2025-13-01", "July 2025", "2025-02-30"])
def test_an_invalid_first_date_is_one_line_and_exit_2(value):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEMSYNC_") and k != "DATABASE_URL"}
    refused = subprocess.run([sys.executable, "-m", "starter", "status"], env=clean | {SETTING: value},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr
    line = one_error_line(refused.stderr)
    assert line.startswith(f"error: invalid setting {SETTING}: Input should be a valid date") and value in line
