"""`python -m starter backfill|status|pause|resume|cancel`: backfills on Temporal, and the ledger.

    backfill --grain day --partition-range 2025-07-01:2025-07-31 [--context T::M | --tenant T]
             [--mode missing|failed|all] [--max-concurrency N] [--chunk-size N] [--dry-run] [--wait]
    backfill --all-grains [--partition-range 2025-07-01:2025-12-31]   # one date range, every grain
    status [BACKFILL_ID]            # a backfill's progress, or the partition health map
    pause|resume|cancel BACKFILL_ID

Input is checked (keys, ranges, contexts against the catalog) before anything starts; bad input
exits 2 with one line. The plan is the workflow's own (`semsync.backfill.plan`), computed here too
so that `--dry-run` shows it and a bad context is refused up front.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import Priority
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from semsync.backfill.plan import BackfillPlanner
from semsync.config import get_settings
from semsync.contracts import (
    BACKFILL_WORKFLOW_PREFIX,
    BackfillControl,
    BackfillInput,
    BackfillMode,
    BackfillOrder,
    BackfillPlanSummary,
    BackfillProgress,
    BackfillResult,
    BackfillStage,
    ContextSelector,
    GrainRange,
    backfill_workflow_id,
)
from semsync.contracts.backfill import BACKFILL_PRIORITY, SCHEDULED_PRIORITY
from semsync.errors import InvalidInputError, NotSyncedError, PartitionRangeError
from semsync.partitions import (
    MAX_PARTITIONS_PER_REQUEST,
    Grain,
    MetricContext,
    Partition,
    first_partitions,
    last_complete_partition,
    partition_for_date,
)
from semsync.partitions.ranges import check_partition_count, range_ends
from starter.console import console, counted, err_console, reported_errors, run_with_database
from starter.orchestration import run_with_temporal
from workflows.backfill import BackfillWorkflow


def grain_ranges(grain: Grain | None, all_grains: bool, spec: str | None, *, now: datetime,
                 first_date: date, max_partitions: int = MAX_PARTITIONS_PER_REQUEST) -> list[GrainRange]:
    """The ranges per grain: a key range for one grain, or one date range mapped to every grain,
    none before the first partitions of `first_date` (the ``partitions.first_date`` setting) and none
    over `max_partitions` partitions (the ``partitions.max_per_request`` setting)."""
    if grain is not None and all_grains:
        raise PartitionRangeError("give --grain or --all-grains, not both", part="grain")
    if grain is None and not all_grains:
        raise PartitionRangeError("give --grain GRAIN (day, week, month) or --all-grains", part="grain")
    if grain is not None:
        if spec is None:
            raise PartitionRangeError("--grain needs --partition-range (e.g. 2025-07-01:2025-07-31)",
                                      part="range start")
        first, last = range_ends(grain, spec, now=now, allow_incomplete=True, first_date=first_date,
                                 max_partitions=max_partitions)
        _refuse_incomplete(grain, spec, last, now)
        return [GrainRange(grain=grain, first=first.key, last=last.key)]
    ranges = []
    firsts = first_partitions(first_date)
    days = None if spec is None else range_ends(Grain.DAY, spec, now=now, allow_incomplete=True,
                                                first_date=first_date, max_partitions=max_partitions)
    for each in Grain:
        last = last_complete_partition(each, now)
        if days is None:
            first = firsts[each]
        else:
            first = max(partition_for_date(each, days[0].start), firsts[each])
            last = min(partition_for_date(each, days[1].start), last)
        if first <= last:
            check_partition_count(first, last, max_partitions)
            ranges.append(GrainRange(grain=each, first=first.key, last=last.key))
    if not ranges:
        raise PartitionRangeError(f"range {spec!r} holds no complete partition of any grain", part="range end",
                                  value=spec)
    return ranges


def _refuse_incomplete(grain: Grain, spec: str, last: Partition, now: datetime) -> None:
    """A backfill syncs complete partitions only (it has no `--allow-incomplete`): say where the range
    may end, and what syncs an incomplete partition."""
    last_complete = last_complete_partition(grain, now)
    if last > last_complete:
        raise PartitionRangeError(
            f"{grain} range {spec!r}: {last} is after {last_complete}, the last complete {grain} partition at "
            f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; a backfill syncs complete partitions only: end the "
            f"range at {last_complete.key} (`sync run --allow-incomplete` syncs an incomplete one)",
            part="range end", value=spec)


def default_backfill_id(request: BackfillInput) -> str:
    """Readable and deterministic: the same backfill asked twice gets the same id (and is recognised)."""
    ranges = "+".join(f"{r.grain.value}.{r.first}.{r.last}" for r in request.ranges)
    what = request.model_dump(mode="json", include={"ranges", "selector", "mode", "chunk_size", "run_patterns",
                                                    "force_full"})
    digest = hashlib.sha1(json.dumps(what, sort_keys=True).encode()).hexdigest()[:8]
    # a cache backfill of the same range is other work than its sync (the other stages' ids are unchanged)
    stage = ".cache" if request.what is BackfillStage.CACHE else ""
    return f"{ranges}.{request.mode.value}.{digest}{stage}"


#: a backfill's workflow id is ``backfill/{id}`` (`BackfillInput.workflow_id`)
def bare_backfill_id(given: str) -> str:
    """The backfill id of `given`: the id itself, or its workflow id `backfill/ID` as the CLI prints it
    (a backfill id holds no '/', so the prefix is never part of one)."""
    return given.removeprefix(f"{BACKFILL_WORKFLOW_PREFIX}/")


def workflow_url(workflow_id: str) -> str:
    """The Web UI page of `workflow_id`: the id is one path segment, its slashes escaped
    (`backfill/big1` unescaped is two segments, and the UI answers 400)."""
    temporal = get_settings().temporal
    return (f"{temporal.ui_url.rstrip('/')}/namespaces/{quote(temporal.namespace, safe='')}/workflows/"
            f"{quote(workflow_id, safe='')}")


def print_plan(request: BackfillInput, plan: BackfillPlanSummary) -> None:
    console.print(f"backfill [bold]{escape(request.backfill_id)}[/]: {counted(plan.contexts, 'context')} "
                  f"({escape(request.selector.describe())}), mode {request.mode.value}")
    for grain_range in request.ranges:
        grain = grain_range.grain
        console.print(f"  {grain.value:5} {grain_range.first}:{grain_range.last}: "
                      f"{counted(plan.runs_by_grain.get(grain, 0), 'run')} over "
                      f"{counted(plan.lanes_by_grain.get(grain, 0), 'context')}")
    if plan.partial_runs:
        console.print(f"  {counted(plan.partial_runs, 'run')} of partial partitions sync only their failed components "
                      "(the base series and healthy dimensions are not fetched again)")
    stages = {stage: plan.lanes_by_stage.get(stage, 0) for stage in BackfillStage}
    if request.what is not BackfillStage.SYNC or stages[BackfillStage.SYNC] != plan.lanes:
        console.print("  begins with " + ", ".join(f"{stage.value} in {counted(n, 'lane')}"
                                                    for stage, n in stages.items() if n))
    console.print(f"  priority {request.priority}, {request.order.value}")
    console.print(f"  {counted(plan.partitions, 'partition')} to sync ({plan.skipped_partitions} skipped by the mode) "
                  f"in {counted(plan.chunks, 'child SyncWorkflow')}, at most {request.max_concurrency} at a time; "
                  f"patterns {'after each sync' if request.run_patterns else 'not run'}")


def check_stage_options(what: BackfillStage, patterns: list[str], no_patterns: bool) -> None:
    """`--pattern` only with `--what patterns`, each one registered; `--no-patterns` only with sync."""
    if patterns and what is not BackfillStage.PATTERNS:
        raise InvalidInputError("--pattern goes with --what patterns", part="--pattern")
    if no_patterns and what is not BackfillStage.SYNC:
        raise InvalidInputError(f"--no-patterns goes with --what sync (--what {what.value} runs no sync)",
                                part="--no-patterns")
    if not patterns:
        return
    from semsync.patterns import pattern_names  # the analysis stack: only when patterns are named

    known = pattern_names()
    for name in patterns:
        if name not in known:
            raise InvalidInputError(f"unknown pattern {name!r}; known: {', '.join(known)}", part="--pattern",
                                    value=name)


def refuse_unready(request: BackfillInput, plan: BackfillPlanSummary, grain: Grain | None, all_grains: bool,
                   partition_range: str | None) -> None:
    """Analysis asked of partitions not synced (or stories of ones not analysed): refused, with the
    command that does the stage before."""
    if not plan.unready_partitions:
        return
    before = "synced" if request.what in (BackfillStage.PATTERNS, BackfillStage.CACHE) else "analysed"
    where = f"--all-grains --partition-range {partition_range}" if all_grains else (
        f"--grain {grain.value} --partition-range {partition_range}")
    selector = (f" --tenant {request.selector.tenant}" if request.selector.tenant else
                "".join(f" --context {c}" for c in request.selector.contexts))
    stage = "" if request.what in (BackfillStage.PATTERNS, BackfillStage.CACHE) else " --what patterns"
    raise NotSyncedError(
        f"{counted(plan.unready_partitions, 'partition')} not {before} yet (e.g. {plan.unready_sample[0]}): run "
        f"`python -m starter backfill {where}{selector}{stage} --mode missing` first, or add --with-dependencies")


def backfill(
    grain: Grain | None = typer.Option(None, "--grain", "-g", help="day, week or month"),
    all_grains: bool = typer.Option(False, "--all-grains", help="every grain; the range is then a date range"),
    partition_range: str | None = typer.Option(
        None, "--partition-range", "-p",
        help="A:B, e.g. 2025-07-01:2025-07-31, 2025-W27:2025-W30, 2025-07:2025-12 [--all-grains: from the first "
             "partition to the last complete one]"),
    context: list[str] = typer.Option([], "--context", "-c", help="tenant::metric (repeatable)"),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="every metric of one tenant"),
    mode: BackfillMode = typer.Option(BackfillMode.MISSING, "--mode", "-m",
                                      help="missing: not yet synced; failed: failed or partial (a partial one: "
                                           "only its failed components); all"),
    max_concurrency: int = typer.Option(4, "--max-concurrency", min=1, max=200, help="child syncs at once"),
    chunk_size: int | None = typer.Option(None, "--chunk-size", min=1,
                                          help="partitions per child sync [default: the whole range]"),
    no_patterns: bool = typer.Option(False, "--no-patterns", help="sync only, run no pattern analysis"),
    force_full: bool = typer.Option(False, "--force-full", help="every child sync FULL"),
    force: bool = typer.Option(False, "--force", help="analyse even spans whose data, pattern versions and "
                                                      "settings are unchanged since their last success"),
    backfill_id: str | None = typer.Option(None, "--id", help="backfill id [default: derived from the request]"),
    priority: int = typer.Option(BACKFILL_PRIORITY, "--priority", min=1, max=5,
                                 help=f"Temporal task priority, 1 first … 5 last (scheduled runs: "
                                      f"{SCHEDULED_PRIORITY})"),
    order: BackfillOrder = typer.Option(BackfillOrder.OLDEST_FIRST, "--order",
                                        help="each context's partitions oldest-first or newest-first"),
    what: BackfillStage = typer.Option(
        BackfillStage.SYNC, "--what",
        help="the stage to begin with: sync (then patterns, stories), patterns (analyse synced data, fetch "
             "nothing; then stories), stories, or cache (write synced data into the tenants' cache targets, "
             "fetch nothing); --mode reads that stage's ledger"),
    pattern: list[str] = typer.Option([], "--pattern", help="with --what patterns: only this pattern (repeatable)"),
    with_dependencies: bool = typer.Option(
        False, "--with-dependencies", help="partitions the stage before has not done yet run from that stage "
                                           "(not synced: synced first) instead of being refused"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan, start nothing"),
    wait: bool = typer.Option(False, "--wait", help="show progress until done, then the summary"),
) -> None:
    """Sync (and analyse) many partitions: child SyncWorkflows in a bounded sliding window."""
    settings = get_settings()
    with reported_errors():
        if context and tenant:
            raise PartitionRangeError("give --context or --tenant, not both", part="context")
        check_stage_options(what, pattern, no_patterns)
        ranges = grain_ranges(grain, all_grains, partition_range, now=datetime.now(UTC),
                              first_date=settings.partitions.first_date,
                              max_partitions=settings.partitions.max_per_request)
        selector = ContextSelector(tenant=tenant, contexts=[MetricContext.from_string(c).key for c in context])
        request = BackfillInput(
            backfill_id=backfill_id or "pending", ranges=ranges, selector=selector, mode=mode,
            max_concurrency=max_concurrency, run_patterns=not no_patterns, chunk_size=chunk_size,
            force_full=force_full, pattern_task_queue=settings.temporal.pattern_task_queue, priority=priority,
            order=order, what=what, patterns=pattern or None, with_dependencies=with_dependencies,
            force_analysis=force)
        if backfill_id is None:
            request.backfill_id = default_backfill_id(request)
        # counted here, once: the workflow starts from these counts and plans its lanes page by page
        plan = run_with_database(lambda db: BackfillPlanner(db.session_factory).summarize(request.planning()))
        refuse_unready(request, plan, grain, all_grains, partition_range)
        request.summary = plan
    print_plan(request, plan)
    if dry_run:
        console.print("dry run: nothing started")
        return

    async def start(client: Client) -> BackfillResult | None:
        try:
            await client.start_workflow(
                BackfillWorkflow.run, request, id=request.workflow_id, task_queue=settings.temporal.sync_task_queue,
                static_summary=f"backfill {request.backfill_id}", priority=Priority(priority_key=request.priority))
            console.print(f"started {request.workflow_id}: {workflow_url(request.workflow_id)}", markup=False)
        except WorkflowAlreadyStartedError:
            console.print(f"{request.workflow_id} is already running (the same request): not started twice",
                          markup=False)
        if not wait:
            console.print(f"follow it: python -m starter status {request.backfill_id}", markup=False)
            return None
        return await follow(client, request.backfill_id)

    result = run_with_temporal(start)
    if result is not None:
        print_result(result)
        if result.failures or result.progress.chunks_failed or result.progress.chunks_partial:
            raise typer.Exit(3)


async def follow(client: Client, backfill_id: str) -> BackfillResult:
    """A progress bar until the backfill and the pattern and story runs it started are done."""
    handle = client.get_workflow_handle(backfill_workflow_id(backfill_id), result_type=BackfillResult)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("partitions", total=None)
        while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            try:
                progress: BackfillProgress = await handle.query(BackfillWorkflow.progress)
                bar.update(task, total=progress.partitions_planned or None, completed=progress.partitions_done,
                           description=f"partitions ({progress.state}, {progress.chunks_running} running, "
                                       f"{progress.chunks_failed} failed)")
            except RPCError:
                pass  # between runs of a continue-as-new
            await asyncio.sleep(1.0)
        result = await handle.result()
        done = result.progress
        bar.update(task, total=done.partitions_planned, completed=done.partitions_done,
                   description=f"partitions ({done.state}, {done.chunks_failed} failed)")
        query = (f"SemsyncBackfill = '{backfill_id}' AND ExecutionStatus = 'Running' "
                 "AND (WorkflowType = 'PatternWorkflow' OR WorkflowType = 'StoryWorkflow')")
        # the pattern runs the syncs started outlive them (ABANDON), and the story runs the pattern runs
        # start outlive those: count down the ones still running (a pattern run starts its story run
        # before it ends, so the count never passes through zero between them)
        started = done.patterns_started
        patterns = bar.add_task("pattern runs", total=started or None)
        while (count := (await client.count_workflows(query)).count) > 0:
            bar.update(patterns, description=f"pattern and story runs ({count} running)",
                       completed=max(started - count, 0) if started else None)
            await asyncio.sleep(1.0)
        bar.update(patterns, description="pattern and story runs (all done)", total=started or 1,
                   completed=started or 1)
    return result


def print_result(result: BackfillResult) -> None:
    p = result.progress
    console.print(f"backfill {escape(p.backfill_id)} {p.state} in {p.elapsed_s:.1f}s ({counted(p.runs, 'run')}): "
                  f"{p.partitions_done}/{counted(p.partitions_planned, 'partition')}, "
                  f"{counted(p.chunks_succeeded, 'sync')} succeeded, "
                  f"{p.chunks_partial} partial, {p.chunks_failed} failed; {counted(p.rows_fetched, 'row')} fetched, "
                  f"{p.rows_written:,} written; {counted(p.patterns_started, 'pattern run')} started")
    for failure in result.failures:
        where = f"{failure.context} {failure.grain.value} {failure.span}: {failure.reason}"
        console.print(f"  [red]✗[/] {escape(where)}")
    if result.failures:
        console.print("retry only these: python -m starter backfill … --mode failed")


def _signal(signal: Callable[[BackfillWorkflow, BackfillControl], None], given_id: str, reason: str | None) -> None:
    backfill_id = bare_backfill_id(given_id)
    name = signal.__name__

    async def send(client: Client) -> BackfillProgress:
        handle = client.get_workflow_handle_for(BackfillWorkflow.run, backfill_workflow_id(backfill_id))
        try:
            await handle.signal(signal, BackfillControl(reason=reason))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                err_console.print(f"[bold red]error[/]: no running backfill with id {escape(repr(backfill_id))}")
                raise typer.Exit(2) from None
            raise
        return await handle.query(BackfillWorkflow.progress)

    progress = run_with_temporal(send)
    console.print(f"{name} sent to backfill {escape(backfill_id)}: now {progress.state}, {progress.chunks_running} "
                  f"running, {progress.chunks_done}/{counted(progress.chunks_planned, 'sync')} done")


def pause(backfill_id: str = typer.Argument(...), reason: str | None = typer.Option(None)) -> None:
    """Start no new child syncs until resumed (running ones finish)."""
    _signal(BackfillWorkflow.pause, backfill_id, reason)


def resume(backfill_id: str = typer.Argument(...), reason: str | None = typer.Option(None)) -> None:
    """Carry on a paused backfill."""
    _signal(BackfillWorkflow.resume, backfill_id, reason)


def cancel(backfill_id: str = typer.Argument(...), reason: str | None = typer.Option(None)) -> None:
    """Start no more child syncs; running ones finish; the result lists what was done."""
    _signal(BackfillWorkflow.cancel, backfill_id, reason)
