"""Benchmark: 2,000 alerts delivered through the real workflows to a local webhook receiver that
fails a share of requests, with a channel rate limit set, on a fresh embedded PostgreSQL and the
Temporal dev server.

One tenant, 20 metrics, 100 new stories each, all bad and above the rule's salience, so every one is
selected: 2,000 alerts to one webhook channel whose `max_alerts_per_hour` is 1,500. The 20
AlertWorkflows (what the StoryWorkflows of a backfill start) run at once; the receiver answers 503 to
10 % of requests, so sends are retried. Then the channel's daily digest goes out, carrying the 500
alerts the limit folded.

Checked, from what the receiver recorded: every alert reached it once (alone, or folded into the
digest): `lost` counts those that never did; `duplicates` the idempotency keys answered 2xx more than
once; `rate_limit_ok` that no more than the limit went out as alerts and the rest were folded.

Last line: `delivery: messages=… wall_s=… duplicates=0 lost=0 rate_limit_ok=…`
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from temporalio.common import SearchAttributeKey  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

import worker as worker_module  # noqa: E402
from devstack import SEARCH_ATTRIBUTES, create_scratch_database, temporary_postgres  # noqa: E402
from semsync.catalog.file import parse_catalog  # noqa: E402
from semsync.catalog.store import write_catalog  # noqa: E402
from semsync.config import DatabaseSettings, NotifySettings, Settings, TemporalSettings  # noqa: E402
from semsync.contracts import AlertWorkflowInput, DigestInput  # noqa: E402
from semsync.db.session import MAINTENANCE_CONNECT_ARGS  # noqa: E402
from semsync.services import open_services  # noqa: E402
from semsync.stories import current_versions  # noqa: E402
from semsync.stories.model import STORY_VERSION  # noqa: E402
from tests.notify.receivers import HttpReceiver  # noqa: E402
from workflows.deliveries import AlertWorkflow, DigestWorkflow  # noqa: E402

METRICS, PER_METRIC, LIMIT, FAIL_RATE = 20, 100, 1500, 0.10
FIRST = date(2025, 1, 1)
SECRET = "0123456789abcdef0123456789abcdef"


def catalog_yaml(base_url: str) -> str:
    metrics = "\n".join(f"      - {{id: m{i:02d}, label: Metric {i}, source: {{type: sql, table: t, value: sum(v), "
                        "time_column: at}}" for i in range(METRICS))
    return f"""tenants:
  - identifier: bench
    name: Bench Inc.
    metrics:
{metrics}
    notifications:
      channels:
        - {{id: hook, type: webhook, url: "{base_url}/hook", secret: {SECRET}, max_alerts_per_hour: {LIMIT}}}
      rules:
        - {{id: bad, channels: [hook], polarity: [bad], min_salience: 0.3, mode: alert}}
