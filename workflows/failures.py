"""How a failure reads in results and the ledger: the innermost cause's message, with its type."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from semsync.errors import cut


def describe(error: BaseException) -> str:
    """``UnknownMetricError: unknown metric 'profit' …`` from an ActivityError or ChildWorkflowError chain,
    cut to about `semsync.errors.MAX_ERROR_TEXT` characters (start and end kept): it is carried and stored."""
    cause: BaseException = error
    while isinstance(cause, FailureError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        text = f"{cause.type}: {cause.message}"
    elif isinstance(cause, FailureError):
        text = cause.message
    else:
        text = f"{type(cause).__name__}: {cause}"
    return cut(text)
