"""One metric's report as a self-contained HTML page (plotly, the JavaScript inlined; no server).

What a person should see at a glance: the series with its target, the latest forecast and its 95 %
band, the drifts (level shifts and trend changes) and spikes/drops marked, the most salient stories
marked on the series and listed (newest first), the on-track status history, the latest dimension
shares, and the partition health of the sync and each pattern. Every text from the data (a story's
sentences, a slice's name) is escaped for HTML.

`read_report_data` reads everything from the tables (in the tenant's scope); `render_report` draws it.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import find_tenant_and_metric
from semsync.db.session import tenant_scope
from semsync.partitions import Grain, MetricContext, partition_for_date
from semsync.patterns import get_pattern
from semsync.patterns.store import latest_results
from semsync.stories import Story, StoryStatus, current_versions
from semsync.stories.store import read_stories

STATUS_COLOURS = {"on_track": "#2e7d32", "at_risk": "#f9a825", "off_track": "#c62828", "no_target": "#9e9e9e"}
POLARITY_COLOURS = {"good": "#2e7d32", "bad": "#c62828", "neutral": "#546e7a"}
#: the new stories marked on the series and listed: the most salient
STORIES_SHOWN = 30
LEDGER_COLOURS = {"succeeded": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "running": "#1565c0"}


@dataclass
class ReportData:
    context: MetricContext
    grain: Grain
    series: list[tuple[date, float]] = field(default_factory=list)
    targets: list[tuple[date, float]] = field(default_factory=list)
    forecast: dict[str, Any] | None = None
    shifts: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[tuple[date, dict[str, Any]]] = field(default_factory=list)
    statuses: list[tuple[date, str]] = field(default_factory=list)
    shares: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    ledger: dict[str, Counter] = field(default_factory=dict)
    stories: list[Story] = field(default_factory=list)
    generated_at: datetime | None = None


async def _latest(session: AsyncSession, params: dict, pattern: str) -> list[Any]:
    rows = await latest_results(session, tenant_id=params["t"], metric_id=params["m"], grain=params["g"],
                                pattern=pattern, version=get_pattern(pattern).version)
    return [row for row in rows if row.error is None]


async def read_report_data(session_factory: async_sessionmaker[AsyncSession], context: MetricContext,
                           grain: Grain, *, now: datetime) -> ReportData:
    # UnknownTenantError or UnknownMetricError, not an empty report; nothing decrypted
    tenant, _ = await find_tenant_and_metric(session_factory, context.tenant, context.metric)
    tenant_id = tenant.id
    data = ReportData(context=context, grain=grain, generated_at=now)
    params = {"t": tenant_id, "m": context.metric, "g": grain.value}
    async with tenant_scope(session_factory, tenant_id) as session:
        data.series = [tuple(r) for r in await session.execute(text(
            "SELECT date, value FROM metric_time_series WHERE tenant_id = :t AND metric_id = :m AND grain = :g "
            "ORDER BY date"), params)]
        data.targets = [tuple(r) for r in await session.execute(text(
            "SELECT target_date, target_value FROM metric_targets WHERE tenant_id = :t AND metric_id = :m "
            "AND grain = :g ORDER BY target_date"), params)]
        if rows := await _latest(session, params, "forecasting"):
            data.forecast = rows[0].run_result.get("forecast")
        if rows := await _latest(session, params, "drift_detection"):
            data.shifts = rows[0].run_result.get("shifts") or []
        for row in await session.execute(text(
                "SELECT analysis_date, run_result FROM pattern_results WHERE tenant_id = :t AND metric_id = :m "
                "AND grain = :g AND pattern = 'historical_performance' AND version = :v AND error IS NULL "
                "AND run_result->'trend_exception' <> 'null'::jsonb ORDER BY analysis_date"),
                params | {"v": get_pattern("historical_performance").version}):
            period = partition_for_date(grain, row.analysis_date - timedelta(days=1)).start
            data.exceptions.append((period, row.run_result["trend_exception"]))
        statuses = await session.execute(text(
            "SELECT analysis_date, run_result->>'status' AS status FROM pattern_results WHERE tenant_id = :t "
            "AND metric_id = :m AND grain = :g AND pattern = 'performance_status' AND version = :v "
            "AND error IS NULL ORDER BY analysis_date"), params | {"v": get_pattern("performance_status").version})
        data.statuses = [(partition_for_date(grain, r.analysis_date - timedelta(days=1)).start, r.status)
                         for r in statuses if r.status]
        for row in await _latest(session, params, "dimension_analysis"):
            slices = row.run_result.get("slices") or []
            data.shares[row.dimension_name] = [(s["slice"], s.get("current_share_percent") or 0.0) for s in slices]
        told = await read_stories(session, tenant_id=tenant_id, tenant=context.tenant, versions=current_versions(),
                                  metrics=[context.metric], grain=grain.value, statuses=[StoryStatus.NEW.value],
                                  limit=100_000)
        data.stories = sorted(sorted(told, key=lambda s: -s.salience)[:STORIES_SHOWN], key=lambda s: s.story_date,
                              reverse=True)
        for kind, status, count in await session.execute(text(
                "SELECT kind, status, count(*) FROM partition_ledger WHERE tenant_id = :t AND metric_id = :m "
                "AND grain = :g GROUP BY 1, 2 ORDER BY 1"), params):
            data.ledger.setdefault(kind, Counter())[status] = count
    return data


def _label(value: object) -> str:
    """`value` as plotly text: plotly renders a subset of HTML in hover, legend, axis and annotation
    text, so a label from the data (a slice called `<a href=…>`) is escaped to stay text."""
    return html.escape(str(value), quote=False)


def _main_figure(data: ReportData) -> go.Figure:
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.85, 0.15], vertical_spacing=0.04)
    if data.forecast and data.forecast.get("dates"):
        dates = data.forecast["dates"]
        figure.add_trace(go.Scatter(x=dates + dates[::-1], y=data.forecast["upper"] + data.forecast["lower"][::-1],
                                    fill="toself", fillcolor="rgba(21,101,192,0.15)", line={"width": 0},
                                    name="forecast 95 % band", hoverinfo="skip"), row=1, col=1)
        figure.add_trace(go.Scatter(x=dates, y=data.forecast["forecast"], name="forecast",
                                    line={"color": "#1565c0", "dash": "dash"}), row=1, col=1)
    figure.add_trace(go.Scatter(x=[d for d, _ in data.series], y=[v for _, v in data.series], name="value",
                                line={"color": "#212121"}), row=1, col=1)
    if data.targets:
        figure.add_trace(go.Scatter(x=[d for d, _ in data.targets], y=[v for _, v in data.targets], name="target",
                                    line={"color": "#2e7d32", "shape": "hv"}), row=1, col=1)
    values = dict(data.series)
    if data.exceptions:
        figure.add_trace(go.Scatter(
            x=[d for d, _ in data.exceptions], y=[e.get("current_value") for _, e in data.exceptions],
            mode="markers", name="spike / drop",
            marker={"symbol": ["triangle-up" if e["type"] == "spike" else "triangle-down" for _, e in data.exceptions],
                    "size": 11, "color": ["#2e7d32" if e.get("favourable") else "#c62828" for _, e in data.exceptions]},
            text=[_label(f"{e['type']} {e.get('magnitude_percent', 0):.1f} %") for _, e in data.exceptions]),
            row=1, col=1)
    for shift in data.shifts:
        day = date.fromisoformat(shift["date"])
        figure.add_vline(x=day.isoformat(), line_dash="dot", line_color="#6a1b9a", row=1, col=1)
        figure.add_annotation(x=day, y=values.get(day, shift.get("level_after")), row=1, col=1,
                              text=_label(f"{shift['kind'].replace('_', ' ')} {shift['direction']} "
                                          f"(z {shift['z_score']:.1f})"),
                              showarrow=True, arrowcolor="#6a1b9a", font={"color": "#6a1b9a"})
    if data.stories:
        marked = [(_story_period(data.grain, story), story) for story in data.stories]
        figure.add_trace(go.Scatter(
            x=[day for day, _ in marked], y=[values.get(day) for day, _ in marked], mode="markers", name="stories",
            marker={"symbol": "star", "size": 13, "line": {"width": 1, "color": "#212121"},
                    "color": [POLARITY_COLOURS[s.polarity.value] for _, s in marked]},
            text=[_label(s.title) for _, s in marked], hovertemplate="%{x}: %{text}<extra></extra>"),
            row=1, col=1)
    if data.statuses:
        figure.add_trace(go.Scatter(
            x=[d for d, _ in data.statuses], y=[0] * len(data.statuses), mode="markers", name="status",
            marker={"symbol": "square", "size": 9,
                    "color": [STATUS_COLOURS.get(s, "#9e9e9e") for _, s in data.statuses]},
            text=[_label(s.replace("_", " ")) for _, s in data.statuses], hovertemplate="%{x}: %{text}<extra></extra>"),
            row=2, col=1)
    figure.update_yaxes(visible=False, row=2, col=1)
    figure.update_layout(title=_label(f"{data.context} · {data.grain.value}: value, target, forecast, drifts, "
                                      "spikes, stories; status below"),
                         height=620, legend={"orientation": "h", "y": -0.12},
                         margin={"l": 50, "r": 20, "t": 60, "b": 40})
    return figure


def _story_period(grain: Grain, story: Story) -> date:
    """The period a story is about: its date's (a spike's, a record's), else the last one before its analysis."""
    told = story.variables.get("date")
    day = date.fromisoformat(told) if isinstance(told, str) and len(told) == 10 else \
        story.analysis_date - timedelta(days=1)
    return partition_for_date(grain, day).start


