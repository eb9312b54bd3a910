"""What the fault tests share: fresh migrated databases with the demo warehouse, the worker (in this
process, or `python worker.py` as a process that can be SIGKILLed), table checksums, a Cube over a
real local socket that answers from its own data set (and fails on purpose), and bounded waits.

Everything talks to real things: the embedded PostgreSQL, a Temporal dev server, real sockets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client

import worker as worker_module
from devstack import PostgresServer, create_scratch_database
from devstack.demo import demo_catalog, seed_warehouse
from semsync.catalog.models import Catalog
from semsync.catalog.store import write_catalog
from semsync.config import DatabaseSettings, SemanticLayerSettings, Settings, TemporalSettings
from semsync.contracts import (
    BackfillInput,
    BackfillResult,
    ComponentRetry,
    ContextSelector,
    GrainRange,
    PatternWorkflowResult,
    StoryWorkflowResult,
    pattern_workflow_id,
)
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database
from semsync.partitions import Grain, MetricContext, partition_for_date
from semsync.services import open_services
from workflows.backfill import BackfillWorkflow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sources"))
from cube_fake import FakeCube, RecordedRequest, Reply, data, error  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: the warehouse reaches a year before the backfills (a FULL day window looks back 365 days)
SEED_UNTIL = date(2025, 7, 31)
FAST_RETRY = ComponentRetry(initial_interval_s=0.1, maximum_interval_s=0.5, maximum_attempts=20)


async def until(check: Callable[[], Awaitable[Any]], what: str, *, within: float = 120, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)


# ---------------------------------------------------------------------------------------------- databases


@dataclass
class FaultDatabase:
    """A fresh migrated database with the demo warehouse and a catalog; `admin` reads past RLS."""

    name: str
    app_url: str
    admin_url: str
    admin: AsyncEngine
    catalog_url: str

    async def dispose(self) -> None:
        await self.admin.dispose()


async def fresh_database(server: PostgresServer, catalog: Catalog | None = None, *,
                         seed_until: date = SEED_UNTIL) -> FaultDatabase:
    scratch = await create_scratch_database(server, f"semsync_fault_{uuid.uuid4().hex[:8]}")
    await seed_warehouse(scratch.admin_url, until=seed_until)
    database = Database.connect(scratch.catalog_url, pool_size=2)
    try:
        await write_catalog(database.session_factory, catalog or acme_catalog())
    finally:
        await database.dispose()
    admin = create_async_engine(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)  # RLS is forced on the owner
    return FaultDatabase(scratch.name, scratch.app_url, scratch.admin_url, admin,
                         scratch.catalog_url)


def acme_catalog() -> Catalog:
    """The demo catalog's acme tenant (its metrics read the warehouse in the semsync database)."""
    return Catalog(tenants=[t for t in demo_catalog().tenants if t.identifier == "acme"])


TABLES = {
    "metric_time_series": "tenant_id, metric_id, grain, date, value",
    "metric_dimensional_time_series": "tenant_id, metric_id, grain, dimension_name, date, dimension_slice, value",
    "pattern_results": "tenant_id, metric_id, pattern, version, grain, analysis_date, dimension_name, "
                       "analysis_window, error, run_result - 'evaluation_time'",
    "partition_ledger": "tenant_id, metric_id, grain, partition_key, kind, status",
    "stories": "tenant_id, metric_id, grain, story_date, story_type, dimension, slice, version, pattern_version, "
               "status, started_on, salience, title, detail, variables",
}


