"""Discovery and the scheduled runs: DiscoveryWorkflow's and ScheduledRunWorkflow's inputs and results."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from semsync.contracts.backfill import BackfillResult
from semsync.contracts.common import _Model, _Result
from semsync.contracts.sync import ComponentRetry
from semsync.partitions import Grain


class DiscoverInput(_Model):
    """The `discover` activity's input: nothing to choose, the catalog provider comes from settings."""


class DiscoveryDiff(_Result):
    tenants: int = 0
    metrics: int = 0
    new: list[str] = Field(default_factory=list)
    reactivated: list[str] = Field(default_factory=list)
    deactivated: list[str] = Field(default_factory=list)
    pattern_contexts_added: int = 0
    pattern_contexts_deactivated: int = 0
    pattern_contexts_reactivated: int = 0
    catalog_rows_changed: int = 0
    disabled_tenants: list[str] = Field(default_factory=list)
    #: entries the provider had to skip (an unreadable metric, …)
    problems: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.tenants} tenants, {self.metrics} metric contexts: {len(self.new)} new, "
                f"{len(self.reactivated)} reactivated, {len(self.deactivated)} deactivated; pattern contexts "
                f"{self.pattern_contexts_added} added, {self.pattern_contexts_deactivated} deactivated, "
                f"{self.pattern_contexts_reactivated} reactivated")


class DiscoveryInput(_Model):
    """DiscoveryWorkflow's input. With `initial_sync`, a new or returning context gets its sync of
    the last complete partition of each grain (as of the run's scheduled time)."""

    initial_sync: bool = False
    run_patterns: bool = True
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)


class DiscoveryResult(_Result):
    diff: DiscoveryDiff
    #: workflow ids of the initial syncs started
    initial_syncs: list[str] = Field(default_factory=list)


class ScheduledRunInput(_Model):
    """ScheduledRunWorkflow's input: the grain; the partition comes from the scheduled time."""

    grain: Grain
    max_concurrency: int = Field(8, ge=1, le=200)
    run_patterns: bool = True
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)


class ScheduledRunResult(_Result):
    grain: Grain
    partition: str
    scheduled_at: datetime
    backfill_id: str
    #: False when the run of this partition was already going (a second trigger): it was not doubled
    started: bool
    result: BackfillResult | None = None
