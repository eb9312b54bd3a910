"""Heartbeats: the domain's progress lines, and a keep-alive between them.

`report_progress` is the `ProgressCallback` the activities hand to semsync's services: each progress
line is sent as the heartbeat's details (the activity's last heartbeat in the Web UI).
`KeepAliveInterceptor`, on every worker, repeats the activity's last line every few seconds, so a
single long step (a big COPY, one slow semantic layer query) or a quick activity that reports nothing
does not look like a dead worker, and every activity can carry a short heartbeat timeout: a worker
killed mid-activity stops beating and Temporal retries the activity elsewhere.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from contextvars import ContextVar
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

KEEP_ALIVE_S = 5.0

#: the running activity's last progress line, shared with its keep-alive
_LAST_LINE: ContextVar[list[str | None]] = ContextVar("semsync_last_progress_line")


def report_progress(message: str) -> None:
    """A `semsync.progress.ProgressCallback`: heartbeat `message`, and let the keep-alive repeat it."""
    line = _LAST_LINE.get(None)
    if line is not None:
        line[0] = message
    activity.heartbeat(message)


class KeepAliveInterceptor(Interceptor):
    """Gives every (non-local) activity of a worker the keep-alive heartbeat."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:  # noqa: A002
        return _KeepAlive(next)


class _KeepAlive(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002
        info = activity.info()
        if info.is_local or not info.heartbeat_timeout:
            return await super().execute_activity(input)
        every = min(KEEP_ALIVE_S, info.heartbeat_timeout.total_seconds() / 3)
        line: list[str | None] = [None]
        _LAST_LINE.set(line)

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(every)
                activity.heartbeat(*([line[0]] if line[0] is not None else []))

        ticker = asyncio.create_task(keep_alive())
        try:
            return await super().execute_activity(input)
        finally:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