def _stories_list(data: ReportData) -> str:
    if not data.stories:
        return "<p class=\"meta\">no stories yet: they are told after the patterns run</p>"
    rows = "".join(
        f"<tr><td>{s.story_date}</td><td class=\"{s.polarity.value}\">{html.escape(s.title)}"
        f"<div class=\"meta\">{html.escape(s.detail)}"
        + "".join(f"<br>also: {html.escape(fact)}" for fact in s.also)
        + f"</div></td><td>{s.salience:.2f}</td></tr>" for s in data.stories)
    return (f"<h2>stories</h2><p class=\"meta\">the {len(data.stories)} most salient new stories, newest first</p>"
            f"<table><tr><th>told on</th><th>story</th><th>salience</th></tr>{rows}</table>")


def _shares_figure(data: ReportData) -> go.Figure | None:
    if not data.shares:
        return None
    figure = make_subplots(rows=1, cols=len(data.shares),
                           subplot_titles=[_label(f"by {d}") for d in sorted(data.shares)])
    for column, (dimension, slices) in enumerate(sorted(data.shares.items()), start=1):
        figure.add_trace(go.Bar(x=[_label(s) for s, _ in slices], y=[p for _, p in slices], name=_label(dimension),
                                text=[f"{p:.1f} %" for _, p in slices], textposition="auto"), row=1, col=column)
    figure.update_layout(title="dimension shares (latest analysis, % of the total)", showlegend=False, height=360,
                         margin={"l": 50, "r": 20, "t": 80, "b": 40})
    return figure


