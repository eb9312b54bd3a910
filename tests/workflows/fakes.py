"""Activity fakes registered under the real activity names, and workers that run the real workflows
with them on a Temporal server: fast workflow tests with no database."""

from __future__ import annotations

import uuid
from collections import defaultdict
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from semsync.contracts import (
    ActivePatterns,
    ActivePatternsInput,
    BackfillPlan,
    BackfillPlanSummary,
    CacheRequest,
    CacheWriteResult,
    ComponentFailureInput,
    ComponentPlan,
    ComponentResult,
    DiscoverInput,
    DiscoveryDiff,
    Lane,
    LanePage,
    LedgerBatch,
    LedgerEntry,
    LedgerWriteResult,
    PatternBatchRequest,
    PatternBatchResponse,
    PatternOutcome,
    PatternRunRequest,
    PatternRunResponse,
    PlanBackfillInput,
    SemanticSyncRequest,
    StoryRunRequest,
    StoryRunResponse,
    SyncComponentInput,
    SyncPlan,
    SyncStatus,
    SyncType,
    YieldCheck,
    YieldCheckInput,
)
from semsync.partitions import parse_partition
from workflows.backfill import BackfillWorkflow
from workflows.cache import CacheWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.patterns import PatternWorkflow
from workflows.scheduled import ScheduledRunWorkflow
from workflows.stories import StoryWorkflow
from workflows.sync import SyncWorkflow


