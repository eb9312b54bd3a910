"""Replay recorded histories against today's workflow code: a change that breaks determinism fails
here, before it breaks running workflows. Histories are recorded by `record_histories.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.backfill import BackfillWorkflow
from workflows.cache import CacheWorkflow
from workflows.deliveries import AlertWorkflow, DigestWorkflow, ResendWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.patterns import PatternWorkflow
from workflows.scheduled import ScheduledRunWorkflow
from workflows.stories import StoryWorkflow
from workflows.sync import SyncWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TEXTS = {path.stem: path.read_text() for path in HISTORIES}


def test_there_are_histories_of_every_workflow():
    assert {p.stem for p in HISTORIES} >= {"sync_with_patterns", "sync_partial", "patterns_one_failing",
                                           "backfill_chunked", "scheduled_run_day", "discovery_with_initial_sync",
                                           "patterns_batched", "patterns_batch_failed_each_alone",
                                           "patterns_with_stories", "stories", "stories_with_alerts",
                                           "alerts_with_retries", "alerts_refused_and_given_up", "digest_waiting",
                                           "sync_with_cache", "cache_write"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    replayer = Replayer(workflows=[SyncWorkflow, PatternWorkflow, BackfillWorkflow, ScheduledRunWorkflow,
                                   DiscoveryWorkflow, StoryWorkflow, AlertWorkflow, DigestWorkflow, ResendWorkflow,
                                   CacheWorkflow],
                        data_converter=pydantic_data_converter)
    history = WorkflowHistory.from_json(f"replay-{path.stem}", TEXTS[path.stem])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
