"""The embedded dev stack as an operator drives it: `python -m starter dev up|status|down`."""

from __future__ import annotations

import os
import signal
import urllib.request

import psutil
import pytest
from typer.testing import CliRunner

from devstack import SEARCH_ATTRIBUTES, DevStack, free_port
from semsync.config import get_settings
from semsync.redaction import redact
from starter.cli import app


@pytest.fixture
def stack_env(tmp_path, monkeypatch):
    pg, temporal, ui = free_port(), free_port(), free_port()
    env = {
        "SEMSYNC_STATE_DIR": str(tmp_path / "state"),
        "SEMSYNC_DATABASE__URL": f"postgresql+asyncpg://semsync_app:app-pw@127.0.0.1:{pg}/semsync",
        "SEMSYNC_DATABASE__ADMIN_URL": f"postgresql+asyncpg://semsync_owner:owner-pw@127.0.0.1:{pg}/semsync",
        "SEMSYNC_TEMPORAL__ADDRESS": f"127.0.0.1:{temporal}",
        "SEMSYNC_TEMPORAL__UI_URL": f"http://127.0.0.1:{ui}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield DevStack.from_settings(get_settings())
    DevStack.from_settings(get_settings()).down()
    get_settings.cache_clear()


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, result.output


def our_processes(stack: DevStack) -> list[int]:
    return [pid for pid in (stack.postgres.pid(), stack.temporal.pid()) if pid]


def test_up_status_down(stack_env):
    stack = stack_env
    result, output = invoke("dev", "up")
    assert result.exit_code == 0, output
    assert "started PostgreSQL" in output and "started Temporal" in output

    result, output = invoke("dev", "status")
    assert result.exit_code == 0, output
    assert redact(stack.app_url()) in output and "app-pw" not in output
    assert stack.temporal.address in output and stack.temporal.ui_url in output
    with urllib.request.urlopen(stack.temporal.ui_url, timeout=10) as response:
        assert response.status == 200

    # idempotent: a second `up` reuses both processes
    pids = our_processes(stack)
    result, output = invoke("dev", "up")
    assert result.exit_code == 0 and "started" not in output, output
    assert our_processes(stack) == pids

    children = [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]
    result, output = invoke("dev", "down")
    assert result.exit_code == 0, output
    assert not [p for p in pids + children if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    result, output = invoke("dev", "status")
    assert result.exit_code == 1 and "down" in output


def test_up_recovers_after_a_crash(stack_env):
    stack = stack_env
    assert invoke("dev", "up")[0].exit_code == 0
    temporal_pid, postgres_pid = stack.temporal.pid(), stack.postgres.pid()
    os.killpg(os.getpgid(temporal_pid), signal.SIGKILL)
    os.kill(postgres_pid, signal.SIGKILL)  # leaves postmaster.pid and the temporal pid file behind
    psutil.wait_procs([psutil.Process(postgres_pid)], timeout=10)

    result, output = invoke("dev", "up")
    assert result.exit_code == 0, output
    assert "started PostgreSQL" in output and "started Temporal" in output
    assert invoke("dev", "status")[0].exit_code == 0


def test_a_running_dev_server_gets_the_search_attributes_it_lacks(tmp_path):
    from devstack.temporal import TemporalDevServer

    server = TemporalDevServer(tmp_path / "temporal", free_port(), None, search_attributes={"SemsyncTenant": "Keyword"})
    server.start()
    try:
        server.search_attributes = dict(SEARCH_ATTRIBUTES)
        added = server.ensure_search_attributes()
        assert set(added) == set(SEARCH_ATTRIBUTES) - {"SemsyncTenant"}
        assert server.ensure_search_attributes() == []
    finally:
        server.stop()
