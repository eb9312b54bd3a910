"""Console output and error reporting shared by the CLI's commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from semsync.config import get_settings
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database, ssl_connect_args
from semsync.errors import InvalidInputError, SemsyncError, is_configuration_error
from semsync.redaction import redact

if TYPE_CHECKING:  # the composition root imports the analysis stack: only the commands that run it pay
    from semsync.services import Services

T = TypeVar("T")

# Wide enough for the sync tables when output goes to a file or a pipe (rich would assume 80).
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, plural unless one: "1 context", "2 contexts", "3 statuses" (`plural` given)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print a semsync error as one clear line and exit 2 (bad input) or 1 (anything retryable).

    An input model refusing a value the command built it from (`ContextSelector(tenant=…)`, a
    backfill id) is bad input too: one line with pydantic's messages, exit 2."""
    try:
        yield
    except SemsyncError as exc:
        err_console.print(f"[bold red]error[/]: {type(exc).__name__}: {escape(redact(str(exc)))}")
        raise typer.Exit(1 if exc.retryable else 2) from None
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors(include_url=False))
        err_console.print(f"[bold red]error[/]: invalid {exc.title}: {escape(problems)}")
        raise typer.Exit(2) from None


def parse_date(value: str | None, option: str) -> date | None:
    """An option's YYYY-MM-DD value (None when not given); anything else is bad input naming the option."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInputError(f"{option} {value!r} is not a date (YYYY-MM-DD)", part=option, value=value) from None


def _problem(error: ErrorDetails) -> str:
    if error["type"] == "value_error":  # our validators' messages name the field and the value
        return str(error["ctx"]["error"])
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def run_with_database(work: Callable[[Database], Awaitable[T]], *, catalog_role: bool = False) -> T:
    """Run `work` against the configured database: the composition root's (`run_with_services`), or
    as the catalog role (`catalog_role`, which writes the catalog and may be the owner, so the
    services, which refuse a privileged role, are not built for it); an unreachable database exits 1
    with the URL shown, a refused role exits 2."""
    if not catalog_role:
        return run_with_services(lambda services: work(services.database))
    settings = get_settings().database
    url = settings.catalog_connection_url

    async def run() -> T:
        # the catalog writer may be the owner (no catalog role): its maintenance setting lets it write
        database = Database.connect(url, pool_size=4,
                                    connect_args={**ssl_connect_args(settings), **MAINTENANCE_CONNECT_ARGS})
        try:
            return await work(database)
        finally:
            await database.dispose()

    return _reporting_database_errors(run, url)


def check_metric(tenant: str, metric: str) -> None:
    """Refuse an unknown tenant or metric before anything starts (UnknownTenantError or
    UnknownMetricError: exit 2 under `reported_errors`)."""
    from semsync.catalog.store import find_tenant, get_metric

    async def work(database: Database) -> None:
        tenant_id = (await find_tenant(database.session_factory, tenant)).id
        await get_metric(database.session_factory, tenant_id, metric)

    run_with_database(work)


def run_with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the composition root's services (`semsync.services`), errors as `run_with_database`."""

    from semsync.services import open_services

    async def run() -> T:
        async with open_services(get_settings(), pool_size=4) as services:
            return await work(services)

    return _reporting_database_errors(run, get_settings().database.url.get_secret_value())


def _reporting_database_errors(run: Callable[[], Awaitable[T]], url: str) -> T:
    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:
        safe_url = make_url(url).render_as_string(hide_password=True)
        configuration = is_configuration_error(exc)
        reason = redact(str(getattr(exc, "orig", None) or exc).splitlines()[0])
        err_console.print(f"[bold red]error[/]: cannot use the database {safe_url}: {reason}"
                          + (" (check the role, password and database name)" if configuration else ""))
        raise typer.Exit(2 if configuration else 1) from None
