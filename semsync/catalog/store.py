"""The catalog tables: write a Catalog into them, and read tenants and metric definitions back.

`write_catalog` makes the tables equal to the catalog in one transaction: tenants are upserted by
identifier, and per tenant (with RLS scoped to it) metrics, dimensions and targets are upserted
set-based (one statement per table) and those no longer in the catalog are deleted, so a reload
equals a fresh load and a failed load leaves the previous catalog in place. Rows whose content did
not change are not rewritten. Tenants missing from the catalog are never deleted (their time series
would go with them): they are marked sync-disabled, and discovery leaves them alone.

A tenant's semantic layer connection (Cube URL, token or signing key; a database URL) is stored
encrypted (`semsync.encryption`): a dump of the tables reveals none of it. An unchanged connection
keeps its stored token, so a reload rewrites nothing. A tenant dropped from the catalog keeps its data
and loses its connection (``{"type": "none"}``).

Writing needs the catalog role (``SEMSYNC_DATABASE__CATALOG_URL``): the app role the workers sync
with only reads ``tenants``.

`get_tenant` (or `lookup_tenant`, which adds the id) and `get_metric` are what the sync service calls
per run: one query each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.models import CacheTarget, Catalog, MetricDef, NoConnection, TenantDef
from semsync.catalog.provider import CatalogProvider
from semsync.db.session import TENANT_SETTING, tenant_scope
from semsync.encryption import ENVELOPE, SecretBox
from semsync.errors import CatalogError, UnknownMetricError, UnknownTenantError
from semsync.notify.channels import Notifications

LOAD_HINT = "add it to the catalog and run `python -m starter catalog load FILE`"


@dataclass(frozen=True)
class CatalogWriteSummary:
    """What `write_catalog` wrote: entries in the catalog, rows that changed, rows removed."""

    tenants: int
    metrics: int
    dimensions: int
    targets: int
    #: rows inserted or updated (0 when the catalog was already loaded)
    changed: int
    #: metrics, dimensions and targets deleted because the catalog no longer has them
    removed: int
    #: tenants in the tables but not in the catalog, now marked sync-disabled (their connection erased)
    disabled_tenants: tuple[str, ...] = ()


def connection_json(connection: BaseModel) -> dict[str, Any]:
    """A semantic layer connection as JSON with its secrets in clear (a plain dump masks them)."""
    data = connection.model_dump(mode="json")
    for name in type(connection).model_fields:
        value = getattr(connection, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return data


def secrets_in_clear(model: BaseModel) -> dict[str, Any]:
    """A model (the tenant's notifications: channels with URLs and secrets) as JSON with every
    secret in clear, however deep (a plain dump masks them): what is sealed at rest."""
    return json.loads(json.dumps(model.model_dump(mode="python", exclude_none=True), default=_clear))


def target_json(target: BaseModel) -> dict[str, Any]:
    """A cache target as JSON with its secrets in clear, by its catalog names (``schema``)."""
    return json.loads(json.dumps(target.model_dump(mode="python", exclude_none=True, by_alias=True), default=_clear))


def _clear(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def default_box() -> SecretBox:
    """The box of this process's settings, for a caller that was handed none (a script, a test); the
    composition root hands its services `settings_box(settings)`."""
    from semsync.config import get_settings

    return settings_box(get_settings())


def settings_box(settings: Any) -> SecretBox:
    """The keys of `settings` (`SEMSYNC_SECRETS__KEYS`, else the embedded stack's key file)."""
    keys = settings.secrets.keys.get_secret_value() if settings.secrets.keys is not None else None
    return _box(keys, settings.state_dir)


@lru_cache(maxsize=4)
def _box(keys: str | None, state_dir: Path) -> SecretBox:
    # one box per configuration: settings re-read (e.g. after `get_settings.cache_clear()`) are followed
    return SecretBox.configured(keys, state_dir)


async def write_catalog(
    session_factory: async_sessionmaker[AsyncSession], catalog: Catalog, *, disable_missing: bool = True,
    box: SecretBox | None = None,
) -> CatalogWriteSummary:
    """Make the catalog tables equal `catalog`, in one transaction; idempotent. `session_factory`
    connects as the catalog role; `box` encrypts the connections (default: `default_box()`)."""
    changed = removed = 0
    box = box or default_box()
    async with session_factory() as session, session.begin():
        tenant_ids, changed = await _upsert_tenants(session, catalog, box)
        disabled: tuple[str, ...] = ()
        if disable_missing:
            disabled = await _disable_missing_tenants(session, list(tenant_ids))
        for tenant in catalog.tenants:
            tenant_id = tenant_ids[tenant.identifier]
            # One transaction for the whole catalog: RLS is re-scoped per tenant (transaction-local).
            await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": TENANT_SETTING, "v": str(tenant_id)})
            c, r = await _write_tenant_metrics(session, tenant_id, tenant.metrics)
            changed, removed = changed + c, removed + r
    return CatalogWriteSummary(
        tenants=len(catalog.tenants),
        metrics=sum(len(t.metrics) for t in catalog.tenants),
        dimensions=sum(len(m.dimensions) for t in catalog.tenants for m in t.metrics),
        targets=sum(len(m.targets) for t in catalog.tenants for m in t.metrics),
        changed=changed,
        removed=removed,
        disabled_tenants=disabled,
    )


async def _sealed(session: AsyncSession, catalog: Catalog, box: SecretBox, column: str,
                  plain_of: Callable[[TenantDef], str | None],
                  dress: Callable[[TenantDef, dict], dict] | None = None) -> list[str | None]:
    """Each tenant's sealed `column` as stored: its stored token when the plain value (`plain_of`;
    None: the tenant has none) is unchanged and sealed with the primary key (so a reload rewrites
    nothing), else freshly sealed and, with `dress`, given what its envelope says in clear."""
    stored = dict((await session.execute(
        text(f"SELECT identifier, {column} FROM tenants WHERE identifier = ANY(CAST(:identifiers AS text[]))"),
        {"identifiers": [t.identifier for t in catalog.tenants]},
    )).all())
    sealed: list[str | None] = []
    for tenant in catalog.tenants:
        plain = plain_of(tenant)
        previous = stored.get(tenant.identifier)
        if plain is None:
            sealed.append(None)
        elif previous and box.is_current(previous) and box.open(previous, tenant=tenant.identifier) == plain:
            sealed.append(json.dumps(previous))
        else:
            envelope = box.seal(plain)
            sealed.append(json.dumps(dress(tenant, envelope) if dress else envelope))
    return sealed


def _notifications_envelope(tenant: TenantDef, envelope: dict) -> dict:
    """Besides the sealed token the envelope says in clear whether the tenant has alert rules (the
    story runs start an alert step only then, without opening it)."""
    envelope.pop("type", None)
    envelope["alerts"] = any(rule.mode == "alert" for rule in tenant.notifications.rules)
    return envelope


async def _upsert_tenants(session: AsyncSession, catalog: Catalog, box: SecretBox) -> tuple[dict[str, int], int]:
    tenants = catalog.tenants
    layers = await _sealed(session, catalog, box, "semantic_layer", lambda t: connection_json(t.semantic_layer))
    notifications = await _sealed(
        session, catalog, box, "notifications",
        lambda t: None if t.notifications is None else secrets_in_clear(t.notifications), _notifications_envelope)
    caches = await _sealed(session, catalog, box, "cache_target", lambda t: None if t.cache is None else
                           target_json(t.cache))
    result = await session.execute(
        text(
            "INSERT INTO tenants (identifier, name, sync_enabled, semantic_layer, pattern_settings, notifications, "
            "  cache_target) "
            "SELECT i, n, e, CAST(s AS jsonb), CAST(p AS jsonb), CAST(x AS jsonb), CAST(c AS jsonb) FROM unnest("
            "  CAST(:identifiers AS text[]), CAST(:names AS text[]), CAST(:enabled AS boolean[]),"
            "  CAST(:layers AS text[]), CAST(:patterns AS text[]), CAST(:notifications AS text[]),"
            "  CAST(:caches AS text[])) AS u(i, n, e, s, p, x, c) "
            "ON CONFLICT (identifier) DO UPDATE SET name = excluded.name, sync_enabled = excluded.sync_enabled, "
            "  semantic_layer = excluded.semantic_layer, pattern_settings = excluded.pattern_settings, "
            "  notifications = excluded.notifications, cache_target = excluded.cache_target, updated_at = now() "
            "WHERE (tenants.name, tenants.sync_enabled, tenants.semantic_layer, tenants.pattern_settings, "
            "  tenants.notifications, tenants.cache_target) IS DISTINCT FROM (excluded.name, excluded.sync_enabled, "
            "  excluded.semantic_layer, excluded.pattern_settings, excluded.notifications, excluded.cache_target)"
        ),
        {
            "identifiers": [t.identifier for t in tenants],
            "names": [t.name for t in tenants],
            "enabled": [t.sync_enabled for t in tenants],
            "layers": layers,
            "patterns": [json.dumps(t.patterns) for t in tenants],
            "notifications": notifications,
            "caches": caches,
        },
    )
    rows = await session.execute(
        text("SELECT identifier, id FROM tenants WHERE identifier = ANY(CAST(:identifiers AS text[]))"),
        {"identifiers": [t.identifier for t in tenants]},
    )
    return {identifier: tenant_id for identifier, tenant_id in rows.all()}, result.rowcount


async def _disable_missing_tenants(session: AsyncSession, identifiers: list[str]) -> tuple[str, ...]:
    rows = await session.execute(
        text(
            "UPDATE tenants t SET sync_enabled = false, semantic_layer = CAST(:none AS jsonb), notifications = NULL, "
            "  cache_target = NULL, updated_at = now() "
            "FROM tenants old WHERE old.id = t.id "
            "  AND (t.sync_enabled OR t.semantic_layer <> CAST(:none AS jsonb) OR t.notifications IS NOT NULL "
            "       OR t.cache_target IS NOT NULL) "
            "  AND NOT (t.identifier = ANY(CAST(:identifiers AS text[]))) RETURNING t.identifier, old.sync_enabled"
        ),
        {"identifiers": identifiers, "none": json.dumps(NoConnection().model_dump())},
    )
    return tuple(sorted(identifier for identifier, was_enabled in rows.all() if was_enabled))


async def _write_tenant_metrics(session: AsyncSession, tenant_id: int, metrics: list[MetricDef]) -> tuple[int, int]:
    """Upsert then prune metrics, dimensions and targets of one tenant: (rows changed, rows removed)."""
    dims = [(m.id, d.id, d.label or d.id, d.member) for m in metrics for d in m.dimensions]
    targets = [(m.id, t) for m in metrics for t in m.targets]
    params: dict[str, Any] = {
        "t": tenant_id,
        "ids": [m.id for m in metrics],
        "labels": [m.label for m in metrics],
        "defs": [m.model_dump_json() for m in metrics],
        "patterns": [json.dumps(m.patterns) for m in metrics],
        "d_metric": [d[0] for d in dims],
        "d_id": [d[1] for d in dims],
        "d_label": [d[2] for d in dims],
        "d_member": [d[3] for d in dims],
        "t_metric": [m for m, _ in targets],
        "t_grain": [t.grain for _, t in targets],
        "t_date": [t.target_date for _, t in targets],
        "t_value": [t.target_value for _, t in targets],
        "t_upper": [t.target_upper_bound for _, t in targets],
        "t_lower": [t.target_lower_bound for _, t in targets],
        "t_yellow": [t.yellow_buffer for _, t in targets],
        "t_red": [t.red_buffer for _, t in targets],
    }
    changed = removed = 0
    for statement in _UPSERTS:
        changed += (await session.execute(text(statement), params)).rowcount
    for statement in _PRUNES:
        removed += (await session.execute(text(statement), params)).rowcount
    return changed, removed


_UPSERTS = (
    "INSERT INTO metrics (tenant_id, metric_id, label, definition, pattern_settings) "
    "SELECT :t, m, l, CAST(d AS jsonb), CAST(p AS jsonb) FROM unnest(CAST(:ids AS text[]), "
    "  CAST(:labels AS text[]), CAST(:defs AS text[]), CAST(:patterns AS text[])) AS u(m, l, d, p) "
    "ON CONFLICT (tenant_id, metric_id) DO UPDATE SET label = excluded.label, definition = excluded.definition, "
    "  pattern_settings = excluded.pattern_settings, updated_at = now() "
    "WHERE (metrics.label, metrics.definition, metrics.pattern_settings) "
    "  IS DISTINCT FROM (excluded.label, excluded.definition, excluded.pattern_settings)",
    "INSERT INTO metric_dimensions (tenant_id, metric_id, dimension_id, label, member) "
    "SELECT :t, m, d, l, x FROM unnest(CAST(:d_metric AS text[]), CAST(:d_id AS text[]), "
    "  CAST(:d_label AS text[]), CAST(:d_member AS text[])) AS u(m, d, l, x) "
    "ON CONFLICT (tenant_id, metric_id, dimension_id) DO UPDATE SET label = excluded.label, "
    "  member = excluded.member, updated_at = now() "
    "WHERE (metric_dimensions.label, metric_dimensions.member) IS DISTINCT FROM (excluded.label, excluded.member)",
    "INSERT INTO metric_targets (tenant_id, metric_id, grain, target_date, target_value, target_upper_bound, "
    "  target_lower_bound, yellow_buffer, red_buffer) "
    "SELECT :t, m, g, d, v, hi, lo, y, r FROM unnest(CAST(:t_metric AS text[]), CAST(:t_grain AS text[]), "
    "  CAST(:t_date AS date[]), CAST(:t_value AS float8[]), CAST(:t_upper AS float8[]), "
    "  CAST(:t_lower AS float8[]), CAST(:t_yellow AS float8[]), CAST(:t_red AS float8[])) "
    "  AS u(m, g, d, v, hi, lo, y, r) "
    "ON CONFLICT (tenant_id, metric_id, grain, target_date) DO UPDATE SET target_value = excluded.target_value, "
    "  target_upper_bound = excluded.target_upper_bound, target_lower_bound = excluded.target_lower_bound, "
    "  yellow_buffer = excluded.yellow_buffer, red_buffer = excluded.red_buffer, updated_at = now() "
    "WHERE (metric_targets.target_value, metric_targets.target_upper_bound, metric_targets.target_lower_bound, "
    "  metric_targets.yellow_buffer, metric_targets.red_buffer) IS DISTINCT FROM (excluded.target_value, "
    "  excluded.target_upper_bound, excluded.target_lower_bound, excluded.yellow_buffer, excluded.red_buffer)",
)

_PRUNES = (
    "DELETE FROM metrics WHERE tenant_id = :t AND NOT (metric_id = ANY(CAST(:ids AS text[])))",
    "DELETE FROM metric_dimensions x WHERE x.tenant_id = :t AND NOT EXISTS (SELECT 1 FROM "
    "  unnest(CAST(:d_metric AS text[]), CAST(:d_id AS text[])) AS k(m, d) "
    "  WHERE k.m = x.metric_id AND k.d = x.dimension_id)",
    "DELETE FROM metric_targets x WHERE x.tenant_id = :t AND NOT EXISTS (SELECT 1 FROM "
    "  unnest(CAST(:t_metric AS text[]), CAST(:t_grain AS text[]), CAST(:t_date AS date[])) AS k(m, g, d) "
    "  WHERE k.m = x.metric_id AND k.g = x.grain AND k.d = x.target_date)",
)

_TENANT_COLUMNS = (
    "id, identifier, name, sync_enabled, semantic_layer, pattern_settings, cache_target IS NOT NULL AS cached")
_TENANT_BY_IDENTIFIER = f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE identifier = :identifier"


@dataclass(frozen=True)
class StoredTenant:
    """A tenant as one catalog query finds it, its connection still sealed: what planning, the ledger
    and the analysis need (id, sync flag, pattern settings). `open` decrypts the connection, which
    only a fetch from the semantic layer needs."""

    id: int
    identifier: str
    name: str
    sync_enabled: bool
    patterns: dict[str, dict[str, Any]]
    has_cache_target: bool
    _row: Any = field(repr=False, compare=False)

    def open(self, box: SecretBox | None = None) -> TenantDef:
        """The tenant's definition with its semantic layer connection opened (decrypted), without metrics."""
        return _tenant_def(self._row, box=box)


def _tenant_def(row: Any, metrics: list[MetricDef] | None = None, box: SecretBox | None = None) -> TenantDef:
    # A tenant registered without a connection (`{}`) uses the default: SQL over semsync's own database.
    layer = row.semantic_layer or {"type": "sql"}
    if _has_connection(layer):
        layer = (box or default_box()).open(layer, tenant=row.identifier)
    try:
        return TenantDef(
            identifier=row.identifier,
            name=row.name,
            sync_enabled=row.sync_enabled,
            semantic_layer=layer,
            patterns=row.pattern_settings,
            metrics=metrics or [],
        )
    except ValidationError as exc:
        raise CatalogError(
            f"tenant {row.identifier!r}: the stored catalog entry is invalid ({_first_problem(exc)}); "
            f"reload it with `python -m starter catalog load FILE`",
            part="tenant",
            value=row.identifier,
        ) from None


def _has_connection(stored: dict[str, Any]) -> bool:
    """Whether a stored connection holds more than its type (sealed, or plain from before encryption);
    `{"type": "sql"}` (the semsync database) and `{"type": "none"}` (a dropped tenant) hold nothing."""
    return bool(set(stored) - {"type"})


def _first_problem(exc: ValidationError) -> str:
    """A validation error's first problem as one phrase (no pydantic prefix, never the input's value)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {message}" if where else message


async def get_tenant(session_factory: async_sessionmaker[AsyncSession], identifier: str) -> TenantDef:
    """The tenant's name, sync flag and semantic layer connection (secrets included), without metrics.

    Metric definitions come one at a time from `get_metric`. Raises UnknownTenantError.
    """
    return (await lookup_tenant(session_factory, identifier))[1]


async def find_tenant(session_factory: async_sessionmaker[AsyncSession], identifier: str) -> StoredTenant:
    """The tenant, in one query, nothing decrypted; raises UnknownTenantError."""
    async with session_factory() as session:
        row = (
            await session.execute(
                text(_TENANT_BY_IDENTIFIER),
                {"identifier": identifier},
            )
        ).first()
    if row is None:
        raise UnknownTenantError(f"unknown tenant {identifier!r}: {LOAD_HINT}")
    return _stored_tenant(row)


def _stored_tenant(row: Any) -> StoredTenant:
    return StoredTenant(id=int(row.id), identifier=row.identifier, name=row.name, sync_enabled=row.sync_enabled,
                        patterns=row.pattern_settings or {}, has_cache_target=bool(row.cached), _row=row)


async def lookup_tenant(session_factory: async_sessionmaker[AsyncSession], identifier: str) -> tuple[int, TenantDef]:
    """The tenant's numeric id (for `tenant_scope`) and its definition without metrics, its connection
    opened, in one query. Whoever needs no connection calls `find_tenant` (nothing decrypted)."""
    tenant = await find_tenant(session_factory, identifier)
    return tenant.id, tenant.open()


async def get_metric(session_factory: async_sessionmaker[AsyncSession], tenant_id: int, metric_id: str) -> MetricDef:
    """A tenant's metric definition; raises UnknownTenantError or UnknownMetricError."""
    async with tenant_scope(session_factory, tenant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT t.identifier, m.definition FROM tenants t "
                    "LEFT JOIN metrics m ON m.tenant_id = t.id AND m.metric_id = :metric_id WHERE t.id = :tenant_id"
                ),
                {"tenant_id": tenant_id, "metric_id": metric_id},
            )
        ).first()
    if row is None:
        raise UnknownTenantError(f"unknown tenant id {tenant_id}: {LOAD_HINT}")
    return _metric_def(row.identifier, metric_id, row.definition)


