"""The composition root: every long-lived dependency of semsync, built once and closed once.

`worker.py`, the CLI and `bench/` all call `open_services`, so the engine, the HTTP client, the
source registry, the services and the pattern process pool are wired in one place:

    async with open_services(get_settings()) as services:
        await services.sync.sync(request)

Build it inside the running event loop (the engine and the HTTP client belong to it).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from semsync.backfill.ledger import Ledger
from semsync.backfill.plan import BackfillPlanner
from semsync.cache import CacheService
from semsync.catalog.discovery import Discovery
from semsync.catalog.store import settings_box
from semsync.config import Settings
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database, refuse_privileged_role, ssl_connect_args
from semsync.notify.service import DeliveryService
from semsync.notify.transports import Transports
from semsync.patterns.runs import PatternRunService
from semsync.sources.registry import SourceRegistry
from semsync.stories.runs import StoryRunService
from semsync.sync.service import SemanticSyncService

#: the pattern fits are many tiny matrix operations: multi-threaded BLAS makes them slower
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas_threads() -> None:
    """One BLAS thread per process (an operator's explicit setting wins); call before numpy loads."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def prepare_pattern_process(nice: int = 0) -> None:
    """A pattern process's start: a lower CPU priority (`nice` more), one BLAS thread, every pattern
    loaded, and what the imports built (some 170,000 objects of pandas, scipy and statsmodels) moved
    out of the garbage collector's sight: every full collection walked them again, 8 % of the analysis
    CPU (measured)."""
    if nice:
        os.nice(nice)
    pin_blas_threads()
    import semsync.patterns.context_run  # noqa: F401 - loads numpy, pandas, scipy and each pattern
    import semsync.stories.tell  # noqa: F401 - the story rules and templates
    from semsync.patterns.ets import estimator

    estimator()  # statsmodels, which the patterns import on first use
    gc.freeze()


def pattern_process_pool(processes: int | None = None, nice: int = 10) -> ProcessPoolExecutor:
    """A pool of `processes` (default: the cores) spawned processes for the pattern analysis, `nice`
    below the worker's priority: with every core analysing, the worker's workflow tasks still run at
    once (a workflow task past the 10 s timeout is retried from scratch)."""
    return ProcessPoolExecutor(
        max_workers=processes or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=prepare_pattern_process, initargs=(nice,),
    )


@dataclass
class Services:
    settings: Settings
    database: Database
    #: the catalog role's connection: only discovery writes the catalog
    catalog_database: Database
    http: httpx.AsyncClient
    sources: SourceRegistry
    sync: SemanticSyncService
    patterns: PatternRunService
    stories: StoryRunService
    ledger: Ledger
    planner: BackfillPlanner
    discovery: Discovery
    deliveries: DeliveryService
    cache: CacheService


@asynccontextmanager
async def open_services(
    settings: Settings, *, database_url: str | None = None, pool_size: int | None = None,
    pattern_executor: Executor | None = None,
) -> AsyncIterator[Services]:
    """Everything wired; `pattern_executor` (e.g. `pattern_process_pool()`) runs the pattern analysis
    (default: a thread). The caller owns the executor and shuts it down.

    Refuses (ConfigurationError) a database role that row-level security does not hold (a superuser,
    BYPASSRLS, the tables' owner) unless `SEMSYNC_DATABASE__ALLOW_PRIVILEGED_ROLE` says so."""
    database = Database.connect(database_url or settings.database.url.get_secret_value(),
                                pool_size=pool_size or settings.database.pool_size,
                                connect_args=ssl_connect_args(settings.database))
    if not settings.database.allow_privileged_role:
        try:
            await refuse_privileged_role(database.engine)
        except BaseException:
            await database.dispose()
            raise
    # the catalog writer may be the owner (no catalog role): its maintenance setting lets it write
    # (migration 0008); the catalog role gains nothing from it
    catalog_database = Database.connect(settings.database.catalog_connection_url, pool_size=2,
                                        connect_args={**ssl_connect_args(settings.database),
                                                      **MAINTENANCE_CONNECT_ARGS})
    box = settings_box(settings)  # opens and seals the tenants' secrets: handed to whoever needs it
    http = httpx.AsyncClient(timeout=settings.semantic_layer.request_timeout_s)
    sources = SourceRegistry(database.engine, http, settings.semantic_layer)
    transports = Transports(settings.notify, http)
    try:
        yield Services(
            settings=settings, database=database, catalog_database=catalog_database, http=http, sources=sources,
            sync=SemanticSyncService(database.session_factory, sources,
                                     max_concurrent_dimensions=settings.semantic_layer.max_concurrent_dimensions,
                                     max_rows_per_component=settings.semantic_layer.max_rows_per_component,
                                     box=box),
            patterns=PatternRunService(database.session_factory, executor=pattern_executor),
            stories=StoryRunService(database.session_factory, executor=pattern_executor),
            ledger=Ledger(database.session_factory),
            planner=BackfillPlanner(database.session_factory),
            discovery=Discovery(catalog_database.session_factory, settings.catalog, http, box=box),
            deliveries=DeliveryService(database.session_factory, settings.notify, transports, box=box),
            cache=CacheService(database.session_factory, box=box),
        )
    finally:
        await transports.aclose()
        await sources.aclose()
        await http.aclose()
        await database.dispose()
        await catalog_database.dispose()
