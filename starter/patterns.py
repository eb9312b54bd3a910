"""`python -m starter patterns list|run`: pattern analysis of synced series, in process."""

from __future__ import annotations

import typer
from rich.table import Table

from semsync.partitions import Grain, MetricPatternContext, expand_range
from semsync.pattern_runs import PatternRunRequest, PatternRunResponse, PatternRunService
from semsync.patterns import get_pattern, pattern_names
from starter.console import console, reported_errors, run_with_database

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


@app.command()
def run(
    context: str = typer.Argument(..., help="tenant::metric::pattern, e.g. acme::revenue::forecasting"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partitions: str = typer.Option(..., "--partitions", "-p", help="a key or an inclusive range A:B"),
) -> None:
    """Analyse every partition of the range (each as of the day after it ends) and store the results."""
    with reported_errors():
        parsed = MetricPatternContext.from_string(context)
        keys = expand_range(grain, partitions)
        request = PatternRunRequest(tenant=parsed.tenant, metric_id=parsed.metric, pattern=parsed.pattern,
                                    grain=grain, start_partition=keys[0].key, end_partition=keys[-1].key)
        response: PatternRunResponse = run_with_database(lambda db: PatternRunService(db.session_factory).run(request))
    console.print(
        f"{context} {grain.value} {response.partitions[0]}..{response.partitions[-1]}: "
        f"{response.results_stored} results stored (version {response.version}) in {response.duration_s:.2f}s"
    )
    if response.errors:
        console.print(f"{len(response.errors)} results carry an error, e.g. "
                      + ", ".join(f"{k}: {v}" for k, v in list(response.errors.items())[:5]))
