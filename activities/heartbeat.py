"""Heartbeats for long activities: the domain's progress lines, and a keep-alive between them.

`heartbeating()` gives a `ProgressCallback` for semsync's services: each progress line is sent
as the heartbeat's details (visible in the Web UI as the activity's last heartbeat). A background
task repeats the last line every `every` seconds, so a single long step (a big COPY, one slow
semantic layer query) does not look like a dead worker; a worker killed mid-activity stops
heartbeating and Temporal retries the activity elsewhere after the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from semsync.progress import ProgressCallback

KEEP_ALIVE_S = 5.0


@asynccontextmanager
async def heartbeating(every: float = KEEP_ALIVE_S) -> AsyncIterator[ProgressCallback]:
    last = ["started"]

    def progress(message: str) -> None:
        last[0] = message
        activity.heartbeat(message)

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(every)
            activity.heartbeat(last[0])

    ticker = asyncio.create_task(keep_alive())
    try:
        yield progress
    finally:
        ticker.cancel()
        with suppress(asyncio.CancelledError):
            await ticker


class KeepAliveInterceptor(Interceptor):
    """Gives every (non-local) activity of a worker the keep-alive heartbeat, so each can carry a short
    heartbeat timeout: the quick ones too, not only those that report progress."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:  # noqa: A002
        return _KeepAlive(next)


class _KeepAlive(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002
        info = activity.info()
        if info.is_local or not info.heartbeat_timeout:
            return await super().execute_activity(input)
        every = min(KEEP_ALIVE_S, info.heartbeat_timeout.total_seconds() / 3)

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(every)
                activity.heartbeat()

        ticker = asyncio.create_task(keep_alive())
        try:
            return await super().execute_activity(input)
        finally:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
