"""`python -m starter demo seed|catalog`: the demo warehouse and its catalog."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import asyncpg
import typer

from semsync.config import get_settings
from semsync.demo import DEMO_CATALOG_PATH, EVENTS, seed_warehouse, write_demo_catalog
from starter.console import console, err_console

app = typer.Typer(no_args_is_help=True, help="The demo warehouse (seeded sample data) and its catalog.")


@app.command()
def seed(
    until: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="last day of data [default: today]"),
    seed: int = typer.Option(7, help="random seed; the same seed and --until give the same data"),
) -> None:
    """(Re)create the `warehouse` schema in the semsync database, readable by the app role."""
    database = get_settings().database
    started = time.perf_counter()
    try:
        counts = asyncio.run(seed_warehouse(
            database.admin_url.get_secret_value(), database.app_role,
            until=until.date() if until else None, seed=seed,
        ))
    except (OSError, asyncpg.PostgresError) as exc:
        err_console.print(f"[bold red]error[/]: cannot seed the demo warehouse: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    for table, rows in counts.items():
        console.print(f"[green]✓[/] {table}: {rows:,} rows")
    console.print(f"seeded in {time.perf_counter() - started:.1f} s; planted events:")
    for event in EVENTS:
        console.print(f"  {event.tenant}: {event.description}")


@app.command()
def catalog(path: Path = typer.Argument(DEMO_CATALOG_PATH, help="where to write the YAML")) -> None:
    """Write the demo catalog (tenants, metrics, dimensions, targets) as YAML."""
    written = write_demo_catalog(path)
    console.print(f"[green]✓[/] wrote {written}")
