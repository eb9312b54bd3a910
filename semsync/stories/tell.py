"""Telling stories: one metric context's stored pattern results over many analysis dates, to story rows.

This is the unit a story run hands to the worker's process pool (`StoryJob` in, rows out: plain
picklable values, no database). For each analysis date, in order:

1. every rule (`semsync.stories.rules`) reads that date's results and yields its candidates;
2. **lifecycle**: a candidate whose key (type, dimension, slice) and identity held on the previous
   analysis date is ongoing: it was told when it began and is not told again (no row); else it is
   `new` (a row on this date). A state that held on the previous date and no longer holds gets a
   `resolved` row on this date, with the date it began (`started_on`). Events (spikes, records,
   status changes, new leaders) are new on their date and nothing after. The stories that hold on a
   date are its new ones and the ongoing ones: the latest row of each key is `new`
   (`semsync.stories.store.holding_stories`);
3. **salience**: a new story's strength; a resolved one keeps a third of it;
4. **grouping**: near-duplicates of one date and segment (a spike that is also a record high; off
   track and likely to miss the month) read as one story: the most salient leads and lists the
   others' titles in `also`, the others name it in `grouped_under`;
5. the sentences, from `semsync.stories.templates`.

The previous date of the span's first is analysed from its own stored results, so a date's stories
depend only on the results of that date and the one before (and, for a resolved story's
`started_on`, on the stories stored before the span): re-running any date, or the range, gives the
same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import orjson

from semsync.partitions import Grain
from semsync.patterns.periods import last_complete_ordinal, ordinal, period_start, period_starts
from semsync.stories import numbers
from semsync.stories.model import STORY_VERSION, Polarity, StoryStatus
from semsync.stories.rules import RULES, Candidate, DateContext, told_at
from semsync.stories.templates import RESOLVED, TEMPLATES, Renderer

#: the sparkline: the last this many periods up to the story's
SPARKLINE = {Grain.DAY: 30, Grain.WEEK: 26, Grain.MONTH: 12}
#: noise estimated from this many periods of first differences when drift_detection has none
NOISE_WINDOW = {Grain.DAY: 90, Grain.WEEK: 52, Grain.MONTH: 24}
#: near-duplicates: stories of one date and segment in one group are told as one, the most salient
#: leading (on a tie, the one listed first)
GROUPS: list[tuple[str, ...]] = [
    ("status_worsened", "off_track", "at_risk"), ("status_improved", "on_track", "hold_steady"),
    ("trend_change_up", "new_upward_trend"), ("trend_change_down", "new_downward_trend"),
    ("growth_streak", "long_range_improving"), ("decline_streak", "long_range_worsening"),
    ("new_strongest_slice", "top_slice", "top_two_compared"), ("new_weakest_slice", "bottom_slice"),
    *((f"likely_off_track_{p}", f"pacing_behind_{p}", f"required_growth_{p}") for p in ("week", "month", "quarter",
                                                                                      "year")),
    *((f"likely_on_track_{p}", f"pacing_ahead_{p}") for p in ("week", "month", "quarter", "year")),
]
#: one period's unusual value makes a record, a spike and every comparison with an earlier period at
#: once: they are one story, grouped by the way the value moved
MOVES = ("record_high", "record_low", "spike", "drop", "yoy_better", "yoy_worse", "benchmark_week_ago",
         "benchmark_month_ago", "benchmark_quarter_ago")
_GROUP_OF: dict[str, tuple[str, ...]] = {t: group for group in GROUPS for t in group}


def _group_of(candidate: Candidate) -> tuple[str, ...] | None:
    if candidate.story_type not in MOVES:
        return _GROUP_OF.get(candidate.story_type)
    up = candidate.story_type in ("record_high", "spike") or (
        candidate.story_type not in ("record_low", "drop") and (candidate.variables.get("change_percent") or 0) > 0)
    return ("up", *MOVES) if up else ("down", *MOVES)

#: the columns of a story row, in the stories table's order (after tenant_id)
ROW_COLUMNS = ["metric_id", "grain", "story_date", "story_type", "dimension", "slice", "version", "pattern_version",
               "status", "started_on", "identity", "genre", "polarity", "salience", "title", "detail", "variables",
               "series", "series_dates", "pattern", "analysis_date", "grouped_under", "also"]


@dataclass(frozen=True)
class Series:
    """One series on its grain's grid: `values[i]` is the period with ordinal `first + i` (NaN: none)."""

    first: int
    values: np.ndarray

    @classmethod
    def from_points(cls, grain: Grain, points: Iterable[tuple[date, float]]) -> Series:
        pairs = [(ordinal(grain, d), v) for d, v in points]
        if not pairs:
            return cls(0, np.empty(0))
        first, last = min(p[0] for p in pairs), max(p[0] for p in pairs)
        values = np.full(last - first + 1, np.nan)
        for o, v in pairs:
            values[o - first] = v
        return cls(first, values)

    def upto(self, end: int, count: int) -> tuple[int, np.ndarray]:
        """The `count` slots ending at ordinal `end`: NaN where the series has no value (after its last
        one too, so the window does not depend on what was read after `end`), fewer at its start."""
        first = max(end - count + 1, self.first)
        out = np.full(max(end - first + 1, 0), np.nan)
        last = min(end, self.first + len(self.values) - 1)
        if last >= first:
            out[: last - first + 1] = self.values[first - self.first: last - self.first + 1]
        return first, out


