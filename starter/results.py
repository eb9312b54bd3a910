"""`python -m starter results T::M [--pattern P] [--grain G] [--date D]`: what the patterns found.

First the metric's current stories (those that hold at the latest analysis date, or `--date`: told
that day or earlier and not resolved since, most salient first), then for each pattern (or the one
asked for): its result at that date, as a headline and a few lines a person reads at a glance, from
the stored `pattern_results`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import typer
from rich.markup import escape

from semsync.catalog.store import find_tenant, get_metric
from semsync.db.session import Database, tenant_scope
from semsync.errors import InvalidInputError
from semsync.partitions import Grain, MetricContext
from semsync.patterns import get_pattern, pattern_names
from semsync.patterns.store import latest_results
from semsync.stories import Story, current_versions
from semsync.stories.store import holding_stories
from starter.console import console, counted, reported_errors, run_with_database
from starter.stories import print_story

#: the current stories `results` shows before the patterns' findings, most salient first
STORIES_SHOWN = 8


def _num(value: Any, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}{suffix}" if abs(value) < 1000 else f"{value:,.0f}{suffix}"
    return f"{value}{suffix}"


def performance_status(r: dict) -> list[str]:
    if r.get("status") == "no_target":
        return [f"value {_num(r.get('current_value'))}, no target set for this period"]
    lines = [f"[bold]{(r.get('status') or 'no status').replace('_', ' ')}[/]: value {_num(r.get('current_value'))} "
             f"against target {_num(r.get('target_value'))} (on track from {_num(r.get('target_threshold'))})"]
    if r.get("gap_percent") is not None:
        lines.append(f"gap {_num(r.get('gap_value'))} ({_num(r['gap_percent'], ' %')})")
    if r.get("current_status_duration_periods"):
        lines.append(f"in this status for {counted(r['current_status_duration_periods'], 'period')}"
                     + (f", before: {r['prior_status']}" if r.get("prior_status") not in (None, r.get("status"))
                        else ""))
    return lines


def historical_performance(r: dict) -> list[str]:
    lines = []
    trend = r.get("current_trend")
    if trend:
        lines.append(f"[bold]{trend['trend_type']}[/] trend since {trend['start_date']} "
                     f"({counted(trend['duration_periods'], 'period')}, "
                     f"{_num(trend.get('slope_percent'), ' %')} a period)")
    growth = r.get("growth_stats")
    if growth:
        lines.append(f"growth {_num(growth.get('current_pop_growth_percent'), ' %')} last period, "
                     f"{_num(growth.get('average_pop_growth_percent'), ' %')} on average")
    for key, label in (("high_rank", "highest"), ("low_rank", "lowest")):
        rank = r.get(key)
        if rank and rank.get("rank") == 1:
            lines.append(f"the {label} value of the last {rank['periods_compared']} periods")
    return lines or ["no trend found"]


def dimension_analysis(r: dict) -> list[str]:
    lines = []
    largest = r.get("largest_slice")
    if largest:
        share = _num(largest.get("share_percent"), " %")
        lines.append(f"largest slice [bold]{escape(str(largest['slice']))}[/] {share} of the total")
    change = r.get("new_strongest_slice")
    if change:
        lines.append(f"new strongest slice: {escape(str(change['current_slice']))} "
                     f"(was {escape(str(change['previous_slice']))})")
    top = r.get("top_two_comparison")
    if top:
        lines.append(f"{escape(str(top['slice_a']))} ahead of {escape(str(top['slice_b']))} "
                     f"by {_num(top.get('gap_percent'), ' %')}")
    return lines or ["no slices"]


def forecasting(r: dict) -> list[str]:
    lines = []
    for period in r.get("period_forecasts") or []:
        target = f" against target {_num(period['target_value'])}" if period.get("target_value") is not None else ""
        lines.append(f"{period['period']} ending {period['period_end']}: [bold]{_num(period['forecasted_value'])}[/] "
                     f"(95 % {_num(period.get('lower'))} – {_num(period.get('upper'))}){target}")
    return lines or ["no forecast"]


def drift_detection(r: dict) -> list[str]:
    latest = r.get("latest_shift")
    if not latest:
        return ["[bold]no drift[/]" + (f" (noise σ {_num(r.get('noise_sigma'))})" if r.get("noise_sigma") else "")]
    return [f"[bold]{latest['kind'].replace('_', ' ')} {latest['direction']}[/] on {latest['date']} "
            f"({_num(latest.get('size_percent'), ' %')}, z {_num(latest.get('z_score'))}); "
            f"{counted(len(r.get('shifts') or []), 'change')} in the window"]


FORMATS = {"performance_status": performance_status, "historical_performance": historical_performance,
           "dimension_analysis": dimension_analysis, "forecasting": forecasting, "drift_detection": drift_detection}


async def read_results(database: Database, context: MetricContext, grain: Grain, patterns: list[str],
                       on: date | None) -> tuple[list[Any], list[Story], date | None]:
    """The patterns' results at `on` (else their latest), and the stories that hold on that date."""
    tenant_id = (await find_tenant(database.session_factory, context.tenant)).id
    await get_metric(database.session_factory, tenant_id, context.metric)  # a typo: exit 2, no backfill hint
    rows = []
    async with tenant_scope(database.session_factory, tenant_id) as session:
        for name in patterns:
            rows += await latest_results(session, tenant_id=tenant_id, metric_id=context.metric, grain=grain,
                                         pattern=name, version=get_pattern(name).version, on=on)
        told_on = on or max((row.analysis_date for row in rows), default=None)
        stories = [] if told_on is None else (await holding_stories(
            session, tenant_id=tenant_id, tenant=context.tenant, versions=current_versions(), on=told_on,
            metrics=[context.metric], grain=grain.value))[:STORIES_SHOWN]
    return rows, stories, told_on


