"""How semsync's errors cross into Temporal.

A `SemsyncError` that a retry cannot fix (bad key, unknown tenant or metric, a 4xx from the
semantic layer) becomes a non-retryable `ApplicationError` whose type is the error's class name, so
the Web UI shows e.g. `UnknownMetricError` instead of an endless retry loop.

Whatever leaves an activity is written into the workflow's history and the worker's log, so the
password of any URL in an error's message (a semantic layer URL ``https://user:password@host``, a
database URL) is masked first, in the error and in every error of its chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from semsync.errors import SemsyncError, is_configuration_error
from semsync.redaction import redact_chain


@contextmanager
def as_application_errors() -> Iterator[None]:
    try:
        yield
    except SemsyncError as exc:
        redact_chain(exc)
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from exc
    except Exception as exc:
        redact_chain(exc)
        if is_configuration_error(exc):  # a wrong password or role: retrying cannot help
            raise ApplicationError(f"the database refused semsync's role: {exc}", type="DatabaseConfigurationError",
                                   non_retryable=True) from exc
        raise
