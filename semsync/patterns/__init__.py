"""Pattern analysis of metric time series: pure pandas / numpy / statsmodels, no Temporal.

    from semsync.patterns import get_pattern, PatternData
    pattern = get_pattern("performance_status")
    result = pattern.analyze(data, date(2025, 7, 2), "day", {"threshold_ratio": 0.1})
    results = pattern.analyze_many(data, dates, "day")  # a backfill: data read once

`PatternDataOrganiser` (`semsync.patterns.data`) reads what a pattern needs from the database and
`store_results` (`semsync.patterns.store`) upserts results; see `semsync.patterns.base` for the
interface and each pattern's module for what it finds.
"""

from semsync.patterns.base import (
    AnalysisResult,
    AnalysisWindow,
    DataNeed,
    ErrorType,
    Pattern,
    PatternData,
    PatternError,
    PatternSettings,
)
from semsync.patterns.periods import analysis_date_for
from semsync.patterns.registry import get_pattern, pattern_names, register, run_pattern

__all__ = [
    "AnalysisResult",
    "AnalysisWindow",
    "DataNeed",
    "ErrorType",
    "Pattern",
    "PatternData",
    "PatternError",
    "PatternSettings",
    "analysis_date_for",
    "get_pattern",
    "pattern_names",
    "register",
    "run_pattern",
]