async def find_tenant_and_metric(session_factory: async_sessionmaker[AsyncSession], identifier: str,
                                 metric_id: str) -> tuple[StoredTenant, MetricDef]:
    """`find_tenant` and `get_metric` in one transaction on one connection (what an activity of one
    metric context reads of the catalog); nothing decrypted. Raises UnknownTenantError or
    UnknownMetricError."""
    async with session_factory() as session, session.begin():
        row = (await session.execute(text(_TENANT_BY_IDENTIFIER), {"identifier": identifier})).first()
        if row is None:
            raise UnknownTenantError(f"unknown tenant {identifier!r}: {LOAD_HINT}")
        await session.execute(text("SELECT set_config(:name, :value, true)"),
                              {"name": TENANT_SETTING, "value": str(int(row.id))})
        definition = (await session.execute(
            text("SELECT definition FROM metrics WHERE tenant_id = :t AND metric_id = :m"),
            {"t": row.id, "m": metric_id})).scalar()
    return _stored_tenant(row), _metric_def(identifier, metric_id, definition)


def _metric_def(tenant: str, metric_id: str, definition: Any) -> MetricDef:
    if definition is None:
        raise UnknownMetricError(f"unknown metric {metric_id!r} of tenant {tenant!r}: {LOAD_HINT}")
    try:
        return MetricDef.model_validate(definition)
    except ValidationError as exc:
        raise CatalogError(
            f"metric {metric_id!r} of tenant {tenant!r}: the stored definition is invalid "
            f"({_first_problem(exc)}); reload the catalog with `python -m starter catalog load FILE`",
            part="metric", value=metric_id,
        ) from None


