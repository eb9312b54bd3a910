"""Benchmark: a year of daily analysis dates for one context, all five patterns, one date at a time
against one multi-date call, in the same run, on a fresh embedded PostgreSQL.

  single – for each of the 365 dates and each pattern, what a user does for one date: read that
           date's data through the data organiser (one tenant-scoped transaction), then analyse;
  multi  – one read through the organiser covering every pattern and date, then `analyze_many` per
           pattern (dimension_analysis once per dimension in both paths).

Both paths must give identical results (except `evaluation_time`); the run fails otherwise.
BLAS is pinned to one thread (as for a pattern worker process): the statsmodels fits are many tiny
matrix operations that lose more to thread hand-offs than they gain, in both paths alike.
Last line: `patterns: single_s=… multi_s=… speedup=… evaluations=…`
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from semsync.db.models import MetricDimensionalTimeSeries, MetricTarget, MetricTimeSeries  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database  # noqa: E402
from semsync.patterns import get_pattern, pattern_names, run_pattern  # noqa: E402
from semsync.patterns.data import PatternDataOrganiser  # noqa: E402

METRIC, GRAIN = "revenue", "day"
FIRST_DAY, LAST_DAY = date(2023, 7, 1), date(2025, 12, 30)
ANALYSIS_DATES = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
SLICES = {"region": ["amer", "apac", "emea", "latam"], "plan": ["free", "pro", "team", "enterprise"]}


async def seed(admin_url: str) -> int:
    days = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    rng = np.random.default_rng(1)
    t = np.arange(len(days))
    weekly = np.array([10, 30, 35, 30, 20, -50, -75])[[d.weekday() for d in days]]
    values = 1000 + 0.8 * t + weekly + rng.normal(0, 25, len(days))
    values[t >= len(days) * 2 // 3] += 120  # a level shift for drift_detection to find
    admin = create_async_engine(admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    async with admin.begin() as conn:
        tenant_id = await conn.scalar(text(
            "INSERT INTO tenants (identifier, name, semantic_layer) VALUES ('bench', 'bench', '{}') RETURNING id"))
        common = {"tenant_id": tenant_id, "metric_id": METRIC, "grain": GRAIN}
        await conn.execute(insert(MetricTimeSeries), [
            {**common, "date": d, "value": float(v)} for d, v in zip(days, values, strict=True)])
        await conn.execute(insert(MetricTarget), [
            {**common, "target_date": FIRST_DAY + timedelta(days=i), "target_value": 1000.0 + 0.9 * i}
            for i in range(len(days) + 400)])
        dimensional = []
        for name, slices in SLICES.items():
            shares = rng.dirichlet(np.ones(len(slices)), size=len(days))
            dimensional += [
                {**common, "date": d, "dimension_name": name, "dimension_slice": s, "value": float(v * w)}
                for d, v, row in zip(days, values, shares, strict=True) for s, w in zip(slices, row, strict=True)
            ]
        await conn.execute(insert(MetricDimensionalTimeSeries), dimensional)
    await admin.dispose()
    print(f"seeded: {len(days)} days, {len(dimensional)} dimensional rows")
    return tenant_id


def comparable(results) -> str:
    """The results as one JSON text, in a fixed order, without their evaluation times."""
    ordered = sorted(results, key=lambda r: (r.pattern, r.dimension_name or "", r.analysis_date))
    return json.dumps([r.model_dump(mode="json", exclude={"evaluation_time"}) for r in ordered])


async def run(server: PostgresServer) -> dict[str, float]:
    scratch = await create_scratch_database(server, "bench_patterns")
    tenant_id = await seed(scratch.admin_url)
    db = Database.connect(scratch.app_url)
    organiser = PatternDataOrganiser(db.session_factory)
    patterns = [get_pattern(name) for name in pattern_names()]

    reading = [0.0]

    async def one_date(analysis_date: date) -> list:
        results = []
        for pattern in patterns:
            started = time.perf_counter()
            data = await organiser.read_for(pattern, tenant_id, METRIC, GRAIN, [analysis_date])
            reading[0] += time.perf_counter() - started
            results += run_pattern(pattern, data, [analysis_date], GRAIN)
        return results

    await one_date(ANALYSIS_DATES[0])  # warm up: connection pool, imports
    warm_up_read = reading[0]

    # Each path's results are reduced to text once its clock has stopped and then dropped, so that
    # the other path does not pay for the garbage collector walking them.
    gc.collect()
    began = time.perf_counter()
    single = []
    for analysis_date in ANALYSIS_DATES:
        single += await one_date(analysis_date)
    single_s = time.perf_counter() - began
    print(f"single: {single_s:.2f}s, of which {reading[0] - warm_up_read:.2f}s reading "
          f"({len(ANALYSIS_DATES) * len(patterns)} reads)")
    single_text, evaluations = comparable(single), len(single)
    del single
    gc.collect()

    began = time.perf_counter()
    data = await organiser.read_for_patterns([(p, None) for p in patterns], tenant_id, METRIC, GRAIN, ANALYSIS_DATES)
    read_s = time.perf_counter() - began
    multi = []
    for pattern in patterns:
        started = time.perf_counter()
        multi += run_pattern(pattern, data, ANALYSIS_DATES, GRAIN)
        print(f"multi {pattern.name}: {time.perf_counter() - started:.3f}s")
    multi_s = time.perf_counter() - began
    print(f"multi read: {read_s:.3f}s for {len(data.series)} series rows, {len(data.dimensional)} dimensional rows")
    await db.dispose()

    if comparable(multi) != single_text or len(multi) != evaluations:
        raise SystemExit("multi-date results differ from single-date results")
    errors = sum(r.error is not None for r in multi)
    print(f"results: {evaluations} per path, identical; {errors} with an error")
    return {"single_s": single_s, "multi_s": multi_s, "speedup": single_s / multi_s, "evaluations": evaluations}


def main() -> None:
    with temporary_postgres() as server:
        result = asyncio.run(run(server))
    print(
        f"patterns: single_s={result['single_s']:.2f} multi_s={result['multi_s']:.2f} "
        f"speedup={result['speedup']:.1f} evaluations={result['evaluations']}"
    )


if __name__ == "__main__":
    main()