"""


async def seed_stories(admin_url: str, tenant_id: int) -> None:
    """PER_METRIC new bad stories per metric on consecutive days of 2025."""
    from sqlalchemy.ext.asyncio import create_async_engine

    version = current_versions()["drift_detection"]
    rows = [{"t": tenant_id, "m": f"m{i:02d}", "d": FIRST + timedelta(days=day + 1), "s": 0.3 + (day % 70) / 100,
             "ti": f"Metric {i} fell on day {day}"} for i in range(METRICS) for day in range(PER_METRIC)]
    engine = create_async_engine(admin_url, connect_args=MAINTENANCE_CONNECT_ARGS)
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO stories (tenant_id, metric_id, grain, story_date, story_type, version, pattern_version, "
            "status, started_on, identity, genre, polarity, salience, title, detail, variables, series, series_dates, "
            f"pattern, analysis_date, also) VALUES (:t, :m, 'day', :d, 'level_shift_down', '{STORY_VERSION}', "
            f"'{version}', 'new', :d, '', 'drift', 'bad', :s, :ti, 'detail', '{{}}', '[1, 2, 3]', "
            "'[\"2025-01-01\", \"2025-01-02\", \"2025-01-03\"]', 'drift_detection', :d, '[]')"), rows)
    await engine.dispose()


async def run(server) -> dict:
    scratch = await create_scratch_database(server, f"bench_{uuid.uuid4().hex[:8]}")
    suffix = uuid.uuid4().hex[:8]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal") or str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, dev_server_extra_args=["--log-level", "error"],
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES])
    try:
        async with HttpReceiver(fail_rate=FAIL_RATE, seed=11) as receiver:
            settings = Settings(database=DatabaseSettings(url=scratch.app_url),
                                temporal=TemporalSettings(sync_task_queue=f"sync-{suffix}",
                                                          pattern_task_queue=f"pat-{suffix}"),
                                notify=NotifySettings(retry_initial_s=0.2, retry_max_s=2, digest_wait_h=0))
            async with open_services(settings) as services:
                await write_catalog(services.catalog_database.session_factory, parse_catalog(
                    catalog_yaml(receiver.base_url)))
                async with services.database.session_factory() as session:
                    tenant_id = await session.scalar(text("SELECT id FROM tenants WHERE identifier = 'bench'"))
                await seed_stories(scratch.admin_url, tenant_id)
                (sync_worker,) = worker_module.make_workers(env.client, services, ("sync",))
                async with sync_worker:
                    began = time.perf_counter()
                    last = (FIRST + timedelta(days=PER_METRIC - 1)).isoformat()
                    results = await asyncio.gather(*(env.client.execute_workflow(
                        AlertWorkflow.run, AlertWorkflowInput(tenant="bench", metric_id=f"m{i:02d}", grain="day",
                                                              start_partition=FIRST.isoformat(), end_partition=last),
                        id=f"bench-alerts-{suffix}-{i}", task_queue=settings.temporal.sync_task_queue)
                        for i in range(METRICS)))
                    digest = await env.client.execute_workflow(
                        DigestWorkflow.run, DigestInput(tenant="bench", grain="day", period=last),
                        id=f"bench-digest-{suffix}", task_queue=settings.temporal.sync_task_queue)
                    wall_s = time.perf_counter() - began
            received = [r for r in receiver.received("/hook") if r.ok]
    finally:
        await env.shutdown()
    alerts = [json.loads(r.body) for r in received if json.loads(r.body)["kind"] == "alert"]
    digests = [json.loads(r.body) for r in received if json.loads(r.body)["kind"] == "digest"]
    told = {(a["story"]["metric"], a["story"]["story_date"]) for a in alerts}
    told |= {(s["metric"], s["story_date"]) for d in digests for s in d["folded"]}
    keys = [r.key for r in received]
    folded = sum(r.folded for r in results)
    return {"messages": len(received), "alerts": len(alerts), "digests": len(digests), "folded": folded,
            "attempts": len(receiver.received("/hook")), "wall_s": wall_s,
            "duplicates": len(keys) - len(set(keys)), "lost": METRICS * PER_METRIC - len(told),
            "rate_limit_ok": len(alerts) <= LIMIT and folded == METRICS * PER_METRIC - LIMIT and digest.sent == 1}


def main() -> None:
    with temporary_postgres() as server:
        r = asyncio.run(run(server))
    print(f"{METRICS * PER_METRIC} alerts to one webhook channel limited to {LIMIT} an hour; the receiver failed "
          f"{FAIL_RATE:.0%} of {r['attempts']} requests: {r['alerts']} alerts and {r['digests']} digest carrying "
          f"{r['folded']} folded alerts")
    print(f"delivery: messages={r['messages']} wall_s={r['wall_s']:.1f} duplicates={r['duplicates']} "
          f"lost={r['lost']} rate_limit_ok={str(r['rate_limit_ok']).lower()}")


if __name__ == "__main__":
    main()
