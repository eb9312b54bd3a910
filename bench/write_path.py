"""Benchmark: the sync's write path against a raw COPY of the same rows, in the same run.

200,000 dimensional rows (500 slices × 400 days) on a fresh embedded PostgreSQL:
  copy   – COPY into an empty table with the same columns and primary key (the reference rate);
  first  – `replace_window` into an empty window (staging COPY + upsert + anti-join delete, RLS on);
  resync – the same window again with about 1 % of the values changed.
Last line: `write_path: copy_rows_per_s=… first_rows_per_s=… first_ratio=… resync_rows_per_s=… resync_ratio=…`
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from devstack import PostgresServer, create_scratch_database, temporary_postgres  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS, Database, tenant_scope  # noqa: E402
from semsync.db.window_replace import replace_window  # noqa: E402

SLICES, DAYS = 500, 400
START = date(2024, 1, 1)


def make_rows(seed: int = 1) -> list[tuple[date, str, float]]:
    rng = random.Random(seed)
    days = [START + timedelta(days=i) for i in range(DAYS)]
    return [(d, f"slice-{s:03d}", rng.uniform(0, 1000)) for s in range(SLICES) for d in days]


async def run(server: PostgresServer) -> dict[str, float]:
    scratch = await create_scratch_database(server, "bench_write_path")
    admin = create_async_engine(scratch.admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    async with admin.begin() as conn:
        tenant_id = await conn.scalar(text(
            "INSERT INTO tenants (identifier, name, semantic_layer) VALUES ('bench', 'bench', '{}') RETURNING id"))
        await conn.execute(text(
            "CREATE TABLE copy_reference (tenant_id int, metric_id varchar(64), grain varchar(8), "
            "dimension_name varchar(64), date date, dimension_slice text, value float8, "
            "created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), "
            "PRIMARY KEY (tenant_id, metric_id, grain, dimension_name, date, dimension_slice))"))
    rows = make_rows()
    n = len(rows)
    end = START + timedelta(days=DAYS - 1)

    conn = await admin.connect()
    raw = (await conn.get_raw_connection()).driver_connection
    records = [(tenant_id, "revenue", "day", "region", d, s, v) for d, s, v in rows]
    began = time.perf_counter()
    await raw.copy_records_to_table(
        "copy_reference", records=records,
        columns=["tenant_id", "metric_id", "grain", "dimension_name", "date", "dimension_slice", "value"],
    )
    copy_s = time.perf_counter() - began
    await conn.close()

    db = Database.connect(scratch.app_url)

    async def write(batch) -> tuple[float, object]:
        began = time.perf_counter()
        async with tenant_scope(db.session_factory, tenant_id) as session:
            counts = await replace_window(session, tenant_id=tenant_id, metric_id="revenue", grain="day",
                                          dimension_name="region", start=START, end=end, rows=batch)
        return time.perf_counter() - began, counts

    first_s, first_counts = await write(rows)
    rng = random.Random(2)
    changed = [(d, s, v * 1.5) if rng.random() < 0.01 else (d, s, v) for d, s, v in rows]
    resync_s, resync_counts = await write(changed)
    print(f"first:  {first_counts}\nresync: {resync_counts}")
    await db.dispose()
    await admin.dispose()
    return {
        "copy_rows_per_s": n / copy_s,
        "first_rows_per_s": n / first_s,
        "first_ratio": copy_s / first_s,
        "resync_rows_per_s": n / resync_s,
        "resync_ratio": copy_s / resync_s,
    }


def main() -> None:
    with temporary_postgres() as server:
        result = asyncio.run(run(server))
    print("write_path: " + " ".join(f"{k}={v:.0f}" if "per_s" in k else f"{k}={v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
