"""The story rules, one module per pattern: each reads one stored result and yields the candidates
that hold on its date. `RULES` maps a pattern's name to its rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from semsync.partitions import Grain
from semsync.stories.rules.base import Candidate, DateContext
from semsync.stories.rules.drift import drift_stories
from semsync.stories.rules.forecast import forecast_stories
from semsync.stories.rules.history import history_stories
from semsync.stories.rules.segments import segment_stories
from semsync.stories.rules.status import status_stories

RULES: dict[str, Callable[[dict, DateContext], Iterator[Candidate]]] = {
    "performance_status": status_stories,
    "historical_performance": history_stories,
    "dimension_analysis": segment_stories,
    "forecasting": forecast_stories,
    "drift_detection": drift_stories,
}

#: the grains a pattern's results are told at, where not every grain: a day's slice mix moves with
#: the day's noise (shares and leaders swapped every few days in the demo), so segments are told at
#: the week and month grains, and a daily story run does not read the dimensional results at all
TOLD_AT: dict[str, tuple[Grain, ...]] = {"dimension_analysis": (Grain.WEEK, Grain.MONTH)}


def told_at(pattern: str, grain: Grain) -> bool:
    return grain in TOLD_AT.get(pattern, tuple(Grain))


__all__ = ["RULES", "TOLD_AT", "Candidate", "DateContext", "told_at"]
