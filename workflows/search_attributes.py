"""The search attributes semsync sets on its workflows, so the Web UI and `temporal workflow list`
find e.g. every failed sync of one tenant: ``SemsyncTenant = 'acme' AND SemsyncStatus = 'FAILED'``.

The names match `semsync.devstack.SEARCH_ATTRIBUTES`, which `dev up` registers; a production
namespace registers them once with `temporal operator search-attribute create` (see the README).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey

TENANT = SearchAttributeKey.for_keyword("SemsyncTenant")
METRIC = SearchAttributeKey.for_keyword("SemsyncMetric")
GRAIN = SearchAttributeKey.for_keyword("SemsyncGrain")
PARTITION = SearchAttributeKey.for_keyword("SemsyncPartition")
PATTERN = SearchAttributeKey.for_keyword("SemsyncPattern")
BACKFILL = SearchAttributeKey.for_keyword("SemsyncBackfill")
SYNC_TYPE = SearchAttributeKey.for_keyword("SemsyncSyncType")
STATUS = SearchAttributeKey.for_keyword("SemsyncStatus")
#: a BackfillWorkflow's task priority ("1" … "5"): lower-priority backfills yield to running ones
PRIORITY = SearchAttributeKey.for_keyword("SemsyncPriority")


def upsert(**values: str | None) -> None:
    """Upsert the given attributes (by lower-case name, e.g. ``tenant="acme"``); None values are skipped."""
    keys = {"tenant": TENANT, "metric": METRIC, "grain": GRAIN, "partition": PARTITION, "pattern": PATTERN,
            "backfill": BACKFILL, "sync_type": SYNC_TYPE, "status": STATUS, "priority": PRIORITY}
    workflow.upsert_search_attributes(
        [keys[name].value_set(value) for name, value in values.items() if value is not None]
    )
