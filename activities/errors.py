"""How semsync's errors cross into Temporal.

A `SemsyncError` that a retry cannot fix (bad key, unknown tenant or metric, a 4xx from the
semantic layer) becomes a non-retryable `ApplicationError` whose type is the error's class name, so
the Web UI shows e.g. `UnknownMetricError` instead of an endless retry loop.

Whatever leaves an activity is written into the workflow's history and the worker's log, so the
password of any URL in an error's message (a semantic layer URL ``https://user:password@host``, a
database URL) is masked first, in the error and in every error of its chain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from semsync.errors import SemsyncError

#: ``scheme://user:password@`` (the user part may be empty)
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]+@")


def redact(message: str) -> str:
    """`message` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", message)


def redact_chain(error: BaseException | None) -> None:
    """Mask URL passwords in the messages of `error` and of its causes, in place."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if any(isinstance(arg, str) and _URL_PASSWORD.search(arg) for arg in error.args):
            error.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in error.args)
        error = error.__cause__ or error.__context__


@contextmanager
def as_application_errors() -> Iterator[None]:
    try:
        yield
    except SemsyncError as exc:
        redact_chain(exc)
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not exc.retryable) from exc
    except Exception as exc:
        redact_chain(exc)
        raise
