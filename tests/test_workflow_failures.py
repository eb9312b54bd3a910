"""A failed workflow as the CLI reports it: its root cause, and the documented exit code."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from starter.orchestration import failure_exit_code
from workflows.failures import describe


def failed(cause_type: str, message: str, non_retryable: bool = True) -> WorkflowFailureError:
    root = ApplicationError(message, type=cause_type, non_retryable=non_retryable)
    activity = ActivityError("activity error", scheduled_event_id=5, started_event_id=6, identity="w",
                             activity_type="plan_sync", activity_id="1", retry_state=RetryState.NON_RETRYABLE_FAILURE)
    activity.__cause__ = root
    workflow = ApplicationError("sync failed", type="SyncFailed", non_retryable=True)
    workflow.__cause__ = activity
    error = WorkflowFailureError(cause=workflow)
    return error


def test_the_root_cause_is_named_and_bad_input_exits_2():
    error = failed("UnknownMetricError", "unknown metric 'revnue' of tenant 'acme'")
    assert describe(error) == "UnknownMetricError: unknown metric 'revnue' of tenant 'acme'"
    assert failure_exit_code(error) == 2
    assert failure_exit_code(failed("PartitionKeyError", "2025-13-01")) == 2


def test_a_failure_a_retry_may_fix_exits_1():
    assert failure_exit_code(failed("SourceUnavailableError", "HTTP 503", non_retryable=False)) == 1
    assert failure_exit_code(failed("SomethingElse", "?")) == 1