async def read_catalog(
    session_factory: async_sessionmaker[AsyncSession], *, sync_enabled_only: bool = False,
    box: SecretBox | None = None,
) -> Catalog:
    """The whole catalog as stored (tenants by identifier, metrics by id), in one transaction; `box`
    opens the connections, notifications and cache targets (default: `default_box()`)."""
    box = box or default_box()
    where = "WHERE sync_enabled" if sync_enabled_only else ""
    tenants: list[TenantDef] = []
    async with session_factory() as session, session.begin():
        rows = (await session.execute(text(f"SELECT {_TENANT_COLUMNS}, notifications, cache_target FROM tenants "
                                           f"{where} ORDER BY identifier"))).all()
        for row in rows:
            await session.execute(text("SELECT set_config(:n, :v, true)"), {"n": TENANT_SETTING, "v": str(row.id)})
            definitions = (
                await session.execute(
                    text("SELECT definition FROM metrics WHERE tenant_id = :t ORDER BY metric_id"), {"t": row.id}
                )
            ).scalars()
            tenant = _tenant_def(row, [MetricDef.model_validate(d) for d in definitions], box)
            if row.notifications:
                tenant = tenant.model_copy(update={
                    "notifications": _notifications(row.identifier, row.notifications, box)})
            if row.cache_target:
                tenant = tenant.model_copy(update={
                    "cache": open_cache_target(row.identifier, row.cache_target, box)})
            tenants.append(tenant)
    return Catalog(tenants=tenants)


