"""The backfill planner in pages on the real PostgreSQL (issue 20, item 1): every selected context
exactly once, in (tenant, metric) order, whatever the page size; the modes read the ledger per page;
the count equals the pages; lanes with many gaps stay small; discovery's activation time selects the
contexts a discovery brought."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from devstack.demo import demo_catalog
from devstack.scale import generate_contexts
from semsync.backfill.ledger import Ledger
from semsync.backfill.plan import join_closest_runs, pages, plan_backfill, plan_page, summarize
from semsync.contracts import (
    BackfillMode,
    ContextSelector,
    DiscoveryDiff,
    GrainRange,
    LedgerEntry,
    LedgerStatus,
    PlanBackfillInput,
)
from semsync.contracts.backfill import MAX_EXPLICIT_CONTEXTS, MAX_RUNS_PER_LANE
from semsync.errors import UnknownMetricError
from semsync.partitions import Grain

DAYS = GrainRange(grain="day", first="2025-07-01", last="2025-07-10")
WEEKS = GrainRange(grain="week", first="2025-W27", last="2025-W28")


@pytest.fixture
async def registry(db):
    """3 tenants × 7 metrics; t0001 has sync disabled and t0000::m0003 is inactive."""
    await generate_contexts(db.admin_engine, 3, 7, demo_catalog().tenants[0].metrics[0])
    async with db.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE tenants SET sync_enabled = false WHERE identifier = 't0001'"))
        await conn.execute(text("UPDATE metric_contexts SET is_active = false WHERE context_key = 't0000::m0003'"))
    return db


def request(**fields) -> PlanBackfillInput:
    return PlanBackfillInput(**({"ranges": [DAYS, WEEKS], "selector": ContextSelector(), "mode": BackfillMode.ALL}
                                | fields))


async def every_page(db, planning: PlanBackfillInput) -> list:
    return [page async for page in pages(db.database.session_factory, planning)]


@pytest.mark.parametrize("max_lanes", [1, 2, 4, 5, 100])
async def test_pages_hand_out_every_active_context_once_in_order(registry, max_lanes):
    found = await every_page(registry, request(max_lanes=max_lanes))
    lanes = [(lane.context, lane.grain.value) for page in found for lane in page.lanes]
    expected = [f"t{t:04d}::m{m:04d}" for t in (0, 2) for m in range(7) if (t, m) != (0, 3)]
    assert [c for c, g in lanes if g == "day"] == expected  # t0001 is not syncing, t0000::m0003 inactive
    assert lanes == [(c, g) for c in expected for g in ("day", "week")]  # a context's lanes on one page
    assert all(len(page.lanes) <= max(max_lanes, 2) for page in found)
    assert found[-1].after is None and all(page.after for page in found[:-1])


async def test_a_page_ends_with_the_context_that_reaches_the_run_budget(registry):
    first = await plan_page(registry.database.session_factory, request(ranges=[DAYS], max_runs=3))
    assert [lane.context for lane in first.lanes] == ["t0000::m0000", "t0000::m0001", "t0000::m0002"]
    assert first.after == "t0000::m0002"
    second = await plan_page(registry.database.session_factory, request(ranges=[DAYS], max_runs=3,
                                                                         after=first.after))
    assert second.lanes[0].context == "t0000::m0004"


async def test_the_modes_read_the_ledger_and_the_count_equals_the_pages(registry):
    ledger = Ledger(registry.database.session_factory)
    synced = [f"2025-07-0{d}" for d in (1, 2, 3, 7)]
    await ledger.record([
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=synced, status=LedgerStatus.SUCCEEDED),
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=["2025-07-05"],
                    status=LedgerStatus.FAILED, error="boom"),
        LedgerEntry(tenant="t0002", metric_id="m0006", grain="week", partitions=["2025-W27"],
                    status=LedgerStatus.PARTIAL),
        # outside the range: no bearing on it
        LedgerEntry(tenant="t0000", metric_id="m0001", grain="day", partitions=["2025-06-30"],
                    status=LedgerStatus.FAILED, error="old"),
    ])
    session_factory = registry.database.session_factory
    missing = await plan_backfill(session_factory, request(mode=BackfillMode.MISSING))
    lane = next(lane for lane in missing.lanes if lane.context == "t0000::m0000" and lane.grain is Grain.DAY)
    assert lane.runs == [("2025-07-04", "2025-07-06"), ("2025-07-08", "2025-07-10")]
    assert missing.skipped_partitions == 4 + 1  # the synced days, and the partial week
    failed = await plan_backfill(session_factory, request(mode=BackfillMode.FAILED))
    assert [(lane.context, lane.grain.value, lane.runs) for lane in failed.lanes] == [
        ("t0000::m0000", "day", [("2025-07-05", "2025-07-05")]), ("t0002::m0006", "week", [("2025-W27", "2025-W27")])]
    for mode, plan in ((BackfillMode.MISSING, missing), (BackfillMode.FAILED, failed)):
        for max_lanes in (1, 3):
            paged = await every_page(registry, request(mode=mode, max_lanes=max_lanes))
            assert [lane for page in paged for lane in page.lanes] == plan.lanes
        summary = await summarize(session_factory, request(mode=mode, chunk_size=2))
        assert (summary.lanes, summary.partitions, summary.skipped_partitions) == (
            len(plan.lanes), plan.partitions, plan.skipped_partitions)
        assert summary.chunks == sum(len(lane.chunks(2)) for lane in plan.lanes)
        assert summary.contexts == 13


async def test_failed_mode_takes_a_partial_partitions_failed_components_alone(registry):
    ledger = Ledger(registry.database.session_factory)
    await ledger.record([
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=["2025-07-02", "2025-07-03"],
                    status=LedgerStatus.PARTIAL, failed_components=["region"]),
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=["2025-07-04"],
                    status=LedgerStatus.PARTIAL, failed_components=["channel", "region"]),
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=["2025-07-05"],
                    status=LedgerStatus.FAILED, error="base series failed"),
        LedgerEntry(tenant="t0000", metric_id="m0000", grain="day", partitions=["2025-07-07"],
                    status=LedgerStatus.PARTIAL),  # recorded before the components were: all of them
    ])
    plan = await plan_backfill(registry.database.session_factory, request(ranges=[DAYS], mode=BackfillMode.FAILED))
    [lane] = plan.lanes
    assert lane.runs == [("2025-07-02", "2025-07-03"), ("2025-07-04", "2025-07-04"), ("2025-07-05", "2025-07-05"),
                         ("2025-07-07", "2025-07-07")]
    assert lane.components == [["region"], ["channel", "region"], None, None]
    assert lane.chunks_with_components(1)[:3] == [(("2025-07-02", "2025-07-02"), ["region"]),
                                                  (("2025-07-03", "2025-07-03"), ["region"]),
                                                  (("2025-07-04", "2025-07-04"), ["channel", "region"])]
    everything = await plan_backfill(registry.database.session_factory, request(ranges=[DAYS]))
    assert all(lane.components == [] for lane in everything.lanes)


async def test_explicit_and_tenant_selections_page_and_are_checked(registry):
    chosen = ContextSelector(contexts=["t0002::m0001", "t0000::m0005", "t0002::m0000"])
    found = await every_page(registry, request(ranges=[DAYS], selector=chosen, max_lanes=2))
    assert [lane.context for page in found for lane in page.lanes] == ["t0000::m0005", "t0002::m0000", "t0002::m0001"]
    tenant = await every_page(registry, request(ranges=[DAYS], selector=ContextSelector(tenant="t0002"), max_lanes=3))
    assert [lane.context for page in tenant for lane in page.lanes] == [f"t0002::m{m:04d}" for m in range(7)]
    with pytest.raises(UnknownMetricError):
        await summarize(registry.database.session_factory,
                        request(selector=ContextSelector(contexts=["t0002::m0001", "t0002::nope"])))
    with pytest.raises(ValidationError, match="at most 1000"):
        ContextSelector(contexts=[f"t::m{i}" for i in range(MAX_EXPLICIT_CONTEXTS + 1)])


async def test_contexts_activated_since_a_time_are_the_ones_a_discovery_brought(registry):
    since = datetime.now(UTC) + timedelta(hours=1)
    async with registry.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE metric_contexts SET activated_at = :at WHERE context_key IN "
                                "('t0000::m0006', 't0002::m0002', 't0000::m0003')"), {"at": since})
    found = await every_page(registry, request(ranges=[DAYS], selector=ContextSelector(activated_since=since)))
    # t0000::m0003 is inactive: activated once, then gone again
    assert [lane.context for page in found for lane in page.lanes] == ["t0000::m0006", "t0002::m0002"]


def test_a_lane_with_many_gaps_keeps_at_most_32_runs_joining_the_closest():
    days = [f"2025-{m:02d}-{d:02d}" for m in (7, 8, 9, 10) for d in range(1, 29, 2)]  # every other day
    runs = [((d, d), None) for d in days] + [(("2025-12-01", "2025-12-01"), ["region"])]
    joined = join_closest_runs(Grain.DAY, runs)
    assert len(runs) == 57 and len(joined) == MAX_RUNS_PER_LANE
    assert joined[-1] == (("2025-12-01", "2025-12-01"), ["region"])  # the far one keeps its own run
    assert all(any(first <= d <= last for (first, last), _ in joined) for d in days)
    assert all(first <= last for (first, last), _ in joined)
    assert join_closest_runs(Grain.DAY, runs[:5]) == runs[:5]
    # joined runs sync the union of their components; "every component" wins
    partial = [(("2025-07-01", "2025-07-01"), ["a"]), (("2025-07-03", "2025-07-03"), ["b"]),
               (("2025-07-05", "2025-07-05"), None)]
    assert join_closest_runs(Grain.DAY, partial[:2], limit=1) == [(("2025-07-01", "2025-07-03"), ["a", "b"])]
    assert join_closest_runs(Grain.DAY, partial, limit=1) == [(("2025-07-01", "2025-07-05"), None)]


def test_a_discovery_diff_names_at_most_50_of_each_kind_and_counts_them_all():
    diff = DiscoveryDiff()
    diff.add_new([f"t::m{i}" for i in range(40)])
    diff.add_new([f"u::m{i}" for i in range(100_000)])
    diff.add_deactivated(["t::gone"])
    assert (len(diff.new), diff.new_count, diff.deactivated, diff.deactivated_count) == (50, 100_040, ["t::gone"], 1)
    assert diff.new[:2] == ["t::m0", "t::m1"] and diff.activated == 100_040
    assert "100040 new" in diff.summary() and len(diff.model_dump_json()) < 4000
    legacy = DiscoveryDiff(new=["t::a", "t::b"], reactivated=["t::c"])  # a result recorded before the counts
    assert legacy.activated == 3 and "2 new, 1 reactivated" in legacy.summary()
