"""The operator CLI: `python -m starter …`.

Sub-commands live in one module each; this one only assembles them and turns semsync's typed
input errors into a clear message and a non-zero exit.
"""

from __future__ import annotations

import typer

from starter import backfill, catalog, demo, dev, migrate, patterns, report, results, schedules, status, sync

app = typer.Typer(no_args_is_help=True, add_completion=False, help="semsync operator CLI.")
app.add_typer(dev.app, name="dev")
app.add_typer(catalog.app, name="catalog")
app.add_typer(demo.app, name="demo")
app.add_typer(sync.app, name="sync")
app.add_typer(patterns.app, name="patterns")
app.add_typer(schedules.app, name="schedules")
app.command("backfill")(backfill.backfill)
app.command("status")(status.status)
app.command("pause")(backfill.pause)
app.command("resume")(backfill.resume)
app.command("cancel")(backfill.cancel)
app.command("discover")(schedules.discover)
app.command("results")(results.results)
app.command("report")(report.report)
app.command("migrate")(migrate.migrate)
