"""Catalog tables: a load writes them, a reload equals a fresh load, and reads go through RLS."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from semsync.catalog.file import parse_catalog
from semsync.catalog.models import Catalog, CubeAuthType, CubeConnection, NoConnection
from semsync.catalog.store import (
    DatabaseCatalog,
    default_box,
    get_metric,
    get_tenant,
    lookup_tenant,
    read_catalog,
    reseal_connections,
    write_catalog,
)
from semsync.db.session import tenant_scope
from semsync.encryption import SecretBox, new_key
from semsync.errors import CatalogError, ConfigurationError, UnknownMetricError, UnknownTenantError

CATALOG = """
tenants:
  - identifier: acme
    name: Acme Inc.
    semantic_layer:
      type: cube
      cube_api_url: "http://127.0.0.1:4000"
      auth_type: SECRET_KEY
      secret_key: s3cr3t-key-of-32-bytes-for-hs256
    metrics:
      - id: revenue
        label: Revenue
        source: {type: cube, measure: orders.revenue, time_dimension: orders.created_at,
                 filters: [{member: orders.status, operator: equals, values: [paid]}]}
        dimensions:
          - {id: region, label: Region, member: orders.region}
          - {id: channel, member: orders.channel}
        targets:
          - {grain: month, target_date: 2025-07-01, target_value: 1000, yellow_buffer: 0.05}
          - {grain: month, target_date: 2025-08-01, target_value: 1100}
        patterns: {performance_status: {threshold_ratio: 0.1}}
      - id: orders
        label: Orders
        source: {type: cube, measure: orders.count, time_dimension: orders.created_at}
        dimensions: [{id: region, member: orders.region}]
  - identifier: globex
    name: Globex
    semantic_layer: {type: sql, database_url: "postgresql+asyncpg://u:pw@host/db"}
    metrics:
      - id: revenue
        label: Globex revenue
        source: {type: sql, table: warehouse.sales, value: sum(amount), time_column: sold_at}
  - identifier: initech
    name: Initech
    sync_enabled: false
    metrics: []
"""


async def table_contents(db) -> dict[str, list[tuple]]:
    """Every catalog row with its tenant's identifier (no timestamps or surrogate ids), read as the owner."""
    join = "JOIN tenants t ON t.id = x.tenant_id"
    queries = {
        "tenants": "SELECT identifier, name, sync_enabled, semantic_layer, pattern_settings::text FROM tenants",
        "metrics": f"SELECT t.identifier, metric_id, label, definition::text, x.pattern_settings::text "
        f"FROM metrics x {join}",
        "metric_dimensions": f"SELECT t.identifier, metric_id, dimension_id, label, member "
        f"FROM metric_dimensions x {join}",
        "metric_targets": f"SELECT t.identifier, metric_id, grain, target_date, target_value, target_upper_bound, "
        f"target_lower_bound, yellow_buffer, red_buffer FROM metric_targets x {join}",
    }
    async with db.admin_engine.connect() as conn:
        contents = {name: sorted(map(tuple, (await conn.execute(text(q))).all())) for name, q in queries.items()}
    # the connections as they decrypt (each write of a changed connection seals it afresh)
    contents["tenants"] = [(*row[:3], json.dumps(default_box().open(row[3], tenant=row[0])), row[4])
                           for row in contents["tenants"]]
    return contents


async def test_load_writes_every_table(db):
    summary = await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    assert (summary.tenants, summary.metrics, summary.dimensions, summary.targets) == (3, 3, 3, 2)
    assert summary.changed == 3 + 3 + 3 + 2
    contents = await table_contents(db)
    assert [row[:3] for row in contents["tenants"]] == [
        ("acme", "Acme Inc.", True), ("globex", "Globex", True), ("initech", "Initech", False)
    ]
    assert ("acme", "revenue", "channel", "channel", "orders.channel") in contents["metric_dimensions"]
    assert ("acme", "revenue", "month", date(2025, 7, 1), 1000.0, None, None, 0.05, None) in contents["metric_targets"]


async def test_reload_changes_nothing_and_equals_a_fresh_load(db):
    catalog = parse_catalog(CATALOG)
    await write_catalog(db.catalog_session_factory, catalog)
    first = await table_contents(db)
    again = await write_catalog(db.catalog_session_factory, catalog)
    assert again.changed == 0 and again.removed == 0
    assert await table_contents(db) == first


