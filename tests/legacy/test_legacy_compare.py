"""`python -m starter legacy compare`: the shadow run's check against the original's database."""

from __future__ import annotations

import json

from conftest import TENANT_MAP, invoke
from sqlalchemy import text


async def compare(legacy, *options: str):
    return await invoke("legacy", "compare", "--against", legacy.url, *TENANT_MAP, *options)


async def imported(legacy) -> None:
    result = await invoke("legacy", "import", "--from", legacy.url, *TENANT_MAP)
    assert result.exit_code == 0, result.output


async def test_equal_after_an_import_exits_0(legacy, semsync_db, settings_env):
    await imported(legacy)
    result = await compare(legacy, "--grain", "day", "--partition-range", "2025-06-01:2025-06-30")
    assert result.exit_code == 0, result.output
    # acme's base, region and channel, globex's base and region: 30 + 60 + 30 + 10 + 10 values
    assert "equal: 140 values in 5 components of 2 tenants over day 2025-06-01:2025-06-30" in result.output
    # what semsync's catalog leaves out is named, and does not fail the check
    assert "not in semsync's catalog: acme::churn (10), acme::revenue/product (5)" in result.output
    weeks = await compare(legacy, "--grain", "week", "--partition-range", "2025-W18:2025-W26", "--tenant", "acme")
    assert weeks.exit_code == 0, weeks.output
    # the original's Monday-dated weeks are semsync's; its Wednesday row is not compared
    assert "equal: 16 values in 2 components of 1 tenant" in weeks.output and "1 row of the original" in weeks.output


async def test_a_changed_missing_or_extra_value_exits_1_and_is_listed(legacy, semsync_db, settings_env):
    await imported(legacy)
    async with semsync_db.admin_engine.begin() as conn:
        await conn.execute(text("UPDATE metric_time_series SET value = value + 0.01 "
                                "WHERE grain = 'day' AND date = '2025-06-12' AND metric_id = 'revenue'"))
        await conn.execute(text("DELETE FROM metric_dimensional_time_series WHERE grain = 'day' "
                                "AND dimension_name = 'region' AND dimension_slice = 'us' AND date = '2025-06-13'"))
        await conn.execute(text(
            "INSERT INTO metric_dimensional_time_series (tenant_id, metric_id, grain, dimension_name, date, "
            "dimension_slice, value) SELECT tenant_id, metric_id, grain, dimension_name, date, 'apac', 1 "
            "FROM metric_dimensional_time_series WHERE dimension_name = 'channel' AND date = '2025-06-14'"))
    result = await compare(legacy, "--grain", "day", "--partition-range", "2025-06-01:2025-06-30", "--tenant", "acme")
    assert result.exit_code == 1, result.output
    assert "DIFFERENT: 3 of 3 components differ" in result.output
    assert "1 missing, 1 extra, 1 different" in result.output
    assert "different 2025-06-12 original 120.5 semsync 120.51" in result.output
    assert "missing 2025-06-13 us" in result.output and "extra 2025-06-14 apac" in result.output

    as_json = await compare(legacy, "--grain", "day", "--partition-range", "2025-06-01:2025-06-30", "--tenant", "acme",
                            "--json")
    assert as_json.exit_code == 1, as_json.output
    report = json.loads(as_json.stdout)
    assert report["differs"] and report["totals"] == {"equal": 118, "missing": 1, "extra": 1, "different": 1}
    base = next(c for c in report["components"] if c["dimension"] is None)
    assert base["context"] == "acme::revenue" and base["samples"] == [
        {"kind": "different", "date": "2025-06-12", "slice": None, "legacy": 120.5, "semsync": 120.51}]

    # a tolerance wider than the change lets the value pass; the missing and extra ones still differ
    tolerant = await compare(legacy, "--grain", "day", "--partition-range", "2025-06-12:2025-06-12",
                             "--tenant", "acme", "--tolerance", "1e-3")
    assert tolerant.exit_code == 0, tolerant.output


async def test_before_an_import_everything_is_missing(legacy, semsync_db, settings_env):
    result = await compare(legacy, "--grain", "month", "--partition-range", "2025-01:2025-06", "--tenant", "acme")
    assert result.exit_code == 1, result.output
    assert "6 missing, 0 extra, 0 different, 0 equal" in result.output


async def test_a_range_neither_system_holds_says_so(legacy, semsync_db, settings_env):
    result = await compare(legacy, "--grain", "day", "--partition-range", "2024-01-01:2024-01-31")
    assert result.exit_code == 0, result.output
    assert "nothing to compare: neither system holds day values of 2 tenants" in result.output


async def test_bad_input_exits_2_with_one_line(legacy, semsync_db, settings_env):
    cases = [
        (("--grain", "day", "--partition-range", "2025-06-30:2025-06-01"), "is before start"),
        (("--grain", "week", "--partition-range", "2025-W60:2025-W61"), "week"),
        (("--grain", "day", "--partition-range", "2025-06-01::2025-06-02"), "is not in the form YYYY-MM-DD"),
        (("--grain", "day", "--partition-range", "2025-06-01", "--tenant", "initech"), "tenant 'initech'"),
    ]
    for options, message in cases:
        result = await compare(legacy, *options)
        assert result.exit_code == 2, (options, result.output)
        assert message in result.output, (options, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
