"""What the catalog knows: tenants with their semantic layer connection, and metric definitions.

These models are the contract between the catalog providers (YAML file, HTTP services), the
sources (Cube, SQL) and the sync service. A metric definition says where its values come from
(`source`), which dimensions it can be sliced by, its targets and its pattern settings overrides.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from semsync.http.url_policy import checked_service_url
from semsync.notify.channels import Notifications
from semsync.partitions.contexts import IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH

#: the identifier rule of contexts (`semsync.partitions.contexts`): tenant and metric ids become context parts
IDENTIFIER = rf"^{IDENTIFIER_PATTERN}$"



def _repeated(keys: Iterable[Hashable]) -> list:
    """The keys that occur more than once, sorted (linear: a metric can carry thousands of targets)."""
    return sorted(k for k, n in Counter(keys).items() if n > 1)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterOperator(StrEnum):
    """Cube's filter operators that both sources implement."""

    EQUALS = "equals"
    NOT_EQUALS = "notEquals"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    SET = "set"
    NOT_SET = "notSet"


class Filter(_Strict):
    """`member` is a Cube member (`orders.status`) for Cube, a column of the table for SQL."""

    member: str
    operator: FilterOperator
    values: list[str] = Field(default_factory=list)


class CubeMetricSource(_Strict):
    type: Literal["cube"] = "cube"
    measure: str = Field(description="Cube measure member, e.g. `orders.revenue`")
    time_dimension: str = Field(description="Cube time dimension member, e.g. `orders.created_at`")
    filters: list[Filter] = Field(default_factory=list)


class SqlMetricSource(_Strict):
    """An aggregation over a table, computed per grain inside the database."""

    type: Literal["sql"] = "sql"
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    value: str = Field(description="aggregate SQL expression, e.g. `sum(amount)` or `count(*)`")
    time_column: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    filters: list[Filter] = Field(default_factory=list)

    @field_validator("value")
    @classmethod
    def _allowed_expression(cls, value: str) -> str:
        from semsync.catalog.sql_expression import expression_problem  # sqlglot: only for SQL metrics

        problem = expression_problem(value)
        if problem:
            raise ValueError(problem)
        return value


MetricSourceDef = Annotated[CubeMetricSource | SqlMetricSource, Field(discriminator="type")]


class DimensionDef(_Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=MAX_IDENTIFIER_LENGTH)
    label: str | None = None
    member: str = Field(description="Cube dimension member, or the column for a SQL source")


class TargetDef(_Strict):
    grain: Literal["day", "week", "month"]
    target_date: date
    target_value: float
    target_upper_bound: float | None = None
    target_lower_bound: float | None = None
    #: percent of |target_value|: short of target by up to yellow is on track, up to red at risk
    yellow_buffer: float | None = Field(None, ge=0)
    red_buffer: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _buffers_in_order(self) -> TargetDef:
        if self.yellow_buffer is not None and self.red_buffer is not None and self.red_buffer < self.yellow_buffer:
            raise ValueError(f"red_buffer {self.red_buffer} is below yellow_buffer {self.yellow_buffer}: "
                             "at risk lies between the two")
        return self


