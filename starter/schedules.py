"""`python -m starter schedules apply|list|pause|unpause|trigger|delete` and `python -m starter discover`.

Four Temporal Schedules drive semsync, running unless paused:

| schedule | when (UTC) | starts |
|---|---|---|
| ``semsync-daily`` | every day 10:00 | ScheduledRunWorkflow(day): every active context, the day before |
| ``semsync-weekly`` | Mondays 11:00 | ScheduledRunWorkflow(week): the week that ended on Sunday |
| ``semsync-monthly`` | the 1st, 12:00 | ScheduledRunWorkflow(month): the month before |
| ``semsync-discovery`` | every 15 minutes | DiscoveryWorkflow |
| ``semsync-digest-{tenant}-{grain}`` | `digest_time`, tenant's zone | DigestWorkflow (daily, weekly, monthly) |

The digest schedules exist for each tenant whose catalog entry has `notifications` (read from the
catalog tables); they run in the tenant's time zone, so 08:00 Europe/Berlin stays 08:00 across DST.
A digest missed by an outage runs on return within a day (catch-up window 1 day); a tenant that no
longer has notifications loses its digest schedules on the next `apply`.

Overlap and catch-up: a grain run that is still going when the next one is due buffers it
(``BUFFER_ALL``: every slot's partition gets its run, one after the other, none skipped); after an
outage the slots missed within the last 7 days run on return (catch-up window), each for its own
partition (the partition comes from the slot's scheduled time). Discovery skips a slot while one
runs (``SKIP``) and catches up only 15 minutes: a later discovery supersedes a missed one.

`apply` is an idempotent create-or-update: each schedule's note carries a hash of its definition;
a schedule whose definition changed is updated (its paused state kept), an unchanged one is left
alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)
from temporalio.common import Priority
from temporalio.service import RPCError, RPCStatusCode

from semsync.catalog.models import TenantDef
from semsync.config import Settings, get_settings
from semsync.contracts import DigestInput, DiscoveryInput, DiscoveryResult, ScheduledRunInput
from semsync.contracts.backfill import SCHEDULED_PRIORITY
from semsync.partitions import Grain
from starter.console import console, err_console
from starter.orchestration import run_with_temporal
from workflows.deliveries import DigestWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.scheduled import ScheduledRunWorkflow

app = typer.Typer(no_args_is_help=True, help="The Temporal Schedules that run semsync by itself.")

NOTE_PREFIX = "semsync spec "
GRAIN_CRONS = {Grain.DAY: "0 10 * * *", Grain.WEEK: "0 11 * * 1", Grain.MONTH: "0 12 1 * *"}
GRAIN_NAMES = {Grain.DAY: "daily", Grain.WEEK: "weekly", Grain.MONTH: "monthly"}
#: the day fields of a digest's cron: every day, Mondays, the 1st
DIGEST_DAYS = {Grain.DAY: "* * *", Grain.WEEK: "* * 1", Grain.MONTH: "1 * *"}
DIGEST_PREFIX = "semsync-digest-"


@dataclass(frozen=True)
class Wanted:
    schedule_id: str
    schedule: Schedule
    describe: str

    @property
    def digest(self) -> str:
        action = self.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        definition = {
            "workflow": action.workflow, "id": action.id, "task_queue": action.task_queue,
            "args": [a.model_dump(mode="json") for a in action.args],
            "cron": list(self.schedule.spec.cron_expressions), "zone": self.schedule.spec.time_zone_name,
            "intervals": [str(i.every) for i in self.schedule.spec.intervals],
            "overlap": self.schedule.policy.overlap.name, "catchup": str(self.schedule.policy.catchup_window),
        }
        return hashlib.sha1(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def wanted_schedules(settings: Settings) -> list[Wanted]:
    """The schedules as the settings define them."""
    temporal, options = settings.temporal, settings.schedules
    wanted = []
    for grain, cron in GRAIN_CRONS.items():
        request = ScheduledRunInput(grain=grain, max_concurrency=options.max_concurrency,
                                    run_patterns=options.run_patterns, pattern_task_queue=temporal.pattern_task_queue,
                                    cross_grain=options.cross_grain,
                                    cross_grain_deadline_h=options.cross_grain_deadline_h,
                                    cross_grain_poll_min=options.cross_grain_poll_min)
        wanted.append(Wanted(f"semsync-{'daily' if grain is Grain.DAY else grain.value + 'ly'}", Schedule(
            action=ScheduleActionStartWorkflow(ScheduledRunWorkflow.run, request, id=f"scheduled/{grain.value}",
                                               task_queue=temporal.sync_task_queue,
                                               priority=Priority(priority_key=SCHEDULED_PRIORITY)),
            spec=ScheduleSpec(cron_expressions=[cron]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ALL, catchup_window=timedelta(days=7)),
            state=ScheduleState(paused=options.paused),
        ), f"{grain.value} run, cron '{cron}' UTC"))
    discovery = DiscoveryInput(initial_sync=options.initial_sync, run_patterns=options.run_patterns,
                               pattern_task_queue=temporal.pattern_task_queue)
    wanted.append(Wanted("semsync-discovery", Schedule(
        action=ScheduleActionStartWorkflow(DiscoveryWorkflow.run, discovery, id="discovery/scheduled",
                                           task_queue=temporal.sync_task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=15))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=15)),
        state=ScheduleState(paused=options.paused),
    ), "discovery every 15 minutes"))
    for item in wanted:
        item.schedule.state.note = NOTE_PREFIX + item.digest
    return wanted


def digest_schedules(settings: Settings, tenants: list[TenantDef]) -> list[Wanted]:
    """Each tenant's digest schedules, one per grain, at its `digest_time` in its time zone."""
    wanted = []
    for tenant in tenants:
        notifications = tenant.notifications
        if notifications is None:
            continue
        at = notifications.digest_time
        for grain, days in DIGEST_DAYS.items():
            cron = f"{at.minute} {at.hour} {days}"
            item = Wanted(f"{DIGEST_PREFIX}{tenant.identifier}-{GRAIN_NAMES[grain]}", Schedule(
                action=ScheduleActionStartWorkflow(DigestWorkflow.run, DigestInput(tenant=tenant.identifier,
                                                                                   grain=grain),
                                                   id=f"digest/{tenant.identifier}/{grain.value}",
                                                   task_queue=settings.temporal.sync_task_queue),
                spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=notifications.timezone),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ALL, catchup_window=timedelta(days=1)),
                state=ScheduleState(paused=settings.schedules.paused),
            ), f"{tenant.identifier}'s {GRAIN_NAMES[grain]} digest, cron '{cron}' {notifications.timezone}")
            item.schedule.state.note = NOTE_PREFIX + item.digest
            wanted.append(item)
    return wanted


