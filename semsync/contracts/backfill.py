"""The backfill: BackfillWorkflow's input, plan, progress, state carried across continue-as-new, result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, computed_field, field_validator, model_validator

from semsync.contracts.common import ErrorText, _Model, _Result
from semsync.contracts.sync import ComponentRetry
from semsync.partitions import Grain, MetricContext, count_between, partitions_between, span_ends
from semsync.partitions.contexts import check_identifier


class BackfillMode(StrEnum):
    #: partitions the ledger does not show synced (succeeded or partial)
    MISSING = "missing"
    #: partitions the ledger shows failed or partial
    FAILED = "failed"
    #: every partition of the range
    ALL = "all"


class BackfillStage(StrEnum):
    """Where a backfill's work begins; every stage after it follows (sync → patterns → stories)."""

    #: fetch and write, then the patterns and stories of each synced span
    SYNC = "sync"
    #: analyse data already synced (nothing is fetched), then tell its stories
    PATTERNS = "patterns"
    #: tell stories from pattern results already stored
    STORIES = "stories"
    #: write what is already synced into the tenants' cache targets (`semsync.cache`); nothing is fetched
    CACHE = "cache"


class GrainRange(_Model):
    """An inclusive range of partitions of one grain."""

    grain: Grain
    first: str
    last: str

    @model_validator(mode="after")
    def _check(self) -> Self:
        first, last = span_ends(self.grain, self.first, self.last)  # checked, none built
        self.first, self.last = first.key, last.key
        return self


#: explicit contexts a selector may name (larger selections: a tenant, every active context, or
#: those discovery activated since a time): the input stays a small payload
MAX_EXPLICIT_CONTEXTS = 1000


class ContextSelector(_Model):
    """Which metric contexts: explicit ones, one tenant's, those discovery activated (inserted or
    reactivated) since a time, or (none given) every active one."""

    tenant: str | None = None
    contexts: list[str] = Field(default_factory=list, max_length=MAX_EXPLICIT_CONTEXTS)
    activated_since: datetime | None = None

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier("tenant", value)

    @field_validator("contexts")
    @classmethod
    def _contexts(cls, values: list[str]) -> list[str]:
        return [MetricContext.from_string(v).key for v in values]

    def describe(self) -> str:
        if self.contexts:
            return ", ".join(self.contexts) if len(self.contexts) <= 5 else f"{len(self.contexts)} contexts"
        if self.activated_since:
            return f"contexts activated since {self.activated_since:%Y-%m-%d %H:%M:%S}"
        return f"tenant {self.tenant}" if self.tenant else "every active context"


class PlanBackfillInput(_Model):
    """What to plan; with `after`, one page of it: the lanes of the contexts after that cursor."""

    ranges: list[GrainRange]
    selector: ContextSelector
    mode: BackfillMode
    #: partitions per chunk (None: each run whole), to count the chunks
    chunk_size: int | None = Field(None, ge=1)
    #: the planner's cursor: the page starts after it (None: from the start)
    after: str | None = None
    #: a page ends after this many lanes, or once its lanes hold `max_runs` runs
    max_lanes: int = Field(100, ge=1, le=1000)
    max_runs: int = Field(500, ge=1, le=10_000)
    #: the stage the work begins with; the modes read its ledger (the patterns': `patterns`, or all)
    what: BackfillStage = BackfillStage.SYNC
    patterns: list[str] | None = None
    #: partitions whose stage before `what` has not succeeded: refused (counted in `unready`), or run
    #: from that stage (sync → patterns → stories) with `with_dependencies`
    with_dependencies: bool = False


#: runs a lane may have; one with more has its closest runs joined (the partitions between are synced
#: again, idempotently), so that a lane stays a small payload whatever the ledger's gaps
MAX_RUNS_PER_LANE = 32


