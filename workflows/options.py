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
#: work in the worker's process pool (the analysis, the telling): the keep-alive heartbeats from the
#: event loop while the pool works, so a lost worker's run resumes within the heartbeat timeout
POOL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                         maximum_interval=timedelta(minutes=1), maximum_attempts=5)


def pool_work(timeout: timedelta) -> dict:
    """The options of an activity that runs in the process pool for at most `timeout`."""
    return {"start_to_close_timeout": timeout, "heartbeat_timeout": HEARTBEAT, "retry_policy": POOL_RETRY}
