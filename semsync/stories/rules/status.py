"""Stories from `performance_status`: goal vs actual, status changes, hold steady, streaks."""

from __future__ import annotations

import math
from collections.abc import Iterator

from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity
from semsync.stories.rules.base import Candidate, DateContext, finite, noise_z, z_strength

PATTERN = "performance_status"
STATUS_LABEL = {"on_track": "on track", "at_risk": "at risk", "off_track": "off track"}
_RANK = {"off_track": 0, "at_risk": 1, "on_track": 2}
#: the fewest consecutive moves that make a streak story (a 2- or 3-day run is common in noise)
MIN_STREAK = {Grain.DAY: 5, Grain.WEEK: 4, Grain.MONTH: 3}


def status_stories(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    status = r.get("status")
    value, target = r.get("current_value"), r.get("target_value")
    if status in _RANK and finite(value, target) and target != 0:
        diff = value - target
        variables = {"value": value, "target": target, "diff_percent": diff / abs(target) * 100,
                     "run": r.get("current_status_duration_periods") or 1}
        z = noise_z(diff, ctx.noise)
        if status == "on_track":
            yield Candidate("on_track", Genre.STATUS, Polarity.GOOD, 0.25, variables, PATTERN)
        elif status == "at_risk":
            yield Candidate("at_risk", Genre.STATUS, Polarity.BAD, 0.3 + 0.4 * z_strength(z), variables, PATTERN)
        else:
            yield Candidate("off_track", Genre.STATUS, Polarity.BAD, 0.35 + 0.65 * z_strength(z), variables, PATTERN)
        change = r.get("status_change")
        if change and change.get("old_status") in _RANK and change.get("new_status") in _RANK:
            old, new = change["old_status"], change["new_status"]
            held = change.get("old_status_duration_periods") or 1
            better = _RANK[new] > _RANK[old]
            variables = {"value": value, "target": target, "new_label": STATUS_LABEL[new],
                         "old_label": STATUS_LABEL[old], "held": held}
            # a status that held long and changes is news; one that flips every period is not
            strength = 0.3 + 0.5 * min(1.0, held / 8) + 0.2 * z_strength(z)
            yield Candidate("status_improved" if better else "status_worsened", Genre.STATUS,
                            Polarity.GOOD if better else Polarity.BAD, strength, variables, PATTERN)
    steady = r.get("hold_steady")
    if steady and steady.get("is_currently_at_or_above_target") and finite(steady.get("current_margin_percent")):
        yield Candidate("hold_steady", Genre.STATUS, Polarity.NEUTRAL, 0.2,
                        {"value": value, "target": target, "margin_percent": steady["current_margin_percent"]},
                        PATTERN)
    streak = r.get("streak")
    if streak and (streak.get("length_periods") or 0) >= MIN_STREAK[ctx.grain]:
        length = streak["length_periods"]
        up = streak.get("direction") == "up"
        total = streak.get("total_change_percent")
        good = (1 if up else -1) * ctx.sign > 0
        # a run of n moves one way has probability 2/(n+1)! in noise: rarity, not size, makes it news
        rarity = 1.0 - min(1.0, 2.0 / math.factorial(length + 1) * 1000)
        yield Candidate("growth_streak" if up else "decline_streak", Genre.GROWTH,
                        Polarity.GOOD if good else Polarity.BAD, 0.2 + 0.4 * max(rarity, 0.0),
                        {"length": length, "total_percent": total, "start": streak.get("start_date"),
                         "start_value": streak.get("start_value"), "value": value}, PATTERN,
                        identity=str(streak.get("start_date")))
