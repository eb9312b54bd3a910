"""One context's pattern work as a pure function: every pattern of one (metric, grain) over its
analysis dates, from data already read and settings already resolved, to store records.

This is the unit a pattern-run service hands to a process pool: its input (`ContextAnalysis`) and
output (`ContextAnalysisResult`) are plain picklable values, no database, no event loop, so the
pattern work of independent contexts runs on every core while the main process reads and stores.

    table = PatternSettingsTable.build(tenant, metrics, pattern_names())     # the catalog, once a run
    data = await organiser.read_for_patterns(
        [(get_pattern(n), table.get(metric_id, n)) for n in names], tenant_id, metric_id, grain, dates)
    job = ContextAnalysis(metric_id, grain, dates, data, {n: table.get(metric_id, n) for n in names})
    result = await loop.run_in_executor(process_pool, analyse_context, job)
    await store_records(session_factory, tenant_id, result.records)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from semsync.partitions import Grain
from semsync.patterns.base import PatternData, PatternSettings
from semsync.patterns.registry import get_pattern, run_pattern
from semsync.patterns.store import ResultRecord, result_record


@dataclass(frozen=True)
class ContextAnalysis:
    """What one context's pattern work needs: its data, its dates and each pattern's settings."""

    metric_id: str
    grain: Grain
    analysis_dates: list[date]
    data: PatternData
    #: pattern name → settings (validated; `PatternSettingsTable`), in the order to run them
    settings: dict[str, PatternSettings]
    #: a pattern that raises fails alone (`ContextAnalysisResult.failures`, none of its records
    #: kept) instead of failing the whole job
    isolate_failures: bool = False


@dataclass(frozen=True)
class ContextAnalysisResult:
    metric_id: str
    grain: Grain
    #: `semsync.patterns.store.result_record` rows, ready for `store_records`
    records: list[ResultRecord]
    #: pattern name → "analysis_date[/dimension]" → error type, for results that carry a typed error
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    #: pattern name → CPU seconds this process spent analysing (and serialising) its results (not
    #: the time spent waiting for a core, so comparable between a quiet and a busy machine)
    seconds: dict[str, float] = field(default_factory=dict)
    #: pattern name → ``"ErrorType: message"`` of a pattern that raised (with `isolate_failures`)
    failures: dict[str, str] = field(default_factory=dict)


def analyse_context(job: ContextAnalysis) -> ContextAnalysisResult:
    """Run every pattern of `job` over its dates (per dimension where the pattern is), serialising
    each result once. Identical, date by date, to analysing each date alone."""
    records: list[ResultRecord] = []
    errors: dict[str, dict[str, str]] = {}
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    for name, settings in job.settings.items():
        began = time.process_time()
        found: list[ResultRecord] = []
        typed: dict[str, str] = {}
        try:
            for result in run_pattern(get_pattern(name), job.data, job.analysis_dates, job.grain, settings):
                found.append(result_record(result))
                if result.error is not None:
                    where = f"{result.analysis_date}{'/' + result.dimension_name if result.dimension_name else ''}"
                    typed[where] = result.error.type.value
        except Exception as exc:
            if not job.isolate_failures:
                raise
            failures[name] = f"{type(exc).__name__}: {exc}"
        else:
            records += found
            if typed:
                errors[name] = typed
        seconds[name] = time.process_time() - began
    return ContextAnalysisResult(job.metric_id, job.grain, records, errors, seconds, failures)
