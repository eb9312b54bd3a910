"""How a failure reads in results and the ledger: the innermost cause's message, with its type."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, FailureError


def describe(error: BaseException) -> str:
    """``UnknownMetricError: unknown metric 'profit' …`` from an ActivityError or ChildWorkflowError chain."""
    cause: BaseException = error
    while isinstance(cause, FailureError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    if isinstance(cause, FailureError):
        return cause.message
    return f"{type(cause).__name__}: {cause}"
