"""The story rules, one module per pattern: each reads one stored result and yields the candidates
that hold on its date. `RULES` maps a pattern's name to its rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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

__all__ = ["RULES", "Candidate", "DateContext"]
