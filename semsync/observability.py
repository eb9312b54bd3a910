"""Logs an operator can search: every line of a sync or a pattern run names its tenant, metric, grain
and partition, as text or as one JSON object a line (``SEMSYNC_LOG_FORMAT=json``).

Where the context comes from, first found wins:

1. the record's own ``extra`` (``logger.info(..., extra={"tenant": ...})``);
2. `log_context(...)`, which the activities enter with their input's context (a context variable, so
   the domain code's own loggers, running inside the activity, carry it too);
3. the workflow id of a Temporal record (``workflow.logger`` and ``activity.logger`` put it in
   ``temporal_workflow`` / ``temporal_activity``): semsync's ids are the context
   (``sync/day/2025-07-01/acme::revenue``, ``patterns/week/2025-W27:2025-W30/acme::revenue::forecasting``),
   so a workflow's lines carry it without the workflow code repeating it.

Standard library only: the worker installs it with `configure_logging`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from semsync.redaction import redact

#: the fields every semsync log line carries (None where a line has no such context); `dimension` names
#: the component of a sync activity (None: the base series)
CONTEXT_FIELDS = ("tenant", "metric", "grain", "partition", "pattern", "dimension")

_CONTEXT: ContextVar[Mapping[str, str] | None] = ContextVar("semsync_log_context", default=None)

#: the attributes every `LogRecord` has; whatever else a record carries came from `extra`
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Lines logged inside (in this task and the code it awaits) carry `fields` (None ones are left out)."""
    merged = {**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context_from_workflow_id(workflow_id: str) -> dict[str, str]:
    """The context a semsync workflow id names: ``{kind}/{grain}/{span}/{tenant}::{metric}[::{pattern}]``;
    other ids (``backfill/…``, ``scheduled/day``) give what they hold."""
    parts = workflow_id.split("/")
    if parts[0] in ("sync", "patterns") and len(parts) == 4:
        _, grain, span, context = parts
        names = context.split("::")
        found = {"grain": grain, "partition": span, "tenant": names[0]}
        if len(names) > 1:
            found["metric"] = names[1]
        if len(names) > 2:
            found["pattern"] = names[2]
        return found
    if parts[0] == "scheduled" and len(parts) == 2:
        return {"grain": parts[1]}
    return {}


class ContextFilter(logging.Filter):
    """Sets `CONTEXT_FIELDS` on every record (install on the handler, so every logger's lines get them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        found: dict[str, str] = {}
        for temporal in ("temporal_activity", "temporal_workflow"):
            info = getattr(record, temporal, None)
            if isinstance(info, Mapping) and info.get("workflow_id"):
                found = context_from_workflow_id(str(info["workflow_id"]))
                break
        found.update(_CONTEXT.get() or {})
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, found.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context fields, the
    Temporal ids (``workflow_id``, ``run_id``, ``activity_type``…), any other ``extra``, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            line[name] = getattr(record, name, None)
        for key, value in vars(record).items():
            if key in _RECORD_ATTRIBUTES or key in line or key == "context":
                continue
            if key in ("temporal_workflow", "temporal_activity") and isinstance(value, Mapping):
                line.update({k: v for k, v in value.items() if k not in line})
            else:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [tenant::metric::pattern grain partition]: message``; the brackets only where
    the line has a context."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        names = "::".join(v for v in (getattr(record, k, None) for k in ("tenant", "metric", "pattern")) if v)
        where = " ".join(v for v in (names, getattr(record, "grain", None), getattr(record, "partition", None)) if v)
        record.context = f" [{where}]" if where else ""
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))  # the message and any traceback: no credential in a log


def log_handler(log_format: str = "text") -> logging.Handler:
    """A stderr handler with the context filter and the `log_format` (`text` or `json`) formatter."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """The root logger writes through `log_handler(log_format)` (replacing its handlers)."""
    logging.basicConfig(level=level, handlers=[log_handler(log_format)], force=True)
