"""Console output and error reporting shared by the CLI's commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from semsync.errors import SemsyncError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print a semsync error as one clear line and exit 2 (bad input) or 1 (anything retryable)."""
    try:
        yield
    except SemsyncError as exc:
        err_console.print(f"[bold red]error[/]: {type(exc).__name__}: {exc}")
        raise typer.Exit(1 if exc.retryable else 2) from None
