"""SQLAlchemy 2.0 models of semsync's tables.

Every tenant table carries ``tenant_id`` and is protected by a row-level-security policy (see the
initial migration): the app role sees and writes only the rows of the tenant set for the current
transaction by :func:`semsync.db.session.tenant_scope`. ``tenants`` itself is the registry of tenants
and is readable without a scope.

``dimension_name`` is NULL for a metric's base series; unique keys use ``NULLS NOT DISTINCT``
(PostgreSQL 15+) so that NULL takes part in the key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Tables with a ``tenant_id`` column and a row-level-security policy.
TENANT_TABLES = (
    "metrics",
    "metric_dimensions",
    "metric_targets",
    "metric_contexts",
    "metric_pattern_contexts",
    "metric_time_series",
    "metric_dimensional_time_series",
    "metric_sync_status",
    "pattern_results",
    "partition_ledger",
    "stories",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False)


def _tenant_fk() -> Mapped[int]:
    return mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    sync_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    #: Semantic layer connection (type, URL, auth); secrets live here as in the original product.
    semantic_layer: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    #: pattern settings overrides for all the tenant's metrics (a metric's own override wins)
    pattern_settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    #: where its stories are delivered (`semsync.notify.channels`), sealed like the connection; None: nowhere
    notifications: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: where its synced series are cached (`semsync.cache`), sealed like the connection; None: nowhere
    cache_target: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Metric(Base):
    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    #: The full validated metric definition (source, dimensions, pattern settings) as JSON.
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    pattern_settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (Index("uq_metrics_tenant_metric", "tenant_id", "metric_id", unique=True),)


class MetricDimension(Base):
    __tablename__ = "metric_dimensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    dimension_id: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    member: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index("uq_metric_dimensions_key", "tenant_id", "metric_id", "dimension_id", unique=True),
    )


class MetricTarget(Base):
    __tablename__ = "metric_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    grain: Mapped[str] = mapped_column(String(8), nullable=False)
    target_date: Mapped[date] = mapped_column(Date, nullable=False)
    target_value: Mapped[float] = mapped_column(Double, nullable=False)
    target_upper_bound: Mapped[float | None] = mapped_column(Double)
    target_lower_bound: Mapped[float | None] = mapped_column(Double)
    yellow_buffer: Mapped[float | None] = mapped_column(Double)
    red_buffer: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index("uq_metric_targets_key", "tenant_id", "metric_id", "grain", "target_date", unique=True),
    )


class _ContextRegistryColumns:
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MetricContextEntry(_ContextRegistryColumns, Base):
    """A `tenant::metric` context known to discovery."""

    __tablename__ = "metric_contexts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    context_key: Mapped[str] = mapped_column(String(140), nullable=False, unique=True)
    #: when discovery inserted or last reactivated it (its first sync selects by this; migration 0009)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (Index("ix_metric_contexts_activated", "tenant_id", "activated_at"),)


class MetricPatternContextEntry(_ContextRegistryColumns, Base):
    """A `tenant::metric::pattern` context known to discovery."""

    __tablename__ = "metric_pattern_contexts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    pattern: Mapped[str] = mapped_column(String(64), nullable=False)
    context_key: Mapped[str] = mapped_column(String(210), nullable=False, unique=True)


class MetricTimeSeries(Base):
    __tablename__ = "metric_time_series"

    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    metric_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Double, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MetricDimensionalTimeSeries(Base):
    __tablename__ = "metric_dimensional_time_series"

    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    metric_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    dimension_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension_slice: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[float] = mapped_column(Double, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MetricSyncStatus(Base):
    """One row per (metric, grain, dimension, sync type); `history` keeps the last 20 attempts."""

    __tablename__ = "metric_sync_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    grain: Mapped[str] = mapped_column(String(8), nullable=False)
    dimension_name: Mapped[str | None] = mapped_column(String(64))
    sync_type: Mapped[str] = mapped_column(String(16), nullable=False)
    sync_status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_sync_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    records_processed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    #: every date from the first FULL window's start to here was fetched after it had settled
    #: (fetched at least the INCREMENTAL lookback after the date): see semsync.sync.plan
    settled_through: Mapped[date | None] = mapped_column(Date)
    error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index(
            "uq_metric_sync_status_key",
            "tenant_id", "metric_id", "grain", "dimension_name", "sync_type",
            unique=True, postgresql_nulls_not_distinct=True,
        ),
    )


class PatternResult(Base):
    __tablename__ = "pattern_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    pattern: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(16), nullable=False)
    grain: Mapped[str] = mapped_column(String(8), nullable=False)
    analysis_date: Mapped[date] = mapped_column(Date, nullable=False)
    dimension_name: Mapped[str | None] = mapped_column(String(64))
    analysis_window: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    run_result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index(
            "uq_pattern_results_key",
            "tenant_id", "metric_id", "pattern", "version", "grain", "analysis_date", "dimension_name",
            unique=True, postgresql_nulls_not_distinct=True,
        ),
    )


class PartitionLedgerEntry(Base):
    """One row per (tenant, metric, grain, partition, kind): the last word on that partition's sync
    (kind ``sync``) or on one pattern's run over it (kind = the pattern's name)."""

    __tablename__ = "partition_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    grain: Mapped[str] = mapped_column(String(8), nullable=False)
    partition_key: Mapped[str] = mapped_column(String(16), nullable=False)
    partition_start: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str | None] = mapped_column(Text)
    #: a partial sync's failed components ("base" or dimension ids; migration 0010)
    failed_components: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    #: a pattern's success: its version, settings and data version, hashed (migration 0011)
    fingerprint: Mapped[str | None] = mapped_column(Text)
    #: e.g. ``skipped: unchanged``
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("uq_partition_ledger_key", "tenant_id", "metric_id", "grain", "partition_key", "kind", unique=True),
        Index("ix_partition_ledger_status", "tenant_id", "grain", "kind", "status"),
    )


class StoryRow(Base):
    """One story (`semsync.stories.model.Story`) on its natural key; the table the story runs write."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    metric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    grain: Mapped[str] = mapped_column(String(8), nullable=False)
    story_date: Mapped[date] = mapped_column(Date, nullable=False)
    story_type: Mapped[str] = mapped_column(String(64), nullable=False)
    dimension: Mapped[str | None] = mapped_column(String(64))
    slice: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(16), nullable=False)
    pattern_version: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    started_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: what makes the stories of two dates the same one (a shift's date, a forecast period's start)
    identity: Mapped[str] = mapped_column(Text, nullable=False)
    genre: Mapped[str] = mapped_column(String(16), nullable=False)
    polarity: Mapped[str] = mapped_column(String(8), nullable=False)
    salience: Mapped[float] = mapped_column(Double, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    series: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    series_dates: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    pattern: Mapped[str] = mapped_column(String(64), nullable=False)
    analysis_date: Mapped[date] = mapped_column(Date, nullable=False)
    grouped_under: Mapped[str | None] = mapped_column(String(64))
    also: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        Index("uq_stories_key", "tenant_id", "metric_id", "grain", "story_date", "story_type", "dimension", "slice",
              "version", "pattern_version", unique=True, postgresql_nulls_not_distinct=True),
        Index("ix_stories_date", "tenant_id", "grain", "story_date"),
    )


