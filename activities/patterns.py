"""The pattern activities: thin adapters from Temporal to `semsync.patterns.runs.PatternRunService`.

The analysis itself runs in the service's executor (a process pool in the worker), never on the
worker's event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from activities.heartbeat import report_progress
from activities.telemetry import PATTERN_RESULTS, PATTERN_RUNS, count, error_type, request_context
from semsync.contracts import (
    ActivePatterns,
    ActivePatternsInput,
    PatternBatchRequest,
    PatternBatchResponse,
    PatternRunRequest,
    PatternRunResponse,
)
from semsync.observability import log_context

if TYPE_CHECKING:
    from semsync.patterns.runs import PatternRunService


class PatternActivities:
    def __init__(self, service: PatternRunService) -> None:
        self.service = service

    @activity.defn
    async def active_patterns(self, request: ActivePatternsInput) -> ActivePatterns:
        """The metric's active pattern contexts."""
        with log_context(tenant=request.tenant, metric=request.metric_id), as_application_errors():
            return ActivePatterns(patterns=await self.service.active_patterns(request.tenant, request.metric_id))

    @activity.defn
    async def run_pattern(self, request: PatternRunRequest) -> PatternRunResponse:
        """Analyse one `tenant::metric::pattern` context over a partition range and store the results."""
        labels = {"pattern": request.pattern, "grain": request.grain.value}
        with request_context(request, pattern=request.pattern):
            try:
                with as_application_errors():
                    response = await self.service.run(request, report_progress)
            except Exception as exc:
                count(PATTERN_RUNS, status="failed", **labels)
                activity.logger.warning("pattern run failed (%s): %s", error_type(exc), exc)
                raise
            count(PATTERN_RUNS, status="result_errors" if response.errors else "succeeded", **labels)
            count(PATTERN_RESULTS, value=response.results_stored, **labels)
            activity.logger.info("pattern %s %s: %d results stored, %d with a typed error", response.pattern,
                                 response.version, response.results_stored, len(response.errors))
            return response

    @activity.defn
    async def run_patterns(self, request: PatternBatchRequest) -> PatternBatchResponse:
        """Analyse several patterns of one `tenant::metric` context over a partition range in one read,
        one analysis job and one store; a pattern that fails does so alone, in its outcome."""
        with request_context(request):
            try:
                with as_application_errors():
                    response = await self.service.run_batch(request, report_progress)
            except Exception as exc:
                count(PATTERN_RUNS, status="failed", pattern="all", grain=request.grain.value)
                activity.logger.warning("pattern run failed (%s): %s", error_type(exc), exc)
                raise
            for outcome in response.outcomes:
                labels = {"pattern": outcome.pattern, "grain": request.grain.value}
                status = ("failed" if not outcome.succeeded else
                          "result_errors" if outcome.results_with_error else "succeeded")
                count(PATTERN_RUNS, status=status, **labels)
                count(PATTERN_RESULTS, value=outcome.results_stored, **labels)
                if outcome.succeeded:
                    activity.logger.info("pattern %s: %d results stored, %d with a typed error", outcome.pattern,
                                         outcome.results_stored, outcome.results_with_error)
                else:
                    activity.logger.warning("pattern %s failed: %s", outcome.pattern, outcome.error)
            return response