class MetricDef(_Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=MAX_IDENTIFIER_LENGTH)
    label: str
    source: MetricSourceDef
    dimensions: list[DimensionDef] = Field(default_factory=list)
    targets: list[TargetDef] = Field(default_factory=list)
    #: which way the metric improves: churn, cost and latency are lower-is-better; the patterns'
    #: statuses, records and strongest slices follow it (stored in the metric's JSON definition)
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    #: how the stories write its values: ``count``, ``percent`` (values are fractions: 0.031 is 3.1 %)
    #: or an ISO 4217 currency code (``USD``); unset, a plain number
    unit: str | None = None
    #: per-pattern settings overrides, e.g. {"performance_status": {"threshold_ratio": 0.1}}
    patterns: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        if value is not None and value not in ("count", "percent") and not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"unit {value!r}: expected count, percent or an ISO 4217 currency code (USD, EUR, …)")
        return value

    @model_validator(mode="after")
    def _unique_dimensions(self) -> MetricDef:
        dupes = _repeated(d.id for d in self.dimensions)
        if dupes:
            raise ValueError(f"duplicate dimension ids: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _unique_targets(self) -> MetricDef:
        # (grain, target_date) is the targets table's key: two values for one period cannot both hold.
        dupes = _repeated((t.grain, t.target_date) for t in self.targets)
        if dupes:
            raise ValueError("duplicate targets: " + ", ".join(f"{g} {d.isoformat()}" for g, d in dupes))
        return self

    def dimension(self, dimension_id: str) -> DimensionDef:
        for d in self.dimensions:
            if d.id == dimension_id:
                return d
        raise KeyError(dimension_id)


class CubeAuthType(StrEnum):
    TOKEN = "TOKEN"
    SECRET_KEY = "SECRET_KEY"


#: how the Cube source signs its JWTs with a tenant's `secret_key` (Cube's default, HS256)
CUBE_JWT_ALGORITHM = "HS256"


class CubeConnection(_Strict):
    type: Literal["cube"] = "cube"
    #: https://, or http:// to a loopback host or one in SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS; never a
    #: link-local or cloud metadata address (`semsync.http.url_policy`): the tenant's token goes there
    cube_api_url: str = Field(
        description="base URL, e.g. https://cube.acme.example (the /cubejs-api/v1 prefix is added)")
    auth_type: CubeAuthType = CubeAuthType.TOKEN
    token: SecretStr | None = None
    secret_key: SecretStr | None = None

    @field_validator("cube_api_url")
    @classmethod
    def _destination(cls, value: str) -> str:
        return checked_service_url(value, credentials_in_url=True)

    @field_validator("secret_key")
    @classmethod
    def _signing_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # PyJWT would sign with a short key and print an InsecureKeyLengthWarning on every token:
        # its own check (RFC 7518 §3.2: HS256 needs 32 bytes) refuses the key here, where the
        # catalog names the tenant and the line. The key itself is never part of the message.
        if value is None or info.data.get("auth_type") is not CubeAuthType.SECRET_KEY:
            return value
        algorithm = jwt.get_algorithm_by_name(CUBE_JWT_ALGORITHM)
        try:
            problem = algorithm.check_key_length(algorithm.prepare_key(value.get_secret_value()))
        except jwt.InvalidKeyError as exc:
            problem = str(exc)
        if problem:
            raise ValueError(f"cannot sign {CUBE_JWT_ALGORITHM} JWTs with this key: {problem} "
                             "Generate one with `openssl rand -hex 32`.")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> CubeConnection:
        if self.auth_type is CubeAuthType.TOKEN and self.token is None:
            raise ValueError("auth_type TOKEN needs `token`")
        if self.auth_type is CubeAuthType.SECRET_KEY and self.secret_key is None:
            raise ValueError("auth_type SECRET_KEY needs `secret_key`")
        return self


class SqlConnection(_Strict):
    """A database SQLAlchemy reaches; None means the semsync database itself (the demo warehouse)."""

    type: Literal["sql"] = "sql"
    database_url: SecretStr | None = None


class NoConnection(_Strict):
    """No semantic layer: a tenant dropped from the catalog keeps its data but none of its secrets."""

    type: Literal["none"] = "none"


SemanticLayerConnection = Annotated[CubeConnection | SqlConnection | NoConnection, Field(discriminator="type")]


#: a table name in a cache target: an unquoted SQL identifier (upper-cased by Snowflake)
TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SnowflakeCacheTarget(_Strict):
    """A tenant's Snowflake account, where its synced series are cached (`semsync.cache`): a password
    or a key pair (an unencrypted or passphrase-protected PKCS#8 PEM), and where to write."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["snowflake"] = "snowflake"
    account: str = Field(min_length=1, description="account identifier, e.g. `xy12345.eu-west-1` or `org-account`")
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="PKCS#8 PEM of the user's key pair")
    private_key_passphrase: SecretStr | None = None
    role: str | None = None
    warehouse: str = Field(min_length=1)
    database: str = Field(min_length=1)
    schema_: str = Field(alias="schema", min_length=1)
    table: str = Field("SEMSYNC_CACHE", pattern=TABLE_NAME)

    @model_validator(mode="after")
    def _one_credential(self) -> SnowflakeCacheTarget:
        if (self.password is None) == (self.private_key is None):
            raise ValueError("give exactly one of `password` and `private_key` (a key pair's PKCS#8 PEM)")
        if self.private_key is not None and "PRIVATE KEY-----" not in self.private_key.get_secret_value():
            raise ValueError("`private_key` is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
        return self


class SqlCacheTarget(_Strict):
    """A cache in another database, by SQLAlchemy URL (PostgreSQL: ``postgresql://user:pw@host/db``)."""

    type: Literal["sql"] = "sql"
    url: SecretStr
    schema_: str | None = Field(None, alias="schema", pattern=TABLE_NAME)
    table: str = Field("semsync_cache", pattern=TABLE_NAME)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _postgresql(cls, value: SecretStr) -> SecretStr:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value.get_secret_value())
        except ArgumentError:
            raise ValueError("is not a SQLAlchemy URL (dialect+driver://user:password@host/database)") from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"dialect {url.get_backend_name()!r} is not supported as a cache target yet "
                             "(postgresql; for Snowflake use `type: snowflake`)")
        return value


CacheTarget = Annotated[SnowflakeCacheTarget | SqlCacheTarget, Field(discriminator="type")]


class TenantDef(_Strict):
    identifier: str = Field(pattern=IDENTIFIER, max_length=MAX_IDENTIFIER_LENGTH)
    name: str
    sync_enabled: bool = True
    semantic_layer: SemanticLayerConnection = Field(default_factory=SqlConnection)
    #: pattern settings overrides for all the tenant's metrics; a metric's own `patterns` win
    patterns: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metrics: list[MetricDef] = Field(default_factory=list)
    #: where the tenant's stories are delivered (`semsync.notify.channels`); None: nowhere
    notifications: Notifications | None = None
    #: where the tenant's synced series are cached after each sync (`semsync.cache`); None: nowhere
    cache: CacheTarget | None = None

    @model_validator(mode="after")
    def _unique_metrics(self) -> TenantDef:
        dupes = _repeated(m.id for m in self.metrics)
        if dupes:
            raise ValueError(f"duplicate metric ids: {', '.join(dupes)}")
        return self

    def metric(self, metric_id: str) -> MetricDef:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(metric_id)


class Catalog(_Strict):
    tenants: list[TenantDef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_tenants(self) -> Catalog:
        dupes = _repeated(t.identifier for t in self.tenants)
        if dupes:
            raise ValueError(f"duplicate tenant identifiers: {', '.join(dupes)}")
        return self
