"""Talking to Temporal from the CLI: one client with the pydantic data converter, clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from semsync.config import get_settings
from semsync.temporal_client import connect_temporal
from starter.console import console, err_console
from workflows.failures import describe

T = TypeVar("T")


class _TemporalSettingsError(Exception):
    """Settings the client cannot connect with at all: a configuration error, exit 2."""


async def connect() -> Client:
    """The CLI's client: TLS and API key as the settings say (`semsync.temporal_client`)."""
    return await connect_temporal(get_settings())


def run_with_temporal(work: Callable[[Client], Awaitable[T]]) -> T:
    """Run `work` with a Temporal client; an unreachable server exits 1 with the address shown."""
    address = get_settings().temporal.address

    async def run() -> T:
        try:
            client = await connect()
        except (OSError, ValueError) as exc:  # an address that is none, a TLS file that cannot be read
            raise _TemporalSettingsError(str(exc)) from None
        return await work(client)

    try:
        return asyncio.run(run())
    except _TemporalSettingsError as exc:
        err_console.print(f"[bold red]error[/]: cannot use Temporal at {address}: {exc} "
                          "(check the SEMSYNC_TEMPORAL__ settings)")
        raise typer.Exit(2) from None
    except RuntimeError as exc:
        if "Failed client connect" not in str(exc) and "connect" not in str(exc).lower():
            raise
        err_console.print(f"[bold red]error[/]: cannot reach Temporal at {address}: {exc} "
                          "(start it with `python -m starter dev up`, or set SEMSYNC_TEMPORAL__ADDRESS)")
        raise typer.Exit(1) from None
    except RPCError as exc:
        err_console.print(f"[bold red]error[/]: Temporal at {address} answered: {exc.message}")
        raise typer.Exit(1) from None


def start_workflow(run: Any, request: BaseModel, *, workflow_id: str, task_queue: str, summary: str,
                   result_type: type[T], wait: bool) -> T | None:
    """Start one workflow (an identical one already running is said so, not started twice); with `wait`
    its result, a failed workflow exiting 1 with its reason."""

    async def go(client: Client) -> T | None:
        try:
            handle = await client.start_workflow(run, request, id=workflow_id, task_queue=task_queue,
                                                 static_summary=summary)
            console.print(f"started {workflow_id}")
        except WorkflowAlreadyStartedError:
            console.print(f"{workflow_id} is already running: not started twice")
            handle = client.get_workflow_handle(workflow_id, result_type=result_type)
        return await handle.result() if wait else None

    try:
        return run_with_temporal(go)
    except WorkflowFailureError as exc:
        err_console.print(f"[bold red]failed[/]: {escape(describe(exc))}")
        raise typer.Exit(failure_exit_code(exc)) from None


def failure_exit_code(error: BaseException) -> int:
    """The documented exit code of a failed workflow: 2 when its root cause is bad input (a semsync
    error a retry cannot fix: unknown tenant or metric, malformed key, refused setting), else 1."""
    from temporalio.exceptions import ApplicationError

    import semsync.errors as errors
    from workflows.failures import root_cause

    cause = root_cause(error)
    kind = getattr(errors, cause.type or "", None) if isinstance(cause, ApplicationError) else None
    bad_input = (errors.InvalidInputError, errors.NotFoundError, errors.ConfigurationError)
    return 2 if isinstance(kind, type) and issubclass(kind, bad_input) else 1