def _health_figure(data: ReportData) -> go.Figure | None:
    if not data.ledger:
        return None
    kinds = sorted(data.ledger, key=lambda k: (k != "sync", k))
    figure = go.Figure()
    for status, colour in LEDGER_COLOURS.items():
        figure.add_trace(go.Bar(y=[_label(k) for k in kinds], x=[data.ledger[k].get(status, 0) for k in kinds],
                                name=status,
                                orientation="h", marker_color=colour))
    figure.update_layout(barmode="stack", title="partition health (ledger: partitions per status)", height=320,
                         margin={"l": 160, "r": 20, "t": 60, "b": 40})
    return figure


def render_report(data: ReportData) -> str:
    """The whole page: the figures with plotly.js inlined once."""
    figures = [f for f in (_main_figure(data), _shares_figure(data), _health_figure(data)) if f is not None]
    parts = [figure.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, figure in enumerate(figures)]
    last = data.series[-1] if data.series else None
    status = data.statuses[-1][1].replace("_", " ") if data.statuses else "no status"
    drift = (f"{len(data.shifts)} changes found, latest {data.shifts[-1]['kind'].replace('_', ' ')} on "
             f"{data.shifts[-1]['date']}" if data.shifts else "no drift")
    summary = (f"latest value {last[1]:,.2f} on {last[0]}" if last else "no synced data") + f" · {status} · {drift}"
    title = html.escape(f"semsync report · {data.context} · {data.grain.value}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 24px; color: #212121 }}
.summary {{ font-size: 1.1em; margin-bottom: 12px }} .meta {{ color: #757575; font-size: 0.9em }}
table {{ border-collapse: collapse; margin: 12px 0 }} td, th {{ padding: 4px 10px; text-align: left;
vertical-align: top; border-bottom: 1px solid #eee }} .good {{ color: #2e7d32 }} .bad {{ color: #c62828 }}</style>
</head><body><h1>{title}</h1><p class="summary">{html.escape(summary)}</p>
{parts[0] if parts else ""}{_stories_list(data)}{''.join(parts[1:])}
<p class="meta">generated {data.generated_at:%Y-%m-%d %H:%M} UTC by semsync</p></body></html>
"""
