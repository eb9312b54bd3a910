"""The delivery commands: `notify test`, `digest preview|send`, `deliveries`, `alerts list|snooze|unsnooze`.

- `notify test CHANNEL --tenant T` sends a test message to one channel now (recorded like any
  delivery) and says what the receiver answered;
- `digest preview --tenant T [--grain G] [--date D] [--channel C] --out digest.html` renders a
  digest as its email's HTML without sending (`--format slack|webhook|text` prints the other forms);
- `digest send --tenant T --grain G [--date D]` starts the DigestWorkflow of a period by hand (once:
  a digest already sent is not sent again);
- `deliveries [--tenant T] [--status S] [--since D] [--kind K]` lists deliveries, newest first;
- `alerts list` shows every tenant's rules and snoozes; `alerts snooze T::M [--until D]` holds a
  metric's alerts (they are recorded `snoozed`, never sent; digests still carry its stories);
  `alerts unsnooze T::M` ends it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import text

from semsync.catalog.store import find_tenant, get_metric, read_catalog, read_notifications
from semsync.config import get_settings
from semsync.db.session import Database, tenant_scope
from semsync.errors import InvalidInputError
from semsync.partitions import Grain, MetricContext
from starter.console import (
    console,
    counted,
    err_console,
    parse_date,
    reported_errors,
    run_with_database,
    run_with_services,
)

notify = typer.Typer(no_args_is_help=True, help="Check a delivery channel.")
digest = typer.Typer(no_args_is_help=True, help="Preview or send a tenant's digest.")
alerts = typer.Typer(no_args_is_help=True, help="Alert rules and snoozes.")

STATUS_STYLE = {"sent": "green", "digested": "green", "failed": "red", "retrying": "yellow", "sending": "yellow",
                "pending": "yellow", "snoozed": "dim", "folded": "cyan"}



@notify.command("test")
def notify_test(channel: str = typer.Argument(..., help="the channel's id in the tenant's notifications"),
                tenant: str = typer.Option(..., "--tenant", "-t")) -> None:
    """Send a test message to CHANNEL now and show the receiver's answer."""
    from semsync.contracts import SendDeliveryRequest
    from semsync.notify.transports import DeliveryError

    async def work(services):  # noqa: ANN001, ANN202
        delivery_id = await services.deliveries.record_test(tenant, channel)
        try:
            return await services.deliveries.send(SendDeliveryRequest(tenant=tenant, delivery_id=delivery_id))
        except DeliveryError as exc:
            return exc

    with reported_errors():
        outcome = run_with_services(work)
    if isinstance(outcome, Exception):
        err_console.print(f"[bold red]not sent[/] (transient, would be retried): {escape(str(outcome))}")
        raise typer.Exit(1)
    if outcome.outcome != "sent":
        err_console.print(f"[bold red]refused[/]: {escape(outcome.error or outcome.outcome)}")
        raise typer.Exit(1)
    console.print("[green]✓[/] " + escape(f"test message sent to {channel} of {tenant} "
                                          f"(delivery {outcome.delivery_id})"))


