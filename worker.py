"""The semsync worker: `python worker.py` runs the activities on their task queues.

Dependencies (the database engine, one `httpx.AsyncClient`, the source registry, the services) are
built once here, inside the worker's event loop, and disposed on shutdown. Settings come from the
environment (`semsync.config`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.patterns import PatternActivities
from activities.sync import SyncActivities
from semsync.config import Settings, get_settings
from semsync.db.session import Database
from semsync.pattern_runs import PatternRunService
from semsync.sources.registry import SourceRegistry
from semsync.sync import SemanticSyncService


@asynccontextmanager
async def build_workers(client: Client, settings: Settings) -> AsyncIterator[list[Worker]]:
    """The sync and pattern workers with their dependencies; closes the dependencies on exit."""
    database = Database.connect(settings.database.url.get_secret_value(), pool_size=settings.database.pool_size)
    http = httpx.AsyncClient(timeout=settings.semantic_layer.request_timeout_s)
    sources = SourceRegistry(database.engine, http, settings.semantic_layer)
    sync = SyncActivities(SemanticSyncService(
        database.session_factory, sources,
        max_concurrent_dimensions=settings.semantic_layer.max_concurrent_dimensions,
    ))
    patterns = PatternActivities(PatternRunService(database.session_factory))
    try:
        yield [
            Worker(client, task_queue=settings.temporal.sync_task_queue, activities=[sync.sync_partition]),
            Worker(client, task_queue=settings.temporal.pattern_task_queue, activities=[patterns.run_pattern],
                   max_concurrent_activities=2),
        ]
    finally:
        await sources.aclose()
        await http.aclose()
        await database.dispose()


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    client = await Client.connect(settings.temporal.address, namespace=settings.temporal.namespace,
                                  data_converter=pydantic_data_converter)
    async with build_workers(client, settings) as workers:
        logging.info("semsync worker polling %s", ", ".join(w.task_queue for w in workers))
        await asyncio.gather(*(w.run() for w in workers))


if __name__ == "__main__":
    asyncio.run(main())
