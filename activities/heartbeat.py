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

from temporalio import activity

from semsync.progress import ProgressCallback


@asynccontextmanager
async def heartbeating(every: float = 5.0) -> AsyncIterator[ProgressCallback]:
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
