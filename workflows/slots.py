"""The slot a scheduled workflow stands for: its schedule's scheduled start time.

A schedule sets the ``TemporalScheduledStartTime`` search attribute on the workflows it starts, so
a run derives its period from the slot, not from the clock: `temporal schedule backfill` and a
catch-up after an outage each process the period their slot stands for.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def scheduled_time() -> datetime:
    """The slot this run stands for: the schedule's scheduled start time, else the workflow's start."""
    return workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.info().start_time
