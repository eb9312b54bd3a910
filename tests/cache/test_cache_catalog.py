"""A tenant's cache target in the catalog: the key of its partitions, what the file refuses (in the
catalog's `file:line: entry field: problem` form), and its secrets sealed at rest and masked in dumps."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from semsync.catalog.file import parse_catalog
from semsync.catalog.models import SnowflakeCacheTarget, SqlCacheTarget
from semsync.catalog.store import read_cache_target, read_catalog, write_catalog
from semsync.errors import CatalogError, PartitionKeyError
from semsync.partitions import Grain
from semsync.partitions.cache_keys import CacheKey

PASSWORD = "correct-horse-battery-staple"
BASE = """tenants:
  - identifier: acme
    name: Acme
    metrics:
      - {id: revenue, label: Revenue, source: {type: sql, table: orders, value: sum(amount), time_column: at}}
    cache:
"""
SNOWFLAKE = f"""
type: snowflake
account: xy12345.eu-west-1
user: SEMSYNC
password: {PASSWORD}
role: SEMSYNC_WRITER
warehouse: COMPUTE_WH
database: ANALYTICS
schema: SEMSYNC
"""


def catalog(block: str) -> str:
    return BASE + "\n".join("      " + line for line in block.strip().splitlines()) + "\n"


def test_the_cache_key_parses_and_names_the_bad_part():
    key = CacheKey.from_string("acme::day::revenue")
    assert (key.tenant, key.grain, key.metric, key.key) == ("acme", Grain.DAY, "revenue", "acme::day::revenue")
    for text_, part in [("acme::revenue", "cache key"), ("acme::hour::revenue", "grain"),
                        ("ac me::day::revenue", "tenant"), ("acme::week::", "metric"),
                        ("acme::day::revenue::x", "cache key")]:
        with pytest.raises(PartitionKeyError) as caught:
            CacheKey.from_string(text_)
        assert caught.value.part == part, text_
        assert repr(text_) in str(caught.value) or part == "grain"


def test_a_snowflake_target_reads_and_masks_its_password():
    tenant = parse_catalog(catalog(SNOWFLAKE), source="catalog.yaml").tenants[0]
    assert isinstance(tenant.cache, SnowflakeCacheTarget)
    assert (tenant.cache.warehouse, tenant.cache.schema_, tenant.cache.table) == ("COMPUTE_WH", "SEMSYNC",
                                                                                  "SEMSYNC_CACHE")
    assert PASSWORD not in tenant.model_dump_json() and PASSWORD not in repr(tenant)


@pytest.mark.parametrize("block, expected", [
    (SNOWFLAKE.replace("warehouse: COMPUTE_WH\n", ""), "(acme) cache.warehouse: Field required"),
    (SNOWFLAKE + "private_key: not-a-key\n", "exactly one of `password` and `private_key`"),
    ("type: sql\nurl: mysql://u:p@db/x\n", "dialect 'mysql' is not supported"),
    ("type: sql\nurl: postgresql://u:p@db/x\ntable: 'drop table'\n", "cache.table"),
])
def test_a_bad_target_is_refused_naming_line_and_field(block, expected):
    with pytest.raises(CatalogError) as caught:
        parse_catalog(catalog(block), source="catalog.yaml")
    message = str(caught.value)
    assert message.startswith("catalog.yaml:") and expected in message, message
    assert PASSWORD not in message and "u:p@" not in message


async def test_the_target_is_sealed_at_rest_and_read_back(db):
    parsed = parse_catalog(catalog(SNOWFLAKE), source="catalog.yaml")
    await write_catalog(db.catalog_session_factory, parsed)
    async with db.admin_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT cache_target FROM tenants WHERE identifier = 'acme'"))).scalar()
    assert set(stored) == {"type", "fernet"} and PASSWORD not in json.dumps(stored)
    _, target = await read_cache_target(db.session_factory, "acme")
    assert target == parsed.tenants[0].cache and target.password.get_secret_value() == PASSWORD
    assert (await read_catalog(db.session_factory)).tenants[0].cache == target
    # a reload of the same catalog rewrites nothing; a target removed is erased
    assert (await write_catalog(db.catalog_session_factory, parsed)).changed == 0
    pg = parse_catalog(catalog("type: sql\nurl: postgresql://u:secret@db/x\n"), source="catalog.yaml")
    assert isinstance(pg.tenants[0].cache, SqlCacheTarget)
    await write_catalog(db.catalog_session_factory, pg.model_copy(update={"tenants": [
        pg.tenants[0].model_copy(update={"cache": None})]}))
    assert (await read_cache_target(db.session_factory, "acme"))[1] is None


async def test_discovery_registers_the_cache_partitions_of_tenants_with_a_target(db):
    from semsync.cache import CacheService
    from semsync.catalog.discovery import register_contexts
    from semsync.catalog.models import Catalog

    parsed = parse_catalog(catalog(SNOWFLAKE), source="catalog.yaml")
    plain = parsed.tenants[0].model_copy(update={"identifier": "plain", "cache": None})
    both = Catalog(tenants=[parsed.tenants[0], plain])
    await write_catalog(db.catalog_session_factory, both)
    diff = await register_contexts(db.catalog_session_factory, both)
    assert diff.cache_partitions == 3 and "3 cache partitions" in diff.summary()
    keys = await CacheService(db.session_factory).partitions()
    assert [k.key for k in keys] == ["acme::day::revenue", "acme::week::revenue", "acme::month::revenue"]


async def test_rotating_the_key_reseals_the_cache_target(db):
    from semsync.catalog.store import reseal_connections
    from semsync.encryption import SecretBox, new_key

    old_key, new = new_key(), new_key()
    await write_catalog(db.catalog_session_factory, parse_catalog(catalog(SNOWFLAKE), source="catalog.yaml"),
                        box=SecretBox([old_key]))
    assert await reseal_connections(db.catalog_session_factory, SecretBox([new, old_key])) == 1
    _, target = await read_cache_target(db.session_factory, "acme", box=SecretBox([new]))
    assert target.password.get_secret_value() == PASSWORD
