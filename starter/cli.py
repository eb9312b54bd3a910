"""The operator CLI: `python -m starter …`.

Sub-commands live in one module each; this one only assembles them and turns semsync's typed
input errors into a clear message and a non-zero exit.

`python -m starter` assembles only the command it runs (`app_for`): the other commands' modules
are not imported, so a command that needs neither the analysis stack (pandas, scipy, statsmodels;
about a second and a half) nor Temporal's workflows starts without them. `app` is every command.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

#: command name → (module, attribute): a Typer sub-app (a group) or a function (a command), in help order
COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("starter.dev", "app"),
    "catalog": ("starter.catalog", "app"),
    "demo": ("starter.demo", "app"),
    "sync": ("starter.sync", "app"),
    "patterns": ("starter.patterns", "app"),
    "schedules": ("starter.schedules", "app"),
    "backfill": ("starter.backfill", "backfill"),
    "status": ("starter.status", "status"),
    "pause": ("starter.backfill", "pause"),
    "resume": ("starter.backfill", "resume"),
    "cancel": ("starter.backfill", "cancel"),
    "discover": ("starter.schedules", "discover"),
    "results": ("starter.results", "results"),
    "stories": ("starter.stories", "stories"),
    "report": ("starter.report", "report"),
    "alerts": ("starter.notify", "alerts"),
    "digest": ("starter.notify", "digest"),
    "deliveries": ("starter.notify", "deliveries"),
    "notify": ("starter.notify", "notify"),
    "migrate": ("starter.migrate", "migrate"),
    "legacy": ("starter.legacy", "app"),
}
#: the commands that run on the dev stack (the top-level `devstack` package): a checkout has it, a
#: production install (the Dockerfile's) does not, and there the CLI goes without them
DEVSTACK_COMMANDS = frozenset({"dev", "demo"})


def build(names: Sequence[str] = tuple(COMMANDS)) -> typer.Typer:
    """The CLI with the commands `names` (all of them by default)."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, help="semsync operator CLI.")
    app.callback()(_group)  # a group even with one command (Typer would make a lone command the program)
    for name in names:
        module, attribute = COMMANDS[name]
        try:
            target = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            if name in DEVSTACK_COMMANDS and (exc.name or "").partition(".")[0] == "devstack":
                continue
            raise
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _group() -> None:
    pass


def app_for(args: Sequence[str]) -> typer.Typer:
    """The CLI for `python -m starter ARGS`: only the command named first, if it names one (the
    help and a misspelt command need them all)."""
    return build([args[0]]) if args and args[0] in COMMANDS else build()


def __getattr__(name: str) -> typer.Typer:
    # `from starter.cli import app` (the tests) assembles every command, once
    if name == "app":
        globals()["app"] = app = build()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
