"""`python -m starter patterns list|run`: pattern analysis of synced series, in process."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from semsync.config import get_settings
from semsync.contracts import PatternRunRequest, PatternRunResponse, PatternWorkflowInput, PatternWorkflowResult
from semsync.errors import NotSyncedError
from semsync.partitions import Grain, MetricPatternContext, expand_range
from semsync.patterns import get_pattern, pattern_names
from semsync.services import Services
from starter.console import check_metric, console, counted, reported_errors, run_with_services
from starter.orchestration import start_workflow
from starter.sync import time_context_span
from workflows.patterns import PatternWorkflow

app = typer.Typer(no_args_is_help=True, help="Run pattern analysis on synced time series.")


@app.command("list")
def list_patterns() -> None:
    """The registered patterns with their version and the data they need."""
    table = Table("pattern", "version", "needs", "per dimension")
    for name in pattern_names():
        pattern = get_pattern(name)
        table.add_row(name, pattern.version, ", ".join(sorted(n.value for n in pattern.needs)),
                      "yes" if pattern.per_dimension else "no")
    console.print(table)


async def checked_run(services: Services, request: PatternRunRequest) -> PatternRunResponse:
    """The run, refused with the command to run first when the metric has no synced data at the grain."""
    if not await services.patterns.synced_periods(request):
        context = f"{request.tenant}::{request.metric_id}"
        raise NotSyncedError(
            f"{context} has no synced {request.grain.value} data up to {request.end_partition}: sync it first, "
            f"e.g. `python -m starter sync run {context} --grain {request.grain.value} --partitions "
            f"{request.start_partition}:{request.end_partition}` (or a backfill)")
    return await services.patterns.run(request)


@app.command()
def run(
    context: str = typer.Argument(..., help="tenant::metric::pattern, e.g. acme::revenue::forecasting"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partitions: str = typer.Option(..., "--partitions", "-p", help="a key or an inclusive range A:B"),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete", help="allow partitions not ended yet"),
) -> None:
    """Analyse every partition of the range (each as of the day after it ends) and store the results."""
    with reported_errors():
        parsed = MetricPatternContext.from_string(context)
        get_pattern(parsed.pattern)  # an unknown pattern is refused before the database
        keys = expand_range(grain, partitions, allow_incomplete=allow_incomplete,
                            first_date=get_settings().partitions.first_date,
                            max_partitions=get_settings().partitions.max_per_request)
        request = PatternRunRequest(tenant=parsed.tenant, metric_id=parsed.metric, pattern=parsed.pattern,
                                    grain=grain, start_partition=keys[0].key, end_partition=keys[-1].key)
        response: PatternRunResponse = run_with_services(lambda services: checked_run(services, request))
    console.print(
        f"{context} {grain.value} {response.partitions[0]}..{response.partitions[-1]}: "
        f"{counted(response.results_stored, 'result')} stored (version {response.version}) in "
        f"{response.duration_s:.2f}s", markup=False
    )
    if response.errors:
        console.print(f"{counted(len(response.errors), 'result')} with an error, e.g. "
                      + ", ".join(f"{k}: {v}" for k, v in list(response.errors.items())[:5]), markup=False)


@app.command()
def start(
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partition: str | None = typer.Option(None, "--partition", help='"2025-07-01|tenant::metric::pattern"'),
    partition_range: str | None = typer.Option(None, "--partition-range",
                                               help='"2025-07-01|t::m::p:2025-07-31|t::m::p" (one context)'),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete", help="allow partitions not ended yet"),
    wait: bool = typer.Option(False, "--wait", help="wait for the result and print it"),
) -> None:
    """Start a PatternWorkflow on Temporal for one pattern context and partition (or range)."""
    settings = get_settings()
    with reported_errors():
        partitions, context = time_context_span(grain, partition, partition_range, MetricPatternContext,
                                                allow_incomplete)
        get_pattern(context.pattern)  # an unknown pattern is refused before anything starts
        request = PatternWorkflowInput(tenant=context.tenant, metric_id=context.metric, grain=grain,
                                       start_partition=partitions[0].key, end_partition=partitions[-1].key,
                                       patterns=[context.pattern])
        check_metric(context.tenant, context.metric)  # a typo exits 2 here, not as a failed workflow

    result = start_workflow(PatternWorkflow.run, request, workflow_id=request.workflow_id,
                            task_queue=settings.temporal.pattern_task_queue,
                            summary=f"{context} {grain.value} {request.span}", result_type=PatternWorkflowResult,
                            wait=wait)
    if result is None:
        return
    for outcome in result.outcomes:
        mark = "[green]✓[/]" if outcome.succeeded else "[red]✗[/]"
        console.print(f"{mark} " + escape(f"{outcome.pattern}: {counted(outcome.results_stored, 'result')} stored"
                      + (f" ({outcome.results_with_error} with a typed error)" if outcome.results_with_error else "")
                      + (f" — {outcome.error}" if outcome.error else "")))
    if result.failed:
        raise typer.Exit(1)
