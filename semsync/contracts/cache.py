"""The cache: CacheWorkflow's input and result, and its write activity's (`semsync.cache`)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from semsync.contracts.common import LedgerStatus, _ContextRequest, _Model, _Result
from semsync.partitions.cache_keys import CacheKey

#: the ledger's kind of a cache write
CACHE_KIND = "cache"


class CacheWindow(_Model):
    """One component's window to write: the base series (dimension None) or one dimension."""

    dimension: str | None = None
    start: date
    end: date


class CacheRequest(_ContextRequest):
    """Write one cache partition's span (``tenant::grain::metric`` over partitions) into the tenant's target."""

    #: the windows the sync changed (base and the dimensions that succeeded); None: the span's whole
    #: window, base and every dimension (a backfill from what is already synced)
    windows: list[CacheWindow] | None = None

    @property
    def key(self) -> CacheKey:
        return CacheKey(tenant=self.tenant, grain=self.grain, metric=self.metric_id)


class CacheWorkflowInput(CacheRequest):
    backfill_id: str | None = None

    @property
    def workflow_id(self) -> str:
        return cache_workflow_id(self.key, self.span)

    def cache_request(self) -> CacheRequest:
        return CacheRequest.model_validate(self.model_dump(include=set(CacheRequest.model_fields)))


class CacheWriteResult(_Result):
    """What one write did to the target: rows read from semsync, and inserted, updated, deleted there."""

    #: False: the tenant has no cache target (removed since the sync): nothing written
    written: bool = True
    target: str = ""
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    duration_s: float = 0.0


class CacheWorkflowResult(_Result):
    key: str
    partitions: list[str]
    ledger_status: LedgerStatus
    write: CacheWriteResult = Field(default_factory=CacheWriteResult)


def cache_workflow_id(key: CacheKey, span: str) -> str:
    return f"cache/{key}/{span}"
