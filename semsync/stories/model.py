"""The story: one sentence-sized finding about one metric at one grain and analysis date.

A story is built from the stored results of one pattern by a rule (`semsync.stories.rules`), told
by a template (`semsync.stories.templates`) and keyed, like a pattern result, so that a re-run
rewrites nothing: (tenant, metric, grain, story_date, story_type, dimension, slice, version,
pattern_version). `version` is the stories' own (the rules and templates, `STORY_VERSION`); a new
pattern version or story version writes beside the old one.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from semsync.partitions import Grain

#: the version of the rules and templates: bump it when a rule's condition or a sentence changes
STORY_VERSION = "1.0"


class Genre(StrEnum):
    STATUS = "status"
    GROWTH = "growth"
    TREND = "trend"
    RECORD = "record"
    SEGMENT = "segment"
    FORECAST = "forecast"
    DRIFT = "drift"


class Polarity(StrEnum):
    """In the metric's direction: revenue up is good, a cost up is bad."""

    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"


class StoryStatus(StrEnum):
    """`new`: holds on its date and did not on the previous analysis date (the one to announce);
    `ongoing`: held then and still holds (not stored again: a story read as holding on a later date);
    `resolved`: held on the previous date, no longer does."""

    NEW = "new"
    ONGOING = "ongoing"
    RESOLVED = "resolved"


class Story(BaseModel):
    """A story as stored and as `starter stories --json` prints it."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    metric: str
    metric_label: str
    grain: Grain
    story_date: date
    story_type: str
    genre: Genre
    dimension: str | None = None
    slice: str | None = None
    status: StoryStatus
    #: the first analysis date of the run of dates on which this story holds (its own date when new)
    started_on: date
    polarity: Polarity
    salience: float = Field(ge=0, le=1)
    title: str
    detail: str
    #: the numbers the sentences use, unformatted
    variables: dict[str, Any]
    #: the last values of the series told about (the slice's for a segment story), for a sparkline
    series: list[float | None]
    series_dates: list[date]
    pattern: str
    pattern_version: str
    analysis_date: date
    version: str = STORY_VERSION
    #: the story this one is told with (a record high that is also a spike reads as one story):
    #: None for a group's lead
    grouped_under: str | None = None
    #: the other facts of the group, under a lead (their titles)
    also: list[str] = Field(default_factory=list)
