"""The names semsync shares with the Temporal server, stated once: the task queues' defaults and the
search attributes (with their types) that the workflows set, `dev up` registers and a production
namespace registers with `temporal operator search-attribute create`."""

from __future__ import annotations

SYNC_TASK_QUEUE = "semsync-sync"
PATTERN_TASK_QUEUE = "semsync-patterns"

TENANT = "SemsyncTenant"
METRIC = "SemsyncMetric"
GRAIN = "SemsyncGrain"
PARTITION = "SemsyncPartition"
PATTERN = "SemsyncPattern"
BACKFILL = "SemsyncBackfill"
SYNC_TYPE = "SemsyncSyncType"
STATUS = "SemsyncStatus"
#: a BackfillWorkflow's task priority ("1" … "5"): lower-priority backfills yield to running ones
PRIORITY = "SemsyncPriority"

#: every search attribute and its type, as the server registers them
SEARCH_ATTRIBUTES: dict[str, str] = dict.fromkeys(
    (TENANT, METRIC, GRAIN, PARTITION, PATTERN, BACKFILL, SYNC_TYPE, STATUS, PRIORITY), "Keyword")
