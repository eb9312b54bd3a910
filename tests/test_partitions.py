"""Partitions: the pinned calendar, period bounds, week keys around a new year, and ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from semsync.contracts import GrainRange, SemanticSyncRequest
from semsync.errors import PartitionKeyError, PartitionRangeError
from semsync.partitions import (
    DEFAULT_FIRST_DATE,
    FIRST_PARTITION,
    MAX_PARTITIONS_PER_REQUEST,
    MAX_PER_REQUEST_SETTING,
    Grain,
    Partition,
    expand_range,
    first_partitions,
    last_complete_partition,
    parse_partition,
    parse_time_context_range,
    partition_count,
    partition_for_date,
    partition_range,
    partitions_between,
)

grains = st.sampled_from(list(Grain))
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
NOW = datetime(2025, 8, 15, 9, 30, tzinfo=UTC)


def test_week_27_of_2025_is_the_week_of_monday_july_7() -> None:
    week = parse_partition(Grain.WEEK, "2025-W27")
    assert (week.start, week.end) == (date(2025, 7, 7), date(2025, 7, 13))
    assert str(week) == week.key == "2025-W27"


@pytest.mark.parametrize(
    ("grain", "fired_at", "expected"),
    [
        (Grain.DAY, datetime(2025, 7, 2, 10, tzinfo=UTC), "2025-07-01"),
        (Grain.WEEK, datetime(2025, 7, 14, 11, tzinfo=UTC), "2025-W27"),
        (Grain.MONTH, datetime(2025, 8, 1, 12, tzinfo=UTC), "2025-07"),
    ],
)
def test_a_scheduled_run_processes_the_last_complete_partition(
    grain: Grain, fired_at: datetime, expected: str
) -> None:
    assert last_complete_partition(grain, fired_at).key == expected


def test_a_period_is_complete_from_midnight_utc_after_its_last_day() -> None:
    assert last_complete_partition("day", datetime(2025, 7, 2, tzinfo=UTC)).key == "2025-07-01"
    assert last_complete_partition("day", datetime(2025, 7, 1, 23, 59, 59, tzinfo=UTC)).key == "2025-06-30"
    # Naive means UTC; other zones are converted: 2025-07-02T01:00+02:00 is still 2025-07-01 in UTC.
    assert last_complete_partition("day", datetime(2025, 7, 2, 0, 30)).key == "2025-07-01"
    plus_two = timezone(timedelta(hours=2))
    assert last_complete_partition("day", datetime(2025, 7, 2, 1, tzinfo=plus_two)).key == "2025-06-30"


@pytest.mark.parametrize(
    ("grain", "key", "start", "end"),
    [
        (Grain.DAY, "2025-07-01", date(2025, 7, 1), date(2025, 7, 1)),
        (Grain.WEEK, "2025-W52", date(2025, 12, 29), date(2026, 1, 4)),
        (Grain.WEEK, "2026-W01", date(2026, 1, 5), date(2026, 1, 11)),
        (Grain.MONTH, "2025-07", date(2025, 7, 1), date(2025, 7, 31)),
        (Grain.MONTH, "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        (Grain.MONTH, "2025-02", date(2025, 2, 1), date(2025, 2, 28)),
        (Grain.MONTH, "2025-12", date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_first_and_last_day_of_a_period(grain: Grain, key: str, start: date, end: date) -> None:
    partition = parse_partition(grain, key)
    assert (partition.start, partition.end) == (start, end)
    assert partition.contains(start) and partition.contains(end)
    assert not partition.contains(start - timedelta(days=1))
    assert not partition.contains(end + timedelta(days=1))


def test_first_partitions() -> None:
    assert {grain: p.key for grain, p in FIRST_PARTITION.items()} == {
        Grain.DAY: "2025-07-01",
        Grain.WEEK: "2025-W27",
        Grain.MONTH: "2025-07",
    }
    assert FIRST_PARTITION[Grain.WEEK].start == date(2025, 7, 7)
    assert first_partitions(DEFAULT_FIRST_DATE) == FIRST_PARTITION


@pytest.mark.parametrize(
    ("first_date", "keys"),
    [
        # a Monday and a first of the month: the partitions holding it
        (date(2024, 1, 1), ("2024-01-01", "2024-W01", "2024-01")),
        # mid-week and mid-month: the first whole week and month after it (a partial one would be
        # synced with only some of its days)
        (date(2024, 1, 17), ("2024-01-17", "2024-W04", "2024-02")),
        (date(2024, 12, 31), ("2024-12-31", "2025-W01", "2025-01")),
    ],
)
def test_first_partitions_of_a_configured_first_date(first_date: date, keys: tuple[str, str, str]) -> None:
    firsts = first_partitions(first_date)
    assert tuple(firsts[grain].key for grain in (Grain.DAY, Grain.WEEK, Grain.MONTH)) == keys
    assert all(p.start >= first_date and p.prev().start < first_date for p in firsts.values())


@pytest.mark.parametrize(
    ("grain", "spec"), [(Grain.DAY, "2024-03-01:2024-03-31"), (Grain.WEEK, "2024-W10:2024-W12"),
                        (Grain.MONTH, "2024-01:2025-06")],
)
def test_a_range_before_the_default_first_partition_needs_the_first_date_setting(grain: Grain, spec: str) -> None:
    with pytest.raises(PartitionRangeError, match="before the first") as refused:
        expand_range(grain, spec, now=NOW)
    assert refused.value.part == "range start"
    assert "SEMSYNC_PARTITIONS__FIRST_DATE=2025-07-01" in str(refused.value) and "\n" not in str(refused.value)
    partitions = expand_range(grain, spec, now=NOW, first_date=date(2024, 1, 1))
    assert [partitions[0].key, partitions[-1].key] == spec.split(":")
    # a 2-D range is checked alike
    context_spec = ":".join(f"{end}|acme::revenue" for end in spec.split(":"))
    with pytest.raises(PartitionRangeError, match="SEMSYNC_PARTITIONS__FIRST_DATE"):
        parse_time_context_range(grain, context_spec, now=NOW)
    assert parse_time_context_range(grain, context_spec, now=NOW, first_date=date(2024, 1, 1))[0] == partitions


def test_a_later_first_date_refuses_what_the_default_accepts() -> None:
    with pytest.raises(PartitionRangeError, match="before the first week partition 2025-W31 .*=2025-08-01"):
        expand_range(Grain.WEEK, "2025-W27:2025-W28", now=NOW, first_date=date(2025, 8, 1))


@pytest.mark.parametrize(
    ("day", "week_key"),
    [
        (date(2025, 12, 29), "2025-W52"),
        (date(2026, 1, 1), "2025-W52"),
        (date(2026, 1, 4), "2025-W52"),
        (date(2026, 1, 5), "2026-W01"),
        (date(2024, 12, 31), "2024-W53"),  # 2024 has 53 Mondays
        (date(2025, 1, 5), "2024-W53"),
        (date(2025, 1, 6), "2025-W01"),
    ],
)
def test_a_week_straddling_a_new_year_is_keyed_by_its_monday(day: date, week_key: str) -> None:
    assert partition_for_date(Grain.WEEK, day).key == week_key


def test_a_mondays_date_names_its_week() -> None:
    assert parse_partition("week", "2025-07-07") == parse_partition("week", "2025-W27")
    assert parse_partition("week", "2025-12-29").key == "2025-W52"


def test_grain_is_accepted_as_a_string_and_next_prev_step_one_period() -> None:
    july = parse_partition("month", "2025-07")
    assert (july.prev().key, july.next().key) == ("2025-06", "2025-08")
    assert parse_partition("month", "2025-12").next().key == "2026-01"
    assert parse_partition("week", "2025-W52").next().key == "2026-W01"
    assert parse_partition("week", "2026-W01").prev().key == "2025-W52"
    assert parse_partition("day", "2024-03-01").prev().key == "2024-02-29"


def test_a_partition_must_start_on_the_first_day_of_its_period() -> None:
    with pytest.raises(PartitionKeyError) as raised:
        Partition(Grain.WEEK, date(2025, 7, 8))
    assert raised.value.part == "start"
    with pytest.raises(TypeError):
        partition_for_date(Grain.DAY, datetime(2025, 7, 1, tzinfo=UTC))


def test_expand_range() -> None:
    days = expand_range("day", "2025-07-01:2025-07-31", now=NOW)
    assert [p.key for p in days[:2]] == ["2025-07-01", "2025-07-02"]
    assert len(days) == 31 and days[-1].key == "2025-07-31"
    assert [p.key for p in expand_range("week", "2025-W27:2025-07-21", now=NOW)] == [
        "2025-W27",
        "2025-W28",
        "2025-W29",
    ]
    assert [p.key for p in expand_range("month", "2025-07", now=NOW)] == ["2025-07"]
    # Without `now`, the current time decides; July 2025 is long complete.
    assert len(expand_range(Grain.DAY, "2025-07-01:2025-07-03")) == 3


def test_expand_range_refuses_incomplete_partitions_unless_allowed() -> None:
    # At 2025-08-15T09:30Z the last complete day is 2025-08-14, week 2025-W31, month 2025-07.
    for grain, last_complete in [("day", "2025-08-14"), ("week", "2025-W31"), ("month", "2025-07")]:
        assert expand_range(grain, last_complete, now=NOW)[-1].key == last_complete
    for grain, spec in [
        ("day", "2025-08-10:2025-08-15"),
        ("week", "2025-W30:2025-W32"),
        ("month", "2025-07:2025-08"),
    ]:
        with pytest.raises(PartitionRangeError) as raised:
            expand_range(grain, spec, now=NOW)
        assert raised.value.part == "range end"
        assert "last complete" in str(raised.value)
        assert expand_range(grain, spec, now=NOW, allow_incomplete=True)[-1] == parse_partition(
            grain, spec.split(":")[-1]
        )


def test_partition_range_needs_one_grain_in_order() -> None:
    day, month = parse_partition("day", "2025-07-01"), parse_partition("month", "2025-07")
    with pytest.raises(PartitionRangeError) as raised:
        partition_range(day, month)
    assert raised.value.part == "grain"
    with pytest.raises(PartitionRangeError) as raised:
        partition_range(day.next(), day)
    assert raised.value.part == "range end"


@given(grains, dates)
def test_keys_round_trip(grain: Grain, day: date) -> None:
    partition = partition_for_date(grain, day)
    assert parse_partition(grain, partition.key) == partition
    assert parse_partition(grain, str(partition)) == partition
    if grain is Grain.WEEK:
        # Cross-check with the standard library's own %W.
        assert partition.key == partition.start.strftime("%Y-W%W")
        assert datetime.strptime(partition.key + "-1", "%Y-W%W-%w").date() == partition.start


@given(grains, dates)
def test_every_date_lies_in_exactly_one_partition(grain: Grain, day: date) -> None:
    partition = partition_for_date(grain, day)
    assert partition.contains(day)
    assert not partition.prev().contains(day)
    assert not partition.next().contains(day)
    assert partition.prev().end + timedelta(days=1) == partition.start
    assert partition.end + timedelta(days=1) == partition.next().start


@given(st.integers(min_value=2000, max_value=2100))
def test_week_keys_name_exactly_the_years_mondays(year: int) -> None:
    mondays = [d for d in (date(year, 1, 1) + timedelta(days=n) for n in range(366)) if d.year == year]
    mondays = [d for d in mondays if d.weekday() == 0]
    keys = [partition_for_date(Grain.WEEK, d).key for d in mondays]
    assert keys == [f"{year}-W{n:02d}" for n in range(1, len(mondays) + 1)]
    for bad in (f"{year}-W00", f"{year}-W{len(mondays) + 1:02d}"):
        with pytest.raises(PartitionKeyError) as raised:
            parse_partition(Grain.WEEK, bad)
        assert raised.value.part == "week number"


def _expected_count(grain: Grain, first: Partition, last: Partition) -> int:
    if grain is Grain.DAY:
        return (last.start - first.start).days + 1
    if grain is Grain.WEEK:
        return (last.start - first.start).days // 7 + 1
    return (last.start.year - first.start.year) * 12 + last.start.month - first.start.month + 1


@given(grains, dates, st.integers(min_value=0, max_value=1500))
def test_ranges_are_contiguous_ordered_and_complete(grain: Grain, day: date, length: int) -> None:
    first = partition_for_date(grain, day)
    last = partition_for_date(grain, day + timedelta(days=length))
    partitions = partition_range(first, last)
    assert partitions[0] == first and partitions[-1] == last
    assert all(a.next() == b for a, b in zip(partitions, partitions[1:], strict=False))
    assert partitions == sorted(set(partitions))
    assert len(partitions) == _expected_count(grain, first, last)


@given(grains, st.dates(min_value=date(2025, 7, 7), max_value=date(2030, 12, 31)), st.integers(0, 400))
def test_expand_range_agrees_with_partition_range(grain: Grain, day: date, length: int) -> None:
    first = partition_for_date(grain, day)
    last = partition_for_date(grain, day + timedelta(days=length))
    expanded = expand_range(grain, f"{first}:{last}", allow_incomplete=True)
    assert expanded == partition_range(first, last)


# -- the cap on a request's partitions

@given(grains, dates, st.integers(min_value=0, max_value=400))
def test_partition_count_is_the_length_of_the_range(grain: Grain, d: date, length: int) -> None:
    first = partition_for_date(grain, d)
    last = first
    for _ in range(length):
        last = last.next()
    assert partition_count(first, last) == len(partition_range(first, last)) == length + 1
    assert partition_count(last, first) == (1 if length == 0 else 0)


@pytest.mark.parametrize(("grain", "start", "end", "count"), [
    (Grain.DAY, "0001-01-01", "9999-12-31", 3_652_059),
    (Grain.WEEK, "0001-W01", "9999-W52", 521_723),
    (Grain.MONTH, "0001-01", "9999-12", 119_988),
])
def test_a_span_over_the_hard_cap_is_refused_in_the_contracts_before_it_is_built(
    grain: Grain, start: str, end: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # refused from the count of its ends: not one partition is built
    monkeypatch.setattr(Partition, "next", lambda self: pytest.fail("the span was expanded before it was refused"))
    with pytest.raises(PartitionRangeError) as refused:
        partitions_between(grain, start, end)
    assert refused.value.part == "range size"
    message = str(refused.value)
    assert f"holds {count} {grain} partitions, more than the {MAX_PARTITIONS_PER_REQUEST} allowed" in message
    assert "MAX_PARTITIONS_PER_REQUEST" in message and MAX_PER_REQUEST_SETTING in message
    for build in (lambda: SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=grain,
                                              start_partition=start, end_partition=end),
                  lambda: GrainRange(grain=grain, first=start, last=end)):
        with pytest.raises(ValidationError) as invalid:
            build()
        assert isinstance(invalid.value.errors()[0]["ctx"]["error"], PartitionRangeError)
        assert f"holds {count} {grain} partitions" in str(invalid.value)


def test_the_hard_cap_itself_is_accepted() -> None:
    first = parse_partition(Grain.DAY, "2000-01-01")
    last = first
    for _ in range(MAX_PARTITIONS_PER_REQUEST - 1):
        last = last.next()
    request = SemanticSyncRequest(tenant="acme", metric_id="revenue", grain=Grain.DAY,
                                  start_partition=first.key, end_partition=last.key)
    assert len(request.partitions()) == MAX_PARTITIONS_PER_REQUEST
    with pytest.raises(PartitionRangeError, match=f"holds {MAX_PARTITIONS_PER_REQUEST + 1} day"):
        partitions_between(Grain.DAY, first.key, last.next().key)


def test_the_setting_lowers_the_cap_of_a_checked_range_but_cannot_raise_it() -> None:
    spec = "2025-07-01:2025-07-31"
    with pytest.raises(PartitionRangeError) as refused:
        expand_range(Grain.DAY, spec, now=NOW, max_partitions=30)
    assert "holds 31 day partitions, more than the 30 allowed" in str(refused.value)
    assert f"{MAX_PER_REQUEST_SETTING}=30" in str(refused.value)
    assert len(expand_range(Grain.DAY, spec, now=NOW, max_partitions=31)) == 31
    with pytest.raises(PartitionRangeError, match=f"more than the 30 allowed .*{MAX_PER_REQUEST_SETTING}=30"):
        parse_time_context_range(Grain.DAY, "2025-07-01|acme::revenue:2025-07-31|acme::revenue", now=NOW,
                                 max_partitions=30)
    with pytest.raises(PartitionRangeError, match=f"more than the {MAX_PARTITIONS_PER_REQUEST} allowed"):
        expand_range(Grain.DAY, "1990-01-01:2024-12-31", now=NOW, first_date=date(1990, 1, 1),
                     max_partitions=10 * MAX_PARTITIONS_PER_REQUEST)
