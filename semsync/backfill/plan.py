"""What a backfill has to do: the contexts it selects and, per context and grain, the runs of
contiguous partitions its mode leaves to sync; handed out in pages.

- Contexts: explicit ``tenant::metric`` ones (each must exist), one tenant's, those discovery
  activated since a time, or every active one: the metrics of sync-enabled tenants, less those
  discovery recorded as inactive. Always in one order, (tenant, metric) by code point.
- Modes: ``all`` syncs every partition of the range; ``missing`` skips partitions the ledger shows
  synced (succeeded or partial); ``failed`` takes only those it shows failed or partial.
- Pages: `plan_page` answers the lanes of the contexts after a cursor (the last context of the page
  before), at most `max_lanes` lanes or `max_runs` runs, so that no answer grows with the catalog; a
  BackfillWorkflow holds the cursor and asks for the next page when its lanes run out. A page is
  planned when it is asked for, so a context's ``missing`` partitions are those missing then.
  `summarize` walks every page once at the start and counts (contexts, lanes, partitions, chunks) for
  the progress; `plan_backfill` gathers every page (the CLI's dry run).
- A lane of more than `MAX_RUNS_PER_LANE` runs (a ledger with many gaps) has its closest runs joined:
  the partitions between them are synced again (idempotently) and the lane stays small.
- In mode ``failed`` a partial partition syncs only the components its sync left failed (the ledger
  row names them): runs split where those differ, and each chunk's SyncWorkflow gets them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.backfill.ledger import Mark, ledger_marks
from semsync.catalog.store import find_tenant, get_metric
from semsync.contracts import (
    CACHE_KIND,
    STORIES_KIND,
    SYNC_KIND,
    BackfillMode,
    BackfillPlan,
    BackfillPlanSummary,
    BackfillStage,
    ContextSelector,
    Lane,
    LanePage,
    LedgerStatus,
    PlanBackfillInput,
)
from semsync.contracts.backfill import MAX_RUNS_PER_LANE
from semsync.db.session import tenant_scope
from semsync.errors import TenantSyncDisabledError
from semsync.partitions import Grain, MetricContext, Partition, count_between, partitions_between

_TENANT_METRICS = """
SELECT m.metric_id FROM metrics m LEFT JOIN metric_contexts c
  ON c.tenant_id = m.tenant_id AND c.metric_id = m.metric_id
WHERE m.tenant_id = :t AND coalesce(c.is_active, true)
  AND (CAST(:after AS text) IS NULL OR m.metric_id COLLATE "C" > CAST(:after AS text))
  AND (CAST(:since AS timestamptz) IS NULL OR c.activated_at >= CAST(:since AS timestamptz))