class Delivery(Base):
    """One delivery: an alert of a story, a digest of a period or a test message, to one channel.
    `key` is its idempotency key; (tenant, key) is unique, so it is recorded and sent once."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[int] = _tenant_fk()
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    #: alert, digest or test
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    rule_id: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(64), nullable=False)
    channel_type: Mapped[str] = mapped_column(String(8), nullable=False)
    #: an alert's story (its key without the versions: a new story version does not alert again)
    metric_id: Mapped[str | None] = mapped_column(String(64))
    grain: Mapped[str | None] = mapped_column(String(8))
    story_date: Mapped[date | None] = mapped_column(Date)
    story_type: Mapped[str | None] = mapped_column(String(64))
    dimension: Mapped[str | None] = mapped_column(String(64))
    slice: Mapped[str | None] = mapped_column(Text)
    #: a digest's period (its partition key)
    period: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(Text)
    salience: Mapped[float | None] = mapped_column(Double)
    #: pending, sending, retrying, sent, failed; snoozed and folded (alerts held back), digested (a
    #: folded alert sent in a digest)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the receiver's answer to the last attempt
    response: Mapped[str | None] = mapped_column(Text)
    #: a send in flight holds the delivery until then (a worker that died lets it go)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: a folded alert: the digest delivery that carried it
    digest_id: Mapped[int | None] = mapped_column(BigInteger)
    workflow_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_deliveries_key", "tenant_id", "key", unique=True),
        Index("ix_deliveries_status", "tenant_id", "status", "created_at"),
        Index("ix_deliveries_channel", "tenant_id", "channel_id", "kind", "created_at"),
    )


class AlertSnooze(Base):
    """A metric whose alerts are held (snoozed) until `until` (None: until unsnoozed)."""

    __tablename__ = "alert_snoozes"

    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    metric_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