class Lane(_Model):
    """The work of one (context, grain): contiguous runs of partitions to sync, in order; in mode
    ``failed``, per run the components a partial sync left failed (None: every component)."""

    context: str
    grain: Grain
    runs: list[tuple[str, str]]
    #: aligned with `runs` when any run syncs only some components; empty: every run syncs all
    components: list[list[str] | None] = Field(default_factory=list)
    #: the stage its runs begin with
    stage: BackfillStage = BackfillStage.SYNC

    def chunks(self, chunk_size: int | None) -> list[tuple[str, str]]:
        """The runs cut into chunks of at most `chunk_size` partitions (None: each run whole)."""
        return [chunk for chunk, _ in self.chunks_with_components(chunk_size)]

    def chunks_with_components(self, chunk_size: int | None) -> list[tuple[tuple[str, str], list[str] | None]]:
        """Each chunk with the components it syncs (None: all)."""
        chunks: list[tuple[tuple[str, str], list[str] | None]] = []
        for index, (first, last) in enumerate(self.runs):
            components = self.components[index] if self.components else None
            if chunk_size is None:  # the run whole: its ends are its keys already
                chunks.append(((first, last), components))
                continue
            partitions = partitions_between(self.grain, first, last)
            for i in range(0, len(partitions), chunk_size):
                block = partitions[i:i + chunk_size]
                chunks.append(((block[0].key, block[-1].key), components))
        return chunks

    def chunk_count(self, chunk_size: int | None) -> int:
        return sum(-(-_run_length(self.grain, run) // chunk_size) if chunk_size else 1 for run in self.runs)


class BackfillPlan(_Result):
    """A whole plan (the CLI's dry run, and a backfill started before plans were paged)."""

    lanes: list[Lane]
    contexts: int
    #: partitions of the range that the mode skipped (already synced, or not failed)
    skipped_partitions: int = 0
    #: partitions left out because the stage before the requested one has not succeeded on them
    unready_partitions: int = 0
    unready_sample: list[str] = Field(default_factory=list)

    @computed_field
    @property
    def partitions(self) -> int:
        return sum(_run_length(lane.grain, run) for lane in self.lanes for run in lane.runs)


class LanePage(_Result):
    """One page of a plan: the lanes of the next contexts, and the cursor after them."""

    lanes: list[Lane]
    #: the cursor for the next page; None: this was the last
    after: str | None = None
    contexts: int = 0
    skipped_partitions: int = 0
    #: partitions left out because the stage before the requested one has not succeeded on them
    unready_partitions: int = 0
    #: a few of them, as ``context grain key``
    unready_sample: list[str] = Field(default_factory=list)


class BackfillPlanSummary(_Result):
    """A plan's size, counted page by page; the lanes themselves are handed out in pages."""

    contexts: int
    lanes: int
    partitions: int
    chunks: int
    skipped_partitions: int = 0
    #: `partitions` per grain
    partitions_by_grain: dict[Grain, int] = Field(default_factory=dict)
    unready_partitions: int = 0
    unready_sample: list[str] = Field(default_factory=list)
    #: lanes and runs (each run whole) per grain, runs of partial partitions (only their failed
    #: components), lanes per stage they begin with: what the CLI prints before it starts the backfill
    lanes_by_grain: dict[Grain, int] = Field(default_factory=dict)
    runs_by_grain: dict[Grain, int] = Field(default_factory=dict)
    partial_runs: int = 0
    lanes_by_stage: dict[BackfillStage, int] = Field(default_factory=dict)


def _run_length(grain: Grain, run: tuple[str, str]) -> int:
    return count_between(grain, run[0], run[1])


class BackfillControl(_Model):
    """The argument of the pause, resume and cancel signals."""

    reason: str | None = None


class ChunkFailure(_Model):
    context: str
    grain: Grain
    span: str
    workflow_id: str
    reason: ErrorText


class BackfillProgress(_Result):
    backfill_id: str
    state: str = "planning"  # planning, running, paused, cancelling, completed, cancelled
    contexts: int = 0
    partitions_planned: int = 0
    partitions_skipped: int = 0
    chunks_planned: int = 0
    chunks_running: int = 0
    chunks_succeeded: int = 0
    chunks_partial: int = 0
    chunks_failed: int = 0
    partitions_done: int = 0
    rows_fetched: int = 0
    rows_written: int = 0
    patterns_started: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    runs: int = 1
    #: children finished per stage they began with (sync, patterns, stories)
    chunks_by_stage: dict[str, int] = Field(default_factory=dict)
    #: partitions left out because the stage before the requested one had not succeeded on them
    partitions_unready: int = 0

    @computed_field
    @property
    def chunks_done(self) -> int:
        return self.chunks_succeeded + self.chunks_partial + self.chunks_failed


class LaneProgress(_Model):
    """A lane the workflow holds: its runs (and their components) and how many of its chunks are done."""

    context: str
    grain: Grain
    runs: list[tuple[str, str]]
    components: list[list[str] | None] = Field(default_factory=list)
    stage: BackfillStage = BackfillStage.SYNC
    done: int = 0

    @property
    def key(self) -> str:
        return f"{self.context}|{self.grain.value}"

    def lane(self) -> Lane:
        return Lane(context=self.context, grain=self.grain, runs=self.runs, components=self.components,
                    stage=self.stage)


class BackfillState(_Result):
    """What a BackfillWorkflow carries across continue-as-new: bounded whatever the plan's size (the
    lanes held are the running ones and one page; the planner's cursor says where the rest begins)."""

    #: a whole plan, carried by backfills started before plans were paged (read, never written now)
    plan: BackfillPlan | None = None
    #: with `plan`: per lane, how many of its chunks are done
    cursors: list[int] = Field(default_factory=list)
    #: the lanes held: running, or not started yet
    lanes: list[LaneProgress] = Field(default_factory=list)
    #: the planner's cursor for the next page; `exhausted`: no page left
    after: str | None = None
    exhausted: bool = False
    progress: BackfillProgress
    failures: list[ChunkFailure] = Field(default_factory=list)
    started_at: datetime
    paused: bool = False
    #: partitions planned and done per grain (what a cancel leaves counts on the worker's metrics)
    planned_by_grain: dict[Grain, int] = Field(default_factory=dict)
    done_by_grain: dict[Grain, int] = Field(default_factory=dict)


#: Temporal task priorities (1 runs first, 5 last; 3 when none is given): scheduled runs and
#: discovery's first syncs go ahead of backfills on shared workers
SCHEDULED_PRIORITY = 2
BACKFILL_PRIORITY = 4


class YieldCheckInput(_Model):
    """Are backfills of a higher priority (a lower number) than `priority` running?"""

    priority: int = Field(ge=1, le=5)


class YieldCheck(_Result):
    #: running BackfillWorkflows of a higher priority (the scheduled runs', discovery's first syncs)
    running: int


class BackfillOrder(StrEnum):
    #: each lane's partitions from the oldest (the default: each sync builds on the one before)
    OLDEST_FIRST = "oldest-first"
    #: each lane's partitions from the newest (recent data first; each sync still replaces its window)
    NEWEST_FIRST = "newest-first"


#: a BackfillWorkflow's id is this prefix, a slash and its backfill id (which holds no '/')
BACKFILL_WORKFLOW_PREFIX = "backfill"


def backfill_workflow_id(backfill_id: str) -> str:
    """The workflow id of backfill `backfill_id`."""
    return f"{BACKFILL_WORKFLOW_PREFIX}/{backfill_id}"


class BackfillInput(_Model):
    backfill_id: str
    ranges: list[GrainRange] = Field(min_length=1)
    selector: ContextSelector = Field(default_factory=ContextSelector)
    mode: BackfillMode = BackfillMode.MISSING
    max_concurrency: int = Field(4, ge=1, le=200)
    run_patterns: bool = True
    #: partitions per child SyncWorkflow; None: the whole range of a context and grain in one child
    chunk_size: int | None = Field(None, ge=1)
    force_full: bool = False
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)
    #: children started per run before continue-as-new (history stays far below 10,000 events)
    children_per_run: int = Field(400, ge=1)
    #: the Temporal task priority of the children and everything they start (fairness key: the tenant)
    priority: int = Field(BACKFILL_PRIORITY, ge=1, le=5)
    order: BackfillOrder = BackfillOrder.OLDEST_FIRST
    #: the stage the work begins with (``patterns``: analyse synced data across contexts, fetch nothing)
    what: BackfillStage = BackfillStage.SYNC
    #: with `what` patterns: only these patterns (None: the metric's active ones)
    patterns: list[str] | None = None
    with_dependencies: bool = False
    #: analyse even where data, pattern versions and settings are unchanged since the last success
    force_analysis: bool = False
    #: the plan's counts as the CLI made them before starting: the workflow does not count it again
    summary: BackfillPlanSummary | None = None
    state: BackfillState | None = None

    @field_validator("backfill_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value or len(value) > 120 or any(ch.isspace() for ch in value) or "/" in value:
            raise ValueError(f"backfill id {value!r}: 1-120 characters, no whitespace and no '/'")
        return value

    @property
    def workflow_id(self) -> str:
        return backfill_workflow_id(self.backfill_id)

    def planning(self, **page: object) -> PlanBackfillInput:
        """What the planner needs of this backfill (with `page`: `after`, `max_lanes`, `max_runs`)."""
        return PlanBackfillInput(ranges=self.ranges, selector=self.selector, mode=self.mode,
                                 chunk_size=self.chunk_size, what=self.what, patterns=self.patterns,
                                 with_dependencies=self.with_dependencies, **page)


class BackfillResult(_Result):
    progress: BackfillProgress
    failures: list[ChunkFailure]
