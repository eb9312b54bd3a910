"""`python -m starter demo seed|catalog`: the demo warehouse and its catalog."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import typer
from sqlalchemy import text
from temporalio.exceptions import WorkflowAlreadyStartedError

from devstack import DevStack, DevStackError
from devstack.demo import DEMO_CATALOG_PATH, EVENTS, seed_warehouse, write_demo_catalog
from devstack.demo.warehouse import START as DEMO_START
from semsync.catalog.file import read_catalog_file
from semsync.catalog.store import write_catalog
from semsync.config import Settings, asyncpg_dsn, get_settings
from semsync.contracts import BackfillInput, BackfillResult, ContextSelector, DiscoveryInput
from semsync.db.session import tenant_scope
from semsync.services import open_services
from semsync.stories import Story, StoryStatus
from starter.backfill import default_backfill_id, follow, grain_ranges
from starter.console import console, err_console, reported_errors
from starter.orchestration import connect
from starter.schedules import apply_schedules
from starter.stories import find_stories, print_story
from workflows.backfill import BackfillWorkflow
from workflows.discovery import DiscoveryWorkflow

#: the stories `demo run` ends with
TOP_STORIES = 8

app = typer.Typer(no_args_is_help=True, help="The demo warehouse (seeded sample data) and its catalog.")


@app.command()
def seed(
    until: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="last day of data [default: today]"),
    seed: int = typer.Option(7, help="random seed; the same seed and --until give the same data"),
) -> None:
    """(Re)create the `warehouse` schema in the semsync database, readable by the app role."""
    database = get_settings().database
    if until is not None and until.date() < DEMO_START:
        err_console.print(f"[bold red]error[/]: --until {until.date()} is before the demo's data begins ({DEMO_START})")
        raise typer.Exit(2)
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


async def _seeded_through(admin_url: str) -> date | None:
    """The last day the demo warehouse holds, or None when it is not there."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        if not await conn.fetchval("SELECT to_regclass('warehouse.daily_facts') IS NOT NULL"):
            return None
        return await conn.fetchval("SELECT max(day) FROM warehouse.daily_facts")
    finally:
        await conn.close()


async def _demo(settings: Settings) -> tuple[BackfillResult, dict[str, int], list[Story]]:
    database = settings.database
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    seeded = await _seeded_through(database.admin_url.get_secret_value())
    if seeded is not None and seeded >= yesterday:
        console.print(f"[green]✓[/] demo warehouse already seeded through {seeded}")
    else:
        counts = await seed_warehouse(database.admin_url.get_secret_value(), database.app_role)
        console.print(f"[green]✓[/] seeded the demo warehouse: {sum(counts.values()):,} rows")
    async with open_services(settings, pool_size=4) as services:
        summary = await write_catalog(services.catalog_database.session_factory, read_catalog_file(DEMO_CATALOG_PATH))
        console.print(f"[green]✓[/] demo catalog loaded ({summary.changed} rows written)")
        stack = DevStack.from_settings(settings)
        started = await asyncio.to_thread(stack.worker.start, {"SEMSYNC_HOME": str(settings.state_dir)})
        console.print(f"[green]✓[/] worker {'started' if started else 'already running'} "
                      f"(log: {stack.worker.log})")
        client = await connect()
        for schedule_id, what in (await apply_schedules(client, settings)).items():
            console.print(f"[green]✓[/] schedule {schedule_id}: {what}")
        found = await client.execute_workflow(
            DiscoveryWorkflow.run, DiscoveryInput(pattern_task_queue=settings.temporal.pattern_task_queue),
            id=f"discovery/demo-{datetime.now(UTC):%Y%m%dT%H%M%S}", task_queue=settings.temporal.sync_task_queue)
        console.print(f"[green]✓[/] discovery: {found.diff.summary()}")
        now = datetime.now(UTC)
        ranges = grain_ranges(None, True, None, now=now, first_date=settings.partitions.first_date)
        request = BackfillInput(backfill_id="pending", ranges=ranges,
                                pattern_task_queue=settings.temporal.pattern_task_queue, max_concurrency=4)
        request.backfill_id = "demo-" + default_backfill_id(request)
        try:
            await client.start_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                        task_queue=settings.temporal.sync_task_queue,
                                        static_summary="the demo's backfill of every grain")
        except WorkflowAlreadyStartedError:
            console.print(f"{request.workflow_id} is already running: following it")
        console.print(f"backfill {request.workflow_id}: every grain from the first partition to the last complete one")
        result = await follow(client, request.backfill_id)
        async with services.database.session_factory() as session:
            tenants = (await session.execute(text("SELECT id FROM tenants"))).scalars().all()
        totals = {"rows": 0, "pattern results": 0, "stories": 0}
        for tenant_id in tenants:
            async with tenant_scope(services.database.session_factory, tenant_id) as session:
                totals["rows"] += await session.scalar(text(
                    "SELECT (SELECT count(*) FROM metric_time_series) + "
                    "(SELECT count(*) FROM metric_dimensional_time_series)"))
                totals["pattern results"] += await session.scalar(text("SELECT count(*) FROM pattern_results"))
                totals["stories"] += await session.scalar(text("SELECT count(*) FROM stories"))
        top = await find_stories(services.database, ContextSelector(), statuses=[StoryStatus.NEW.value],
                                 limit=TOP_STORIES, newest_first=False)
    return result, totals, top


@app.command("run")
def run_demo() -> None:
    """The whole demo: the stack, the warehouse and catalog, the worker, schedules, discovery and a
    backfill of every grain with its patterns. Leaves the stack running (`make down` stops it);
    a second run changes nothing and is quick."""
    began = time.perf_counter()
    settings = get_settings()
    console.print(f"state directory: {settings.state_dir} (SEMSYNC_HOME)")
    try:
        for line in DevStack.from_settings(settings).up():
            console.print(f"[green]✓[/] {line}")
    except DevStackError as exc:
        err_console.print(f"[bold red]error[/]: {exc}")
        raise typer.Exit(1) from None
    with reported_errors():
        result, totals, top = asyncio.run(_demo(settings))
    p = result.progress
    console.print(
        f"\n[bold]demo ready[/] in {time.perf_counter() - began:.0f}s: {p.contexts} contexts, "
        f"{p.partitions_done} partitions synced now ({p.partitions_skipped} already), {totals['rows']:,} rows "
        f"stored, {totals['pattern results']:,} pattern results, {totals['stories']:,} stories, "
        f"{p.chunks_failed + p.chunks_partial} failures")
    for failure in result.failures:
        console.print(f"  [red]✗[/] {failure.context} {failure.grain.value} {failure.span}: {failure.reason}")
    if top:
        console.print(f"\n[bold]the top {len(top)} stories[/] (the most salient, all dates):")
        for story in top:
            print_story(story)
    console.print(f"""
Web UI:  {settings.temporal.ui_url}
Try:
  .venv/bin/python -m starter stories --tenant globex --limit 10  # the newest stories, most salient first
  .venv/bin/python -m starter results acme::revenue           # a metric's current stories and latest findings
  .venv/bin/python -m starter status                          # the partition health map
  .venv/bin/python -m starter status --grain week --kind drift_detection
  .venv/bin/python -m starter schedules list
  .venv/bin/python -m starter sync start --partition "2025-07-01|acme::revenue" --wait
  make down                                                   # stop the stack (data stays in {settings.state_dir})""")
    if result.failures:
        raise typer.Exit(3)
