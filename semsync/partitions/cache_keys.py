"""The legacy cache partition: ``tenant::grain::metric`` (``acme::day::revenue``), one per tenant,
grain and metric, whose series are cached in the tenant's warehouse (`semsync.cache`).

`CacheKey.from_string` raises `PartitionKeyError` whose ``part`` names what is wrong: ``"cache key"``
for the wrong number of ``::`` parts (``value`` the whole key), ``"tenant"`` or ``"metric"`` for a bad
identifier, ``"grain"`` for a grain other than day, week or month.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, field_validator

from semsync.errors import ContextError, PartitionKeyError
from semsync.partitions.contexts import CONTEXT_SEPARATOR, MetricContext, check_identifier
from semsync.partitions.grains import Grain

_SHAPE = "tenant::grain::metric (e.g. acme::day::revenue)"


def _identifier(part: str, value: object, key: str | None = None) -> str:
    try:
        return check_identifier(part, value)
    except ContextError as exc:
        where = f"cache key {key!r}: " if key is not None else ""
        raise PartitionKeyError(f"{where}{exc}", part=part, value=value) from None


def _grain(value: object, key: str | None = None) -> Grain:
    try:
        return Grain(value)
    except ValueError:
        where = f"cache key {key!r}: " if key is not None else ""
        raise PartitionKeyError(f"{where}grain {value!r} is not one of day, week, month", part="grain",
                                value=value) from None


class CacheKey(BaseModel):
    """One cache partition: a tenant's metric at one grain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    grain: Grain
    metric: str

    @field_validator("tenant", "metric")
    @classmethod
    def _identifiers(cls, value: object, info) -> str:
        return _identifier(info.field_name, value)

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: object) -> Grain:
        return _grain(value)

    @classmethod
    def from_string(cls, text: str) -> Self:
        """Parse ``tenant::grain::metric``."""
        if not isinstance(text, str):
            raise PartitionKeyError(f"cache key must be a string, not {type(text).__name__}", part="cache key",
                                    value=text)
        pieces = text.split(CONTEXT_SEPARATOR)
        if len(pieces) != 3:
            raise PartitionKeyError(f"cache key {text!r} has {len(pieces)} '::'-separated part"
                                    f"{'s' * (len(pieces) != 1)}; expected {_SHAPE}", part="cache key", value=text)
        tenant, grain, metric = pieces
        return cls.model_construct(tenant=_identifier("tenant", tenant, text), grain=_grain(grain, text),
                                   metric=_identifier("metric", metric, text))

    @classmethod
    def of(cls, context: MetricContext, grain: Grain) -> Self:
        return cls(tenant=context.tenant, grain=grain, metric=context.metric)

    @property
    def context(self) -> MetricContext:
        return MetricContext(tenant=self.tenant, metric=self.metric)

    @property
    def key(self) -> str:
        return CONTEXT_SEPARATOR.join((self.tenant, self.grain.value, self.metric))

    def __str__(self) -> str:
        return self.key
