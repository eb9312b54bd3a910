"""How a failure reads in results and the ledger: the innermost cause's message, with its type."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, FailureError


def root_cause(error: BaseException) -> BaseException:
    """The innermost cause of an ActivityError, ChildWorkflowError or a client's WorkflowFailureError."""
    cause: BaseException = error
    while (isinstance(cause, FailureError) or type(cause).__name__ == "WorkflowFailureError") \
            and getattr(cause, "cause", None) is not None:
        cause = cause.cause
    return cause


def describe(error: BaseException) -> str:
    """``UnknownMetricError: unknown metric 'profit' …`` from an ActivityError or ChildWorkflowError chain
    (or the client's WorkflowFailureError)."""
    cause = root_cause(error)
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    if isinstance(cause, FailureError):
        return cause.message
    return f"{type(cause).__name__}: {cause}"
