"""The story runs: the domain request and response, the story activity, StoryWorkflow's input and result."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from semsync.contracts.common import _Model, _Result, _SpanRequest
from semsync.partitions import Grain, MetricContext

#: the ledger's kind for a story run over a partition
STORIES_KIND = "stories"


class StoryRunRequest(_SpanRequest):
    """Tell the stories of one `tenant::metric` context over one partition or a contiguous run, from
    its stored pattern results."""

    tenant: str
    metric_id: str

    @model_validator(mode="after")
    def _check_context(self) -> Self:
        MetricContext(tenant=self.tenant, metric=self.metric_id)
        return self

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric_id)


class StoryRunResponse(_Model):
    tenant: str
    tenant_id: int
    metric_id: str
    grain: Grain
    first_partition: str
    last_partition: str
    #: pattern results read, over the span and the analysis date before it
    results_read: int
    #: story rows over the span, and of those: new, resolved (an ongoing story was told when new)
    stories: int
    new: int
    resolved: int
    #: rows inserted or changed, and rows deleted (no longer told)
    written: int
    deleted: int
    duration_s: float
    #: whether the tenant has alert rules (its new stories get an alert step)
    alerts: bool = False


class StoryWorkflowInput(StoryRunRequest):
    """`StoryWorkflow`'s input: one metric context and span (the PatternWorkflow's)."""

    backfill_id: str | None = None
    #: the queue the span's AlertWorkflow runs on (the sync worker's); None: this one
    alerts_task_queue: str | None = None

    @property
    def workflow_id(self) -> str:
        return story_workflow_id(self.grain, self.span, self.context)


def story_workflow_id(grain: Grain, span: str, context: MetricContext) -> str:
    return f"stories/{Grain(grain).value}/{span}/{context}"


class StoryWorkflowResult(_Result):
    tenant: str
    metric_id: str
    grain: Grain
    span: str
    stories: int
    new: int
    resolved: int
    written: int
    #: the AlertWorkflow started as the continuation (new stories and alert rules), if any
    alerts_workflow_id: str | None = None
