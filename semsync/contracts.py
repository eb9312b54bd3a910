"""The inputs and results of every semsync workflow and activity, and of the services behind them.

This module imports only pydantic and `semsync.partitions`, so a workflow can import it into
Temporal's sandbox without pulling in pandas, SQLAlchemy or httpx. Every request validates itself
when it is built: a malformed context or partition key never reaches a service (built from a
workflow's JSON input, it fails the workflow with the reason instead of retrying).

Ids are meaningful and deterministic, so a re-run of the same work is recognised:
``sync/{grain}/{partition-or-range}/{tenant}::{metric}``, ``patterns/{grain}/{partition-or-range}/
{tenant}::{metric}[::{pattern}]`` and ``backfill/{id}``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from semsync.partitions import Grain, MetricContext, MetricPatternContext, Partition, partitions_between
from semsync.partitions.contexts import check_identifier


class SyncType(StrEnum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


class SyncStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class LedgerStatus(StrEnum):
    """A partition's state in the partition ledger."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    #: the base series synced, a dimension failed
    PARTIAL = "partial"
    FAILED = "failed"


#: the ledger's kind for a sync row (pattern rows carry the pattern's name)
SYNC_KIND = "sync"


def span_key(first: str, last: str) -> str:
    """``first`` for one partition, ``first:last`` for a range: the form ids and the CLI use."""
    return first if first == last else f"{first}:{last}"


class _Model(BaseModel):
    """Inputs refuse unknown fields: a typo in a hand-written workflow input is an error."""

    model_config = ConfigDict(extra="forbid")


class _Result(BaseModel):
    """Results ignore unknown fields: their computed fields are serialised and read back."""

    model_config = ConfigDict(extra="ignore")


# --- the domain requests -------------------------------------------------------------------------


class _SpanRequest(_Model):
    """One grain and one partition or a contiguous run of them, validated and normalised when built."""

    grain: Grain
    start_partition: str = Field(description="partition key, e.g. 2025-07-01, 2025-W27, 2025-07")
    end_partition: str | None = Field(None, description="last partition of a contiguous run; default: start")

    @model_validator(mode="after")
    def _check_span(self) -> Self:
        partitions = partitions_between(self.grain, self.start_partition, self.end_partition)
        # normalised keys: a Monday's date becomes its week key, the end is always set
        self.start_partition, self.end_partition = partitions[0].key, partitions[-1].key
        return self

    def partitions(self) -> list[Partition]:
        """The requested partitions in order."""
        return partitions_between(self.grain, self.start_partition, self.end_partition)

    @property
    def span(self) -> str:
        """``2025-07-01`` or ``2025-07-01:2025-07-31``."""
        return span_key(self.start_partition, self.end_partition or self.start_partition)


class SemanticSyncRequest(_SpanRequest):
    """One metric context, one grain, one partition or a contiguous run of them."""

    tenant: str = Field(description="tenant identifier")
    metric_id: str
    force_full_sync: bool = False

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        return check_identifier("tenant", value)

    @field_validator("metric_id")
    @classmethod
    def _metric(cls, value: str) -> str:
        return check_identifier("metric", value)

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric_id)


class PatternRunRequest(_SpanRequest):
    """One `tenant::metric::pattern` context over one partition or a contiguous run."""

    tenant: str
    metric_id: str
    pattern: str

    @model_validator(mode="after")
    def _check_context(self) -> Self:
        MetricPatternContext(tenant=self.tenant, metric=self.metric_id, pattern=self.pattern)
        return self

    @property
    def context(self) -> MetricPatternContext:
        return MetricPatternContext(tenant=self.tenant, metric=self.metric_id, pattern=self.pattern)


# --- sync results --------------------------------------------------------------------------------


class ComponentResult(_Result):
    """What happened to one component: the base series (dimension None) or one dimension."""

    dimension: str | None = None
    sync_type: SyncType
    reason: str
    window_start: date
    window_end: date
    status: SyncStatus
    rows_fetched: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_deleted: int = 0
    rows_dropped_null: int = 0
    error: str | None = None
    error_type: str | None = None
    retryable: bool | None = None
    duration_s: float = 0.0

    @computed_field
    @property
    def rows_written(self) -> int:
        return self.rows_inserted + self.rows_updated

    @computed_field
    @property
    def rows_skipped(self) -> int:
        """Fetched rows that needed no write (unchanged) or were dropped (null value or slice)."""
        return self.rows_unchanged + self.rows_dropped_null


