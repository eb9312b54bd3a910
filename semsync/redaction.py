"""Masking credentials before they are printed, logged or stored: one helper, `redact`.

Whatever an error says ends up in a workflow history, a log, a status row or the terminal, so every
credential a message can carry is masked first: the password of any URL (a semantic layer URL
``https://user:password@host``, a database URL), a bearer token, a JSON web token, and the value of a
``token=``/``password=``/``secret=``/``key=`` parameter.
"""

from __future__ import annotations

import re

#: ``scheme://user:password@`` (the user part may be empty)
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]+@")
_BEARER = re.compile(r"(\bBearer\s+)[^\s'\",]+", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+")
_PARAMETER = re.compile(
    r"(\b(?:access_token|api_key|apikey|client_secret|password|passwd|secret|secret_key|token)=)[^&\s'\",]+",
    re.IGNORECASE,
)
_MASK = "***"


def redact(message: str) -> str:
    """`message` with every credential in it replaced by ``***``."""
    message = _URL_PASSWORD.sub(rf"\1:{_MASK}@", message)
    message = _BEARER.sub(rf"\g<1>{_MASK}", message)
    message = _JWT.sub(_MASK, message)
    return _PARAMETER.sub(rf"\g<1>{_MASK}", message)


def _has_credential(text: str) -> bool:
    return redact(text) != text


def redact_chain(error: BaseException | None) -> None:
    """Mask credentials in the messages of `error` and of its causes, in place."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if any(isinstance(arg, str) and _has_credential(arg) for arg in error.args):
            error.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in error.args)
        error = error.__cause__ or error.__context__
