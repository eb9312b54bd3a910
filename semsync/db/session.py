"""Engines, sessions and the tenant scope that row-level security keys on.

The app connects as a role that neither owns the tables nor has BYPASSRLS; every unit of work on
tenant data runs inside :func:`tenant_scope`, which sets ``app.current_tenant`` for its transaction
only (``set_config(..., is_local => true)``), so a pooled connection never leaks a tenant.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from semsync.config import DatabaseSettings
from semsync.errors import ConfigurationError

TENANT_SETTING = "app.current_tenant"
#: `on` lets the tables' owner (only it: migration 0008's `owner_maintenance` policy) see every tenant
MAINTENANCE_SETTING = "app.maintenance"
#: asyncpg connect arguments of an owner connection that does maintenance (tests, repairs)
MAINTENANCE_CONNECT_ARGS: dict[str, Any] = {"server_settings": {MAINTENANCE_SETTING: "on"}}

_ROLE_PRIVILEGES = text(
    "SELECT current_user, rolsuper, rolbypassrls, "
    "COALESCE((SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class "
    "          WHERE oid = to_regclass('tenants')), false) "
    "FROM pg_roles WHERE rolname = current_user"
)


def ssl_connect_args(settings: DatabaseSettings) -> dict[str, Any]:
    """asyncpg's ``ssl`` connect argument for `settings.sslmode`, with libpq's meaning of each mode.

    `disable` turns TLS off; `allow`/`prefer` are passed to asyncpg as they are; `require` encrypts
    without checking the certificate (unless `sslrootcert` is given: then the CA is checked, as libpq
    does); `verify-ca` checks the CA, `verify-full` the CA and the host name. `sslcert`/`sslkey` add a
    client certificate. No `sslmode`: no argument (asyncpg's default, or `?ssl=` in the URL).
    """
    mode = settings.sslmode
    if mode is None:
        return {}
    if mode == "disable":
        return {"ssl": False}
    if mode in ("allow", "prefer"):
        return {"ssl": mode}
    verify = mode in ("verify-ca", "verify-full") or settings.sslrootcert is not None
    context = ssl.create_default_context(cafile=str(settings.sslrootcert) if settings.sslrootcert else None)
    context.check_hostname = mode == "verify-full"
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    if settings.sslcert is not None:
        context.load_cert_chain(str(settings.sslcert), str(settings.sslkey) if settings.sslkey else None)
    return {"ssl": context}


async def driver_connection(session: AsyncSession) -> Any:
    """The driver's (asyncpg's) connection under `session`, in its transaction and tenant scope: for
    COPY and for reading rows without building a SQLAlchemy row for each."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


def create_engine(url: str, *, pool_size: int = 10, connect_args: dict[str, Any] | None = None) -> AsyncEngine:
    """The async engine; `connect_args` go to `asyncpg.connect` (e.g. `ssl_connect_args(settings)`)."""
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                               connect_args=connect_args or {})


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class Database:
    """The app role's engine and session factory; create inside the running event loop, then `dispose()`."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10, connect_args: dict[str, Any] | None = None) -> Database:
        engine = create_engine(url, pool_size=pool_size, connect_args=connect_args)
        return cls(engine=engine, session_factory=make_session_factory(engine))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def refuse_privileged_role(engine: AsyncEngine, *, setting: str = "SEMSYNC_DATABASE__URL") -> None:
    """ConfigurationError unless `engine`'s role is held to row-level security: not a superuser, no
    BYPASSRLS, not the tables' owner (nor a member of it: it could drop the policies). One query."""
    async with engine.connect() as conn:
        row = (await conn.execute(_ROLE_PRIVILEGES)).one()
    user, superuser, bypass, owner = row
    why = [reason for reason, flag in (("is a superuser", superuser), ("has BYPASSRLS", bypass),
                                       ("owns the tables", owner)) if flag]
    if why:
        raise ConfigurationError(
            f"{setting} connects as role {user!r}, which {' and '.join(why)}: row-level security would not keep "
            "the tenants apart; use the app role (NOBYPASSRLS, owning nothing), or set "
            "SEMSYNC_DATABASE__ALLOW_PRIVILEGED_ROLE=true for maintenance")


@asynccontextmanager
async def tenant_scope(
    session_factory: async_sessionmaker[AsyncSession], tenant_id: int
) -> AsyncIterator[AsyncSession]:
    """One transaction in which RLS shows and accepts only `tenant_id`'s rows; commits on success."""
    async with session_factory() as session, session.begin():
        await session.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": TENANT_SETTING, "value": str(int(tenant_id))}
        )
        yield session