async def contents(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    """Row count and md5 of each table's contents, timestamps and attempt counts left out."""
    async with engine.connect() as conn:
        return {table: tuple((await conn.execute(text(
            f"SELECT count(*), md5(coalesce(string_agg(row({cols})::text, ',' ORDER BY {cols}), '')) "
            f"FROM {table}"))).one()) for table, cols in TABLES.items()}


async def duplicate_pattern_results(engine: AsyncEngine) -> int:
    """Pattern results beyond one per natural key (none may exist)."""
    async with engine.connect() as conn:
        return await conn.scalar(text(
            "SELECT count(*) - count(DISTINCT (tenant_id, metric_id, pattern, version, grain, analysis_date, "
            "coalesce(dimension_name, ''))) FROM pattern_results"))


# ---------------------------------------------------------------------------------------------- workers


def settings_for(database_url: str, address: str = "", *, semantic_layer: SemanticLayerSettings | None = None,
                 suffix: str | None = None) -> Settings:
    suffix = suffix or uuid.uuid4().hex[:8]
    temporal = TemporalSettings(sync_task_queue=f"fault-sync-{suffix}", pattern_task_queue=f"fault-patterns-{suffix}")
    if address:
        temporal.address = address
    return Settings(database=DatabaseSettings(url=database_url, pool_size=4), temporal=temporal,
                    semantic_layer=semantic_layer or SemanticLayerSettings())


@asynccontextmanager
async def in_process_worker(client: Client, settings: Settings,
                            wrap_sources: Callable[[Any], Any] | None = None) -> AsyncIterator[Any]:
    """The real workers (`worker.make_workers`) in this process; the pattern analysis on a thread."""
    async with open_services(settings) as services:
        if wrap_sources is not None:
            services.sync.sources = wrap_sources(services.sources)
        workers = worker_module.make_workers(client, services)
        async with workers[0], workers[1]:
            yield services


@dataclass
class WorkerProcess:
    """`python worker.py` in its own process group, logging to `log`; `kill()` is SIGKILL to the group
    (the worker and its pattern processes die at once, as in a lost container)."""

    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @classmethod
    def for_settings(cls, settings: Settings, log: Path, **extra: str) -> WorkerProcess:
        env = os.environ | {
            "SEMSYNC_DATABASE__URL": settings.database.url.get_secret_value(),
            "SEMSYNC_TEMPORAL__ADDRESS": settings.temporal.address,
            "SEMSYNC_TEMPORAL__SYNC_TASK_QUEUE": settings.temporal.sync_task_queue,
            "SEMSYNC_TEMPORAL__PATTERN_TASK_QUEUE": settings.temporal.pattern_task_queue,
            "SEMSYNC_WORKER__PATTERN_PROCESSES": "1",
            "SEMSYNC_WORKER__GRACEFUL_SHUTDOWN_S": "5",
        } | extra
        return cls(env=env, log=log)

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n--- start {self.starts} ---\n")
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "worker.py", cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        marker = f"--- start {self.starts} ---"

        async def polling() -> bool:
            if self.process.returncode is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            return "semsync worker polling" in self.log.read_text().rpartition(marker)[2]

        await until(polling, "the worker to poll", within=90)

    async def kill(self) -> None:
        assert self.process is not None and self.process.returncode is None, "the worker is not running"
        os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 30)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


# ---------------------------------------------------------------------------------------------- backfills


def backfill_request(settings: Settings, **fields: Any) -> BackfillInput:
    fields.setdefault("backfill_id", f"fault-{uuid.uuid4().hex[:10]}")
    fields.setdefault("retry", FAST_RETRY)
    return BackfillInput(pattern_task_queue=settings.temporal.pattern_task_queue, **fields)


#: the backfill the worker, server and duplicate-start faults disturb: two contexts (one with three
#: dimensions), four days, every pattern
CONTEXTS = ["acme::revenue", "acme::signups"]
RANGES = [GrainRange(grain="day", first="2025-07-01", last="2025-07-04")]


def standard_request(settings: Settings, **fields: Any) -> BackfillInput:
    fields.setdefault("ranges", RANGES)
    fields.setdefault("selector", ContextSelector(contexts=CONTEXTS))
    return backfill_request(settings, **fields)


async def start_backfill(client: Client, settings: Settings, request: BackfillInput):
    return await client.start_workflow(BackfillWorkflow.run, request, id=request.workflow_id,
                                       task_queue=settings.temporal.sync_task_queue)


async def finish_backfill(client: Client, request: BackfillInput, handle=None) -> BackfillResult:
    """The backfill's result, and then the pattern runs its syncs started and their story runs
    (deterministic ids)."""
    handle = handle or client.get_workflow_handle(request.workflow_id, result_type=BackfillResult)
    result = await asyncio.wait_for(handle.result(), 300)
    if request.run_patterns:
        failed = {(f.context, f.grain) for f in result.failures}
        for grain_range in request.ranges:
            for context in request.selector.contexts:
                if (context, grain_range.grain) in failed:
                    continue
                workflow_id = pattern_workflow_id(grain_range.grain, f"{grain_range.first}:{grain_range.last}",
                                                  MetricContext.from_string(context))
                patterns = await asyncio.wait_for(client.get_workflow_handle(
                    workflow_id, result_type=PatternWorkflowResult).result(), 300)
                if patterns.stories_workflow_id:
                    await asyncio.wait_for(client.get_workflow_handle(
                        patterns.stories_workflow_id, result_type=StoryWorkflowResult).result(), 300)
    return result


