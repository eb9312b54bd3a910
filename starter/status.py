"""`python -m starter status [BACKFILL_ID]`: one backfill's progress, or the partition health map.

The health map is the ledger drawn like Dagster's partition view: one line per context (and
kind: the sync, or a pattern or the stories with ``--kind``), one cell per partition of the window, coloured by
status, with the counts per status.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from semsync.backfill.ledger import LedgerRow, read_ledger
from semsync.backfill.plan import select_contexts
from semsync.config import get_settings
from semsync.contracts import (
    CACHE_KIND,
    STORIES_KIND,
    SYNC_KIND,
    BackfillProgress,
    BackfillResult,
    ContextSelector,
    backfill_workflow_id,
)
from semsync.db.session import Database
from semsync.errors import InvalidInputError, PartitionRangeError
from semsync.partitions import Grain, Partition, first_partitions, last_complete_partition, partition_range
from semsync.partitions.grains import FIRST_DATE_SETTING
from semsync.sync.plan import shift_periods
from starter.backfill import bare_backfill_id, print_result
from starter.console import console, counted, err_console, reported_errors, run_with_database
from starter.orchestration import run_with_temporal
from workflows.backfill import BackfillWorkflow

STYLES = {"succeeded": "green", "partial": "yellow", "failed": "red", "running": "blue", None: "grey42"}
CELLS = {"succeeded": "■", "partial": "■", "failed": "■", "running": "■", None: "·"}


def window(grain: Grain, count: int, now: datetime, first_date: date) -> list[Partition]:
    """The last `count` complete partitions of `grain` (none before the first partition of `first_date`)."""
    last, first = last_complete_partition(grain, now), first_partitions(first_date)[grain]
    if last < first:
        raise PartitionRangeError(f"no {grain} partition is complete yet: the first is {first} "
                                  f"({FIRST_DATE_SETTING}={first_date.isoformat()})", part="range end")
    return partition_range(max(shift_periods(grain, last, count - 1), first), last)


async def _ledger(database: Database, grain: Grain, kind: str | None, partitions: list[Partition],
                  selector: ContextSelector) -> tuple[list[str], list[LedgerRow]]:
    """The active contexts (of one tenant, or all) and their ledger rows in the window."""
    selected = await select_contexts(database.session_factory, selector)
    tenants = {context.tenant: tenant_id for tenant_id, context in selected}
    ledger = await read_ledger(database.session_factory, tenants, grain, kind=kind,
                               first=partitions[0].start, last=partitions[-1].start)
    return [context.key for _, context in selected], ledger


def health_map(grain: Grain, last: int, kind: str, selector: ContextSelector) -> None:
    partitions = window(grain, last, datetime.now(UTC), get_settings().partitions.first_date)
    contexts, ledger = run_with_database(lambda db: _ledger(db, grain, kind, partitions, selector))
    cells = {(f"{r.tenant}::{r.metric_id}", r.partition_key): r.status for r in ledger}
    counts = Counter(cells.get((c, p.key)) for c in contexts for p in partitions)
    title = f"partition health: {kind} · {grain.value} · {partitions[0].key} … {partitions[-1].key}"
    table = Table(title=escape(title),
                  show_lines=False, box=None)
    table.add_column("context")
    table.add_column("partitions (oldest → newest)")
    table.add_column("ok", justify="right")
    for context in contexts:
        row = Text()
        for partition in partitions:
            status = cells.get((context, partition.key))
            row.append(CELLS[status], style=STYLES[status])
        ok = sum(cells.get((context, p.key)) == "succeeded" for p in partitions)
        table.add_row(Text(context), row, f"{ok}/{len(partitions)}")
    console.print(table)
    legend = Text("  ")
    for status in ("succeeded", "partial", "failed", "running", None):
        legend.append(CELLS[status], style=STYLES[status])
        legend.append(f" {status or 'never'} {counts.get(status, 0)}   ")
    console.print(legend)
    notes = sorted((f"{r.tenant}::{r.metric_id}", r.partition_key, r.note) for r in ledger if r.note
                   and r.note != "skipped: unchanged")
    for context, key, note in notes[:10]:
        console.print(f"  {context} {key}: {note}", markup=False)
    if len(notes) > 10:
        console.print(f"  and {len(notes) - 10} more notes", markup=False)
    if counts.get("failed") or counts.get("partial"):
        console.print(f"retry them: python -m starter backfill --grain {grain.value} --partition-range "
                      f"{partitions[0].key}:{partitions[-1].key} --mode failed", markup=False)


def backfill_status(given_id: str) -> None:
    backfill_id = bare_backfill_id(given_id)

    async def look(client: Client) -> BackfillProgress | BackfillResult:
        handle = client.get_workflow_handle(backfill_workflow_id(backfill_id), result_type=BackfillResult)
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                err_console.print(f"[bold red]error[/]: no backfill with id {escape(repr(backfill_id))} exists "
                                  f"(running or finished, in namespace {escape(get_settings().temporal.namespace)})")
                raise typer.Exit(2) from None
            raise
        if description.status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        if description.status != WorkflowExecutionStatus.RUNNING:
            err_console.print(f"backfill {backfill_id} ended {description.status.name}", markup=False)
            raise typer.Exit(1)
        return await handle.query(BackfillWorkflow.progress)

    async def look_with_stages(client: Client) -> tuple[BackfillProgress | BackfillResult, dict[str, Counter]]:
        return await look(client), await stage_runs(client, backfill_id)

    answer, runs = run_with_temporal(look_with_stages)
    if isinstance(answer, BackfillResult):
        print_result(answer)
        print_stages(answer.progress, runs)
        return
    p = answer
    # paused, nothing advances: an ETA would stand still while time passes
    eta = f", about {p.eta_s:.0f}s left" if p.eta_s is not None and p.state != "paused" else ""
    console.print(f"backfill {escape(backfill_id)} {p.state}: "
                  f"{p.partitions_done}/{counted(p.partitions_planned, 'partition')}, "
                  f"{counted(p.chunks_running, 'sync')} running, {p.chunks_succeeded} succeeded, "
                  f"{p.chunks_partial} partial, {p.chunks_failed} failed; {counted(p.rows_fetched, 'row')} fetched; "
                  f"{p.elapsed_s:.0f}s elapsed{eta}")
    print_stages(p, runs)


#: the runs a backfill's children start, by stage
STAGE_WORKFLOWS = {"pattern runs": "PatternWorkflow", "story runs": "StoryWorkflow", "alert runs": "AlertWorkflow"}


async def stage_runs(client: Client, backfill_id: str) -> dict[str, Counter]:
    """Per stage after the sync, its runs of this backfill by execution status (the visibility store)."""
    counts: dict[str, Counter] = {}
    for stage, workflow_type in STAGE_WORKFLOWS.items():
        counts[stage] = Counter()
        for status in ("Running", "Completed", "Failed"):
            query = (f"SemsyncBackfill = '{backfill_id}' AND WorkflowType = '{workflow_type}' "
                     f"AND ExecutionStatus = '{status}'")
            counts[stage][status.lower()] = (await client.count_workflows(query)).count
    return counts


def print_stages(progress: BackfillProgress, runs: dict[str, Counter]) -> None:
    """The backfill per stage: its children by the stage they began with, then the runs that followed."""
    if progress.chunks_by_stage:
        console.print("  children by stage: " + ", ".join(
            f"{stage} {n}" for stage, n in sorted(progress.chunks_by_stage.items())), markup=False)
    if progress.partitions_unready:
        console.print(f"  {counted(progress.partitions_unready, 'partition')} left out: the stage before had not "
                      "succeeded on them (--with-dependencies runs them from there)", markup=False)
    for stage, counts in runs.items():
        if sum(counts.values()):
            console.print(f"  {stage}: {counts['completed']} completed, {counts['running']} running, "
                          f"{counts['failed']} failed", markup=False)


def _pattern_names() -> list[str]:
    from semsync.patterns import pattern_names  # the analysis stack, only when --kind names a pattern

    return pattern_names()


def status(
    backfill_id: str | None = typer.Argument(None, help="a backfill's id; none: the partition health map"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    last: int | None = typer.Option(None, "--last", min=1,
                                    help="partitions shown [default: day 60, week 26, month 12]"),
    kind: str = typer.Option(SYNC_KIND, "--kind", help="sync, a pattern's name, stories, or cache"),
    tenant: str | None = typer.Option(None, "--tenant", "-t"),
) -> None:
    """A backfill's progress, or the partition health map of every context."""
    with reported_errors():
        if backfill_id is not None:
            backfill_status(backfill_id)
            return
        if kind not in (SYNC_KIND, STORIES_KIND, CACHE_KIND) and kind not in _pattern_names():
            raise InvalidInputError(f"--kind {kind!r}: expected {SYNC_KIND}, {STORIES_KIND}, {CACHE_KIND} or a "
                                    f"pattern ({', '.join(_pattern_names())})", part="kind", value=kind)
        selector = ContextSelector(tenant=tenant)  # a malformed --tenant is refused before the database
        shown = last if last is not None else {Grain.DAY: 60, Grain.WEEK: 26, Grain.MONTH: 12}[grain]
        health_map(grain, shown, kind, selector)
