"""`python -m starter report T::M --grain day --out report.html`: one metric's report as a page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape

from semsync.errors import InvalidInputError
from semsync.partitions import Grain, MetricContext
from semsync.stories.report import read_report_data, render_report
from starter.console import console, counted, reported_errors, run_with_database


def report(
    context: str = typer.Argument(..., help="tenant::metric"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="where to write the HTML page"),
) -> None:
    """Draw the series with its target, the forecast and its band, drifts and spikes, the status
    history, the dimension shares and the partition health, as one self-contained HTML page."""
    with reported_errors():
        metric_context = MetricContext.from_string(context)
        if not out.parent.is_dir() or out.is_dir():  # refused before the reading, not after it
            raise InvalidInputError(f"--out {str(out)!r}: " + ("is a directory" if out.is_dir() else
                                    f"the directory {str(out.parent)!r} does not exist"), part="out", value=str(out))
        data = run_with_database(lambda db: read_report_data(db.session_factory, metric_context, grain,
                                                             now=datetime.now(UTC)))
    if not data.series:
        console.print(f"{context} has no synced {grain.value} data: run a backfill first, e.g. "
                      f"`python -m starter backfill --grain {grain.value} --partition-range A:B --context {context}`",
                      markup=False)
        raise typer.Exit(1)
    out.write_text(render_report(data), encoding="utf-8")
    console.print("[green]✓[/] " + escape(
        f"wrote {out} ({out.stat().st_size // 1024} KiB): {counted(len(data.series), 'period')}, "
        f"{counted(len(data.shifts), 'drift')}, {len(data.exceptions)} spikes/drops, "
        f"{counted(len(data.statuses), 'status', 'statuses')}"))