async def reseal_connections(session_factory: async_sessionmaker[AsyncSession], box: SecretBox | None = None) -> int:
    """Re-encrypt with the primary key every stored connection and notifications sealed with another
    key (or stored plain, from before encryption), in one transaction; returns how many tenants were
    rewritten."""
    box = box or default_box()
    async with session_factory() as session, session.begin():
        rows = (await session.execute(
            text("SELECT id, identifier, semantic_layer, notifications, cache_target FROM tenants "
                 "ORDER BY id FOR UPDATE"))).all()
        stale = [row for row in rows
                 if (_has_connection(row.semantic_layer) and not box.is_current(row.semantic_layer))
                 or (row.notifications and not box.is_current(row.notifications))
                 or (row.cache_target and not box.is_current(row.cache_target))]
        if stale:
            await session.execute(
                text("UPDATE tenants t SET semantic_layer = CAST(u.s AS jsonb), notifications = CAST(u.x AS jsonb), "
                     "  cache_target = CAST(u.c AS jsonb), updated_at = now() FROM unnest(CAST(:ids AS integer[]), "
                     "  CAST(:layers AS text[]), CAST(:notifications AS text[]), CAST(:caches AS text[])) "
                     "  AS u(i, s, x, c) WHERE t.id = u.i"),
                {"ids": [row.id for row in stale],
                 "layers": [json.dumps(_resealed(box, row.semantic_layer, row.identifier)) for row in stale],
                 "notifications": [json.dumps(_resealed(box, row.notifications, row.identifier))
                                   if row.notifications else None for row in stale],
                 "caches": [json.dumps(_resealed(box, row.cache_target, row.identifier))
                            if row.cache_target else None for row in stale]},
            )
    return len(stale)


