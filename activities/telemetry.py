"""semsync's own metrics and log context in the activities (and the few a workflow records).

The instruments are made through the SDK's metric meters (`activity.metric_meter()`, and
`workflow.metric_meter()`, which records nothing while a workflow replays), so they are exported by
the worker's runtime next to the SDK's own metrics (`SEMSYNC_WORKER__METRICS_PORT`: the Prometheus
endpoint), with the SDK's labels added (namespace, task_queue, and activity_type or workflow_type).
Labels stay few-valued: grain, tenant, component, kind, status; never a context or a partition.

- `semsync_rows_synced` (tenant, grain, component: base or dimension, sync_type): rows fetched into a
  component's window; `semsync_rows_written` (same labels): of those, rows inserted or updated;
- `semsync_sync_component_attempts` (tenant, grain, component): sync component attempts started;
- `semsync_sync_component_failures` (tenant, grain, component, error_type, final): a failed component
  attempt (final="false": Temporal retries it) and a component recorded FAILED after its last attempt
  (final="true");
- `semsync_pattern_runs` (pattern, grain, status: succeeded, result_errors, failed): pattern activity
  runs, one per pattern of a batch (a batch that fails as a whole counts once, pattern="all");
  result_errors means stored, with some dates carrying a typed error such as insufficient_data;
  `semsync_pattern_results_stored` (pattern, grain): results upserted;
- `semsync_story_runs` (grain, status), `semsync_stories_new` (grain): story activity runs, stories told;
- `semsync_deliveries` (channel, status: sent, failed, retried): delivery attempts' outcomes;
- from BackfillWorkflow: `semsync_backfill_partitions_planned` (grain, kind: scheduled or manual) and
  `semsync_backfill_partitions_done` (grain, kind, status: succeeded, partial, failed, and cancelled
  for the partitions a cancel left);
- from ScheduledRunWorkflow: `semsync_scheduled_runs` (grain, start: on_time or late, i.e. its first
  task ran more than `LATE_AFTER` after the schedule's slot) and the gauge
  `semsync_schedule_lag_seconds` (grain): that delay for the grain's latest run on this worker.

`initialise_counters` adds 0 to every counter whose labels are known before the event (the backfill,
scheduled-run and delivery counters) when the worker starts: a series that first appears already at 1
is invisible to PromQL's `increase()`, and these count rare events the alert rules watch.

Every line logged inside an activity carries its tenant, metric, grain and partition (span)
(`semsync.observability.log_context`).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import timedelta
from itertools import product
from typing import NamedTuple, get_args

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from semsync.notify.content import ChannelType
from semsync.observability import log_context
from semsync.partitions import Grain


class CounterSpec(NamedTuple):
    name: str
    description: str


ROWS_SYNCED = CounterSpec("semsync_rows_synced", "rows fetched into a component's window")
ROWS_WRITTEN = CounterSpec("semsync_rows_written", "rows inserted or updated by a sync")
COMPONENT_ATTEMPTS = CounterSpec("semsync_sync_component_attempts", "sync component attempts started")
COMPONENT_FAILURES = CounterSpec("semsync_sync_component_failures",
                                 "failed sync component attempts and final failures")
PATTERN_RUNS = CounterSpec("semsync_pattern_runs", "pattern activity runs")
PATTERN_RESULTS = CounterSpec("semsync_pattern_results_stored", "pattern results upserted")
STORY_RUNS = CounterSpec("semsync_story_runs", "story activity runs")
STORIES_NEW = CounterSpec("semsync_stories_new", "new stories told")
DELIVERIES = CounterSpec("semsync_deliveries", "deliveries by channel type and outcome (sent, failed, retried)")
BACKFILL_PLANNED = CounterSpec("semsync_backfill_partitions_planned", "partitions a backfill planned to sync")
BACKFILL_DONE = CounterSpec("semsync_backfill_partitions_done",
                            "partitions of a backfill whose child sync finished, by outcome")
SCHEDULED_RUNS = CounterSpec("semsync_scheduled_runs", "scheduled grain runs started, on time or late")
SCHEDULE_LAG = ("semsync_schedule_lag_seconds", "seconds from a scheduled run's slot to its first workflow task")

#: a scheduled run whose first workflow task runs later than this after its slot counts as late
LATE_AFTER = timedelta(minutes=15)

GRAINS = tuple(grain.value for grain in Grain)
BACKFILL_KINDS = ("scheduled", "manual")
BACKFILL_OUTCOMES = ("succeeded", "partial", "failed", "cancelled")
CHANNEL_TYPES: tuple[str, ...] = get_args(ChannelType)


def backfill_kind(backfill_id: str) -> str:
    """``scheduled`` for the backfill a schedule's grain run starts (``scheduled-…``), else ``manual``."""
    return "scheduled" if backfill_id.startswith("scheduled-") else "manual"


def count(counter: CounterSpec, value: int = 1, **labels: str) -> None:
    """Add `value` to `counter` on the running activity's metric meter (a no-op without metrics). A 0 is
    added too: the label set's series then exists, at 0, before its first increase."""
    activity.metric_meter().create_counter(*counter).add(value, labels)


def _zeros(meter: MetricMeter, spec: CounterSpec, fixed: dict[str, str],
           **choices: Iterable[str]) -> None:
    counter = meter.create_counter(*spec)
    names = list(choices)
    for values in product(*choices.values()):
        counter.add(0, fixed | dict(zip(names, values, strict=True)))


def initialise_counters(meter: MetricMeter, *, namespace: str, sync_queue: str | None,
                        delivery_queues: Iterable[str]) -> None:
    """Put 0 on the counters of rare events, with the labels the SDK's meters will add, so the first
    event after a start is an increase Prometheus sees. `sync_queue`: where the grain and backfill
    workflows run (None: not served here); `delivery_queues`: the queues with the delivery activities."""
    if sync_queue is not None:
        workflow_labels = {"namespace": namespace, "task_queue": sync_queue}
        _zeros(meter, BACKFILL_PLANNED, workflow_labels | {"workflow_type": "BackfillWorkflow"},
               grain=GRAINS, kind=BACKFILL_KINDS)
        _zeros(meter, BACKFILL_DONE, workflow_labels | {"workflow_type": "BackfillWorkflow"},
               grain=GRAINS, kind=BACKFILL_KINDS, status=BACKFILL_OUTCOMES)
        _zeros(meter, SCHEDULED_RUNS, workflow_labels | {"workflow_type": "ScheduledRunWorkflow"},
               grain=GRAINS, start=("on_time", "late"))
    for queue in delivery_queues:
        fixed = {"namespace": namespace, "task_queue": queue}
        _zeros(meter, DELIVERIES, fixed | {"activity_type": "send_delivery"},
               channel=CHANNEL_TYPES, status=("sent", "failed", "retried"))
        _zeros(meter, DELIVERIES, fixed | {"activity_type": "give_up_delivery"}, channel=CHANNEL_TYPES,
               status=("failed",))


def error_type(error: BaseException) -> str:
    """The type an operator sees in the Web UI: the ApplicationError's type, else the class name."""
    return error.type if isinstance(error, ApplicationError) and error.type else type(error).__name__


def request_context(request, **more: str | None) -> AbstractContextManager[None]:
    """The log context of a span request (tenant, metric, grain, partition or span)."""
    return log_context(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                       partition=request.span, **more)