async def notifying_tenants(settings: Settings) -> list[TenantDef]:
    """The sync-enabled tenants of the catalog tables that have notifications."""
    from semsync.catalog.store import read_catalog
    from semsync.db.session import Database, ssl_connect_args

    database = Database.connect(settings.database.url.get_secret_value(), pool_size=1,
                                connect_args=ssl_connect_args(settings.database))
    try:
        catalog = await read_catalog(database.session_factory, sync_enabled_only=True)
    finally:
        await database.dispose()
    return [t for t in catalog.tenants if t.notifications is not None]


async def apply_schedules(client: Client, settings: Settings, tenants: list[TenantDef] | None = None
                          ) -> dict[str, str]:
    """Create or update every schedule (the digests of `tenants`, default those of the catalog
    tables), delete digest schedules of tenants without notifications; schedule id → "created",
    "updated", "unchanged" or "deleted"."""
    if tenants is None:
        tenants = await notifying_tenants(settings)
    wanted = wanted_schedules(settings) + digest_schedules(settings, tenants)
    outcome = {}
    async for listed in await client.list_schedules():
        if listed.id.startswith(DIGEST_PREFIX) and listed.id not in {w.schedule_id for w in wanted}:
            await client.get_schedule_handle(listed.id).delete()
            outcome[listed.id] = "deleted"
    for item in wanted:
        handle = client.get_schedule_handle(item.schedule_id)
        try:
            current = (await handle.describe()).schedule
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            try:
                await client.create_schedule(item.schedule_id, item.schedule)
                outcome[item.schedule_id] = "created"
            except ScheduleAlreadyRunningError:  # created concurrently by another apply
                outcome[item.schedule_id] = "unchanged"
            continue
        if (current.state.note or "").startswith(NOTE_PREFIX + item.digest):
            outcome[item.schedule_id] = "unchanged"
            continue
        item.schedule.state.paused = current.state.paused  # an operator's pause (and its reason) survive
        item.schedule.state.note = spec_note(item.digest, _parse_note(current.state.note)[1])
        await handle.update(lambda _input, schedule=item.schedule: ScheduleUpdate(schedule=schedule))
        outcome[item.schedule_id] = "updated"
    return outcome


def spec_note(digest: str | None, remark: str | None = None) -> str:
    """A schedule's note: the digest of the definition `apply` wrote, then an operator's remark.
    Pause and unpause keep the digest, so `apply` still recognises an unchanged definition."""
    return NOTE_PREFIX + (digest or "") + (f" - {remark}" if remark else "")


def _parse_note(note: str | None) -> tuple[str | None, str | None]:
    """The digest and the remark of a note `spec_note` wrote (either may be None)."""
    if not note or not note.startswith(NOTE_PREFIX):
        return None, None
    rest = note[len(NOTE_PREFIX):]
    if rest.startswith("- "):  # written before the digest was kept: a remark only
        return None, rest[2:] or None
    digest, _, remark = rest.partition(" - ")
    return digest.strip() or None, remark or None


async def pause_schedule(handle: ScheduleHandle, reason: str) -> None:
    """Pause with `reason` in the note, after the definition's digest."""
    note = (await handle.describe()).schedule.state.note
    await handle.pause(note=spec_note(_parse_note(note)[0], reason))


async def unpause_schedule(handle: ScheduleHandle) -> None:
    note = (await handle.describe()).schedule.state.note
    await handle.unpause(note=spec_note(_parse_note(note)[0], "unpaused"))


