"""The search attributes semsync sets on its workflows, so the Web UI and `temporal workflow list`
find e.g. every failed sync of one tenant: ``SemsyncTenant = 'acme' AND SemsyncStatus = 'FAILED'``.

The names are `semsync.temporal_names`', which `dev up` registers; a production namespace
registers them once with `temporal operator search-attribute create` (see the README).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from semsync import temporal_names as names

TENANT = SearchAttributeKey.for_keyword(names.TENANT)
METRIC = SearchAttributeKey.for_keyword(names.METRIC)
GRAIN = SearchAttributeKey.for_keyword(names.GRAIN)
PARTITION = SearchAttributeKey.for_keyword(names.PARTITION)
PATTERN = SearchAttributeKey.for_keyword(names.PATTERN)
BACKFILL = SearchAttributeKey.for_keyword(names.BACKFILL)
SYNC_TYPE = SearchAttributeKey.for_keyword(names.SYNC_TYPE)
STATUS = SearchAttributeKey.for_keyword(names.STATUS)
PRIORITY = SearchAttributeKey.for_keyword(names.PRIORITY)


def upsert(**values: str | None) -> None:
    """Upsert the given attributes (by lower-case name, e.g. ``tenant="acme"``); None values are skipped."""
    keys = {"tenant": TENANT, "metric": METRIC, "grain": GRAIN, "partition": PARTITION, "pattern": PATTERN,
            "backfill": BACKFILL, "sync_type": SYNC_TYPE, "status": STATUS, "priority": PRIORITY}
    workflow.upsert_search_attributes(
        [keys[name].value_set(value) for name, value in values.items() if value is not None]
    )
