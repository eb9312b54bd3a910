"""`python worker.py`'s command line: `--queue` picks the task queues, a setting to fix is one line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import worker
from semsync.errors import ConfigurationError

runner = CliRunner()


@pytest.mark.parametrize(("args", "queues"), [([], ("sync", "patterns")), (["--queue", "all"], ("sync", "patterns")),
                                              (["--queue", "sync"], ("sync",)),
                                              (["--queue", "patterns"], ("patterns",))])
def test_queue_option_picks_the_task_queues(monkeypatch, args, queues):
    served: list[tuple[str, ...]] = []

    async def main(chosen: tuple[str, ...]) -> None:
        served.append(chosen)

    monkeypatch.setattr(worker, "main", main)
    result = runner.invoke(worker.app, args)
    assert result.exit_code == 0, result.output
    assert served == [queues]


def test_unknown_queue_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(worker, "main", lambda queues: pytest.fail("the worker must not start"))
    result = runner.invoke(worker.app, ["--queue", "bogus"])
    assert result.exit_code == 2, result.output
    assert "bogus" in result.output and "sync" in result.output and "patterns" in result.output


def test_configuration_error_is_one_line_and_exit_2(monkeypatch):
    async def main(queues: tuple[str, ...]) -> None:
        raise ConfigurationError("the database role semsync_owner owns the tables")

    monkeypatch.setattr(worker, "main", main)
    result = runner.invoke(worker.app, [])
    assert result.exit_code == 2, result.output
    assert "semsync worker: error: the database role semsync_owner owns the tables" in result.output
    assert "Traceback" not in result.output