class _SyncTotals(_Result):
    base: ComponentResult
    dimensions: list[ComponentResult] = Field(default_factory=list)

    @computed_field
    @property
    def success(self) -> bool:
        return self.base.status is SyncStatus.SUCCESS

    @computed_field
    @property
    def dimensions_succeeded(self) -> list[str]:
        return [d.dimension or "" for d in self.dimensions if d.status is SyncStatus.SUCCESS]

    @computed_field
    @property
    def dimensions_failed(self) -> dict[str, str]:
        return {d.dimension or "": d.error or "" for d in self.dimensions if d.status is SyncStatus.FAILED}

    @computed_field
    @property
    def rows_fetched(self) -> int:
        return self.base.rows_fetched + sum(d.rows_fetched for d in self.dimensions)

    @computed_field
    @property
    def rows_written(self) -> int:
        return self.base.rows_written + sum(d.rows_written for d in self.dimensions)

    @computed_field
    @property
    def rows_deleted(self) -> int:
        return self.base.rows_deleted + sum(d.rows_deleted for d in self.dimensions)

    @computed_field
    @property
    def rows_skipped(self) -> int:
        return self.base.rows_skipped + sum(d.rows_skipped for d in self.dimensions)


class SemanticSyncResponse(_SyncTotals):
    """The in-process sync's answer (`python -m starter sync run`)."""

    tenant: str
    tenant_id: int
    metric_id: str
    grain: Grain
    partitions: list[str]
    force_full_sync: bool
    started_at: datetime
    finished_at: datetime

    @computed_field
    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


# --- sync activities -----------------------------------------------------------------------------


class ComponentPlan(_Model):
    """How one component will be synced: its sync type, window and why."""

    dimension: str | None = None
    sync_type: SyncType
    start: date
    end: date
    reason: str
    #: `settled_through` before this sync (see semsync.sync_plan)
    settled_through: date | None = None


class SyncPlan(_Model):
    """`plan_sync`'s result: the tenant's id and one plan per component, base series first."""

    request: SemanticSyncRequest
    tenant_id: int
    components: list[ComponentPlan]

    @property
    def base(self) -> ComponentPlan:
        return self.components[0]

    @property
    def dimensions(self) -> list[ComponentPlan]:
        return self.components[1:]


class SyncComponentInput(_Model):
    """Fetch and write one component (the base series or one dimension) of a planned sync."""

    request: SemanticSyncRequest
    tenant_id: int
    plan: ComponentPlan

    @property
    def name(self) -> str:
        return self.plan.dimension or "base"


class ComponentFailureInput(_Model):
    """Record a component as FAILED after its last attempt (so its next sync is FULL)."""

    request: SemanticSyncRequest
    tenant_id: int
    plan: ComponentPlan
    error: str
    error_type: str


class LedgerEntry(_Model):
    """The ledger's word on the partitions of one span: one row per partition, for the sync or a pattern."""

    tenant: str
    metric_id: str
    grain: Grain
    partitions: list[str]
    kind: str = SYNC_KIND
    status: LedgerStatus
    rows: int = 0
    error: str | None = None
    workflow_id: str | None = None


class LedgerBatch(_Model):
    entries: list[LedgerEntry]


class LedgerWriteResult(_Model):
    rows_written: int


# --- the sync workflow ---------------------------------------------------------------------------


class ComponentRetry(_Model):
    """How a SyncWorkflow retries one component (base series or dimension) that failed retryably."""

    maximum_attempts: int = Field(8, ge=1)
    initial_interval_s: float = Field(1.0, gt=0)
    maximum_interval_s: float = Field(30.0, gt=0)
    backoff_coefficient: float = Field(2.0, ge=1)


class SyncWorkflowInput(SemanticSyncRequest):
    """`SyncWorkflow`'s input: the sync request, and what happens after it."""

    run_patterns: bool = True
    #: the pattern names to run after the sync; None: the metric's active pattern contexts
    patterns: list[str] | None = None
    backfill_id: str | None = None
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)

    @property
    def workflow_id(self) -> str:
        return sync_workflow_id(self.grain, self.span, self.context)

    def sync_request(self) -> SemanticSyncRequest:
        """The plain sync request in this input."""
        return SemanticSyncRequest.model_validate(self.model_dump(include=set(SemanticSyncRequest.model_fields)))


class SyncWorkflowResult(_SyncTotals):
    tenant: str
    metric_id: str
    grain: Grain
    partitions: list[str]
    ledger_status: LedgerStatus
    patterns_workflow_id: str | None = None
    #: True also when an identical pattern run was already running (it covers this sync)
    patterns_started: bool = False


def sync_workflow_id(grain: Grain, span: str, context: MetricContext) -> str:
    return f"sync/{Grain(grain).value}/{span}/{context}"


# --- patterns ------------------------------------------------------------------------------------


class PatternRunResponse(_Model):
    tenant: str
    tenant_id: int
    metric_id: str
    pattern: str
    version: str
    grain: Grain
    partitions: list[str]
    first_analysis_date: date
    last_analysis_date: date
    results_stored: int
    #: analysis date (and dimension) → error type, for results that carry a typed error
    errors: dict[str, str] = Field(default_factory=dict)
    duration_s: float


