"""Engines, sessions and the tenant scope that row-level security keys on.

The app connects as a role that neither owns the tables nor has BYPASSRLS; every unit of work on
tenant data runs inside :func:`tenant_scope`, which sets ``app.current_tenant`` for its transaction
only (``set_config(..., is_local => true)``), so a pooled connection never leaks a tenant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

TENANT_SETTING = "app.current_tenant"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class Database:
    """The app role's engine and session factory; create inside the running event loop, then `dispose()`."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        engine = create_engine(url, pool_size=pool_size)
        return cls(engine=engine, session_factory=make_session_factory(engine))

    async def dispose(self) -> None:
        await self.engine.dispose()


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
