"""Activity options the workflows share.

Every activity a worker runs heartbeats (`activities.heartbeat`: its progress lines and a keep-alive
every 5 s), so a 30 s heartbeat timeout is six missed beats: the work of a killed worker resumes
elsewhere within 30 s, however long its start-to-close timeout.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

HEARTBEAT = timedelta(seconds=30)
_BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                                 maximum_attempts=10)

#: planning and bookkeeping: quick database calls
QUICK = {"start_to_close_timeout": timedelta(minutes=2), "heartbeat_timeout": HEARTBEAT,
         "retry_policy": _BOOKKEEPING_RETRY}
#: planning a backfill over thousands of contexts, running discovery
PLANNING = {"start_to_close_timeout": timedelta(minutes=10), "heartbeat_timeout": HEARTBEAT,
            "retry_policy": _BOOKKEEPING_RETRY}
#: local activities (the ledger): run inside the workflow task, no heartbeat
LOCAL = {"start_to_close_timeout": timedelta(minutes=2), "retry_policy": _BOOKKEEPING_RETRY}
