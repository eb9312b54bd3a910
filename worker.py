"""The semsync worker: `python worker.py` runs the activities on their task queues.

Dependencies (the database engine, one `httpx.AsyncClient`, the source registry, the services) are
built once here, inside the worker's event loop, and disposed on shutdown. Settings come from the
environment (`semsync.config`).
"""

from __future__ import annotations

import os

# The pattern fits are many tiny matrix operations: multi-threaded BLAS makes them 5-8x slower on
# small machines. Set before numpy loads; an operator's explicit setting wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import asyncio  # noqa: E402
import logging  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402

import httpx  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.patterns import PatternActivities  # noqa: E402
from activities.sync import SyncActivities  # noqa: E402
from semsync.config import Settings, get_settings  # noqa: E402
from semsync.db.session import Database  # noqa: E402
from semsync.pattern_runs import PatternRunService  # noqa: E402
from semsync.sources.registry import SourceRegistry  # noqa: E402
from semsync.sync import SemanticSyncService  # noqa: E402


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
