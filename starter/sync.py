"""`python -m starter sync run CONTEXT --grain G --partitions A[:B]`: sync one context now, in process.

It runs the same sync service the Temporal workers run, without Temporal: for a first look at the
data, for a one-off repair, or where no worker runs. The range is checked like a backfill's: not
before the first partition, not after the last complete one unless `--allow-incomplete`.
"""

from __future__ import annotations

import httpx
import typer
from rich.table import Table

from semsync.config import get_settings
from semsync.db.session import Database
from semsync.partitions import Grain, MetricContext, expand_range
from semsync.sources.registry import SourceRegistry
from semsync.sync import SemanticSyncRequest, SemanticSyncResponse, SemanticSyncService
from starter.console import console, reported_errors, run_with_database

app = typer.Typer(no_args_is_help=True, help="Sync metric time series from the semantic layer.")


async def run_sync(database: Database, request: SemanticSyncRequest) -> SemanticSyncResponse:
    settings = get_settings().semantic_layer
    async with httpx.AsyncClient(timeout=settings.request_timeout_s) as client:
        sources = SourceRegistry(database.engine, client, settings)
        try:
            service = SemanticSyncService(database.session_factory, sources,
                                          max_concurrent_dimensions=settings.max_concurrent_dimensions)
            return await service.sync(request)
        finally:
            await sources.aclose()


def print_response(response: SemanticSyncResponse) -> None:
    table = Table(title=f"{response.tenant}::{response.metric_id} {response.grain.value} "
                        f"{response.partitions[0]}" + (f":{response.partitions[-1]}" if len(response.partitions) > 1
                                                       else ""))
    for column in ("component", "type", "window", "status", "fetched", "inserted", "updated", "unchanged",
                   "deleted", "dropped", "error"):
        table.add_column(column)
    for c in [response.base, *response.dimensions]:
        table.add_row(
            c.dimension or "(base)", c.sync_type.value, f"{c.window_start}..{c.window_end}",
            ("[green]" if c.status.value == "SUCCESS" else "[red]") + c.status.value, str(c.rows_fetched),
            str(c.rows_inserted), str(c.rows_updated), str(c.rows_unchanged), str(c.rows_deleted),
            str(c.rows_dropped_null), c.error or "",
        )
    console.print(table)
    console.print(f"{'succeeded' if response.success else 'FAILED'} in {response.duration_seconds:.2f}s: "
                  f"{response.rows_fetched} fetched, {response.rows_written} written, "
                  f"{response.rows_deleted} deleted, {response.rows_skipped} skipped")


@app.command()
def run(
    context: str = typer.Argument(..., help="tenant::metric, e.g. acme::revenue"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    partitions: str = typer.Option(..., "--partitions", "-p", help="a key or an inclusive range A:B"),
    force_full: bool = typer.Option(False, "--force-full", help="FULL sync whatever the status says"),
    allow_incomplete: bool = typer.Option(False, help="allow partitions that have not ended yet"),
) -> None:
    """Sync one context over one partition or a contiguous range of them."""
    with reported_errors():
        metric_context = MetricContext.from_string(context)
        keys = expand_range(grain, partitions, allow_incomplete=allow_incomplete)
        request = SemanticSyncRequest(
            tenant=metric_context.tenant, metric_id=metric_context.metric, grain=grain,
            start_partition=keys[0].key, end_partition=keys[-1].key, force_full_sync=force_full,
        )
        response = run_with_database(lambda db: run_sync(db, request))
    print_response(response)
    if not response.success:
        raise typer.Exit(1 if response.base.retryable else 2)
    if response.dimensions_failed:
        raise typer.Exit(3)
