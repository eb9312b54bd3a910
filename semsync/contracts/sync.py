"""The sync: the domain request and response, the sync activities, and SyncWorkflow's input and result."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field, computed_field

from semsync.contracts.common import (
    SYNC_KIND,
    ErrorText,
    LedgerStatus,
    SyncStatus,
    SyncType,
    _ContextRequest,
    _Model,
    _Result,
)
from semsync.partitions import Grain, MetricContext


class SemanticSyncRequest(_ContextRequest):
    """One metric context, one grain, one partition or a contiguous run of them."""

    force_full_sync: bool = False
    #: sync only these components ("base" or dimension ids; a re-run of a partial sync's failed ones);
    #: None: the base series and every dimension
    components: list[str] | None = None



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
    #: rows the source returned with a null value (not stored)
    rows_dropped_null: int = 0
    #: rows stored in the null slice (`semsync.sources.base.NULL_SLICE`): a null dimension value
    null_slice_rows: int = 0
    #: dates of the window left as an overlapping sync that fetched later had stored them
    dates_kept_from_later_fetch: int = 0
    error: ErrorText | None = None
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
        """Fetched rows that needed no write (unchanged) or were dropped (null value)."""
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

    @computed_field
    @property
    def null_slice_rows(self) -> int:
        return sum(d.null_slice_rows for d in self.dimensions)


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


class ComponentPlan(_Model):
    """How one component will be synced: its sync type, window and why."""

    dimension: str | None = None
    sync_type: SyncType
    start: date
    end: date
    reason: str
    #: `settled_through` before this sync (see semsync.sync.plan)
    settled_through: date | None = None


#: the base series' name among a request's components
BASE = "base"


def kept_base(request: SemanticSyncRequest) -> ComponentResult:
    """The base series' result when only failed dimensions are synced again: kept as it was."""
    partitions = request.partitions()
    return ComponentResult(dimension=None, sync_type=SyncType.INCREMENTAL, status=SyncStatus.SUCCESS,
                           reason="kept: it succeeded before, only the failed components are synced again",
                           window_start=partitions[0].start, window_end=partitions[-1].end)


class SyncPlan(_Model):
    """`plan_sync`'s result: the tenant's id and one plan per component, base series first."""

    request: SemanticSyncRequest
    tenant_id: int
    components: list[ComponentPlan]
    #: the tenant has a cache target: the sync's continuation writes what it changed there
    cache_target: bool = False

    @property
    def base(self) -> ComponentPlan | None:
        """The base series' plan; None when only some dimensions are synced again."""
        return self.components[0] if self.components and self.components[0].dimension is None else None

    @property
    def dimensions(self) -> list[ComponentPlan]:
        return [c for c in self.components if c.dimension is not None]


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
    error: ErrorText
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
    error: ErrorText | None = None
    workflow_id: str | None = None
    #: a partial sync's failed components: "base" or dimension ids
    failed_components: list[str] | None = None
    #: a pattern's success: its version, settings and data version, hashed
    fingerprint: str | None = None
    note: str | None = None


class LedgerBatch(_Model):
    entries: list[LedgerEntry]


class LedgerWriteResult(_Model):
    rows_written: int


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
    #: analyse even where data, versions and settings are unchanged since the last success
    force_analysis: bool = False
    backfill_id: str | None = None
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)

    @property
    def workflow_id(self) -> str:
        return sync_workflow_id(self.grain, self.span, self.context)

    def sync_request(self) -> SemanticSyncRequest:
        """The plain sync request in this input: its fields as they are, validated once already (this
        input is a sync request), not dumped and validated again."""
        return SemanticSyncRequest.model_construct(**{name: getattr(self, name)
                                                      for name in SemanticSyncRequest.model_fields})


class SyncWorkflowResult(_SyncTotals):
    tenant: str
    metric_id: str
    grain: Grain
    partitions: list[str]
    ledger_status: LedgerStatus
    patterns_workflow_id: str | None = None
    #: True also when an identical pattern run was already running (it covers this sync)
    patterns_started: bool = False
    #: the CacheWorkflow started as its continuation (the tenant has a cache target)
    cache_workflow_id: str | None = None


def sync_workflow_id(grain: Grain, span: str, context: MetricContext) -> str:
    return f"sync/{Grain(grain).value}/{span}/{context}"
