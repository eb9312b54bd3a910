"""Session fixtures: a real embedded PostgreSQL, the Temporal dev server and the time-skipping server.

PostgreSQL starts once per session (fresh data directory, free port), gets a fresh database with
migrations applied, and each test that asks for `db` starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from devstack import SEARCH_ATTRIBUTES, PostgresServer, create_scratch_database, free_port
from devstack.temporal import dynamic_config_args
from semsync.db.migrate import drop_database
from semsync.db.models import Base
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database
from semsync.encryption import new_key

# One key encrypts the tenants' connections for the whole session, its subprocesses included (CLI,
# worker); a test of the key file default unsets it.
os.environ.setdefault("SEMSYNC_SECRETS__KEYS", new_key())


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("postgres"), free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class TestDatabase:
    """A migrated database of the session: URLs for the owner and app roles, and the app's Database."""

    __test__ = False

    app_url: str
    admin_url: str
    superuser_url: str
    name: str
    database: Database
    admin_engine: AsyncEngine
    catalog_url: str
    catalog_database: Database

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.database.session_factory

    @property
    def catalog_session_factory(self) -> async_sessionmaker[AsyncSession]:
        """The catalog role's sessions: what writes tenants, metrics, dimensions and targets."""
        return self.catalog_database.session_factory

    async def create_tenant(self, identifier: str, name: str | None = None, semantic_layer: dict | None = None) -> int:
        import json

        async with self.admin_engine.begin() as conn:
            return await conn.scalar(
                text(
                    "INSERT INTO tenants (identifier, name, sync_enabled, semantic_layer) "
                    "VALUES (:i, :n, true, CAST(:s AS jsonb)) RETURNING id"
                ),
                {"i": identifier, "n": name or identifier, "s": json.dumps(semantic_layer or {})},
            )

    async def truncate(self) -> None:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with self.admin_engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
async def test_database(pg_server: PostgresServer) -> AsyncIterator[TestDatabase]:
    scratch = await create_scratch_database(pg_server, f"semsync_test_{uuid.uuid4().hex[:8]}")
    database = Database.connect(scratch.app_url)
    catalog_database = Database.connect(scratch.catalog_url)
    # the owner, in maintenance (RLS is forced on it: migration 0008): the tests' view of every tenant
    admin_engine = create_async_engine(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    yield TestDatabase(
        scratch.app_url, scratch.admin_url, pg_server.superuser_url(), scratch.name, database, admin_engine,
        scratch.catalog_url, catalog_database,
    )
    await database.dispose()
    await catalog_database.dispose()
    await admin_engine.dispose()
    await drop_database(pg_server.superuser_url(), scratch.name)


@pytest.fixture
async def db(test_database: TestDatabase) -> AsyncIterator[TestDatabase]:
    """The session's database with every table emptied before the test."""
    await test_database.truncate()
    yield test_database


def _temporal_binary(name: str) -> str:
    found = shutil.which(name) or str(Path(__import__("sys").executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed; `make install` installs it")
    return found


async def start_dev_server():
    """A real Temporal dev server (schedules, end-to-end) with semsync's search attributes."""
    from temporalio.common import SearchAttributeKey
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    keys = [SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=_temporal_binary("temporal"),
        search_attributes=keys,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=["--log-level", "error", *dynamic_config_args()],
    )


@pytest.fixture(scope="session")
async def temporal_env():
    """The session's dev server."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


async def start_time_skipping_server():
    """Temporal's time-skipping test server with semsync's search attributes (the caller shuts it down)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_temporal_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in SEARCH_ATTRIBUTES},
    ))
    return env


@pytest.fixture
async def own_clock():
    """A time-skipping server of the test's own, for tests whose activities fail and retry: after such
    retries a server's clock was seen to stay locked (its skipping stalls), which must not reach the
    session's server."""
    env = await start_time_skipping_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env():
    """Temporal's time-skipping test server, for timers and long waits."""
    env = await start_time_skipping_server()
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"
