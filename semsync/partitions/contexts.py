"""Metric contexts: what a time series belongs to, ``tenant::metric`` or ``tenant::metric::pattern``.

Each part is an identifier of 1-64 characters matching ``[A-Za-z0-9_][A-Za-z0-9_.-]*``: no ``|``,
no ``:``, no whitespace, never empty. `parse_context` and the ``from_string`` constructors raise
`ContextError` whose ``part`` is ``"tenant"``, ``"metric"`` or ``"pattern"`` (``value`` the bad
identifier) or, for the wrong number of ``::`` parts, ``"context"`` (``value`` the whole string).
Building a model directly with a bad part raises pydantic's ``ValidationError`` with the same message.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from semsync.errors import ContextError

CONTEXT_SEPARATOR = "::"
MAX_IDENTIFIER_LENGTH = 64
IDENTIFIER_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_SINGLE_COLON = re.compile(r"(?<!:):(?!:)")
_SHAPES = "tenant::metric or tenant::metric::pattern"


def check_identifier(part: str, value: object, context: str | None = None) -> str:
    """`value` if it is a valid `part` (tenant, metric or pattern) identifier, else `ContextError`."""
    where = f"context {context!r}: " if context is not None else ""
    if not isinstance(value, str):
        raise ContextError(
            f"{where}{part} must be a string, not {type(value).__name__}", part=part, value=value
        )
    problem = None
    if not value:
        problem = "is empty"
    elif len(value) > MAX_IDENTIFIER_LENGTH:
        problem = f"is {len(value)} characters long (at most {MAX_IDENTIFIER_LENGTH})"
    elif not _IDENTIFIER.fullmatch(value):
        bad = next((ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "_.-"))), None)
        problem = (
            f"contains {bad!r}" if bad is not None else f"starts with {value[0]!r}"
        ) + " (allowed: letters, digits, '_', and '.' or '-' after the first character)"
    if problem is not None:
        raise ContextError(f"{where}{part} {value!r} {problem}", part=part, value=value)
    return value


def split_context(text: str, parts: int | None = None) -> list[str]:
    """The ``::``-separated parts of `text`, checked; `parts` (2 or 3) if given, else either."""
    if not isinstance(text, str):
        raise ContextError(f"context must be a string, not {type(text).__name__}", part="context", value=text)
    pieces = text.split(CONTEXT_SEPARATOR)
    allowed = (parts,) if parts is not None else (2, 3)
    if len(pieces) not in allowed:
        expected = {2: "tenant::metric", 3: "tenant::metric::pattern"}.get(parts, _SHAPES)
        hint = " (the separator is '::', not ':')" if _SINGLE_COLON.search(text) else ""
        raise ContextError(
            f"context {text!r} has {len(pieces)} '::'-separated part{'s' * (len(pieces) != 1)}; "
            f"expected {expected}{hint}",
            part="context",
            value=text,
        )
    for name, piece in zip(("tenant", "metric", "pattern"), pieces, strict=False):
        check_identifier(name, piece, text)
    return pieces


class _ContextModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _identifier(cls, value: object, info: ValidationInfo) -> str:
        return check_identifier(info.field_name or "context", value)

    def to_string(self) -> str:
        """The context as ``tenant::metric[::pattern]``."""
        return CONTEXT_SEPARATOR.join(self.model_dump().values())

    @property
    def key(self) -> str:
        """The context's key: the same as `to_string()`."""
        return self.to_string()

    def __str__(self) -> str:
        return self.to_string()


class MetricContext(_ContextModel):
    """One metric of one tenant: ``acme::revenue``."""

    tenant: str
    metric: str

    @classmethod
    def from_string(cls, text: str) -> Self:
        """Parse ``tenant::metric``."""
        tenant, metric = split_context(text, 2)
        return cls(tenant=tenant, metric=metric)


class MetricPatternContext(_ContextModel):
    """One pattern analysis of one metric of one tenant: ``acme::revenue::forecasting``."""

    tenant: str
    metric: str
    pattern: str

    @classmethod
    def from_string(cls, text: str) -> Self:
        """Parse ``tenant::metric::pattern``."""
        tenant, metric, pattern = split_context(text, 3)
        return cls(tenant=tenant, metric=metric, pattern=pattern)

    def to_metric_context(self) -> MetricContext:
        """The metric this pattern analyses: ``acme::revenue`` for ``acme::revenue::forecasting``."""
        return MetricContext(tenant=self.tenant, metric=self.metric)


def parse_context(text: str) -> MetricContext | MetricPatternContext:
    """``tenant::metric`` as a `MetricContext`, ``tenant::metric::pattern`` as a `MetricPatternContext`."""
    pieces = split_context(text)
    if len(pieces) == 2:
        return MetricContext(tenant=pieces[0], metric=pieces[1])
    return MetricPatternContext(tenant=pieces[0], metric=pieces[1], pattern=pieces[2])
