"""Row-level security: inside tenant A's scope, tenant B's rows are invisible and untouchable."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from semsync.db.models import TENANT_TABLES
from semsync.db.session import tenant_scope

INSERT_POINT = (
    "INSERT INTO metric_time_series (tenant_id, metric_id, grain, date, value) "
    "VALUES (:t, 'revenue', 'day', :d, :v)"
)


@pytest.fixture
async def two_tenants(db):
    a = await db.create_tenant("tenant_a")
    b = await db.create_tenant("tenant_b")
    for tenant, value in ((a, 1.0), (b, 2.0)):
        async with tenant_scope(db.session_factory, tenant) as s:
            await s.execute(text(INSERT_POINT), {"t": tenant, "d": date(2025, 7, 1), "v": value})
    return a, b


async def test_tenant_sees_only_its_rows(db, two_tenants):
    a, b = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        rows = (await s.execute(text("SELECT tenant_id, value FROM metric_time_series"))).all()
    assert rows == [(a, 1.0)]


async def test_cannot_read_update_or_delete_other_tenant(db, two_tenants):
    a, b = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        explicit = await s.scalar(text("SELECT count(*) FROM metric_time_series WHERE tenant_id = :b"), {"b": b})
        updated = await s.execute(text("UPDATE metric_time_series SET value = 99 WHERE tenant_id = :b"), {"b": b})
        deleted = await s.execute(text("DELETE FROM metric_time_series WHERE tenant_id = :b"), {"b": b})
    assert explicit == 0
    assert updated.rowcount == 0
    assert deleted.rowcount == 0
    async with tenant_scope(db.session_factory, b) as s:
        assert (await s.execute(text("SELECT value FROM metric_time_series"))).scalars().all() == [2.0]


async def test_cannot_insert_for_other_tenant(db, two_tenants):
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_scope(db.session_factory, a) as s:
            await s.execute(text(INSERT_POINT), {"t": b, "d": date(2025, 7, 2), "v": 5.0})


async def test_cannot_move_a_row_to_other_tenant(db, two_tenants):
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_scope(db.session_factory, a) as s:
            await s.execute(text("UPDATE metric_time_series SET tenant_id = :b"), {"b": b})


async def test_no_tenant_set_shows_nothing(db, two_tenants):
    async with db.session_factory() as s:
        for table in TENANT_TABLES:
            assert await s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


async def test_scope_does_not_leak_to_pooled_connection(db, two_tenants):
    a, _ = two_tenants
    async with tenant_scope(db.session_factory, a) as s:
        assert await s.scalar(text("SELECT count(*) FROM metric_time_series")) == 1
    # the next transaction on the same pool has no tenant: set_config(..., true) was transaction-local
    async with db.session_factory() as s:
        assert await s.scalar(text("SELECT count(*) FROM metric_time_series")) == 0


async def test_app_role_is_not_owner_and_does_not_bypass_rls(db):
    async with db.session_factory() as s:
        row = (
            await s.execute(
                text(
                    "SELECT r.rolsuper, r.rolbypassrls, "
                    "(SELECT tableowner FROM pg_tables WHERE tablename = 'metric_time_series') = current_user "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
    assert tuple(row) == (False, False, False)
