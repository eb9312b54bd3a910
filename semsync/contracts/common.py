"""What every contract shares: the base models, the status enums, the span of partitions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from semsync.errors import cut
from semsync.partitions import Grain, MetricContext, Partition, partitions_between, span_ends
from semsync.partitions.contexts import check_identifier
from semsync.redaction import redact


def _error_text(value: str) -> str:
    # masked before it is cut, so that a cut through a URL's password leaves no half of it
    return cut(redact(value))


#: an error's text as results, ledger entries and continue-as-new state carry it: credentials
#: masked, cut to about `semsync.errors.MAX_ERROR_TEXT` characters (its start and its end kept)
ErrorText = Annotated[str, AfterValidator(_error_text)]


class SyncType(StrEnum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


class SyncStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class LedgerStatus(StrEnum):
    """A partition's state in the partition ledger."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    #: the base series synced, a dimension failed
    PARTIAL = "partial"
    FAILED = "failed"


#: the ledger's kind for a sync row (pattern rows carry the pattern's name)
SYNC_KIND = "sync"


def span_key(first: str, last: str) -> str:
    """``first`` for one partition, ``first:last`` for a range: the form ids and the CLI use."""
    return first if first == last else f"{first}:{last}"


class _Model(BaseModel):
    """Inputs refuse unknown fields: a typo in a hand-written workflow input is an error."""

    model_config = ConfigDict(extra="forbid")


class _Result(BaseModel):
    """Results ignore unknown fields: their computed fields are serialised and read back."""

    model_config = ConfigDict(extra="ignore")


class _SpanRequest(_Model):
    """One grain and one partition or a contiguous run of them, validated and normalised when built."""

    grain: Grain
    start_partition: str = Field(description="partition key, e.g. 2025-07-01, 2025-W27, 2025-07")
    end_partition: str | None = Field(None, description="last partition of a contiguous run; default: start")

    @model_validator(mode="after")
    def _check_span(self) -> Self:
        # the ends parsed and the span checked by arithmetic: no partition list is built to validate it
        first, last = span_ends(self.grain, self.start_partition, self.end_partition)
        # normalised keys: a Monday's date becomes its week key, the end is always set
        self.start_partition, self.end_partition = first.key, last.key
        return self

    def partitions(self) -> list[Partition]:
        """The requested partitions in order."""
        return partitions_between(self.grain, self.start_partition, self.end_partition)

    @property
    def span(self) -> str:
        """``2025-07-01`` or ``2025-07-01:2025-07-31``."""
        return span_key(self.start_partition, self.end_partition or self.start_partition)


class _ContextRequest(_SpanRequest):
    """A span of one ``tenant::metric`` context, its identifiers checked when built."""

    tenant: str = Field(description="tenant identifier")
    metric_id: str

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        return check_identifier("tenant", value)

    @field_validator("metric_id")
    @classmethod
    def _metric(cls, value: str) -> str:
        return check_identifier("metric", value)

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric_id)
