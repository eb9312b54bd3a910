"""The pattern activity: a thin adapter from Temporal to `semsync.pattern_runs.PatternRunService`."""

from __future__ import annotations

from temporalio import activity

from activities.errors import as_application_errors
from semsync.pattern_runs import PatternRunRequest, PatternRunResponse, PatternRunService


class PatternActivities:
    def __init__(self, service: PatternRunService) -> None:
        self.service = service

    @activity.defn(name="run_pattern")
    async def run_pattern(self, request: PatternRunRequest) -> PatternRunResponse:
        """Analyse one `tenant::metric::pattern` context over a partition range and store the results."""
        with as_application_errors():
            return await self.service.run(request)