@dataclass
class Fakes:
    """What the fake activities answer, and what they were asked."""

    dimensions: tuple[str, ...] = ("region", "channel")
    patterns: tuple[str, ...] = ("performance_status", "forecasting")
    #: component (context, dimension or "base") → errors raised by its next attempts, in order
    component_errors: dict[tuple[str, str], list[Exception]] = field(default_factory=lambda: defaultdict(list))
    #: contexts whose planning fails with a non-retryable error
    unknown_contexts: set[str] = field(default_factory=set)
    #: appended to the planning error of an unknown context (e.g. a source's whole error page)
    unknown_context_detail: str = ""
    failing_patterns: set[str] = field(default_factory=set)
    #: the story runs asked for, and errors raised by the next ones, in order
    story_runs: list = field(default_factory=list)
    story_errors: list[Exception] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    #: the answers of the next yield checks (running higher-priority backfills), and the checks asked
    higher_priority_running: list[int] = field(default_factory=list)
    yield_checks: list[int] = field(default_factory=list)
    #: lanes per page of the plan, and the planning requests (summary and pages) received
    page_size: int = 100
    planning: list[PlanBackfillInput] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    failures_recorded: list[ComponentFailureInput] = field(default_factory=list)
    pattern_runs: list[PatternRunRequest] = field(default_factory=list)
    batch_runs: list[PatternBatchRequest] = field(default_factory=list)
    #: errors raised by the next attempts of the pattern batch, in order
    batch_errors: list[Exception] = field(default_factory=list)
    #: tenants with a cache target (their syncs continue into a CacheWorkflow), the cache writes asked
    #: for, and errors raised by the next ones, in order
    cache_tenants: set[str] = field(default_factory=set)
    cache_writes: list[CacheRequest] = field(default_factory=list)
    cache_errors: list[Exception] = field(default_factory=list)

    def activities(self) -> list:
        fakes = self

        @activity.defn(name="plan_sync")
        async def plan_sync(request: SemanticSyncRequest) -> SyncPlan:
            context = str(request.context)
            fakes.calls.append(("plan", f"{context} {request.span}"))
            if context in fakes.unknown_contexts:
                raise ApplicationError(f"unknown metric {request.metric_id!r}{fakes.unknown_context_detail}",
                                       type="UnknownMetricError",
                                       non_retryable=True)
            first = parse_partition(request.grain, request.start_partition)
            last = parse_partition(request.grain, request.end_partition)
            return SyncPlan(request=request, tenant_id=1, components=[
                ComponentPlan(dimension=d, sync_type=SyncType.FULL, start=first.start - timedelta(days=365),
                              end=last.end, reason="no successful FULL sync yet")
                for d in (None, *fakes.dimensions)
            ], cache_target=request.tenant in fakes.cache_tenants)

        @activity.defn(name="sync_component")
        async def sync_component(work: SyncComponentInput) -> ComponentResult:
            key = (str(work.request.context), work.name)
            fakes.calls.append(("component", f"{key[0]} {work.name} {work.request.span}"))
            if fakes.component_errors[key]:
                raise fakes.component_errors[key].pop(0)
            plan = work.plan
            return ComponentResult(dimension=plan.dimension, sync_type=plan.sync_type, reason=plan.reason,
                                   window_start=plan.start, window_end=plan.end, status=SyncStatus.SUCCESS,
                                   rows_fetched=10, rows_inserted=10)

        @activity.defn(name="record_component_failure")
        async def record_component_failure(failure: ComponentFailureInput) -> ComponentResult:
            fakes.failures_recorded.append(failure)
            plan = failure.plan
            return ComponentResult(dimension=plan.dimension, sync_type=plan.sync_type, reason=plan.reason,
                                   window_start=plan.start, window_end=plan.end, status=SyncStatus.FAILED,
                                   error=failure.error, error_type=failure.error_type)

        @activity.defn(name="record_ledger")
        async def record_ledger(batch: LedgerBatch) -> LedgerWriteResult:
            fakes.ledger.extend(batch.entries)
            return LedgerWriteResult(rows_written=sum(len(e.partitions) for e in batch.entries))

        @activity.defn(name="plan_backfill")
        async def plan_backfill(request: PlanBackfillInput) -> BackfillPlan:
            return BackfillPlan(lanes=fakes.lanes, contexts=len({lane.context for lane in fakes.lanes}))

        @activity.defn(name="summarize_backfill")
        async def summarize_backfill(request: PlanBackfillInput) -> BackfillPlanSummary:
            fakes.planning.append(request)
            plan = BackfillPlan(lanes=fakes.lanes, contexts=len({lane.context for lane in fakes.lanes}))
            return BackfillPlanSummary(contexts=plan.contexts, lanes=len(plan.lanes), partitions=plan.partitions,
                                       chunks=sum(lane.chunk_count(request.chunk_size) for lane in plan.lanes))

        @activity.defn(name="plan_backfill_page")
        async def plan_backfill_page(request: PlanBackfillInput) -> LanePage:
            """Pages of `fakes.page_size` lanes (the cursor: how many lanes were handed out)."""
            fakes.planning.append(request)
            start = int(request.after or 0)
            end = start + min(request.max_lanes, fakes.page_size)
            return LanePage(lanes=fakes.lanes[start:end], after=str(end) if end < len(fakes.lanes) else None)

        @activity.defn(name="higher_priority_backfills")
        async def higher_priority_backfills(request: YieldCheckInput) -> YieldCheck:
            fakes.yield_checks.append(request.priority)
            return YieldCheck(running=fakes.higher_priority_running.pop(0) if fakes.higher_priority_running else 0)

        @activity.defn(name="active_patterns")
        async def active_patterns(request: ActivePatternsInput) -> ActivePatterns:
            return ActivePatterns(patterns=list(fakes.patterns))

        @activity.defn(name="run_pattern")
        async def run_pattern(request: PatternRunRequest) -> PatternRunResponse:
            fakes.pattern_runs.append(request)
            if request.pattern in fakes.failing_patterns:
                raise ApplicationError("insufficient settings", type="InvalidInputError", non_retryable=True)
            partitions = request.partitions()
            return PatternRunResponse(
                tenant=request.tenant, tenant_id=1, metric_id=request.metric_id, pattern=request.pattern,
                version="1", grain=request.grain, partitions=[p.key for p in partitions],
                first_analysis_date=partitions[0].end + timedelta(days=1),
                last_analysis_date=partitions[-1].end + timedelta(days=1), results_stored=len(partitions),
                duration_s=0.0)

        @activity.defn(name="run_patterns")
        async def run_patterns(request: PatternBatchRequest) -> PatternBatchResponse:
            fakes.batch_runs.append(request)
            if fakes.batch_errors:
                raise fakes.batch_errors.pop(0)
            partitions = request.partitions()
            outcomes = [PatternOutcome(pattern=name, succeeded=False, error="InvalidInputError: insufficient settings")
                        if name in fakes.failing_patterns else
                        PatternOutcome(pattern=name, succeeded=True, results_stored=len(partitions))
                        for name in request.patterns or fakes.patterns]
            return PatternBatchResponse(tenant=request.tenant, tenant_id=1, metric_id=request.metric_id,
                                        grain=request.grain, partitions=[p.key for p in partitions],
                                        outcomes=outcomes, duration_s=0.0)

        @activity.defn(name="tell_stories")
        async def tell_stories(request: StoryRunRequest) -> StoryRunResponse:
            fakes.story_runs.append(request)
            if fakes.story_errors:
                raise fakes.story_errors.pop(0)
            partitions = request.partitions()
            return StoryRunResponse(tenant=request.tenant, tenant_id=1, metric_id=request.metric_id,
                                    grain=request.grain, first_partition=partitions[0].key,
                                    last_partition=partitions[-1].key, results_read=len(partitions),
                                    stories=2 * len(partitions), new=len(partitions),
                                    resolved=len(partitions), written=2 * len(partitions), deleted=0,
                                    duration_s=0.0)

        @activity.defn(name="discover")
        async def discover(request: DiscoverInput) -> DiscoveryDiff:
            contexts = sorted({lane.context for lane in fakes.lanes})
            diff = DiscoveryDiff(tenants=1, metrics=len(contexts), started_at=datetime(2025, 7, 2, 10, tzinfo=UTC))
            diff.add_new(contexts)
            return diff

        @activity.defn(name="write_cache")
        async def write_cache(request: CacheRequest) -> CacheWriteResult:
            fakes.cache_writes.append(request)
            if fakes.cache_errors:
                raise fakes.cache_errors.pop(0)
            return CacheWriteResult(target="fake", rows_read=10, rows_inserted=10)

        return [plan_sync, sync_component, record_component_failure, record_ledger, plan_backfill, summarize_backfill,
                plan_backfill_page, higher_priority_backfills, active_patterns,
                run_pattern, run_patterns, discover, tell_stories, write_cache]


@dataclass
class Queues:
    sync: str
    patterns: str


@asynccontextmanager
async def fake_workers(client: Client, fakes: Fakes):
    """Workers for both task queues (fresh names) running the real workflows with `fakes`."""
    queues = Queues(f"sync-{uuid.uuid4()}", f"patterns-{uuid.uuid4()}")
    activities = fakes.activities()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(Worker(client, task_queue=queues.sync,
                                               workflows=[SyncWorkflow, BackfillWorkflow, ScheduledRunWorkflow,
                                                          DiscoveryWorkflow, CacheWorkflow], activities=activities))
        await stack.enter_async_context(Worker(client, task_queue=queues.patterns,
                                               workflows=[PatternWorkflow, StoryWorkflow], activities=activities))
        yield queues


def lane(context: str, grain: str, first: str, last: str) -> Lane:
    return Lane(context=context, grain=grain, runs=[(first, last)])


DAY = date(2025, 7, 1)
