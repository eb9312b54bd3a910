"""The import contracts of pyproject.toml's [tool.importlinter] hold: no upward import (the domain never
imports the workflows, activities or CLI; workflows never a database or HTTP library themselves) and no
import cycle between the modules of a package. `lint-imports` names the offending import chain."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_lint_imports_keeps_every_contract():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[dev]' brings import-linter)")
    done = subprocess.run([lint_imports, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout
