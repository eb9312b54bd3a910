"""How a failure reads in results and the ledger: the innermost cause's message, with its type."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from semsync.errors import cut


def root_cause(error: BaseException) -> BaseException:
    """The innermost cause of an ActivityError, ChildWorkflowError or a client's WorkflowFailureError."""
    cause: BaseException = error
    while (isinstance(cause, FailureError) or type(cause).__name__ == "WorkflowFailureError") \
            and getattr(cause, "cause", None) is not None:
        cause = cause.cause
    return cause


def describe(error: BaseException) -> str:
    """``UnknownMetricError: unknown metric 'profit' …`` from an ActivityError or ChildWorkflowError chain
    (or the client's WorkflowFailureError), cut to about `semsync.errors.MAX_ERROR_TEXT` characters (start
    and end kept): it is carried and stored."""
    cause = root_cause(error)
    if isinstance(cause, ApplicationError) and cause.type:
        text = f"{cause.type}: {cause.message}"
    elif isinstance(cause, FailureError):
        text = cause.message
    else:
        text = f"{type(cause).__name__}: {cause}"
    return cut(text)