@dataclass(frozen=True)
class StoryJob:
    """One metric context's story work: its results (JSON texts, by pattern and analysis date), its
    series, and what held before the span."""

    tenant: str
    metric_id: str
    metric_label: str
    unit: str | None
    #: +1 higher is better, −1 lower is better
    sign: int
    grain: Grain
    #: the analysis dates to tell, in order
    dates: list[date]
    #: the analysis date before the first (its results decide what is ongoing), or None
    previous: date | None
    #: pattern → analysis date → the stored results of that date (one per dimension), JSON text
    results: dict[str, dict[date, list[str]]]
    #: pattern → the version whose results these are
    versions: dict[str, str]
    series: Series
    #: (dimension, slice) → the slice's series, for segment sparklines
    slices: dict[tuple[str, str], Series] = field(default_factory=dict)
    #: the states that hold on `previous` as stored: key (type, dimension, slice) → the date they began
    prior: dict[tuple[str, str | None, str | None], date] = field(default_factory=dict)


def tell(job: StoryJob) -> list[tuple]:
    """The story rows of `job`'s dates (`ROW_COLUMNS`), ready for `semsync.stories.store`."""
    teller = _Teller(job, Renderer(job.metric_label, job.unit, job.grain.value))
    noise = _NoiseEstimate(job.series, job.grain)
    held: dict[tuple, Candidate] = {}
    started: dict[tuple, date] = {}
    if job.previous is not None:
        held = {k: c for k, c in _candidates(job, job.previous, noise).items() if not c.event}
        # a story that holds on the previous date began when its latest stored row says: a change of
        # subject (a shift's date moving beyond the tolerance from one date to the next) would have
        # stored a new row, and an end a resolved one
        started = {key: job.prior.get(key, job.previous) for key in held}
    rows: list[tuple] = []
    previous = job.previous
    for analysis_date in job.dates:
        found = _candidates(job, analysis_date, noise)
        told: list[dict[str, Any]] = []
        for key, candidate in found.items():
            before = held.get(key)
            if not candidate.event and before is not None and candidate.same_as(before):
                continue  # ongoing: told when it began, and its end will be
            told.append(_story(teller, candidate, analysis_date, StoryStatus.NEW, analysis_date))
        for key, candidate in held.items():
            if key not in found:
                told.append(_resolved(teller, candidate, analysis_date, started[key], previous))
        _group(told)
        rows += [_row(job, story) for story in told]
        current = {k: c for k, c in found.items() if not c.event}
        started = {k: (started[k] if k in held and c.same_as(held[k]) else analysis_date)
                   for k, c in current.items()}
        held, previous = current, analysis_date
    return rows


class _NoiseEstimate:
    """The series' noise at a date: one period's robust deviation, from first differences."""

    def __init__(self, series: Series, grain: Grain) -> None:
        self.series, self.window, self.grain = series, NOISE_WINDOW[grain], grain
        self.cache: dict[int, float | None] = {}

    def at(self, end: int) -> float | None:
        if end not in self.cache:
            _, values = self.series.upto(end, self.window + 1)
            diffs = np.diff(values)
            diffs = diffs[np.isfinite(diffs)]
            sigma = None
            if len(diffs) >= 8:
                mad = float(np.median(np.abs(diffs - np.median(diffs))))
                sigma = 1.4826 * mad / math.sqrt(2.0) or None
            self.cache[end] = sigma
        return self.cache[end]


def _candidates(job: StoryJob, analysis_date: date, noise: _NoiseEstimate) -> dict[tuple, Candidate]:
    end = last_complete_ordinal(job.grain, analysis_date)
    drift = job.results.get("drift_detection", {}).get(analysis_date)
    parsed = {pattern: [orjson.loads(text) for text in by_date.get(analysis_date, ())]
              for pattern, by_date in job.results.items()}
    sigma = None
    if drift:
        sigma = (parsed["drift_detection"][0] or {}).get("noise_sigma")
    ctx = DateContext(grain=job.grain, sign=job.sign, period=period_start(job.grain, end),
                      noise=sigma if sigma and sigma > 0 else noise.at(end))
    found: dict[tuple, Candidate] = {}
    for pattern, results in parsed.items():
        rule = RULES.get(pattern)
        if rule is None or not told_at(pattern, job.grain):
            continue
        for result in results:
            if result.get("error"):
                continue
            for candidate in rule(result, ctx):
                candidate.end = end
                kept = found.get(candidate.key)
                if kept is None or candidate.strength > kept.strength:
                    found[candidate.key] = candidate
    return found