@digest.command("preview")
def digest_preview(
    tenant: str = typer.Option(..., "--tenant", "-t"),
    grain: Grain = typer.Option(Grain.DAY, "--grain", "-g"),
    on: str | None = typer.Option(None, "--date", "-d", help="the date the digest goes out (YYYY-MM-DD, the "
                                                              "tenant's local date) [default: today]"),
    channel: str | None = typer.Option(None, "--channel", "-c", help="whose rules select [default: the first "
                                                                     "channel with digest rules]"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the email's HTML here"),
    form: str = typer.Option("html", "--format", help="html (the email), text, slack or webhook"),
) -> None:
    """Render a digest without sending it."""
    from semsync.notify.render import email_content, slack_payload, webhook_body
    from semsync.notify.service import digest_period

    if form not in ("html", "text", "slack", "webhook"):
        err_console.print(f"[bold red]error[/]: --format {form!r}: one of html, text, slack, webhook")
        raise typer.Exit(2)

    async def work(services):  # noqa: ANN001, ANN202
        notifications = await read_notifications(services.database.session_factory, tenant)
        if notifications.notifications is None:
            raise InvalidInputError(f"tenant {tenant!r} has no notifications in the catalog", part="tenant")
        rules = notifications.notifications.rules
        chosen = channel or next((c for r in rules if r.mode == "digest" and grain in r.grains
                                  for c in r.channels), None)
        if chosen is None:
            raise InvalidInputError(f"tenant {tenant!r} has no digest rule of grain {grain.value}: give --channel",
                                    part="channel")
        zone = ZoneInfo(notifications.notifications.timezone)
        local = parse_date(on, "--date") or datetime.now(UTC).astimezone(zone).date()
        period = digest_period(grain, local)
        return await services.deliveries.digest(notifications, chosen, grain, period, key="preview")

    with reported_errors():
        made = run_with_services(work)
    if form == "html":
        content = email_content(made)
        if out is None:
            console.print(content.html, highlight=False, markup=False)
        else:
            out.write_text(content.html, encoding="utf-8")
            console.print(f"[green]✓[/] {escape(content.subject)} → {out}")
        return
    if form == "text":
        console.print(email_content(made).text, highlight=False, markup=False)
        return
    body = slack_payload(made) if form == "slack" else webhook_body(made)
    print(json.dumps(body, indent=2, ensure_ascii=False))


@digest.command("send")
def digest_send(tenant: str = typer.Option(..., "--tenant", "-t"), grain: Grain = typer.Option(..., "--grain", "-g"),
                period: str = typer.Option(..., "--period", "-p", help="the period's key: 2025-07-06, 2025-W27, "
                                                                       "2025-07"),
                wait: bool = typer.Option(False, "--wait")) -> None:
    """Start the DigestWorkflow of one period now (a digest sent before is not sent again)."""
    from semsync.contracts import DigestInput, DigestResult
    from semsync.partitions import parse_partition
    from starter.orchestration import start_workflow
    from workflows.deliveries import DigestWorkflow

    with reported_errors():
        key = parse_partition(grain, period).key
        request = DigestInput(tenant=tenant, grain=grain, period=key)
    result = start_workflow(DigestWorkflow.run, request, workflow_id=f"digest/{tenant}/{grain.value}/{key}",
                            task_queue=get_settings().temporal.sync_task_queue, summary=f"digest {tenant} {key}",
                            result_type=DigestResult, wait=wait)
    if result is not None:
        console.print(f"digest {result.period}: {result.sent} sent, {result.already_sent} sent before, "
                      f"{result.failed} failed")


def deliveries(
    tenant: str | None = typer.Option(None, "--tenant", "-t"),
    status: str | None = typer.Option(None, "--status", "-s", help="pending, retrying, sent, failed, snoozed, "
                                                                   "folded, digested"),
    since: str | None = typer.Option(None, "--since", help="created on or after YYYY-MM-DD"),
    kind: str | None = typer.Option(None, "--kind", help="alert, digest or test"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    resend: bool = typer.Option(False, "--resend", help="send the listed failed deliveries again (needs "
                                                        "--tenant; a ResendWorkflow, once each)"),
) -> None:
    """The deliveries, newest first: what went where, with its attempts and the receiver's answer."""
    from semsync.notify import store

    if resend and not tenant:
        err_console.print("[bold red]error[/]: --resend needs --tenant")
        raise typer.Exit(2)

    async def work(db: Database) -> list:
        if tenant:
            tenants = [(await find_tenant(db.session_factory, tenant)).id]
        else:
            async with db.session_factory() as session:
                tenants = list((await session.execute(text("SELECT id FROM tenants ORDER BY identifier"))).scalars())
        first = datetime.combine(parse_date(since, "--since"), time(), UTC) if since else None
        rows = []
        for tenant_id in tenants:
            async with tenant_scope(db.session_factory, tenant_id) as session:
                identifier = await session.scalar(text("SELECT identifier FROM tenants WHERE id = :t"),
                                                  {"t": tenant_id})
                rows += [(identifier, row) for row in await store.list_deliveries(
                    session, tenant_id, status=status, since=first, kind=kind, limit=limit)]
        return sorted(rows, key=lambda r: r[1].created_at, reverse=True)[:limit]

    with reported_errors():
        rows = run_with_database(work)
    if resend:
        _resend(tenant, [row.id for _, row in rows if row.status == "failed"])
        return
    if as_json:
        for identifier, row in rows:
            print(json.dumps({"tenant": identifier, **{k: v for k, v in row._mapping.items()
                                                       if k not in ("tenant_id", "claimed_until")}}, default=str))
        return
    if not rows:
        console.print("no deliveries" + (f" with status {status}" if status else ""))
        return
    table = Table("created (UTC)", "tenant", "kind", "channel", "what", "status", "tries", "answer / error")
    for identifier, row in rows:
        what = row.period if row.kind == "digest" else (f"{row.metric_id}: {row.title}" if row.metric_id
                                                         else row.title or "")
        style = STATUS_STYLE.get(row.status, "white")
        answer = row.last_error if row.status in ("failed", "retrying") else (row.response or "")
        table.add_row(f"{row.created_at:%Y-%m-%d %H:%M}", Text(identifier), row.kind, Text(row.channel_id),
                      escape((what or "")[:70]), f"[{style}]{row.status}[/]", str(row.attempts),
                      escape((answer or "")[:80]))
    console.print(table)


def _resend(tenant: str, ids: list[int]) -> None:
    from semsync.contracts import DeliveryRetry, DeliveryTally, ResendInput
    from semsync.notify import store
    from starter.orchestration import start_workflow
    from workflows.deliveries import ResendWorkflow

    async def work(db: Database) -> list[int]:
        tenant_id = (await find_tenant(db.session_factory, tenant)).id
        async with tenant_scope(db.session_factory, tenant_id) as session:
            return await store.reopen(session, tenant_id, ids)

    with reported_errors():
        reopened = run_with_database(work) if ids else []
    if not reopened:
        console.print("no failed deliveries to send again")
        return
    settings = get_settings()
    notify_settings = settings.notify
    request = ResendInput(tenant=tenant, deliveries=reopened, retry=DeliveryRetry(
        initial_s=notify_settings.retry_initial_s, max_s=notify_settings.retry_max_s,
        for_h=notify_settings.retry_for_h))
    workflow_id = f"resend/{tenant}/{datetime.now(UTC):%Y%m%dT%H%M%S}"
    result = start_workflow(ResendWorkflow.run, request, workflow_id=workflow_id,
                            task_queue=settings.temporal.sync_task_queue,
                            summary=f"{len(reopened)} deliveries of {tenant} again", result_type=DeliveryTally,
                            wait=True)
    console.print(f"{counted(len(reopened), 'delivery', 'deliveries')} sent again: {result.sent} sent, "
                  f"{result.failed} failed")


@alerts.command("list")
def alerts_list() -> None:
    """Every tenant's rules and channels (secrets masked) and the snoozed metrics."""
    async def work(db: Database) -> tuple:
        catalog = await read_catalog(db.session_factory, sync_enabled_only=False)
        snoozes = []
        for tenant in catalog.tenants:
            tenant_id = (await find_tenant(db.session_factory, tenant.identifier)).id
            async with tenant_scope(db.session_factory, tenant_id) as session:
                snoozes += [(tenant.identifier, *row) for row in (await session.execute(text(
                    "SELECT metric_id, until, reason FROM alert_snoozes WHERE tenant_id = :t "
                    "AND (until IS NULL OR until > now()) ORDER BY metric_id"), {"t": tenant_id})).all()]
        return catalog, snoozes

    with reported_errors():
        catalog, snoozes = run_with_database(work)
    table = Table("tenant", "rule", "mode", "channels", "metrics", "grains", "selects")
    for tenant in catalog.tenants:
        for rule in tenant.notifications.rules if tenant.notifications else []:
            selects = ", ".join(filter(None, [
                "genres " + "/".join(g.value for g in rule.genres) if rule.genres else "",
                "types " + "/".join(rule.story_types) if rule.story_types else "",
                "/".join(p.value for p in rule.polarity) if rule.polarity else "",
                f"salience ≥ {rule.min_salience:g}" if rule.min_salience else ""])) or "every story"
            channels = ", ".join(f"{c} ({tenant.notifications.channel(c).type})" for c in rule.channels)
            table.add_row(*map(Text, (tenant.identifier, rule.id, rule.mode, channels, ", ".join(rule.metrics),
                                      ", ".join(g.value for g in rule.grains), selects)))
    console.print(table if table.row_count else "no notification rules in the catalog")
    for identifier, metric, until, reason in snoozes:
        console.print(f"snoozed: {identifier}::{metric} until {until:%Y-%m-%d %H:%M} UTC" if until
                      else f"snoozed: {identifier}::{metric} until unsnoozed", highlight=False, markup=False)
        if reason:
            console.print(f"    {escape(reason)}")


@alerts.command("snooze")
def alerts_snooze(context: str = typer.Argument(..., help="tenant::metric"),
                  until: str | None = typer.Option(None, "--until", help="YYYY-MM-DD (UTC midnight) [default: "
                                                                         "until unsnoozed]"),
                  reason: str | None = typer.Option(None, "--reason")) -> None:
    """Hold a metric's alerts: recorded as snoozed, never sent (digests still carry its stories)."""
    with reported_errors():
        metric = MetricContext.from_string(context)
        end = datetime.combine(parse_date(until, "--until"), time(), UTC) if until else None
        if end is not None and end <= datetime.now(UTC):
            raise InvalidInputError(f"--until {until} is not in the future", part="until", value=until)

        async def work(db: Database) -> None:
            tenant_id = (await find_tenant(db.session_factory, metric.tenant)).id
            await get_metric(db.session_factory, tenant_id, metric.metric)
            async with tenant_scope(db.session_factory, tenant_id) as session:
                await session.execute(text(
                    "INSERT INTO alert_snoozes (tenant_id, metric_id, until, reason) VALUES (:t, :m, :u, :r) "
                    "ON CONFLICT (tenant_id, metric_id) DO UPDATE SET until = excluded.until, "
                    "reason = excluded.reason, created_at = now()"),
                    {"t": tenant_id, "m": metric.metric, "u": end, "r": reason})

        run_with_database(work)
    console.print("[green]✓[/] " + escape(f"alerts of {metric} snoozed "
                                          + (f"until {until}" if until else "until unsnoozed")))


@alerts.command("unsnooze")
def alerts_unsnooze(context: str = typer.Argument(..., help="tenant::metric")) -> None:
    """End a metric's snooze: its next new stories alert again."""
    with reported_errors():
        metric = MetricContext.from_string(context)

        async def work(db: Database) -> int:
            tenant_id = (await find_tenant(db.session_factory, metric.tenant)).id
            async with tenant_scope(db.session_factory, tenant_id) as session:
                return (await session.execute(text(
                    "DELETE FROM alert_snoozes WHERE tenant_id = :t AND metric_id = :m"),
                    {"t": tenant_id, "m": metric.metric})).rowcount

        removed = run_with_database(work)
    console.print(f"[green]✓[/] alerts of {escape(str(metric))} unsnoozed" if removed
                  else escape(f"{metric} was not snoozed"))