async def test_reload_removes_what_the_catalog_dropped(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    smaller = CATALOG.replace("          - {id: channel, member: orders.channel}\n", "").replace(
        "          - {grain: month, target_date: 2025-08-01, target_value: 1100}\n", ""
    )
    data = parse_catalog(smaller).model_dump()
    data["tenants"][0]["metrics"] = [m for m in data["tenants"][0]["metrics"] if m["id"] != "orders"]
    summary = await write_catalog(db.catalog_session_factory, Catalog.model_validate(data))
    # the orders metric with its region dimension, revenue's channel dimension and one target
    assert summary.removed == 4
    reloaded = await table_contents(db)

    await db.truncate()
    await write_catalog(db.catalog_session_factory, Catalog.model_validate(data))
    assert await table_contents(db) == reloaded
    acme = (await lookup_tenant(db.session_factory, "acme"))[0]
    with pytest.raises(UnknownMetricError, match="unknown metric 'orders' of tenant 'acme'"):
        await get_metric(db.session_factory, acme, "orders")


async def test_tenant_missing_from_the_catalog_is_disabled_not_deleted(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    only_acme = parse_catalog(CATALOG).model_copy(update={"tenants": parse_catalog(CATALOG).tenants[:1]})
    summary = await write_catalog(db.catalog_session_factory, only_acme)
    assert summary.disabled_tenants == ("globex",)
    globex = await get_tenant(db.session_factory, "globex")
    assert globex.sync_enabled is False
    stored = await DatabaseCatalog(db.session_factory).load()
    assert [t.identifier for t in stored.tenants] == ["acme"]


async def test_secrets_round_trip(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    acme = await get_tenant(db.session_factory, "acme")
    assert isinstance(acme.semantic_layer, CubeConnection)
    assert acme.semantic_layer.auth_type is CubeAuthType.SECRET_KEY
    assert acme.semantic_layer.secret_key.get_secret_value() == "s3cr3t-key-of-32-bytes-for-hs256"
    globex = await get_tenant(db.session_factory, "globex")
    assert globex.semantic_layer.database_url.get_secret_value() == "postgresql+asyncpg://u:pw@host/db"
    async with db.admin_engine.connect() as conn:
        stored = await conn.scalar(text("SELECT semantic_layer::text FROM tenants WHERE identifier = 'acme'"))
    # encrypted at rest: a dump shows the connection's type and nothing else
    assert "s3cr3t-key" not in stored and "cube_api_url" not in stored and json.loads(stored)["type"] == "cube"


async def test_definitions_round_trip(db):
    catalog = parse_catalog(CATALOG)
    await write_catalog(db.catalog_session_factory, catalog)
    acme, tenant = await lookup_tenant(db.session_factory, "acme")
    assert acme == (await lookup_tenant(db.session_factory, "acme"))[0]
    assert tenant == catalog.tenants[0].model_copy(update={"metrics": []})
    assert await get_metric(db.session_factory, acme, "revenue") == catalog.tenants[0].metric("revenue")
    everything = await read_catalog(db.session_factory)
    assert everything.tenants[0].metrics == sorted(catalog.tenants[0].metrics, key=lambda m: m.id)
    assert everything.tenants[0].semantic_layer == catalog.tenants[0].semantic_layer


async def test_metrics_of_one_tenant_are_invisible_in_another_tenants_scope(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    acme = (await lookup_tenant(db.session_factory, "acme"))[0]
    globex = (await lookup_tenant(db.session_factory, "globex"))[0]
    async with tenant_scope(db.session_factory, globex) as session:
        rows = (await session.execute(text("SELECT tenant_id, metric_id FROM metrics"))).all()
        dims = await session.scalar(text("SELECT count(*) FROM metric_dimensions"))
        targets = await session.scalar(text("SELECT count(*) FROM metric_targets"))
    assert rows == [(globex, "revenue")] and dims == 0 and targets == 0
    # globex's revenue is its own definition, not acme's
    assert (await get_metric(db.session_factory, globex, "revenue")).label == "Globex revenue"
    assert (await get_metric(db.session_factory, acme, "revenue")).label == "Revenue"


async def test_unknown_tenant_and_metric_are_clear(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    with pytest.raises(UnknownTenantError, match="unknown tenant 'umbrella'.*catalog load"):
        await get_tenant(db.session_factory, "umbrella")
    with pytest.raises(UnknownTenantError, match="unknown tenant 'umbrella'"):
        await lookup_tenant(db.session_factory, "umbrella")
    with pytest.raises(UnknownTenantError, match="unknown tenant id 999999"):
        await get_metric(db.session_factory, 999999, "revenue")
    globex = (await lookup_tenant(db.session_factory, "globex"))[0]
    with pytest.raises(UnknownMetricError, match="unknown metric 'orders' of tenant 'globex'"):
        await get_metric(db.session_factory, globex, "orders")


async def test_tenant_registered_without_connection_defaults_to_sql(db):
    await db.create_tenant("bare")
    tenant = await get_tenant(db.session_factory, "bare")
    assert tenant.semantic_layer.type == "sql" and tenant.semantic_layer.database_url is None


async def stored_layer(db, identifier: str) -> dict:
    async with db.admin_engine.connect() as conn:
        return await conn.scalar(text("SELECT semantic_layer FROM tenants WHERE identifier = :i"), {"i": identifier})


async def test_a_dropped_tenant_keeps_no_secrets(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    only_globex = parse_catalog(CATALOG).model_copy(update={"tenants": parse_catalog(CATALOG).tenants[1:2]})
    summary = await write_catalog(db.catalog_session_factory, only_globex)
    assert summary.disabled_tenants == ("acme",)  # initech was already disabled: erased, not reported
    assert await stored_layer(db, "acme") == {"type": "none"} == await stored_layer(db, "initech")
    acme = await get_tenant(db.session_factory, "acme")
    assert isinstance(acme.semantic_layer, NoConnection) and acme.sync_enabled is False
    # back in the catalog, it gets its connection again
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    back = await get_tenant(db.session_factory, "acme")
    assert back.semantic_layer.secret_key.get_secret_value() == "s3cr3t-key-of-32-bytes-for-hs256"


async def test_key_rotation_reencrypts_and_the_old_key_can_then_go(db):
    old_key, new = new_key(), new_key()
    old = SecretBox([old_key])
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG), box=old)
    sealed_before = await stored_layer(db, "acme")
    rotating = SecretBox([new, old_key])
    assert await reseal_connections(db.catalog_session_factory, rotating) == 3
    assert await reseal_connections(db.catalog_session_factory, rotating) == 0  # idempotent
    after = await stored_layer(db, "acme")
    assert after != sealed_before
    new_only = SecretBox([new])
    assert new_only.open(after, tenant="acme")["secret_key"] == "s3cr3t-key-of-32-bytes-for-hs256"
    with pytest.raises(ConfigurationError, match="key this process does not have.*SEMSYNC_SECRETS__KEYS"):
        old.open(after, tenant="acme")


async def test_a_connection_stored_before_encryption_reads_and_rotation_encrypts_it(db):
    plain = {"type": "sql", "database_url": "postgresql+asyncpg://u:legacy-pw@host/db"}
    await db.create_tenant("legacy", semantic_layer=plain)
    tenant = await get_tenant(db.session_factory, "legacy")
    assert tenant.semantic_layer.database_url.get_secret_value().endswith("legacy-pw@host/db")
    assert await reseal_connections(db.catalog_session_factory) == 1
    stored = await stored_layer(db, "legacy")
    assert "legacy-pw" not in json.dumps(stored) and set(stored) == {"type", "fernet"}


def test_a_malformed_key_is_one_clear_error():
    with pytest.raises(ConfigurationError, match="not a Fernet key.*catalog new-key"):
        SecretBox(["not-a-key"])


async def test_an_invalid_stored_entry_is_one_line_with_the_reload_hint(db):
    await write_catalog(db.catalog_session_factory, parse_catalog(CATALOG))
    async with db.admin_engine.begin() as conn:  # as an older semsync or a hand edit left them
        await conn.execute(text("UPDATE metrics SET definition = definition - 'source' WHERE metric_id = 'revenue'"))
        await conn.execute(text(
            "UPDATE tenants SET semantic_layer = '{\"type\": \"cube\", \"cube_api_url\": \"https://c\", "
            "\"auth_type\": \"SECRET_KEY\", \"secret_key\": \"short-key\"}' WHERE identifier = 'acme'"))
    with pytest.raises(CatalogError) as tenant_error:
        await get_tenant(db.session_factory, "acme")
    message = str(tenant_error.value)
    assert "tenant 'acme': the stored catalog entry is invalid" in message and "catalog load" in message
    assert "Value error" not in message and "short-key" not in message and "\n" not in message
    globex = (await lookup_tenant(db.session_factory, "globex"))[0]
    with pytest.raises(CatalogError, match=r"metric 'revenue' of tenant 'globex': the stored definition is "
                                           r"invalid \(source: Field required\); reload"):
        await get_metric(db.session_factory, globex, "revenue")


def test_without_keys_the_dev_stack_key_file_is_made_once_and_kept_private(tmp_path):
    first = SecretBox.configured(None, tmp_path)
    key_file = tmp_path / "secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = first.seal({"type": "sql", "database_url": "postgresql://u:pw@h/db"})
    again = SecretBox.configured(None, tmp_path)  # another process: the same file, the same key
    assert again.open(sealed, tenant="t")["database_url"] == "postgresql://u:pw@h/db"
    assert SecretBox.configured(new_key(), tmp_path).is_current(sealed) is False
