"""The CLI prints data as text and its hints point somewhere: fast tests with Typer's `CliRunner`,
the database and Temporal replaced by the answers they would give."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import typer
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from typer.testing import CliRunner

import starter.results
import starter.status
from semsync.contracts import BackfillProgress
from semsync.contracts.common import SyncStatus, SyncType
from semsync.contracts.sync import ComponentResult, SemanticSyncResponse
from semsync.errors import PartitionRangeError
from semsync.partitions import Grain
from starter.backfill import grain_ranges, workflow_url
from starter.console import counted
from starter.sync import print_response

runner = CliRunner()


def command(function) -> typer.Typer:  # noqa: ANN001
    app = typer.Typer()
    app.command()(function)
    app.command("other")(lambda: None)  # two commands: the function is called by name
    return app


def test_results_prints_a_slice_named_like_rich_markup_as_text(monkeypatch):
    row = SimpleNamespace(pattern="dimension_analysis", version="1", analysis_date=date(2025, 7, 2),
                          dimension_name="[bold]region", error=None,
                          run_result={"largest_slice": {"slice": "[/foo]", "share_percent": 60.0},
                                      "new_strongest_slice": {"current_slice": "[/foo]", "previous_slice": "[red]"},
                                      "top_two_comparison": {"slice_a": "[/foo]", "slice_b": "b", "gap_percent": 1.0}})
    monkeypatch.setattr(starter.results, "run_with_database", lambda work: ([row], [], date(2025, 7, 2)))
    result = runner.invoke(command(starter.results.results), ["results", "acme::revenue"])
    assert result.exit_code == 0, result.output
    assert "largest slice [/foo] 60.00 % of the total" in result.output
    assert "new strongest slice: [/foo] (was [red])" in result.output and "· [bold]region" in result.output


class FakeHandle:
    def __init__(self, found: bool, progress: BackfillProgress | None = None) -> None:
        self.found, self.progress = found, progress

    async def describe(self):  # noqa: ANN201
        if not self.found:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return SimpleNamespace(status=WorkflowExecutionStatus.RUNNING)

    async def query(self, _query):  # noqa: ANN001, ANN201
        return self.progress


class FakeClient:
    def __init__(self, existing: dict[str, BackfillProgress]) -> None:
        self.existing, self.asked = existing, []

    def get_workflow_handle(self, workflow_id: str, **_options) -> FakeHandle:
        self.asked.append(workflow_id)
        return FakeHandle(workflow_id in self.existing, self.existing.get(workflow_id))

    async def count_workflows(self, _query: str) -> SimpleNamespace:  # the stages' runs: none here
        return SimpleNamespace(count=0)


@pytest.fixture
def temporal(monkeypatch) -> FakeClient:
    client = FakeClient({"backfill/big1": BackfillProgress(backfill_id="big1", state="running", eta_s=42.0,
                                                           partitions_planned=10, partitions_done=5)})
    monkeypatch.setattr(starter.status, "run_with_temporal", lambda work: asyncio.run(work(client)))
    return client


@pytest.mark.parametrize("given", ["big1", "backfill/big1"])
def test_status_takes_the_backfill_id_bare_or_as_the_workflow_id_the_cli_printed(temporal, given):
    result = runner.invoke(command(starter.status.status), ["status", given])
    assert result.exit_code == 0, result.output
    assert temporal.asked == ["backfill/big1"]
    assert "backfill big1 running: 5/10 partitions" in result.output and "about 42s left" in result.output


def test_status_of_a_made_up_backfill_says_plainly_that_none_exists(temporal):
    result = runner.invoke(command(starter.status.status), ["status", "nope"])
    assert result.exit_code == 2, result.output
    assert "no backfill with id 'nope' exists" in result.output and "its id is" not in result.output


def test_a_paused_backfill_shows_no_eta(temporal):
    temporal.existing["backfill/big1"].state = "paused"
    result = runner.invoke(command(starter.status.status), ["status", "big1"])
    assert result.exit_code == 0, result.output
    assert "backfill big1 paused" in result.output and "left" not in result.output


def test_the_web_ui_link_escapes_the_slash_of_a_workflow_id():
    assert workflow_url("backfill/big1").endswith("/namespaces/default/workflows/backfill%2Fbig1")


def test_a_backfill_into_the_future_names_what_works_for_a_backfill_and_the_time_in_seconds():
    now = datetime(2026, 12, 7, 22, 40, 33, 123456, tzinfo=UTC)
    with pytest.raises(PartitionRangeError) as refused:
        grain_ranges(Grain.DAY, False, "2026-12-01:2027-03-31", now=now, first_date=date(2025, 1, 1))
    message = str(refused.value)
    assert "at 2026-12-07 22:40:33 UTC" in message and "123456" not in message
    assert "end the range at 2026-12-06" in message and "takes it anyway" not in message


def test_counts_read_in_the_singular_for_one():
    assert [counted(1, "context"), counted(2, "run"), counted(0, "partition")] == \
        ["1 context", "2 runs", "0 partitions"]


def test_sync_run_uses_the_tables_words_in_its_summary(capsys):
    def component(dimension: str | None) -> ComponentResult:
        return ComponentResult(dimension=dimension, sync_type=SyncType.FULL, reason="first", status=SyncStatus.SUCCESS,
                               window_start=date(2025, 7, 1), window_end=date(2025, 7, 1), rows_fetched=3,
                               rows_unchanged=2, rows_dropped_null=1)
    now = datetime(2025, 7, 2, tzinfo=UTC)
    print_response(SemanticSyncResponse(
        tenant="acme", tenant_id=1, metric_id="revenue", grain=Grain.DAY, partitions=["2025-07-01"],
        force_full_sync=False, started_at=now, finished_at=now, base=component(None),
        dimensions=[component("[/foo]")]))
    out = capsys.readouterr().out
    assert "[/foo]" in out and "4 unchanged" in out and "2 dropped" in out and "skipped" not in out


def test_results_for_a_future_date_says_so_instead_of_suggesting_a_backfill(monkeypatch):
    monkeypatch.setattr(starter.results, "run_with_database", lambda work: ([], [], None))
    result = runner.invoke(command(starter.results.results), ["results", "acme::revenue", "--date", "2099-01-01"])
    assert result.exit_code == 1, result.output
    assert "that date is in the future" in result.output and "backfill" not in result.output


@pytest.mark.parametrize(("worker_pid", "hint"), [(4242, False), (None, True)])
def test_dev_status_says_how_to_start_the_worker_only_when_it_is_not_running(monkeypatch, worker_pid, hint):
    import starter.dev
    from devstack import StackStatus

    status = StackStatus(database_url="postgresql://127.0.0.1/semsync", postgres_pid=1, postgres_reachable=True,
                         temporal_address="127.0.0.1:7233", temporal_pid=2, temporal_reachable=True,
                         web_ui_url="http://127.0.0.1:8233", worker_pid=worker_pid)
    monkeypatch.setattr(starter.dev, "_stack", lambda: SimpleNamespace(status=lambda: status))
    result = runner.invoke(starter.dev.app, ["status"])
    assert result.exit_code == 0, result.output
    assert ("python worker.py" in result.output) is hint, result.output
