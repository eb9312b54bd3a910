"""The backfill: BackfillWorkflow's input, plan, progress, state carried across continue-as-new, result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import Field, computed_field, field_validator, model_validator

from semsync.contracts.common import ErrorText, _Model, _Result
from semsync.contracts.sync import ComponentRetry
from semsync.partitions import Grain, MetricContext, count_between, partitions_between
from semsync.partitions.contexts import check_identifier


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
