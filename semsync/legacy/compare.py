"""The shadow run's check: do semsync and the original hold the same values?

For one grain and a range of partitions, per tenant, context (``tenant::metric``) and component
(the base series or one dimension), every value either system holds on a period start in the range
is one of: equal; **missing** (the original has it, semsync not); **extra** (semsync has it, the
original not); **different** (both, further apart than ``rel_tol`` × the larger magnitude, or
``abs_tol`` near zero). The original's null values and its rows dated off a period start are not
compared (semsync never stores them; `semsync.legacy.importer` skips them too) and are counted as
ignored; so are its values of metrics or dimensions that semsync's catalog does not hold (they are
named: a metric left out of the catalog on purpose does not fail the check, one forgotten is seen).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.db.rows import NULL_SLICE
from semsync.db.session import tenant_scope
from semsync.legacy.importer import catalog_components as _catalog
from semsync.legacy.source import LegacyDatabase, SeriesQuery
from semsync.legacy.tenants import TenantPair
from semsync.partitions import Grain, Partition, partition_for_date

DEFAULT_REL_TOL = 1e-9
DEFAULT_ABS_TOL = 1e-9
#: differences listed per component (all are counted)
SAMPLES = 5

#: (metric, dimension or None, slice or None, date)
Key = tuple[str, str | None, str | None, date]


@dataclass
class Sample:
    kind: str
    date: date
    slice: str | None
    legacy: float | None
    semsync: float | None


@dataclass
class ComponentDiff:
    """One context's component: how its values compare."""

    tenant: str
    metric: str
    dimension: str | None
    equal: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def context(self) -> str:
        return f"{self.tenant}::{self.metric}"

    @property
    def differs(self) -> bool:
        return bool(self.missing or self.extra or self.different)

    def as_dict(self) -> dict[str, Any]:
        return {"context": self.context, "dimension": self.dimension} | {
            k: v for k, v in asdict(self).items() if k not in ("tenant", "metric", "dimension", "samples")} | {
            "samples": [asdict(s) | {"date": s.date.isoformat()} for s in self.samples]}


@dataclass
class CompareReport:
    grain: Grain
    first: Partition
    last: Partition
    components: list[ComponentDiff] = field(default_factory=list)
    #: the original's rows not compared: null values, dates that are not a period start
    ignored: int = 0
    #: the original's components that semsync's catalog does not hold ("tenant::metric[/dimension]"): rows
    uncatalogued: dict[str, int] = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        return any(c.differs for c in self.components)

    def total(self, attribute: str) -> int:
        return sum(getattr(c, attribute) for c in self.components)

    def as_dict(self) -> dict[str, Any]:
        return {"grain": self.grain.value, "range": f"{self.first}:{self.last}", "differs": self.differs,
                "ignored": self.ignored, "uncatalogued": self.uncatalogued,
                "totals": {k: self.total(k) for k in ("equal", "missing", "extra", "different")},
                "components": [c.as_dict() for c in self.components]}


def close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    return abs(a - b) <= max(rel_tol * max(abs(a), abs(b)), abs_tol)


async def _legacy_values(legacy: LegacyDatabase, pair: TenantPair, query: SeriesQuery,
                         grain: Grain) -> tuple[dict[Key, float], int]:
    values: dict[Key, float] = {}
    ignored = 0
    for dimensional in (False, True):
        sql, args = legacy.series_sql(dimensional, query)
        async for rows in legacy.batches(pair.legacy_id, sql, *args):
            for metric, _, day, dimension, slice_, value, _ in rows:
                if value is None or day is None or partition_for_date(grain, day).start != day \
                        or (dimensional and dimension is None):
                    ignored += 1
                    continue
                slice_ = (slice_ if slice_ is not None else NULL_SLICE) if dimensional else None
                values[(metric, dimension, slice_, day)] = value
    return values, ignored


async def _semsync_values(session: AsyncSession, pair: TenantPair, query: SeriesQuery) -> dict[Key, float]:
    params = {"t": pair.semsync_id, "g": query.grain, "a": query.since, "b": query.last,
              "m": list(query.metrics) if query.metrics else None}
    where = ("tenant_id = :t AND grain = :g AND date BETWEEN :a AND :b "
             "AND (CAST(:m AS text[]) IS NULL OR metric_id = ANY(CAST(:m AS text[])))")
    rows = await session.execute(text(
        f"SELECT metric_id, NULL, NULL, date, value FROM metric_time_series WHERE {where} UNION ALL "
        f"SELECT metric_id, dimension_name, dimension_slice, date, value FROM metric_dimensional_time_series "
        f"WHERE {where}"), params)
    return {(m, d, s, day): v for m, d, s, day, v in rows}


async def compare_values(
    session_factory: async_sessionmaker[AsyncSession], legacy: LegacyDatabase, tenants: list[TenantPair],
    grain: Grain, first: Partition, last: Partition, *, metrics: list[str] | None = None,
    rel_tol: float = DEFAULT_REL_TOL, abs_tol: float = DEFAULT_ABS_TOL,
) -> CompareReport:
    """Compare the values of partitions `first`..`last` of `grain`, tenant by tenant."""
    report = CompareReport(grain, first, last)
    query = SeriesQuery(since=first.start, last=last.end, grain=grain.value,
                        metrics=tuple(metrics) if metrics else None)
    for pair in tenants:
        old, ignored = await _legacy_values(legacy, pair, query, grain)
        report.ignored += ignored
        async with tenant_scope(session_factory, pair.semsync_id) as session:
            new = await _semsync_values(session, pair, query)
            catalog = await _catalog(session, pair.semsync_id)
        for key in [k for k in old if (k[0] not in catalog[0] if k[1] is None else (k[0], k[1]) not in catalog[1])]:
            name = f"{pair.identifier}::{key[0]}" + (f"/{key[1]}" if key[1] else "")
            report.uncatalogued[name] = report.uncatalogued.get(name, 0) + 1
            del old[key]
        components: dict[tuple[str, str | None], ComponentDiff] = {}
        for key in sorted(old.keys() | new.keys(), key=lambda k: (k[0], k[1] or "", k[3], k[2] or "")):
            metric, dimension, slice_, day = key
            diff = components.setdefault((metric, dimension), ComponentDiff(pair.identifier, metric, dimension))
            a, b = old.get(key), new.get(key)
            kind = ("missing" if b is None else "extra" if a is None
                    else "equal" if close(a, b, rel_tol, abs_tol) else "different")
            setattr(diff, kind, getattr(diff, kind) + 1)
            if kind != "equal" and len(diff.samples) < SAMPLES:
                diff.samples.append(Sample(kind, day, slice_, a, b))
        report.components += components.values()
    return report