ORDER BY m.metric_id COLLATE "C" LIMIT :n
"""

_TENANTS_FROM = """
SELECT id, identifier FROM tenants
WHERE sync_enabled AND (CAST(:t AS text) IS NULL OR identifier COLLATE "C" >= CAST(:t AS text))
ORDER BY identifier COLLATE "C"
"""


@dataclass(frozen=True)
class Selected:
    tenant_id: int
    context: MetricContext


async def _tenant_checked(session_factory: async_sessionmaker[AsyncSession], identifier: str) -> int:
    tenant = await find_tenant(session_factory, identifier)  # UnknownTenantError
    if not tenant.sync_enabled:
        raise TenantSyncDisabledError(f"sync is disabled for tenant {identifier!r}")
    return tenant.id


async def _metrics_after(session_factory: async_sessionmaker[AsyncSession], tenant_id: int, after: str | None,
                         limit: int, selector: ContextSelector) -> list[str]:
    async with tenant_scope(session_factory, tenant_id) as session:
        rows = await session.execute(text(_TENANT_METRICS), {
            "t": tenant_id, "after": after, "since": selector.activated_since, "n": limit})
        return list(rows.scalars())


async def contexts_after(session_factory: async_sessionmaker[AsyncSession], selector: ContextSelector,
                         after: MetricContext | None, limit: int) -> list[Selected]:
    """At most `limit` selected contexts after `after` (None: from the first), in (tenant, metric)
    order by code point; explicit ones are checked (UnknownTenantError, UnknownMetricError, …)."""
    position = (after.tenant, after.metric) if after else None
    if selector.contexts:
        wanted = sorted({(c.tenant, c.metric) for c in map(MetricContext.from_string, selector.contexts)})
        page = [pair for pair in wanted if position is None or pair > position][:limit]
        tenant_ids: dict[str, int] = {}
        selected = []
        for tenant, metric in page:
            if tenant not in tenant_ids:
                tenant_ids[tenant] = await _tenant_checked(session_factory, tenant)
            await get_metric(session_factory, tenant_ids[tenant], metric)  # UnknownMetricError
            selected.append(Selected(tenant_ids[tenant], MetricContext(tenant=tenant, metric=metric)))
        return selected
    if selector.tenant:
        if position is not None and position[0] > selector.tenant:
            return []
        tenants = [(await _tenant_checked(session_factory, selector.tenant), selector.tenant)]
    else:
        async with session_factory() as session:
            rows = await session.execute(text(_TENANTS_FROM), {"t": position[0] if position else None})
            tenants = [(row.id, row.identifier) for row in rows]
    selected: list[Selected] = []
    for tenant_id, identifier in tenants:
        metric_after = position[1] if position and position[0] == identifier else None
        for metric_id in await _metrics_after(session_factory, tenant_id, metric_after, limit - len(selected),
                                              selector):
            selected.append(Selected(tenant_id, MetricContext(tenant=identifier, metric=metric_id)))
        if len(selected) >= limit:
            break
    return selected


async def select_contexts(
    session_factory: async_sessionmaker[AsyncSession], selector: ContextSelector
) -> list[tuple[int, MetricContext]]:
    """(tenant id, context) of every selected context, in a stable order."""
    selected: list[tuple[int, MetricContext]] = []
    after = None
    while page := await contexts_after(session_factory, selector, after, 1000):
        selected += [(s.tenant_id, s.context) for s in page]
        after = page[-1].context
    return selected


Components = list[str] | None


def contiguous_runs(partitions: list[Partition], components: dict[str, Components] | None = None
                    ) -> list[tuple[tuple[str, str], Components]]:
    """Ordered partitions grouped into runs of consecutive ones with the same components (per
    partition key in `components`; None: all): [((first key, last key), components), ...]."""
    runs: list[tuple[tuple[str, str], Components]] = []
    first = previous = None
    chosen: Components = None
    for partition in partitions:
        own = components.get(partition.key) if components else None
        if previous is not None and partition == previous.next() and own == chosen:
            previous = partition
            continue
        if first is not None:
            runs.append(((first.key, previous.key), chosen))
        first = previous = partition
        chosen = own
    if first is not None:
        runs.append(((first.key, previous.key), chosen))
    return runs


def _union(a: Components, b: Components) -> Components:
    return None if a is None or b is None else sorted(set(a) | set(b))


def join_closest_runs(grain: Grain, runs: list[tuple[tuple[str, str], Components]], limit: int = MAX_RUNS_PER_LANE
                      ) -> list[tuple[tuple[str, str], Components]]:
    """`runs` with the smallest gaps between them closed until at most `limit` runs are left (the
    earliest of equal gaps first); runs that touch or are joined sync the union of their components."""
    if len(runs) <= limit:
        return runs
    gaps = sorted(range(1, len(runs)), key=lambda i: (count_between(grain, runs[i - 1][0][1], runs[i][0][0]), i))
    closed = set(gaps[:len(runs) - limit])
    joined = [runs[0]]
    for i in range(1, len(runs)):
        (first, _), components = joined[-1]
        if i in closed:
            joined[-1] = ((first, runs[i][0][1]), _union(components, runs[i][1]))
        else:
            joined.append(runs[i])
    return joined


def lane_of(context: MetricContext, grain: Grain, runs: list[tuple[tuple[str, str], Components]],
            stage: BackfillStage = BackfillStage.SYNC) -> Lane:
    components = [c for _, c in runs]
    return Lane(context=context.key, grain=grain, runs=[span for span, _ in runs], stage=stage,
                components=components if any(c is not None for c in components) else [])


_SUCCEEDED = LedgerStatus.SUCCEEDED.value
_SYNCED_VALUES = {LedgerStatus.SUCCEEDED.value, LedgerStatus.PARTIAL.value}
_FAILED_VALUES = {LedgerStatus.FAILED.value, LedgerStatus.PARTIAL.value}
#: samples of partitions left out for want of their dependency
UNREADY_SAMPLE = 10


@dataclass(frozen=True)
class StageRules:
    """How the ledger reads for one stage: its kinds, and the kinds of the stage it depends on."""

    stage: BackfillStage
    kinds: tuple[str, ...]
    needs: tuple[str, ...]

    def done(self, marks: dict[str, Mark]) -> bool:
        if self.stage is BackfillStage.SYNC:
            return getattr(marks.get(SYNC_KIND), "status", None) in _SYNCED_VALUES
        return all(getattr(marks.get(kind), "status", None) == _SUCCEEDED for kind in self.kinds)

    def failed(self, marks: dict[str, Mark]) -> bool:
        return any(getattr(marks.get(kind), "status", None) in _FAILED_VALUES for kind in self.kinds)

    def ready(self, marks: dict[str, Mark]) -> bool:
        """The stage before has succeeded: synced (for patterns), any pattern succeeded (for stories)."""
        if self.stage is BackfillStage.SYNC:
            return True
        if self.stage in (BackfillStage.PATTERNS, BackfillStage.CACHE):
            return getattr(marks.get(SYNC_KIND), "status", None) in _SYNCED_VALUES
        return any(getattr(marks.get(kind), "status", None) == _SUCCEEDED for kind in self.needs)

    def fallback(self, marks: dict[str, Mark]) -> BackfillStage:
        """The stage an unready partition begins with under ``--with-dependencies``."""
        synced = getattr(marks.get(SYNC_KIND), "status", None) in _SYNCED_VALUES
        return BackfillStage.PATTERNS if self.stage is BackfillStage.STORIES and synced else BackfillStage.SYNC


def stage_rules(request: PlanBackfillInput) -> StageRules:
    # the registry loads every pattern (pandas, scipy, statsmodels): only when a plan is made, so that
    # the CLI's commands that merely import the planner (status, pause, resume) start without them
    from semsync.patterns.registry import pattern_names

    patterns = tuple(request.patterns or pattern_names())
    if request.what is BackfillStage.PATTERNS:
        return StageRules(BackfillStage.PATTERNS, patterns, (SYNC_KIND,))
    if request.what is BackfillStage.STORIES:
        return StageRules(BackfillStage.STORIES, (STORIES_KIND,), (SYNC_KIND, *pattern_names()))
    if request.what is BackfillStage.CACHE:
        return StageRules(BackfillStage.CACHE, (CACHE_KIND,), (SYNC_KIND,))
    return StageRules(BackfillStage.SYNC, (SYNC_KIND,), ())


async def _cached_tenants(session_factory: async_sessionmaker[AsyncSession], tenant_ids: set[int]) -> set[int]:
    """Those of `tenant_ids` that have a cache target."""
    async with session_factory() as session:
        rows = await session.execute(text("SELECT id FROM tenants WHERE id = ANY(CAST(:ids AS integer[])) "
                                          "AND cache_target IS NOT NULL"), {"ids": sorted(tenant_ids)})
        return set(rows.scalars())


async def plan_page(session_factory: async_sessionmaker[AsyncSession], request: PlanBackfillInput) -> LanePage:
    """The lanes of the contexts after `request.after`: at most `max_lanes` lanes, and the page ends
    with the context whose lanes reach `max_runs` runs."""
    after = MetricContext.from_string(request.after) if request.after else None
    limit = max(1, request.max_lanes // len(request.ranges))
    contexts = await contexts_after(session_factory, request.selector, after, limit)
    spans = [partitions_between(r.grain, r.first, r.last) for r in request.ranges]
    rules = stage_rules(request)
    reads_ledger = request.mode is not BackfillMode.ALL or rules.stage is not BackfillStage.SYNC
    marked: dict[tuple[int, int], dict[str, dict[str, dict[str, Mark]]]] = {}
    if reads_ledger:
        by_tenant: dict[int, list[str]] = defaultdict(list)
        for selected in contexts:
            by_tenant[selected.tenant_id].append(selected.context.metric)
        for tenant_id, metrics in by_tenant.items():
            async with tenant_scope(session_factory, tenant_id) as session:
                for index, (grain_range, span) in enumerate(zip(request.ranges, spans, strict=True)):
                    marked[tenant_id, index] = await ledger_marks(
                        session, tenant_id, metrics, grain_range.grain, {*rules.kinds, *rules.needs},
                        span[0].start, span[-1].end)
    page = LanePage(lanes=[])
    runs = 0
    cached = await _cached_tenants(session_factory, {s.tenant_id for s in contexts}) \
        if rules.stage is BackfillStage.CACHE else set()
    for position, selected in enumerate(contexts):
        if rules.stage is BackfillStage.CACHE and selected.tenant_id not in cached:
            continue  # a tenant without a cache target has no cache partitions
        for index, (grain_range, span) in enumerate(zip(request.ranges, spans, strict=True)):
            by_key = marked.get((selected.tenant_id, index), {}).get(selected.context.metric, {})
            chosen = span
            if request.mode is BackfillMode.MISSING:
                chosen = [p for p in span if not rules.done(by_key.get(p.key, {}))]
            elif request.mode is BackfillMode.FAILED:
                chosen = [p for p in span if rules.failed(by_key.get(p.key, {}))]
            page.skipped_partitions += len(span) - len(chosen)
            stages: dict[BackfillStage, list[Partition]] = defaultdict(list)
            for partition in chosen:
                marks = by_key.get(partition.key, {})
                if rules.ready(marks):
                    stages[rules.stage].append(partition)
                elif request.with_dependencies:
                    stages[rules.fallback(marks)].append(partition)
                else:
                    page.unready_partitions += 1
                    if len(page.unready_sample) < UNREADY_SAMPLE:
                        page.unready_sample.append(f"{selected.context} {grain_range.grain.value} {partition.key}")
            for stage in BackfillStage:  # the dependencies' lanes first (same key: they never overlap)
                if not stages.get(stage):
                    continue
                components = None
                if stage is BackfillStage.SYNC and request.mode is BackfillMode.FAILED and rules.stage is stage:
                    components = {key: list(m[SYNC_KIND].failed_components) if m.get(SYNC_KIND) and
                                  m[SYNC_KIND].status == LedgerStatus.PARTIAL.value and
                                  m[SYNC_KIND].failed_components else None for key, m in by_key.items()}
                lane_runs = join_closest_runs(grain_range.grain, contiguous_runs(stages[stage], components))
                page.lanes.append(lane_of(selected.context, grain_range.grain, lane_runs, stage))
                runs += len(lane_runs)
        page.contexts += 1
        if runs >= request.max_runs and position < len(contexts) - 1:
            page.after = selected.context.key
            return page
    page.after = contexts[-1].context.key if len(contexts) == limit else None
    return page


async def pages(session_factory: async_sessionmaker[AsyncSession], request: PlanBackfillInput):
    """Every page of the plan, in order."""
    request = request.model_copy(update={"after": None})
    while True:
        page = await plan_page(session_factory, request)
        yield page
        if page.after is None:
            return
        request = request.model_copy(update={"after": page.after})


async def summarize(session_factory: async_sessionmaker[AsyncSession], request: PlanBackfillInput
                    ) -> BackfillPlanSummary:
    """The whole plan counted, page by page (explicit contexts are checked here, before any sync)."""
    summary = BackfillPlanSummary(contexts=0, lanes=0, partitions=0, chunks=0)
    async for page in pages(session_factory, request.model_copy(update={"max_lanes": 1000, "max_runs": 10_000})):
        summary.contexts += page.contexts
        summary.skipped_partitions += page.skipped_partitions
        summary.unready_partitions += page.unready_partitions
        summary.unready_sample = (summary.unready_sample + page.unready_sample)[:UNREADY_SAMPLE]
        summary.lanes += len(page.lanes)
        for lane in page.lanes:
            partitions = sum(count_between(lane.grain, *run) for run in lane.runs)
            summary.partitions += partitions
            summary.partitions_by_grain[lane.grain] = summary.partitions_by_grain.get(lane.grain, 0) + partitions
            summary.chunks += lane.chunk_count(request.chunk_size)
            summary.lanes_by_grain[lane.grain] = summary.lanes_by_grain.get(lane.grain, 0) + 1
            summary.runs_by_grain[lane.grain] = summary.runs_by_grain.get(lane.grain, 0) + len(lane.runs)
            summary.partial_runs += sum(1 for components in lane.components if components is not None)
            summary.lanes_by_stage[lane.stage] = summary.lanes_by_stage.get(lane.stage, 0) + 1
    return summary


async def plan_backfill(session_factory: async_sessionmaker[AsyncSession], request: PlanBackfillInput) -> BackfillPlan:
    """The whole plan at once (the CLI's dry run)."""
    plan = BackfillPlan(lanes=[], contexts=0)
    async for page in pages(session_factory, request.model_copy(update={"max_lanes": 1000, "max_runs": 10_000})):
        plan.lanes += page.lanes
        plan.contexts += page.contexts
        plan.skipped_partitions += page.skipped_partitions
        plan.unready_partitions += page.unready_partitions
        plan.unready_sample = (plan.unready_sample + page.unready_sample)[:UNREADY_SAMPLE]
    return plan


class BackfillPlanner:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def plan(self, request: PlanBackfillInput) -> BackfillPlan:
        return await plan_backfill(self.session_factory, request)

    async def summarize(self, request: PlanBackfillInput) -> BackfillPlanSummary:
        return await summarize(self.session_factory, request)

    async def page(self, request: PlanBackfillInput) -> LanePage:
        return await plan_page(self.session_factory, request)
