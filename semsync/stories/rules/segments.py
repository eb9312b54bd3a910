"""Stories from `dimension_analysis` (one result per dimension): significant segments, leader
changes, share gains and losses, the top two compared, and segment drift with its pressure. Told at
the week and month grains (`semsync.stories.rules.TOLD_AT`).

*Pressure* is a slice's share of the metric's change: the slice's change over the sum of every
slice's change, in percent (a slice that fell by 120 while the metric fell by 100 carries 120 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity
from semsync.stories.rules.base import Candidate, DateContext, finite, good_or_bad, noise_z, z_strength

PATTERN = "dimension_analysis"
#: a share moving less than this (percentage points) is not told (segments are told at the week and
#: month grains only: `semsync.stories.rules.TOLD_AT`)
MIN_SHARE_CHANGE = {Grain.WEEK: 2.0, Grain.MONTH: 1.5}
#: a slice's change is told when it carries at least this much of the metric's change
MIN_PRESSURE = 50.0
#: the largest (smallest) slice, the top two and a new leader are told when the leader is ahead of
#: the next by at least this much (percent): two slices trading places by a hair is noise
MIN_LEAD = 5.0


def segment_stories(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    dimension = r.get("dimension_name")
    slices = [s for s in r.get("slices") or [] if finite(s.get("current_value"))]
    if not dimension or len(slices) < 2:
        return
    total_change = sum(s["absolute_change"] for s in slices if finite(s.get("absolute_change")))
    total_now = sum(s["current_value"] for s in slices)

    def pressure(s: dict) -> float | None:
        change = s.get("absolute_change")
        return change / total_change * 100 if finite(change) and total_change else None

    by_share = sorted((s for s in slices if finite(s.get("current_share_percent"))),
                      key=lambda s: -s["current_share_percent"])
    standings = len(by_share) > 1
    lead = {"largest_slice": _gap(by_share[0], by_share[1]) if standings else 0.0,
            "smallest_slice": _gap(by_share[-2], by_share[-1]) if standings else 0.0}
    for key, story_type in (("largest_slice", "top_slice"), ("smallest_slice", "bottom_slice")):
        found = r.get(key)
        if found and finite(found.get("share_percent")) and lead[key] >= MIN_LEAD:
            yield Candidate(story_type, Genre.SEGMENT, Polarity.NEUTRAL, 0.15,
                            {"share": found["share_percent"], "previous_share": found.get("previous_share_percent"),
                             "dimension": dimension}, PATTERN, dimension, found["slice"])
    for key, story_type in (("new_strongest_slice", "new_strongest_slice"), ("new_weakest_slice", "new_weakest_slice")):
        change = r.get(key)
        if change and lead["largest_slice" if story_type == "new_strongest_slice" else "smallest_slice"] >= MIN_LEAD:
            yield Candidate(story_type, Genre.SEGMENT, Polarity.NEUTRAL, 0.4,
                            {"value": change.get("current_value"), "previous_slice": change.get("previous_slice"),
                             "previous_value": change.get("previous_value"), "dimension": dimension},
                            PATTERN, dimension, change.get("current_slice"))
    movers = [s for s in slices if finite(s.get("share_change_percent"), s.get("prior_share_percent"))]
    if movers:
        for story_type, s in (("share_gain", max(movers, key=lambda s: s["share_change_percent"])),
                              ("share_loss", min(movers, key=lambda s: s["share_change_percent"]))):
            moved = s["share_change_percent"]
            if abs(moved) < MIN_SHARE_CHANGE[ctx.grain] or (moved > 0) != (story_type == "share_gain"):
                continue
            # the share's own noise: the slice's (about the metric's times √share) over the total
            share = max(s["prior_share_percent"], 1.0) / 100
            noise = ctx.noise * math.sqrt(share) / total_now * 100 if ctx.noise and total_now else None
            z = noise_z(moved, noise, math.sqrt(2.0))
            if z is not None and z < 3.0:
                continue
            yield Candidate(story_type, Genre.SEGMENT, Polarity.NEUTRAL,
                            0.2 + 0.4 * min(1.0, abs(moved) / (4 * MIN_SHARE_CHANGE[ctx.grain])),
                            {"share": s["current_share_percent"], "previous_share": s["prior_share_percent"],
                             "share_change": moved, "pressure": pressure(s), "dimension": dimension},
                            PATTERN, dimension, s["slice"])
    top = r.get("top_two_comparison")
    if standings and top and finite(top.get("gap_percent")) and abs(top["gap_percent"]) >= MIN_LEAD:
        yield Candidate("top_two_compared", Genre.SEGMENT, Polarity.NEUTRAL, 0.15,
                        {"slice_b": top.get("slice_b"), "value": top.get("value_a"), "value_b": top.get("value_b"),
                         "gap_percent": top["gap_percent"], "prior_gap_percent": top.get("prior_gap_percent"),
                         "dimension": dimension}, PATTERN, dimension, top.get("slice_a"))
    # segment drift: the slice that moved the metric most, when it carries most of the change
    changed = [s for s in slices if finite(s.get("absolute_change"))]
    if changed and total_change and total_now:
        s = max(changed, key=lambda s: abs(s["absolute_change"]))
        weight = pressure(s)
        share = max(s.get("current_share_percent") or 0.0, 1.0) / 100
        # a slice's noise is about the metric's times √share (independent slices)
        z = noise_z(s["absolute_change"], ctx.noise * math.sqrt(share) if ctx.noise else None, math.sqrt(2.0))
        if weight is not None and weight >= MIN_PRESSURE and z is not None and z >= 3.0:
            polarity = good_or_bad(s["absolute_change"], ctx.sign)
            yield Candidate("slice_stronger" if polarity is Polarity.GOOD else "slice_weaker", Genre.SEGMENT, polarity,
                            0.25 + 0.5 * z_strength(z - 1.0) * min(1.0, weight / 100),
                            {"value": s["current_value"], "previous_value": s.get("prior_value"),
                             "change": s["absolute_change"], "change_percent": s.get("change_percent"),
                             "pressure": weight, "dimension": dimension}, PATTERN, dimension, s["slice"])


def _gap(ahead: dict, behind: dict) -> float:
    """How far `ahead`'s share is above `behind`'s, in percent of `behind`'s."""
    b = behind["current_share_percent"]
    return (ahead["current_share_percent"] - b) / b * 100 if b > 0 else 100.0