def results(
    context: str = typer.Argument(..., help="tenant::metric"),
    pattern: str | None = typer.Option(None, "--pattern", "-P", help="one pattern [default: all]"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    on: str | None = typer.Option(None, "--date", "-d", help="analysis date YYYY-MM-DD [default: the latest]"),
) -> None:
    """What the patterns found for one metric: the latest results, readably."""
    with reported_errors():
        metric_context = MetricContext.from_string(context)
        names = [get_pattern(pattern).name] if pattern else pattern_names()
        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            raise InvalidInputError(f"--date {on!r} is not a date (YYYY-MM-DD)", part="date", value=on) from None
        rows, stories, told_on = run_with_database(lambda db: read_results(db, metric_context, grain, names, day))
    if not rows and day is not None and day > datetime.now(UTC).date():
        console.print(f"no {grain.value} pattern results for {context} on {on}: that date is in the future "
                      "(a pattern analyses a partition the day after it ends)", markup=False)
        raise typer.Exit(1)
    if not rows:
        console.print(f"no {grain.value} pattern results for {context}"
                      + (f" on {on}" if on else "")
                      + f": run `python -m starter backfill --grain {grain.value} --partition-range A:B "
                        f"--context {context}` (or `patterns run`) first", markup=False)
        raise typer.Exit(1)
    if stories:
        console.print(f"[bold]stories[/] · {grain.value} · holding on {told_on}")
        for story in stories:
            print_story(story, context=False)
    for row in rows:
        where = f" · {escape(row.dimension_name)}" if row.dimension_name else ""
        console.print(f"[cyan]{row.pattern}[/] {row.version} · {grain.value} · as of {row.analysis_date}{where}")
        if row.error:
            console.print(f"  [yellow]{escape(str(row.error.get('type')))}[/]: "
                          f"{escape(str(row.error.get('message', '')))}")
            continue
        for line in FORMATS.get(row.pattern, lambda r: [escape(str(r)[:200])])(row.run_result):
            console.print(f"  {line}")
