"""Discovery and the scheduled runs: DiscoveryWorkflow's and ScheduledRunWorkflow's inputs and results."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from semsync.contracts.backfill import BackfillResult
from semsync.contracts.common import _Model, _Result
from semsync.contracts.sync import ComponentRetry
from semsync.partitions import Grain


class DiscoverInput(_Model):
    """The `discover` activity's input: nothing to choose, the catalog provider comes from settings."""


#: contexts (and problems, disabled tenants) a discovery diff names of each kind; the counts say the rest
DIFF_SAMPLE = 50


def sample(values: Iterable[str]) -> list[str]:
    """At most `DIFF_SAMPLE` of `values`, in their order."""
    return list(itertools.islice(values, DIFF_SAMPLE))


class DiscoveryDiff(_Result):
    """What a discovery changed: counts, and at most `DIFF_SAMPLE` named contexts of each kind (the
    registry has them all), so that the result stays small however large the catalog."""

    tenants: int = 0
    metrics: int = 0
    #: when this discovery began (the database's clock): contexts activated since are new or back
    started_at: datetime | None = None
    new: list[str] = Field(default_factory=list)
    new_count: int = 0
    reactivated: list[str] = Field(default_factory=list)
    reactivated_count: int = 0
    deactivated: list[str] = Field(default_factory=list)
    deactivated_count: int = 0
    pattern_contexts_added: int = 0
    pattern_contexts_deactivated: int = 0
    pattern_contexts_reactivated: int = 0
    #: cache partitions (``tenant::grain::metric``) of the tenants with a cache target, after this discovery
    cache_partitions: int = 0
    catalog_rows_changed: int = 0
    disabled_tenants: list[str] = Field(default_factory=list)
    #: entries the provider had to skip (an unreadable metric, …): how many, and the first ones
    problems: list[str] = Field(default_factory=list)
    problem_count: int = 0

    def add_new(self, keys: list[str]) -> None:
        self.new, self.new_count = sample([*self.new, *keys]), self.new_count + len(keys)

    def add_reactivated(self, keys: list[str]) -> None:
        self.reactivated = sample([*self.reactivated, *keys])
        self.reactivated_count += len(keys)

    def add_deactivated(self, keys: list[str]) -> None:
        self.deactivated = sample([*self.deactivated, *keys])
        self.deactivated_count += len(keys)

    @property
    def activated(self) -> int:
        """New and reactivated contexts (counts; a result recorded before the counts: the lists)."""
        return (max(self.new_count, len(self.new)) + max(self.reactivated_count, len(self.reactivated)))

    def summary(self) -> str:
        return (f"{self.tenants} tenants, {self.metrics} metric contexts: {max(self.new_count, len(self.new))} new, "
                f"{max(self.reactivated_count, len(self.reactivated))} reactivated, "
                f"{max(self.deactivated_count, len(self.deactivated))} deactivated; pattern contexts "
                f"{self.pattern_contexts_added} added, {self.pattern_contexts_deactivated} deactivated, "
                f"{self.pattern_contexts_reactivated} reactivated"
                + (f"; {self.cache_partitions} cache partitions" if self.cache_partitions else ""))


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


class CrossGrain(StrEnum):
    """How a weekly or monthly run treats the days its period covers."""

    #: sync the period's missing days first (again while some keep failing, until the deadline)
    RESOLVE = "resolve"
    #: wait for the daily runs to bring them (until the deadline)
    WAIT = "wait"
    #: run at once
    OFF = "off"


def scheduled_backfill_id(grain: Grain, partition_key: str) -> str:
    """The backfill id of a scheduled run of `grain` for its partition (``scheduled-day-2025-07-01``);
    its workflow id is `backfill_workflow_id` of it."""
    return f"scheduled-{Grain(grain).value}-{partition_key}"


class ScheduledRunInput(_Model):
    """ScheduledRunWorkflow's input: the grain; the partition comes from the scheduled time."""

    grain: Grain
    max_concurrency: int = Field(8, ge=1, le=200)
    run_patterns: bool = True
    pattern_task_queue: str | None = None
    retry: ComponentRetry = Field(default_factory=ComponentRetry)
    #: a week or month and its days (per context, from the ledger): see `CrossGrain`
    cross_grain: CrossGrain = CrossGrain.RESOLVE
    #: hours after the run began past which the period runs whatever days are missing
    cross_grain_deadline_h: float = Field(6.0, gt=0)
    #: minutes between looks at the ledger (and resolutions) while days are missing
    cross_grain_poll_min: float = Field(15.0, gt=0)


class ScheduledRunResult(_Result):
    grain: Grain
    partition: str
    scheduled_at: datetime
    backfill_id: str
    #: False when the run of this partition was already going (a second trigger): it was not doubled
    started: bool
    result: BackfillResult | None = None
    #: day partitions (summed over contexts) the period covers that were not synced when it ran
    days_missing: int = 0
    #: the backfills that synced the period's missing days first (``resolve``)
    resolutions: list[str] = Field(default_factory=list)


class NoteMissingDaysInput(_Model):
    """Name, on the ledger rows of one week or month, the days it covers that are not synced."""

    grain: Grain
    partition: str
    first_day: str
    last_day: str