async def run_backfill(client: Client, settings: Settings, request: BackfillInput) -> BackfillResult:
    handle = await start_backfill(client, settings, request)
    return await finish_backfill(client, request, handle)


async def workflow_ids_of(client: Client, backfill_id: str) -> list[str]:
    """Every workflow of a backfill (the backfill, its syncs, their pattern and story runs), by search
    attribute."""
    return [w.id async for w in client.list_workflows(f"SemsyncBackfill = '{backfill_id}'")]


# ---------------------------------------------------------------------------------------------- a Cube


def _period_start(grain: Grain, day: date) -> date:
    return partition_for_date(grain, day).start


@dataclass
class WarehouseCube(FakeCube):
    """A Cube deployment over a real local socket that answers `load` from its own data set: per day and
    region, one value of each measure it knows. It checks the `Authorization` header (a token, or an
    HS256 JWT signed with a secret), answers 400 for a measure it does not know, and, with `failing`
    set, fails that share of the load requests in a fixed rotation, alternately with HTTP 500 and with
    an answer held `stall_s` seconds (longer than the client's timeout)."""

    measures: dict[str, Callable[[date, str], float]] = field(default_factory=dict)
    time_dimension: str = "orders.created_at"
    region: str = "orders.region"
    regions: tuple[str, ...] = ("east", "north", "south")
    first_day: date = date(2024, 1, 1)
    last_day: date = SEED_UNTIL
    tokens: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    failing: float = 0.0
    stall_s: float = 2.0
    answered: dict[str, int] = field(default_factory=dict)
    #: dimension members answered with a 400 (as Cube does for a member it does not know)
    unknown_dimensions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._loads = 0

    def expected(self, measure: str, grain: Grain, start: date, end: date, by_region: bool) -> dict:
        """The aggregates Cube would return: {(period, region or None): value} for days in [start, end]."""
        totals: dict[tuple[date, str | None], float] = {}
        day = max(start, self.first_day)
        while day <= min(end, self.last_day):
            for region in self.regions:
                key = (_period_start(grain, day), region if by_region else None)
                totals[key] = totals.get(key, 0.0) + self.measures[measure](day, region)
            day += timedelta(days=1)
        return totals

    def _count(self, what: str) -> None:
        self.answered[what] = self.answered.get(what, 0) + 1

    def _authorised(self, header: str | None) -> bool:
        if header in self.tokens:
            return True
        for secret in self.secrets:
            try:
                jwt.decode(header or "", secret, algorithms=["HS256"])
                return True
            except jwt.PyJWTError:
                continue
        return False

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if request.path != "/cubejs-api/v1/load":
                return error(404, f"no route {request.path}")
            if not self._authorised(request.headers.get("authorization")):
                self._count("403")
                return error(403, "Invalid token")
            query = request.query
            [measure] = query["measures"]
            if measure not in self.measures:
                self._count("400")
                return error(400, f"Error: '{measure.split('.')[-1]}' not found for path '{measure}'")
            for member in set(query.get("dimensions") or ()) & self.unknown_dimensions:
                self._count("400")
                return error(400, f"Error: '{member.split('.')[-1]}' not found for path '{member}'")
            self._loads += 1
            if self.failing and self._loads % 10 < round(self.failing * 10):
                if self._loads % 2:
                    self._count("500")
                    return error(500, "Internal Server Error")
                self._count("stalled")
                return Reply(200, {"query": query, "data": [], "annotation": {}}, delay_s=self.stall_s)
            self._count("200")
        [time_dimension] = query["timeDimensions"]
        grain = Grain(time_dimension["granularity"])
        start, end = (date.fromisoformat(d) for d in time_dimension["dateRange"])
        by_region = bool(query.get("dimensions"))
        member = query["dimensions"][0] if by_region else self.region  # any dimension slices by region
        rows = [
            {f"{self.time_dimension}.{grain.value}": f"{period.isoformat()}T00:00:00.000",
             self.time_dimension: f"{period.isoformat()}T00:00:00.000", measure: str(value),
             **({member: region} if by_region else {})}
            for (period, region), value in sorted(self.expected(measure, grain, start, end, by_region).items(),
                                                  key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ]
        offset = query.get("offset", 0)
        return data(rows[offset: offset + query.get("limit", 10_000)])