def _resealed(box: SecretBox, stored: dict[str, Any], tenant: str) -> dict[str, Any]:
    """`stored` sealed with the primary key, its clear fields (the type, the alert flag) kept."""
    if not _has_connection(stored) or box.is_current(stored):
        return stored
    if ENVELOPE not in stored:  # a connection stored before encryption: all of it is sealed
        return box.seal(stored)
    clear = {key: value for key, value in stored.items() if key != ENVELOPE}
    return {**clear, ENVELOPE: box.seal(box.open(stored, tenant=tenant))[ENVELOPE]}


def _notifications(tenant: str, stored: dict[str, Any], box: SecretBox) -> Notifications:
    try:
        return Notifications.model_validate(box.open(stored, tenant=tenant))
    except ValidationError as exc:
        raise CatalogError(
            f"tenant {tenant!r}: the stored notifications are invalid ({_first_problem(exc)}); "
            "reload the catalog with `python -m starter catalog load FILE`", part="notifications", value=tenant,
        ) from None


_CACHE_TARGET: TypeAdapter[Any] = TypeAdapter(CacheTarget)


def open_cache_target(tenant: str, stored: dict[str, Any], box: SecretBox) -> Any:
    """A stored (sealed) cache target as its model, secrets in clear."""
    try:
        return _CACHE_TARGET.validate_python(box.open(stored, tenant=tenant))
    except ValidationError as exc:
        raise CatalogError(
            f"tenant {tenant!r}: the stored cache target is invalid ({_first_problem(exc)}); "
            "reload the catalog with `python -m starter catalog load FILE`", part="cache", value=tenant,
        ) from None


