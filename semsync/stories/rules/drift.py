"""Stories from `drift_detection`: a level shift up / down and a trend change up / down.

The latest change the pattern still reports is the story; it stays the same story (identity: the
change's date) while the pattern keeps reporting it, so a shift is announced once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from semsync.partitions import Grain
from semsync.stories.model import Genre
from semsync.stories.rules.base import Candidate, DateContext, finite, good_or_bad, z_strength

PATTERN = "drift_detection"
#: a change reported a few periods earlier or later than yesterday's is the same change
TOLERANCE_DAYS = {Grain.DAY: 14, Grain.WEEK: 28, Grain.MONTH: 62}
#: a change this many periods old counts as about a third less timely
RECENT = {Grain.DAY: 30, Grain.WEEK: 8, Grain.MONTH: 3}


def drift_stories(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    shift = r.get("latest_shift")
    if not shift or shift.get("kind") not in ("level_shift", "trend_change") or not finite(shift.get("size")):
        return
    up = shift.get("direction") == "up"
    level = shift["kind"] == "level_shift"
    story_type = f"{'level_shift' if level else 'trend_change'}_{'up' if up else 'down'}"
    critical = r.get("critical_z") or 3.0
    z = abs(shift.get("z_score") or 0.0)
    # the pattern reports a change from its critical value: strength grows from there; a level shift
    # is plainer news than a change of slope, and a change first seen long after it happened is late
    size = z_strength(3.0 + 2.0 * max(0.0, z - critical) / critical)
    strength = (0.35 + 0.65 * size) if level else (0.25 + 0.5 * size)
    ago = shift.get("periods_ago") or 0
    strength *= 0.5 + 0.5 * math.exp(-ago / RECENT[ctx.grain])
    yield Candidate(story_type, Genre.DRIFT, good_or_bad(1.0 if up else -1.0, ctx.sign), strength,
                    {"date": shift.get("date"), "size": shift["size"], "size_percent": shift.get("size_percent"),
                     "before": shift.get("level_before"), "after": shift.get("level_after"),
                     "slope_before": shift.get("slope_before"), "slope_after": shift.get("slope_after"),
                     "z": shift.get("z_score")},
                    PATTERN, identity=str(shift.get("date")), tolerance_days=TOLERANCE_DAYS[ctx.grain])
