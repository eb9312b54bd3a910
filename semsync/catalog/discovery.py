"""Discovery: the registry of contexts that the schedules and backfills run over.

`discover` loads the catalog from its provider (the YAML file or the product's HTTP services),
writes it to the catalog tables (what the sync reads), then brings the context tables in line:

- **metric contexts** (`metric_contexts`, one per ``tenant::metric`` of a sync-enabled tenant): new
  ones are inserted active; those the catalog no longer lists are deactivated (kept, with
  ``deactivated_at``); those that come back are reactivated;
- **pattern contexts** (`metric_pattern_contexts`, ``tenant::metric::pattern`` for every registered
  pattern): add-only, as the design says; a pattern context whose metric is gone is inactive, and
  active again when its metric returns;
- **cache partitions** (``tenant::grain::metric``, `semsync.cache`): derived, not stored: every grain
  of each active metric context of a tenant with a cache target (written with the catalog); the diff
  counts them, `CacheService.partitions` lists them.

The diff counts what changed and names at most `DIFF_SAMPLE` contexts of each kind (a workflow
result stays small whatever the catalog's size); a metric context's ``activated_at`` says when it was
inserted or reactivated, and `started_at` when this discovery began, so that the first syncs can
select "activated since" without a list.

Everything runs per tenant inside its row-level-security scope, set-based. The answer is the diff.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.factory import provider_from_settings
from semsync.catalog.models import Catalog
from semsync.catalog.store import write_catalog
from semsync.config import CatalogSettings
from semsync.contracts import DiscoveryDiff
from semsync.contracts.schedules import sample
from semsync.db.session import tenant_scope
from semsync.encryption import SecretBox
from semsync.partitions import Grain
from semsync.patterns import pattern_names

_UPSERT_METRIC_CONTEXTS = """
INSERT INTO metric_contexts AS c (tenant_id, metric_id, context_key, is_active)
SELECT :tenant_id, m, :tenant || '::' || m, true FROM unnest(CAST(:metrics AS text[])) AS m
ON CONFLICT (context_key) DO UPDATE SET is_active = true, last_seen_at = now(), deactivated_at = NULL,
    activated_at = CASE WHEN c.is_active THEN c.activated_at ELSE now() END
RETURNING metric_id, (xmax = 0) AS inserted
"""

_DEACTIVATE_METRIC_CONTEXTS = """
UPDATE metric_contexts SET is_active = false, deactivated_at = now()
WHERE tenant_id = :tenant_id AND is_active AND NOT (metric_id = ANY(CAST(:metrics AS text[])))
RETURNING metric_id
"""

_ADD_PATTERN_CONTEXTS = """
INSERT INTO metric_pattern_contexts (tenant_id, metric_id, pattern, context_key, is_active)
SELECT :tenant_id, m, p, :tenant || '::' || m || '::' || p, true
FROM unnest(CAST(:metrics AS text[])) AS m, unnest(CAST(:patterns AS text[])) AS p
ON CONFLICT (context_key) DO NOTHING
RETURNING context_key
"""

_FOLLOW_METRICS = """
UPDATE metric_pattern_contexts
SET is_active = (metric_id = ANY(CAST(:metrics AS text[]))),
    deactivated_at = CASE WHEN metric_id = ANY(CAST(:metrics AS text[])) THEN NULL ELSE now() END,
    last_seen_at = CASE WHEN metric_id = ANY(CAST(:metrics AS text[])) THEN now() ELSE last_seen_at END
WHERE tenant_id = :tenant_id AND is_active IS DISTINCT FROM (metric_id = ANY(CAST(:metrics AS text[])))
RETURNING context_key, is_active
"""


async def register_contexts(session_factory: async_sessionmaker[AsyncSession], catalog: Catalog) -> DiscoveryDiff:
    """Bring the context tables in line with `catalog` (already written to the catalog tables)."""
    wanted = {t.identifier: sorted(m.id for m in t.metrics) for t in catalog.tenants if t.sync_enabled}
    async with session_factory() as session:
        # before any context is (re)activated: the first syncs select contexts activated since then
        started_at = (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
        tenants = (await session.execute(text("SELECT id, identifier FROM tenants ORDER BY identifier"))).all()
    diff = DiscoveryDiff(tenants=len(wanted), metrics=sum(len(m) for m in wanted.values()), started_at=started_at)
    patterns = pattern_names()
    cached = {t.identifier for t in catalog.tenants if t.sync_enabled and t.cache is not None}
    for tenant_id, identifier in tenants:
        metrics = wanted.get(identifier, [])
        keys = {"tenant_id": tenant_id, "tenant": identifier, "metrics": metrics}
        async with tenant_scope(session_factory, tenant_id) as session:
            before = {row.metric_id: row.is_active for row in await session.execute(
                text("SELECT metric_id, is_active FROM metric_contexts WHERE tenant_id = :t"), {"t": tenant_id})}
            if metrics:
                await session.execute(text(_UPSERT_METRIC_CONTEXTS), keys)
            gone = (await session.execute(text(_DEACTIVATE_METRIC_CONTEXTS), keys)).scalars().all()
            added = (await session.execute(text(_ADD_PATTERN_CONTEXTS), keys | {"patterns": patterns})).scalars().all()
            followed = (await session.execute(text(_FOLLOW_METRICS), keys)).all()
        diff.add_new([f"{identifier}::{m}" for m in metrics if m not in before])
        diff.add_reactivated([f"{identifier}::{m}" for m in metrics if before.get(m) is False])
        diff.add_deactivated([f"{identifier}::{m}" for m in gone])
        diff.pattern_contexts_added += len(added)
        diff.pattern_contexts_deactivated += sum(not active for _, active in followed)
        diff.pattern_contexts_reactivated += sum(bool(active) for _, active in followed)
        if identifier in cached:
            diff.cache_partitions += len(metrics) * len(Grain)
    return diff


class Discovery:
    """Loads the catalog from its provider, writes it, registers the contexts."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: CatalogSettings,
                 http: httpx.AsyncClient, box: SecretBox | None = None) -> None:
        self.session_factory, self.settings, self.http = session_factory, settings, http
        #: seals the connections it writes (the composition root hands it in; None: the settings' keys)
        self.box = box

    async def discover(self) -> DiscoveryDiff:
        async with provider_from_settings(self.settings, http_client=self.http) as provider:
            catalog = await provider.load()
        summary = await write_catalog(self.session_factory, catalog, box=self.box)
        diff = await register_contexts(self.session_factory, catalog)
        diff.catalog_rows_changed = summary.changed
        diff.disabled_tenants = sample(summary.disabled_tenants)
        diff.problem_count = len(getattr(provider, "problems", []))
        diff.problems = sample(getattr(provider, "problems", []))
        return diff
