"""The pattern activities: thin adapters from Temporal to `semsync.pattern_runs.PatternRunService`.

The analysis itself runs in the service's executor (a process pool in the worker), never on the
worker's event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from activities.heartbeat import heartbeating
from semsync.contracts import ActivePatterns, ActivePatternsInput, PatternRunRequest, PatternRunResponse

if TYPE_CHECKING:
    from semsync.pattern_runs import PatternRunService


class PatternActivities:
    def __init__(self, service: PatternRunService) -> None:
        self.service = service

    @activity.defn
    async def active_patterns(self, request: ActivePatternsInput) -> ActivePatterns:
        """The metric's active pattern contexts."""
        with as_application_errors():
            return ActivePatterns(patterns=await self.service.active_patterns(request.tenant, request.metric_id))

    @activity.defn
    async def run_pattern(self, request: PatternRunRequest) -> PatternRunResponse:
        """Analyse one `tenant::metric::pattern` context over a partition range and store the results."""
        with as_application_errors():
            async with heartbeating() as progress:
                return await self.service.run(request, progress)