@dataclass
class _Teller:
    """One job's telling: its renderer and the sparklines already made (by series and period)."""

    job: StoryJob
    renderer: Renderer
    sparklines: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)


def _story(teller: _Teller, candidate: Candidate, analysis_date: date, status: StoryStatus,
           since: date, *, sentences: bool = True) -> dict[str, Any]:
    job, renderer = teller.job, teller.renderer
    template = TEMPLATES[candidate.story_type]
    variables = {**candidate.variables, "slice": candidate.slice,
                 "when": numbers.when(job.grain.value, period_start(job.grain, candidate.end))}
    strength = max(0.0, min(1.0, candidate.strength))
    series = job.slices.get((candidate.dimension, candidate.slice), job.series) if candidate.slice else job.series
    sparkline = _sparkline(job, series, candidate.end, teller.sparklines)
    return {
        "candidate": candidate, "story_date": analysis_date, "status": status, "started_on": since,
        "salience": round(strength, 3), **dict(zip(
            ("title", "detail"),
            renderer.render_all((template.title, template.detail), variables) if sentences else ("", ""), strict=True)),
        "variables": candidate.variables,
        "sparkline": sparkline, "polarity": candidate.polarity, "grouped_under": None, "also": [],
    }


def _resolved(teller: _Teller, candidate: Candidate, analysis_date: date, since: date,
              last: date | None) -> dict[str, Any]:
    job, renderer = teller.job, teller.renderer
    label = renderer.render(TEMPLATES[candidate.story_type].label,
                            {**candidate.variables, "slice": candidate.slice})
    variables = {**candidate.variables, "label": label, "started": since, "last": last,
                 "subject": candidate.slice if candidate.slice is not None else job.metric_label}
    polarity = {Polarity.GOOD: Polarity.BAD, Polarity.BAD: Polarity.GOOD}.get(candidate.polarity, Polarity.NEUTRAL)
    story = _story(teller, candidate, analysis_date, StoryStatus.RESOLVED, since, sentences=False)
    title, detail = renderer.render_all((RESOLVED.title, RESOLVED.detail), variables)
    story.update(title=title, detail=detail, salience=round(max(0.0, min(1.0, candidate.strength)) / 3, 3),
                 polarity=polarity, variables={**candidate.variables, "started": str(since), "last": str(last)})
    return story


def _group(told: list[dict[str, Any]]) -> None:
    """Near-duplicates of one date and segment: the most salient leads, the others go under it."""
    buckets: dict[tuple, list[dict[str, Any]]] = {}
    for story in told:
        candidate = story["candidate"]
        group = _group_of(candidate)
        if group is None or story["status"] is StoryStatus.RESOLVED:
            continue
        buckets.setdefault((candidate.dimension, candidate.slice, group), []).append(story)
    for (_, _, group), members in buckets.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda s: (-s["salience"], group.index(s["candidate"].story_type)))
        lead = members[0]
        for other in members[1:]:
            other["grouped_under"] = lead["candidate"].story_type
            lead["also"].append(other["title"])


def _sparkline(job: StoryJob, series: Series, end: int, cache: dict) -> tuple[str, str]:
    """The last `SPARKLINE` values up to period `end` and their dates, as JSON texts: computed once
    per series and date of a job (every story of a date about the metric shares one)."""
    key = (id(series), end)
    found = cache.get(key)
    if found is None:
        first, values = series.upto(end, SPARKLINE[job.grain])
        points = np.where(np.isfinite(values), np.round(values, 6), None).tolist()
        dates = np.datetime_as_string(period_starts(job.grain, np.arange(first, first + len(points)))).tolist()
        found = cache[key] = (orjson.dumps(points).decode(), orjson.dumps(dates).decode())
    return found


def _row(job: StoryJob, story: dict[str, Any]) -> tuple:
    candidate: Candidate = story["candidate"]
    series, dates = story["sparkline"]
    return (job.metric_id, job.grain.value, story["story_date"], candidate.story_type, candidate.dimension,
            candidate.slice, STORY_VERSION, job.versions.get(candidate.pattern, ""), story["status"].value,
            story["started_on"], candidate.identity, candidate.genre.value, story["polarity"].value,
            story["salience"], story["title"], story["detail"], orjson.dumps(story["variables"], default=str).decode(),
            series, dates, candidate.pattern, story["story_date"],
            story["grouped_under"], orjson.dumps(story["also"]).decode())
