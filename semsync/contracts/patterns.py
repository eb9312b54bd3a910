"""The pattern runs: the domain request and response, the pattern activities, PatternWorkflow's input and result."""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import Field, computed_field, model_validator

from semsync.contracts.common import ErrorText, _Model, _Result, _SpanRequest
from semsync.partitions import Grain, MetricContext, MetricPatternContext
from semsync.partitions.contexts import check_identifier


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


class PatternBatchRequest(_SpanRequest):
    """Several patterns of one metric context over one span, in one activity: the metric's active
    patterns (`patterns` None) or the listed ones."""

    tenant: str
    metric_id: str
    patterns: list[str] | None = None
    #: analyse even where the data, the pattern's version and settings are unchanged since its last
    #: success on every partition of the span (otherwise skipped: "skipped: unchanged")
    force: bool = False

    @model_validator(mode="after")
    def _check_context(self) -> Self:
        MetricContext(tenant=self.tenant, metric=self.metric_id)
        for pattern in self.patterns or []:
            check_identifier("pattern", pattern)
        return self

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric_id)


class PatternWorkflowInput(PatternBatchRequest):
    """`PatternWorkflow`'s input: one metric context and span; all its active patterns, or the listed ones."""

    backfill_id: str | None = None
    #: start the StoryWorkflow of the span when at least one pattern succeeded
    run_stories: bool = True
    #: the queue the span's AlertWorkflow runs on (the sync worker's: its sends are I/O); None: this one
    alerts_task_queue: str | None = None

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
    error: ErrorText | None = None
    #: not analysed: data, version and settings unchanged since the span's last success
    skipped: bool = False
    #: what this success stands on (version, settings, data version), hashed
    fingerprint: str | None = None


class PatternBatchResponse(_Model):
    tenant: str
    tenant_id: int
    metric_id: str
    grain: Grain
    partitions: list[str]
    #: one per pattern, in the order run; a pattern that failed has its error and stored nothing
    outcomes: list[PatternOutcome]
    duration_s: float


class PatternWorkflowResult(_Result):
    tenant: str
    metric_id: str
    grain: Grain
    partitions: list[str]
    outcomes: list[PatternOutcome]
    #: the StoryWorkflow started as this run's continuation (None: none started)
    stories_workflow_id: str | None = None

    @computed_field
    @property
    def failed(self) -> list[str]:
        return [o.pattern for o in self.outcomes if not o.succeeded]
