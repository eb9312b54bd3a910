"""The patterns semsync runs, by name, and running one over every context it applies to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from semsync.errors import NotFoundError
from semsync.partitions import Grain
from semsync.patterns.base import AnalysisResult, Pattern, PatternData, PatternSettings
from semsync.patterns.dimension_analysis import DimensionAnalysis
from semsync.patterns.drift_detection import DriftDetection
from semsync.patterns.forecasting import Forecasting
from semsync.patterns.historical_performance import HistoricalPerformance
from semsync.patterns.performance_status import PerformanceStatus

_PATTERNS: dict[str, Pattern] = {}


def register(pattern: Pattern) -> Pattern:
    """Make `pattern` known by its name (a later registration of the same name replaces it)."""
    _PATTERNS[pattern.name] = pattern
    return pattern


for _pattern in (PerformanceStatus(), HistoricalPerformance(), DimensionAnalysis(), Forecasting(), DriftDetection()):
    register(_pattern)


def pattern_names() -> list[str]:
    return sorted(_PATTERNS)


def get_pattern(name: str) -> Pattern:
    try:
        return _PATTERNS[name]
    except KeyError:
        raise NotFoundError(f"unknown pattern {name!r}: known patterns are {', '.join(pattern_names())}") from None


def run_pattern(
    pattern: Pattern | str,
    data: PatternData,
    analysis_dates: Iterable[date],
    grain: Grain | str,
    settings: Mapping[str, Any] | PatternSettings | None = None,
) -> list[AnalysisResult]:
    """`analyze_many`, once per dimension in `data` for a per-dimension pattern (none: no results)."""
    if isinstance(pattern, str):
        pattern = get_pattern(pattern)
    dates = list(analysis_dates)
    if not pattern.per_dimension:
        return pattern.analyze_many(data, dates, grain, settings)
    results: list[AnalysisResult] = []
    for name in data.dimension_names():
        results += pattern.analyze_many(data.for_dimension(name), dates, grain, settings)
    return results
