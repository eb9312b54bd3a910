"""Malformed keys, ranges and contexts: each raises its typed error naming the bad part and value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from semsync.errors import ContextError, InvalidInputError, PartitionKeyError, PartitionRangeError
from semsync.partitions import (
    MetricContext,
    MetricPatternContext,
    expand_range,
    parse_context,
    parse_partition,
    parse_time_context_key,
    parse_time_context_range,
)

NOW = datetime(2025, 8, 15, 9, 30, tzinfo=UTC)

PARSERS: dict[str, Callable[[str], object]] = {
    "day": lambda text: parse_partition("day", text),
    "week": lambda text: parse_partition("week", text),
    "month": lambda text: parse_partition("month", text),
    "day range": lambda text: expand_range("day", text, now=NOW),
    "week range": lambda text: expand_range("week", text, now=NOW),
    "month range": lambda text: expand_range("month", text, now=NOW),
    "context": parse_context,
    "metric context": MetricContext.from_string,
    "pattern context": MetricPatternContext.from_string,
    "day 2-D key": lambda text: parse_time_context_key("day", text),
    "day 2-D range": lambda text: parse_time_context_range("day", text, now=NOW),
    "week 2-D range": lambda text: parse_time_context_range("week", text, now=NOW),
}

KEY, RANGE, CONTEXT = PartitionKeyError, PartitionRangeError, ContextError
SAME = object()  # the error's value is the whole input
LONG = "x" * 65


def case(parser: str, text: str, error: type[InvalidInputError], part: str, value: object = SAME):
    return pytest.param(parser, text, error, part, text if value is SAME else value, id=f"{parser}:{text}")


@pytest.mark.parametrize(
    ("parser", "text", "error", "part", "value"),
    [
        # Day keys.
        case("day", "2025-13-01", KEY, "month"),
        case("day", "2025-02-30", KEY, "day"),
        case("day", "2025-07-00", KEY, "day"),
        case("day", "2025-7-01", KEY, "month"),
        case("day", "2025-07-01x", KEY, "day"),
        case("day", "0000-01-01", KEY, "year"),
        case("day", "２０２５-07-01", KEY, "year"),  # full-width digits are not ASCII digits
        case("day", " 2025-07-01", KEY, "format"),
        case("day", "2025-07-01 ", KEY, "format"),
        case("day", "2025/07/01", KEY, "format"),
        case("day", "2025-07", KEY, "format"),
        case("day", "2025-07-01|t::m", KEY, "format"),
        # Month keys.
        case("month", "2025-13", KEY, "month"),
        case("month", "2025-00", KEY, "month"),
        case("month", "25-07", KEY, "year"),
        case("month", "2025-07-01", KEY, "format"),
        # Week keys.
        case("week", "2025-W00", KEY, "week number"),
        case("week", "2026-W00", KEY, "week number"),
        case("week", "2025-W60", KEY, "week number"),
        case("week", "2025-W53", KEY, "week number"),  # 2025 has 52 Mondays
        case("week", "2025-W7", KEY, "week number"),
        case("week", "2025-w27", KEY, "format"),
        case("week", "2025-07-08", KEY, "weekday"),  # a Tuesday
        case("week", "2025-02-29", KEY, "day"),
        # Ranges.
        case("day range", "2025-07-01:2025-06-30", RANGE, "range end"),
        case("day range", "2025-06-30", RANGE, "range start"),
        case("day range", "2025-06-30:2025-07-05", RANGE, "range start"),
        case("day range", "2025-07-01:2025-08-15", RANGE, "range end"),  # 08-15 is still in progress
        case("day range", "a:b:c", RANGE, "separator"),
        case("day range", "2025-07-01:", RANGE, "range end"),
        case("day range", ":2025-07-01", RANGE, "range start"),
        case("day range", "", RANGE, "range start"),
        case("day range", "2025-07-01:2025-13-01", KEY, "month", "2025-13-01"),
        case("week range", "2025-W26:2025-W30", RANGE, "range start"),
        case("week range", "2025-W32", RANGE, "range end"),
        case("month range", "2025-06:2025-07", RANGE, "range start"),
        # Contexts.
        case("context", "t::", CONTEXT, "metric", ""),
        case("context", "::m", CONTEXT, "tenant", ""),
        case("context", "t::m::", CONTEXT, "pattern", ""),
        case("context", "t:m", CONTEXT, "context"),
        case("context", "t", CONTEXT, "context"),
        case("context", "t::m::p::x", CONTEXT, "context"),
        case("context", "t m::x", CONTEXT, "tenant", "t m"),
        case("context", "t|x::m", CONTEXT, "tenant", "t|x"),
        case("context", "t:::m", CONTEXT, "metric", ":m"),
        case("context", "t::.m", CONTEXT, "metric", ".m"),
        case("context", f"{LONG}::m", CONTEXT, "tenant", LONG),
        case("context", f"t::m::{LONG}", CONTEXT, "pattern", LONG),
        case("metric context", "t::m::p", CONTEXT, "context"),
        case("pattern context", "t::m", CONTEXT, "context"),
        # Two-dimensional keys and ranges.
        case("day 2-D key", "t::m", KEY, "separator"),
        case("day 2-D key", "|t::m", KEY, "time"),
        case("day 2-D key", "2025-07-01|", CONTEXT, "context"),
        case("day 2-D key", "2025-07-01|t::m|x", KEY, "separator"),
        case("day 2-D key", "2025-07-32|t::m", KEY, "day", "2025-07-32"),
        case("day 2-D key", "2025-07-01|t m::x", CONTEXT, "tenant", "t m"),
        case("week 2-D range", "2025-07-07|a::m::p:2025-07-28|b::m::p", RANGE, "context"),
        case("week 2-D range", "2025-07-07|t::m::p:2025-07-08|t::m::p", KEY, "weekday", "2025-07-08"),
        case("day 2-D range", "2025-07-01:2025-07-31", KEY, "separator", "2025-07-01"),
        case("day 2-D range", "2025-06-30|t::m", RANGE, "range start"),
    ],
)
def test_malformed_input_raises_a_typed_error_naming_the_bad_part(
    parser: str, text: str, error: type[InvalidInputError], part: str, value: object
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        PARSERS[parser](text)
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"
    assert raised.value.part == part, str(raised.value)
    assert raised.value.value == value, str(raised.value)
    assert repr(text) in str(raised.value) and repr(value) in str(raised.value)