class ActivePatternsInput(_Model):
    tenant: str
    metric_id: str


class ActivePatterns(_Model):
    patterns: list[str]


class PatternWorkflowInput(_SpanRequest):
    """`PatternWorkflow`'s input: one metric context and span; all its active patterns, or the listed ones."""

    tenant: str
    metric_id: str
    patterns: list[str] | None = None
    backfill_id: str | None = None

    @model_validator(mode="after")
    def _check_context(self) -> Self:
        MetricContext(tenant=self.tenant, metric=self.metric_id)
        for pattern in self.patterns or []:
            check_identifier("pattern", pattern)
        return self

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric_id)

    @property
    def workflow_id(self) -> str:
        suffix = f"::{self.patterns[0]}" if self.patterns and len(self.patterns) == 1 else ""
        return f"{pattern_workflow_id(self.grain, self.span, self.context)}{suffix}"


def pattern_workflow_id(grain: Grain, span: str, context: MetricContext) -> str:
    return f"patterns/{Grain(grain).value}/{span}/{context}"


class PatternOutcome(_Model):
    pattern: str
    succeeded: bool
    results_stored: int = 0
    results_with_error: int = 0
    error: str | None = None


class PatternWorkflowResult(_Result):
    tenant: str
    metric_id: str
    grain: Grain
    partitions: list[str]
    outcomes: list[PatternOutcome]

    @computed_field
    @property
    def failed(self) -> list[str]:
        return [o.pattern for o in self.outcomes if not o.succeeded]


# --- backfill ------------------------------------------------------------------------------------


class BackfillMode(StrEnum):
    #: partitions the ledger does not show synced (succeeded or partial)
    MISSING = "missing"
    #: partitions the ledger shows failed or partial
    FAILED = "failed"
    #: every partition of the range
    ALL = "all"


class GrainRange(_Model):
    """An inclusive range of partitions of one grain."""

    grain: Grain
    first: str
    last: str

    @model_validator(mode="after")
    def _check(self) -> Self:
        partitions = partitions_between(self.grain, self.first, self.last)
        self.first, self.last = partitions[0].key, partitions[-1].key
        return self


class ContextSelector(_Model):
    """Which metric contexts: explicit ones, one tenant's, or (neither given) every active one."""

    tenant: str | None = None
    contexts: list[str] = Field(default_factory=list)

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
            return ", ".join(self.contexts)
        return f"tenant {self.tenant}" if self.tenant else "every active context"


class PlanBackfillInput(_Model):
    ranges: list[GrainRange]
    selector: ContextSelector
    mode: BackfillMode


class Lane(_Model):
    """The work of one (context, grain): contiguous runs of partitions to sync, in order."""

    context: str
    grain: Grain
    runs: list[tuple[str, str]]

    def chunks(self, chunk_size: int | None) -> list[tuple[str, str]]:
        """The runs cut into chunks of at most `chunk_size` partitions (None: each run whole)."""
        chunks: list[tuple[str, str]] = []
        for first, last in self.runs:
            partitions = partitions_between(self.grain, first, last)
            size = chunk_size or len(partitions)
            for i in range(0, len(partitions), size):
                block = partitions[i:i + size]
                chunks.append((block[0].key, block[-1].key))
        return chunks


class BackfillPlan(_Result):
    lanes: list[Lane]
    contexts: int
    #: partitions of the range that the mode skipped (already synced, or not failed)
    skipped_partitions: int = 0

    @computed_field
    @property
    def partitions(self) -> int:
        return sum(_run_length(lane.grain, run) for lane in self.lanes for run in lane.runs)


def _run_length(grain: Grain, run: tuple[str, str]) -> int:
    return len(partitions_between(grain, run[0], run[1]))


class BackfillControl(_Model):
    """The argument of the pause, resume and cancel signals."""

    reason: str | None = None


class ChunkFailure(_Model):
    context: str
    grain: Grain
    span: str
    workflow_id: str
    reason: str


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

    @computed_field
    @property
    def chunks_done(self) -> int:
        return self.chunks_succeeded + self.chunks_partial + self.chunks_failed


class BackfillState(_Result):
    """What a BackfillWorkflow carries across continue-as-new."""

    plan: BackfillPlan
    #: per lane: how many of its chunks are done
    cursors: list[int]
    progress: BackfillProgress
    failures: list[ChunkFailure] = Field(default_factory=list)
    started_at: datetime
    paused: bool = False


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
    state: BackfillState | None = None

    @field_validator("backfill_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value or len(value) > 120 or any(ch.isspace() for ch in value) or "/" in value:
            raise ValueError(f"backfill id {value!r}: 1-120 characters, no whitespace and no '/'")
        return value

    @property
    def workflow_id(self) -> str:
        return f"backfill/{self.backfill_id}"


class BackfillResult(_Result):
    progress: BackfillProgress
    failures: list[ChunkFailure]
