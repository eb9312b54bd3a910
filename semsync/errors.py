"""The typed errors semsync raises.

Every error says whether a retry could fix it (`retryable`). The Temporal layer turns a
non-retryable error into `ApplicationError(non_retryable=True, type=<class name>)`, so an operator
sees e.g. `PartitionKeyError` in the Web UI instead of an endless retry loop.
"""

from __future__ import annotations

#: about how much of an error's text is stored or carried (ledger, status rows, deliveries,
#: workflow results and continue-as-new state): a source can answer with a 100 KB page
MAX_ERROR_TEXT = 1000


def cut(value: str | None, limit: int = MAX_ERROR_TEXT) -> str | None:
    """`value` cut to about `limit` characters, keeping its start and its end (where a message and
    the innermost cause usually are): ``first 497 chars … last 497 chars``."""
    if value is None or len(value) <= limit:
        return value
    half = limit // 2 - 3
    return f"{value[:half]} … {value[-half:]}"


class SemsyncError(Exception):
    """Base class of every error semsync raises on purpose."""

    retryable: bool = False


class InvalidInputError(SemsyncError, ValueError):
    """Input that can never succeed: a malformed key, range, context or definition.

    `part` names the offending piece of the input (e.g. ``"week number"``, ``"tenant"``).
    """

    def __init__(self, message: str, *, part: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.part = part
        self.value = value


class PartitionKeyError(InvalidInputError):
    """A partition key that does not parse or names no partition of its grain."""


class PartitionRangeError(InvalidInputError):
    """A partition range that is reversed, out of bounds or mixes contexts."""


class ContextError(InvalidInputError):
    """A malformed `tenant::metric` or `tenant::metric::pattern` context."""


class CatalogError(InvalidInputError):
    """A catalog entry that fails validation; the message names the file, entry and field."""


class NotSyncedError(InvalidInputError):
    """Work asked of data that was never synced (a pattern run before any sync of its grain)."""


class ConfigurationError(SemsyncError):
    """A setting that cannot work (a malformed or missing key, a refused role): fix it and run again."""


class NotFoundError(SemsyncError, LookupError):
    """A tenant, metric or dimension that the catalog does not know."""


class UnknownTenantError(NotFoundError):
    pass


class UnknownMetricError(NotFoundError):
    pass


class TenantSyncDisabledError(SemsyncError):
    """The tenant exists but its sync is disabled in the catalog."""


class SourceError(SemsyncError):
    """A semantic layer failure."""


class SourceRequestError(SourceError):
    """The semantic layer rejected the query (HTTP 4xx, bad member, bad auth): retrying cannot help."""

    retryable = False


class SourceUnavailableError(SourceError):
    """The semantic layer is down, slow or still computing (5xx, timeout, Continue wait past deadline)."""

    retryable = True


class ComponentTooLargeError(SemsyncError):
    """A component's window holds more rows than a sync may take in one go
    (`SemanticLayerSettings.max_rows_per_component`): a retry would fetch as many again."""

    retryable = False


class CacheTargetError(SemsyncError):
    """A tenant's cache target refused the write for a reason that is the user's to fix (bad credentials,
    a missing warehouse, database or schema, a missing privilege): retrying cannot help."""

    retryable = False


class CacheTargetUnavailableError(SemsyncError):
    """A tenant's cache target could not be reached or timed out: a retry may help."""

    retryable = True


class CatalogServiceError(SemsyncError):
    """The product's catalog service (tenants, metrics, OAuth2 token) failed."""


class CatalogUnavailableError(CatalogServiceError):
    """The service is down, slow or answered 5xx/429: a retry may help."""

    retryable = True


class CatalogRequestError(CatalogServiceError):
    """The service rejected the request (4xx: bad credentials, forbidden, not found): retrying cannot help."""

    retryable = False


#: SQLSTATE classes that a retry cannot fix: 28 invalid authorization (a wrong password, an unknown
#: role), 3D invalid catalog name (no such database), 42501 insufficient privilege
_CONFIGURATION_SQLSTATES = ("28", "3D", "42501")


def is_configuration_error(exc: BaseException) -> bool:
    """Whether `exc` (or its cause) is a database refusal that only a configuration change fixes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
        if isinstance(state, str) and state.startswith(_CONFIGURATION_SQLSTATES):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
