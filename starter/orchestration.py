"""Talking to Temporal from the CLI: one client with the pydantic data converter, clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from semsync.config import get_settings
from starter.console import err_console

T = TypeVar("T")


async def connect() -> Client:
    settings = get_settings().temporal
    return await Client.connect(settings.address, namespace=settings.namespace,
                                data_converter=pydantic_data_converter)


def run_with_temporal(work: Callable[[Client], Awaitable[T]]) -> T:
    """Run `work` with a Temporal client; an unreachable server exits 1 with the address shown."""
    address = get_settings().temporal.address

    async def run() -> T:
        return await work(await connect())

    try:
        return asyncio.run(run())
    except RuntimeError as exc:
        if "Failed client connect" not in str(exc) and "connect" not in str(exc).lower():
            raise
        err_console.print(f"[bold red]error[/]: cannot reach Temporal at {address}: {exc} "
                          "(start it with `python -m starter dev up`, or set SEMSYNC_TEMPORAL__ADDRESS)")
        raise typer.Exit(1) from None
    except RPCError as exc:
        err_console.print(f"[bold red]error[/]: Temporal at {address} answered: {exc.message}")
        raise typer.Exit(1) from None
