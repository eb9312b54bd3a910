"""Masking credentials before they are printed, logged or stored.

Whatever an error says ends up in a workflow history, a log or a status row, so the password of any
URL in it (a semantic layer URL ``https://user:password@host``, a database URL) is masked first.
"""

from __future__ import annotations

import re

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
