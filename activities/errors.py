"""How semsync's typed errors cross into Temporal.

A `SemsyncError` that a retry cannot fix (bad key, unknown tenant or metric, a 4xx from the
semantic layer) becomes a non-retryable `ApplicationError` whose type is the error's class name, so
the Web UI shows e.g. `UnknownMetricError` instead of an endless retry loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from semsync.errors import SemsyncError


@contextmanager
def as_application_errors() -> Iterator[None]:
    try:
        yield
    except SemsyncError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from exc
