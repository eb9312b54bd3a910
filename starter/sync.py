"""`python -m starter sync run CONTEXT --grain G --partitions A[:B]`: sync one context now, in process.

It runs the same sync service the Temporal workers run, without Temporal: for a first look at the
data, for a one-off repair, or where no worker runs. The range is checked like a backfill's: not
before the first partition, not after the last complete one unless `--allow-incomplete`.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from semsync.config import get_settings
from semsync.contracts import SemanticSyncRequest, SemanticSyncResponse, SyncWorkflowInput, SyncWorkflowResult
from semsync.errors import ContextError, PartitionRangeError
from semsync.partitions import Grain, MetricContext, expand_range, parse_time_context_range
from semsync.redaction import redact
from starter.console import check_metric, console, reported_errors, run_with_services
from starter.orchestration import start_workflow
from workflows.sync import SyncWorkflow

app = typer.Typer(no_args_is_help=True, help="Sync metric time series from the semantic layer.")


def print_response(response: SemanticSyncResponse) -> None:
    print_components(response, f"{response.tenant}::{response.metric_id} {response.grain.value} "
                               f"{response.partitions[0]}" + (f":{response.partitions[-1]}"
                                                              if len(response.partitions) > 1 else ""))
    components = [response.base, *response.dimensions]
    unchanged = sum(c.rows_unchanged for c in components)  # the table's words: skipped = unchanged + dropped
    dropped = sum(c.rows_dropped_null for c in components)
    console.print(f"{'succeeded' if response.success else 'FAILED'} in {response.duration_seconds:.2f}s: "
                  f"{response.rows_fetched} fetched, {response.rows_written} written, "
                  f"{unchanged} unchanged, {response.rows_deleted} deleted, {dropped} dropped", markup=False)


def print_components(response: SemanticSyncResponse | SyncWorkflowResult, title: str) -> None:
    table = Table(title=escape(title))
    for column in ("component", "type", "window", "status", "fetched", "inserted", "updated", "unchanged",
                   "deleted", "dropped", "null slice", "error"):
        table.add_column(column)
    for c in [response.base, *response.dimensions]:
        table.add_row(
            Text(c.dimension or "(base)"), c.sync_type.value, f"{c.window_start}..{c.window_end}",
            ("[green]" if c.status.value == "SUCCESS" else "[red]") + c.status.value, str(c.rows_fetched),
            str(c.rows_inserted), str(c.rows_updated), str(c.rows_unchanged), str(c.rows_deleted),
            str(c.rows_dropped_null), str(c.null_slice_rows), Text(redact(c.error or "")),
        )
    console.print(table)


@app.command()
def run(
    context: str = typer.Argument(..., help="tenant::metric, e.g. acme::revenue"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partitions: str = typer.Option(..., "--partitions", "-p", help="a key or an inclusive range A:B"),
    force_full: bool = typer.Option(False, "--force-full", help="FULL sync whatever the status says"),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete", help="allow partitions that have not ended yet"),
) -> None:
    """Sync one context over one partition or a contiguous range of them."""
    with reported_errors():
        metric_context = MetricContext.from_string(context)
        keys = expand_range(grain, partitions, allow_incomplete=allow_incomplete,
                            first_date=get_settings().partitions.first_date,
                            max_partitions=get_settings().partitions.max_per_request)
        request = SemanticSyncRequest(
            tenant=metric_context.tenant, metric_id=metric_context.metric, grain=grain,
            start_partition=keys[0].key, end_partition=keys[-1].key, force_full_sync=force_full,
        )
        response = run_with_services(lambda services: services.sync.sync(request))
    print_response(response)
    if not response.success:
        raise typer.Exit(1 if response.base.retryable else 2)
    if response.dimensions_failed:
        raise typer.Exit(3)


def time_context_span(grain: Grain, partition: str | None, partition_range: str | None, shape: type,
                      allow_incomplete: bool) -> tuple[list, object]:
    """The partitions and context of ``--partition "KEY|CONTEXT"`` or ``--partition-range "A|C:B|C"``."""
    if (partition is None) == (partition_range is None):
        raise PartitionRangeError('give --partition "KEY|CONTEXT" or --partition-range "A|CONTEXT:B|CONTEXT"',
                                  part="range start")
    partitions, context = parse_time_context_range(grain, partition or partition_range,
                                                   allow_incomplete=allow_incomplete,
                                                   first_date=get_settings().partitions.first_date,
                                                   max_partitions=get_settings().partitions.max_per_request)
    if not isinstance(context, shape):
        wanted = "tenant::metric" if shape is MetricContext else "tenant::metric::pattern"
        raise ContextError(f"context {context} is not a {wanted} context", part="context", value=str(context))
    return partitions, context


@app.command()
def start(
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partition: str | None = typer.Option(None, "--partition", help='"2025-07-01|tenant::metric"'),
    partition_range: str | None = typer.Option(None, "--partition-range",
                                               help='"2025-07-01|t::m:2025-07-31|t::m" (one context)'),
    force_full: bool = typer.Option(False, "--force-full"),
    no_patterns: bool = typer.Option(False, "--no-patterns", help="do not start the PatternWorkflow after"),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete", help="allow partitions not ended yet"),
    wait: bool = typer.Option(False, "--wait", help="wait for the result and print it"),
) -> None:
    """Start a SyncWorkflow on Temporal for one context and partition (or range)."""
    settings = get_settings()
    with reported_errors():
        partitions, context = time_context_span(grain, partition, partition_range, MetricContext, allow_incomplete)
        request = SyncWorkflowInput(
            tenant=context.tenant, metric_id=context.metric, grain=grain, start_partition=partitions[0].key,
            end_partition=partitions[-1].key, force_full_sync=force_full, run_patterns=not no_patterns,
            pattern_task_queue=settings.temporal.pattern_task_queue)
        check_metric(context.tenant, context.metric)  # a typo exits 2 here, not as a failed workflow

    result = start_workflow(SyncWorkflow.run, request, workflow_id=request.workflow_id,
                            task_queue=settings.temporal.sync_task_queue,
                            summary=f"sync {request.context} {grain.value} {request.span}",
                            result_type=SyncWorkflowResult, wait=wait)
    if result is None:
        return
    print_components(result, f"{request.context} {grain.value} {request.span}")
    if result.patterns_workflow_id:
        console.print(f"patterns: {result.patterns_workflow_id}", markup=False)
    if result.dimensions_failed:
        raise typer.Exit(3)