def _ids(name: str) -> list[str]:
    names = {"daily": "semsync-daily", "weekly": "semsync-weekly", "monthly": "semsync-monthly",
             "discovery": "semsync-discovery"}
    if name == "all":
        return list(names.values())
    if name.startswith(DIGEST_PREFIX):
        return [name]
    if name not in names and name not in names.values():
        err_console.print(f"[bold red]error[/]: unknown schedule {escape(repr(name))}: "
                          f"one of {', '.join(names)} or all")
        raise typer.Exit(2)
    return [names.get(name, name)]


@app.command()
def apply() -> None:
    """Create or update the schedules (idempotent)."""
    settings = get_settings()
    outcome = run_with_temporal(lambda client: apply_schedules(client, settings))
    for schedule_id, what in outcome.items():
        console.print(f"{schedule_id}: {what}", markup=False)


@app.command("list")
def list_schedules() -> None:
    """The schedules with their state and next runs."""
    async def read(client: Client) -> list:
        rows = []
        settings = get_settings()
        for item in wanted_schedules(settings) + digest_schedules(settings, await notifying_tenants(settings)):
            try:
                rows.append((item, await client.get_schedule_handle(item.schedule_id).describe()))
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                rows.append((item, None))
        return rows

    table = Table("schedule", "what", "state", "next run (UTC)", "last run")
    for item, description in run_with_temporal(read):
        if description is None:
            table.add_row(Text(item.schedule_id), Text(item.describe), "[red]missing[/] (schedules apply)", "", "")
            continue
        info, state = description.info, description.schedule.state
        upcoming = info.next_action_times[0].strftime("%Y-%m-%d %H:%M") if info.next_action_times else ""
        recent = info.recent_actions[-1].scheduled_at.strftime("%Y-%m-%d %H:%M") if info.recent_actions else ""
        table.add_row(Text(item.schedule_id), Text(item.describe),
                      "[yellow]paused[/]" if state.paused else "[green]running[/]",
                      upcoming, recent)
    console.print(table)


def _each(name: str, verb: str, act) -> None:  # noqa: ANN001
    async def go(client: Client) -> None:
        for schedule_id in _ids(name):
            try:
                await act(client.get_schedule_handle(schedule_id))
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                err_console.print(f"[bold red]error[/]: no schedule {escape(schedule_id)} (run `schedules apply`)")
                raise typer.Exit(2) from None
            console.print(f"{schedule_id}: {verb}", markup=False)

    run_with_temporal(go)


NAME = typer.Argument(..., help="daily, weekly, monthly, discovery, all, or a digest's id "
                                 "(semsync-digest-TENANT-daily)")


@app.command()
def pause(name: str = NAME, reason: str = typer.Option("paused by an operator", "--reason")) -> None:
    """Pause a schedule (its slots are skipped until unpaused)."""
    _each(name, "paused", lambda h: pause_schedule(h, reason))


@app.command()
def unpause(name: str = NAME) -> None:
    """Unpause a schedule."""
    _each(name, "running", unpause_schedule)


@app.command()
def trigger(name: str = NAME) -> None:
    """Run a schedule's action now (a grain run processes the last complete partition as of now)."""
    _each(name, "triggered", lambda h: h.trigger())


@app.command()
def delete(name: str = NAME) -> None:
    """Delete a schedule (`schedules apply` creates it again)."""
    _each(name, "deleted", lambda h: h.delete())


def discover(wait: bool = typer.Option(False, "--wait", help="wait and print what changed")) -> None:
    """Run discovery now: load the catalog, register new contexts, deactivate gone ones."""
    settings = get_settings()
    options = settings.schedules
    request = DiscoveryInput(initial_sync=options.initial_sync, run_patterns=options.run_patterns,
                             pattern_task_queue=settings.temporal.pattern_task_queue)
    workflow_id = f"discovery/manual-{datetime.now(UTC):%Y%m%dT%H%M%S}"

    async def go(client: Client) -> DiscoveryResult | None:
        handle = await client.start_workflow(DiscoveryWorkflow.run, request, id=workflow_id,
                                             task_queue=settings.temporal.sync_task_queue,
                                             static_summary="discovery (manual)")
        console.print(f"started {workflow_id}")
        return await handle.result() if wait else None

    result = run_with_temporal(go)
    if result is None:
        return
    diff = result.diff
    console.print(f"discovery: {diff.summary()}")
    for label, contexts, count in (("new", diff.new, diff.new_count), ("reactivated", diff.reactivated,
                                    diff.reactivated_count), ("deactivated", diff.deactivated, diff.deactivated_count)):
        if contexts:
            more = f" and {count - len(contexts)} more" if count > len(contexts) else ""
            console.print(f"  {label}: {', '.join(contexts)}{more}", markup=False)
    for problem in diff.problems:
        console.print(f"  [yellow]skipped[/]: {escape(problem)}")
    if diff.problem_count > len(diff.problems):
        console.print(f"  [yellow]skipped[/]: and {diff.problem_count - len(diff.problems)} more")
    for workflow in result.initial_syncs:
        console.print(f"  initial sync: {workflow}")
