"""The inputs and results of every semsync workflow and activity, and of the services behind them.

This package imports only pydantic and `semsync.partitions`, so a workflow can import it into
Temporal's sandbox without pulling in pandas, SQLAlchemy or httpx. Every request validates itself
when it is built: a malformed context or partition key never reaches a service (built from a
workflow's JSON input, it fails the workflow with the reason instead of retrying).

Ids are meaningful and deterministic, so a re-run of the same work is recognised:
``sync/{grain}/{partition-or-range}/{tenant}::{metric}``, ``patterns/{grain}/{partition-or-range}/
{tenant}::{metric}[::{pattern}]`` and ``backfill/{id}``.
"""

from semsync.contracts.backfill import (
    BACKFILL_WORKFLOW_PREFIX,
    BackfillControl,
    BackfillInput,
    BackfillMode,
    BackfillOrder,
    BackfillPlan,
    BackfillPlanSummary,
    BackfillProgress,
    BackfillResult,
    BackfillStage,
    BackfillState,
    ChunkFailure,
    ContextSelector,
    GrainRange,
    Lane,
    LanePage,
    LaneProgress,
    PlanBackfillInput,
    YieldCheck,
    YieldCheckInput,
    backfill_workflow_id,
)
from semsync.contracts.cache import (
    CACHE_KIND,
    CacheRequest,
    CacheWindow,
    CacheWorkflowInput,
    CacheWorkflowResult,
    CacheWriteResult,
)
from semsync.contracts.common import SYNC_KIND, LedgerStatus, SyncStatus, SyncType, span_key
from semsync.contracts.deliveries import (
    AlertPlan,
    AlertPlanRequest,
    AlertWorkflowInput,
    AlertWorkflowResult,
    DeliveryRetry,
    DeliveryStatus,
    DeliveryTally,
    DigestInput,
    DigestPlan,
    DigestPlanRequest,
    DigestResult,
    GiveUpRequest,
    ResendInput,
    SendDeliveryRequest,
    SendDeliveryResult,
    alert_workflow_id,
)
from semsync.contracts.patterns import (
    ActivePatterns,
    ActivePatternsInput,
    PatternBatchRequest,
    PatternBatchResponse,
    PatternOutcome,
    PatternRunRequest,
    PatternRunResponse,
    PatternWorkflowInput,
    PatternWorkflowResult,
    pattern_workflow_id,
)
from semsync.contracts.schedules import (
    CrossGrain,
    DiscoverInput,
    DiscoveryDiff,
    DiscoveryInput,
    DiscoveryResult,
    NoteMissingDaysInput,
    ScheduledRunInput,
    ScheduledRunResult,
    scheduled_backfill_id,
)
from semsync.contracts.stories import (
    STORIES_KIND,
    StoryRunRequest,
    StoryRunResponse,
    StoryWorkflowInput,
    StoryWorkflowResult,
    story_workflow_id,
)
from semsync.contracts.sync import (
    ComponentFailureInput,
    ComponentPlan,
    ComponentResult,
    ComponentRetry,
    LedgerBatch,
    LedgerEntry,
    LedgerWriteResult,
    SemanticSyncRequest,
    SemanticSyncResponse,
    SyncComponentInput,
    SyncPlan,
    SyncWorkflowInput,
    SyncWorkflowResult,
    sync_workflow_id,
)

__all__ = [
    "scheduled_backfill_id",
    "BACKFILL_WORKFLOW_PREFIX",
    "backfill_workflow_id",
    "CACHE_KIND", "CacheRequest", "CacheWindow", "CacheWorkflowInput", "CacheWorkflowResult", "CacheWriteResult",
    "AlertPlan", "AlertPlanRequest", "AlertWorkflowInput", "AlertWorkflowResult", "DeliveryRetry",
    "DeliveryStatus", "DeliveryTally", "DigestInput", "DigestPlan", "DigestPlanRequest", "DigestResult",
    "GiveUpRequest", "ResendInput", "SendDeliveryRequest", "SendDeliveryResult", "alert_workflow_id",
    "SYNC_KIND", "ActivePatterns", "ActivePatternsInput", "BackfillControl", "BackfillInput", "BackfillMode",
    "BackfillOrder",
    "BackfillPlan", "BackfillPlanSummary", "BackfillProgress", "BackfillResult", "BackfillStage", "BackfillState",
    "ChunkFailure",
    "ComponentFailureInput",
    "ComponentPlan", "ComponentResult", "ComponentRetry", "ContextSelector", "GrainRange", "Lane", "LanePage",
    "LaneProgress",
    "LedgerBatch",
    "LedgerEntry", "LedgerStatus", "LedgerWriteResult", "PatternBatchRequest", "PatternBatchResponse",
    "PatternOutcome", "PatternRunRequest", "PatternRunResponse",
    "PatternWorkflowInput", "PatternWorkflowResult", "PlanBackfillInput", "SemanticSyncRequest",
    "SemanticSyncResponse", "SyncComponentInput", "SyncPlan", "SyncStatus", "SyncType", "SyncWorkflowInput",
    "SyncWorkflowResult", "pattern_workflow_id", "span_key", "sync_workflow_id", "DiscoverInput", "DiscoveryDiff",
    "DiscoveryInput", "DiscoveryResult", "ScheduledRunInput", "ScheduledRunResult", "CrossGrain",
    "NoteMissingDaysInput", "STORIES_KIND",
    "StoryRunRequest", "StoryRunResponse", "YieldCheck",
    "YieldCheckInput", "StoryWorkflowInput", "StoryWorkflowResult", "story_workflow_id",
]
