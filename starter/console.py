"""Console output and error reporting shared by the CLI's commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from semsync.config import get_settings
from semsync.db.session import Database, ssl_connect_args
from semsync.errors import SemsyncError, is_configuration_error
from semsync.redaction import redact
from semsync.services import Services, open_services

T = TypeVar("T")

# Wide enough for the sync tables when output goes to a file or a pipe (rich would assume 80).
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print a semsync error as one clear line and exit 2 (bad input) or 1 (anything retryable)."""
    try:
        yield
    except SemsyncError as exc:
        err_console.print(f"[bold red]error[/]: {type(exc).__name__}: {redact(str(exc))}")
        raise typer.Exit(1 if exc.retryable else 2) from None


def run_with_database(work: Callable[[Database], Awaitable[T]], *, catalog_role: bool = False) -> T:
    """Run `work` against the configured database (as the catalog role: `catalog_role`, which writes
    the catalog); an unreachable database exits 1 with the URL shown, a refused role exits 2."""
    settings = get_settings().database
    url = (settings.catalog_url if catalog_role else settings.url).get_secret_value()

    async def run() -> T:
        database = Database.connect(url, pool_size=4, connect_args=ssl_connect_args(settings))
        try:
            return await work(database)
        finally:
            await database.dispose()

    return _reporting_database_errors(run, url)


def run_with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the composition root's services (`semsync.services`), errors as `run_with_database`."""

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