async def read_cache_target(session_factory: async_sessionmaker[AsyncSession], identifier: str,
                            box: SecretBox | None = None) -> tuple[int, Any]:
    """A tenant's id and cache target (None: it has none), in one query; raises UnknownTenantError."""
    async with session_factory() as session:
        row = (await session.execute(
            text("SELECT id, cache_target FROM tenants WHERE identifier = :identifier"),
            {"identifier": identifier})).first()
    if row is None:
        raise UnknownTenantError(f"unknown tenant {identifier!r}: {LOAD_HINT}")
    target = open_cache_target(identifier, row.cache_target, box or default_box()) if row.cache_target else None
    return int(row.id), target


@dataclass(frozen=True)
class TenantNotifications:
    """A tenant's notifications as the delivery activities read them (secrets in clear)."""

    tenant_id: int
    identifier: str
    name: str
    notifications: Notifications | None


async def read_notifications(session_factory: async_sessionmaker[AsyncSession], identifier: str,
                             box: SecretBox | None = None) -> TenantNotifications:
    """A tenant's id, name and notifications, in one query; raises UnknownTenantError."""
    async with session_factory() as session:
        row = (await session.execute(
            text("SELECT id, identifier, name, notifications FROM tenants WHERE identifier = :identifier"),
            {"identifier": identifier})).first()
    if row is None:
        raise UnknownTenantError(f"unknown tenant {identifier!r}: {LOAD_HINT}")
    notifications = (_notifications(identifier, row.notifications, box or default_box())
                     if row.notifications else None)
    return TenantNotifications(int(row.id), row.identifier, row.name, notifications)


class DatabaseCatalog(CatalogProvider):
    """The catalog as `python -m starter catalog load` wrote it into the tables."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], box: SecretBox | None = None) -> None:
        self.session_factory = session_factory
        self.box = box

    async def load(self) -> Catalog:
        return await read_catalog(self.session_factory, sync_enabled_only=True, box=self.box)
