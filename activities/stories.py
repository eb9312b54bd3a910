"""The story activity: a thin adapter from Temporal to `semsync.stories.runs.StoryRunService`.

The telling runs in the service's executor (the worker's pattern process pool), never on the
worker's event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from activities.heartbeat import report_progress
from activities.telemetry import STORIES_NEW, STORY_RUNS, count, error_type, request_context
from semsync.contracts import StoryRunRequest, StoryRunResponse

if TYPE_CHECKING:
    from semsync.stories.runs import StoryRunService


class StoryActivities:
    def __init__(self, service: StoryRunService) -> None:
        self.service = service

    @activity.defn
    async def tell_stories(self, request: StoryRunRequest) -> StoryRunResponse:
        """Tell the stories of one `tenant::metric` context over a span from its stored pattern results."""
        with request_context(request):
            try:
                with as_application_errors():
                    response = await self.service.run(request, report_progress)
            except Exception as exc:
                count(STORY_RUNS, status="failed", grain=request.grain.value)
                activity.logger.warning("story run failed (%s): %s", error_type(exc), exc)
                raise
            count(STORY_RUNS, status="succeeded", grain=request.grain.value)
            count(STORIES_NEW, value=response.new, grain=request.grain.value)
            activity.logger.info("stories: %d told (%d new, %d resolved) from %d results; %d written",
                                 response.stories, response.new, response.resolved,
                                 response.results_read, response.written)
            return response
