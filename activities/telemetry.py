"""semsync's own metrics and log context in the activities.

The counters are made through the SDK's `activity.metric_meter()`, so they are exported by the
worker's runtime next to the SDK's own metrics (`SEMSYNC_WORKER__METRICS_PORT`: the Prometheus
endpoint), with the SDK's labels (namespace, task_queue, activity_type) added:

- `semsync_rows_synced` (grain, component: base or dimension, sync_type): rows fetched into a
  component's window; `semsync_rows_written` (same labels): of those, rows inserted or updated;
- `semsync_sync_component_failures` (grain, component, error_type, final): a failed component attempt
  (final="false": Temporal retries it) and a component recorded FAILED after its last attempt
  (final="true");
- `semsync_pattern_runs` (pattern, grain, status: succeeded, result_errors, failed): pattern activity
  runs, one per pattern of a batch (a batch that fails as a whole counts once, pattern="all");
  result_errors means stored, with some dates carrying a typed error such as insufficient_data;
  `semsync_pattern_results_stored` (pattern, grain): results upserted.

Every line logged inside an activity carries its tenant, metric, grain and partition (span)
(`semsync.observability.log_context`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from semsync.observability import log_context


def count(name: str, description: str, value: int = 1, **labels: str) -> None:
    """Add `value` to the counter `name` of the running activity's metric meter (a no-op without metrics)."""
    if value:
        activity.metric_meter().create_counter(name, description).add(value, labels)


def error_type(error: BaseException) -> str:
    """The type an operator sees in the Web UI: the ApplicationError's type, else the class name."""
    return error.type if isinstance(error, ApplicationError) and error.type else type(error).__name__


def request_context(request, **more: str | None) -> AbstractContextManager[None]:
    """The log context of a span request (tenant, metric, grain, partition or span)."""
    return log_context(tenant=request.tenant, metric=request.metric_id, grain=request.grain.value,
                       partition=request.span, **more)
