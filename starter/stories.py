"""`python -m starter stories [T::M | --tenant T] [--grain G] [--date D | --since D] [--type X] [--limit N] [--json]`:
what the patterns found, as the sentences people read, newest and most salient first."""

from __future__ import annotations

from datetime import date

import typer
from rich.markup import escape

from semsync.backfill.plan import select_contexts
from semsync.contracts import ContextSelector
from semsync.db.session import Database, tenant_scope
from semsync.errors import InvalidInputError
from semsync.partitions import Grain, MetricContext
from semsync.stories import Story, StoryStatus, current_versions
from semsync.stories.store import holding_stories, read_stories
from semsync.stories.templates import story_types
from starter.console import console, parse_date, reported_errors, run_with_database

POLARITY_STYLE = {"good": "green", "bad": "red", "neutral": "white"}


async def find_stories(database: Database, selector: ContextSelector, *, grain: Grain | None = None,
                       first: date | None = None, last: date | None = None, on: date | None = None,
                       types: list[str] | None = None, statuses: list[str] | None = None, limit: int = 20,
                       newest_first: bool = True) -> list[Story]:
    """The selected contexts' stories, newest and most salient first (most salient first:
    `newest_first` False); group leads only. With `on`: the stories of that date, those that hold
    (new and ongoing) and those that ended (resolved), most salient first."""
    selected = await select_contexts(database.session_factory, selector)
    metrics: dict[tuple[int, str], list[str]] = {}
    for tenant_id, context in selected:
        metrics.setdefault((tenant_id, context.tenant), []).append(context.metric)
    versions = current_versions()
    found: list[Story] = []
    for (tenant_id, tenant), ids in metrics.items():
        async with tenant_scope(database.session_factory, tenant_id) as session:
            if on is None:
                found += await read_stories(session, tenant_id=tenant_id, tenant=tenant, versions=versions,
                                            metrics=ids, grain=grain.value if grain else None, first=first,
                                            last=last, types=types, statuses=statuses, limit=limit,
                                            newest_first=newest_first)
                continue
            told = await holding_stories(session, tenant_id=tenant_id, tenant=tenant, versions=versions, on=on,
                                         metrics=ids, grain=grain.value if grain else None)
            told += await read_stories(session, tenant_id=tenant_id, tenant=tenant, versions=versions, metrics=ids,
                                       grain=grain.value if grain else None, first=on, last=on,
                                       statuses=[StoryStatus.RESOLVED.value], limit=limit)
            found += [s for s in told if (not types or s.story_type in types)
                      and (not statuses or s.status.value in statuses)]
    if on is not None:
        return sorted(found, key=lambda s: -s.salience)[:limit]
    found.sort(key=(lambda s: (s.story_date, s.salience)) if newest_first else (lambda s: (s.salience, s.story_date)),
               reverse=True)
    return found[:limit]



def print_story(story: Story, *, context: bool = True) -> None:
    """One story as two or three lines: date, grain, status, salience and title; detail; grouped facts."""
    style = POLARITY_STYLE[story.polarity.value]
    where = escape(f"{story.tenant}::{story.metric} ") if context else ""
    status = {StoryStatus.NEW: "", StoryStatus.ONGOING: f" (ongoing since {story.started_on})",
              StoryStatus.RESOLVED: f" (resolved; since {story.started_on})"}[story.status]  # dates: no markup
    console.print(f"[dim]{story.story_date} {where}{story.grain.value} {story.salience:.2f}[/] "
                  f"[{style}]{escape(story.title)}[/]{status}")
    console.print(f"    {escape(story.detail)}")
    for fact in story.also:
        console.print(f"    [dim]also:[/] {escape(fact)}")


def stories(
    context: str | None = typer.Argument(None, help="tenant::metric [default: every active context]"),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="every metric of one tenant"),
    grain: Grain | None = typer.Option(None, "--grain", "-g", help="one grain [default: all]"),
    on: str | None = typer.Option(None, "--date", "-d", help="the stories of one analysis date YYYY-MM-DD: new, "
                                                                "ongoing and resolved, most salient first"),
    since: str | None = typer.Option(None, "--since", help="stories from this date on"),
    story_type: list[str] = typer.Option([], "--type", help="a story type (repeatable); see the README's table"),
    status: list[StoryStatus] = typer.Option([], "--status", help="new or resolved (repeatable; ongoing with "
                                                                   "--date) [default: all]"),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """What the patterns found, as sentences: newest and most salient first."""
    with reported_errors():
        if context and tenant:
            raise InvalidInputError("give a context T::M or --tenant, not both", part="context")
        if on and since:
            raise InvalidInputError("give --date or --since, not both", part="date")
        unknown = sorted(set(story_type) - set(story_types()))
        if unknown:
            raise InvalidInputError(f"unknown story type {', '.join(unknown)}: one of {', '.join(story_types())}",
                                    part="type", value=unknown)
        day, first = parse_date(on, "--date"), parse_date(since, "--since")
        selector = ContextSelector(contexts=[str(MetricContext.from_string(context))], tenant=tenant) if context \
            else ContextSelector(tenant=tenant)
        found = run_with_database(lambda db: find_stories(
            db, selector, grain=grain, first=first, on=day, types=story_type or None,
            statuses=[s.value for s in status] or None, limit=limit))
    if as_json:
        for story in found:
            print(story.model_dump_json())
        return
    if not found:
        what = context or (f"tenant {tenant}" if tenant else "any context")
        console.print(f"no stories for {what}" + (f" on {on}" if on else f" since {since}" if since else "")
                      + ": stories are told after the patterns run (`python -m starter backfill …`)", markup=False)
        raise typer.Exit(1)
    for story in found:
        print_story(story)
