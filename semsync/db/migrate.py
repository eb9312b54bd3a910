"""Create the roles and database semsync needs, and apply Alembic migrations.

Roles: an *owner* role that owns the tables and runs migrations; an *app* role (LOGIN, NOBYPASSRLS,
not the owner) that the workers sync with, so that row-level security applies to it and it only
reads ``tenants``; a *catalog* role (LOGIN, NOBYPASSRLS) that writes the catalog. In production a DBA
may create the roles (the catalog role before migrating); :func:`apply_migrations` only needs the
owner URL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from semsync.config import DEV_CATALOG_ROLE as DEFAULT_CATALOG_ROLE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"




def alembic_config(admin_url: str, app_role: str, catalog_role: str = DEFAULT_CATALOG_ROLE) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", admin_url.replace("%", "%%"))
    config.set_main_option("app_role", app_role)
    config.set_main_option("catalog_role", catalog_role)
    return config


def apply_migrations(admin_url: str, app_role: str, catalog_role: str = DEFAULT_CATALOG_ROLE) -> None:
    """`alembic upgrade head` against `admin_url` (an async SQLAlchemy URL); safe to call twice."""
    command.upgrade(alembic_config(admin_url, app_role, catalog_role), "head")


async def apply_migrations_async(admin_url: str, app_role: str, catalog_role: str = DEFAULT_CATALOG_ROLE) -> None:
    # Alembic's env runs its own event loop; keep it off the caller's loop.
    await asyncio.to_thread(apply_migrations, admin_url, app_role, catalog_role)


def quote_ident(name: str) -> str:
    """`name` as a PostgreSQL quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def ensure_roles_and_database(
    superuser_dsn: str, *, database: str, owner: str, owner_password: str, app: str, app_password: str,
    catalog: str = DEFAULT_CATALOG_ROLE, catalog_password: str = DEFAULT_CATALOG_ROLE,
) -> None:
    """Create the owner, app and catalog roles and the database when absent (idempotent)."""
    conn = await asyncpg.connect(superuser_dsn)
    try:
        roles = ((owner, owner_password, ""), (app, app_password, " NOBYPASSRLS"),
                 (catalog, catalog_password, " NOBYPASSRLS"))
        for role, password, extra in roles:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {quote_ident(role)} LOGIN{extra} PASSWORD {_quote_literal(password)}"
            )
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f"CREATE DATABASE {quote_ident(database)} OWNER {quote_ident(owner)}")
    finally:
        await conn.close()
    # PostgreSQL 15+ no longer lets every role create in `public`; the owner owns the database and
    # gets the schema too, so its migrations can create tables.
    conn = await asyncpg.connect(superuser_dsn.rsplit("/", 1)[0] + "/" + database)
    try:
        await conn.execute(f"ALTER SCHEMA public OWNER TO {quote_ident(owner)}")
    finally:
        await conn.close()


async def drop_database(superuser_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(superuser_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
    finally:
        await conn.close()
