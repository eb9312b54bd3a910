"""Tools for measuring semsync at catalog scale: a generated registry of many contexts written
straight into the tables, and a payload codec that records the largest payload Temporal carried.

`generate_contexts` writes T tenants × M metrics (and their metric contexts) set-based, a few seconds
for 100,000, where loading a catalog file of that size would take minutes; each metric gets the same
definition. `PayloadSizes` passes payloads through unchanged and keeps the largest it saw, encoded or
decoded: a client (and the workers built on it) with it in its data converter measures every workflow
input, result, query answer, child input and continue-as-new state that went through that process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from semsync.catalog.models import MetricDef


async def generate_contexts(admin_engine: AsyncEngine, tenants: int, metrics_per_tenant: int,
                            definition: MetricDef, *, prefix: str = "t") -> int:
    """Tenants ``{prefix}0000…`` each with metrics ``m0000…`` and their active metric contexts; returns
    the contexts written. `admin_engine` connects as the tables' owner in maintenance (forced RLS)."""
    params = {"n": tenants, "m": metrics_per_tenant, "p": prefix,
              "def": definition.model_dump_json()}
    async with admin_engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO tenants (identifier, name) SELECT :p || lpad(i::text, 4, '0'), 'Tenant ' || i "
            "FROM generate_series(0, :n - 1) AS i"), params)
        await conn.execute(text(
            "INSERT INTO metrics (tenant_id, metric_id, label, definition) "
            "SELECT t.id, 'm' || lpad(j::text, 4, '0'), 'Metric ' || j, "
            "  jsonb_set(CAST(:def AS jsonb), '{id}', to_jsonb('m' || lpad(j::text, 4, '0'))) "
            "FROM tenants t, generate_series(0, :m - 1) AS j WHERE t.identifier LIKE :p || '%'"), params)
        written = await conn.execute(text(
            "INSERT INTO metric_contexts (tenant_id, metric_id, context_key) "
            "SELECT t.id, m.metric_id, t.identifier || '::' || m.metric_id "
            "FROM metrics m JOIN tenants t ON t.id = m.tenant_id WHERE t.identifier LIKE :p || '%'"), params)
    return written.rowcount


class PayloadSizes(PayloadCodec):
    """Passes payloads through; remembers the largest (bytes, with its metadata) and how many it saw."""

    def __init__(self) -> None:
        self.largest = 0
        self.seen = 0

    def _see(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            self.seen += 1
            self.largest = max(self.largest, payload.ByteSize())
        return list(payloads)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self._see(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self._see(payloads)

    def converter(self, base: DataConverter) -> DataConverter:
        """`base` with this codec."""
        return dataclasses.replace(base, payload_codec=self)
