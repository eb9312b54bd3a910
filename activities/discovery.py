"""The discovery activity: a thin adapter to `semsync.catalog.discovery.Discovery`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from activities.errors import as_application_errors
from semsync.contracts import DiscoverInput, DiscoveryDiff

if TYPE_CHECKING:
    from semsync.catalog.discovery import Discovery


class DiscoveryActivities:
    def __init__(self, discovery: Discovery) -> None:
        self.discovery = discovery

    @activity.defn
    async def discover(self, request: DiscoverInput) -> DiscoveryDiff:
        """Load the catalog from its provider, write it, and register the metric and pattern contexts."""
        with as_application_errors():
            diff = await self.discovery.discover()
        activity.logger.info("discovery: %s", diff.summary())
        return diff
