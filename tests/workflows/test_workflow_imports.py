"""Workflow modules run in Temporal's sandbox: importing them must not load the I/O stack (httpx,
SMTP, Slack, SQLAlchemy, the analysis libraries); activities come in through
`imports_passed_through` and must keep their heavy imports inside the activity methods."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("httpx", "aiosmtplib", "slack_sdk", "jinja2", "sqlalchemy", "sqlglot", "pandas", "asyncpg")
MODULES = ("workflows.sync", "workflows.patterns", "workflows.stories", "workflows.deliveries", "workflows.backfill",
           "workflows.scheduled", "workflows.discovery")


@pytest.mark.parametrize("module", MODULES)
def test_importing_a_workflow_module_loads_no_io_stack(module):
    probe = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).parents[2], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} loads {done.stdout.strip()}"
