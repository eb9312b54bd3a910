"""Metric contexts (``tenant::metric[::pattern]``) and two-dimensional keys and ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from semsync.errors import PartitionRangeError
from semsync.partitions import (
    Grain,
    MetricContext,
    MetricPatternContext,
    TimeContextKey,
    parse_context,
    parse_partition,
    parse_time_context_key,
    parse_time_context_range,
    partition_for_date,
)

identifiers = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", fullmatch=True)
NOW = datetime(2025, 8, 15, 9, 30, tzinfo=UTC)


@given(identifiers, identifiers)
def test_metric_context_round_trips(tenant: str, metric: str) -> None:
    text = f"{tenant}::{metric}"
    context = MetricContext.from_string(text)
    assert (context.tenant, context.metric) == (tenant, metric)
    assert context.to_string() == context.key == str(context) == text
    assert parse_context(text) == context


@given(identifiers, identifiers, identifiers)
def test_metric_pattern_context_round_trips(tenant: str, metric: str, pattern: str) -> None:
    text = f"{tenant}::{metric}::{pattern}"
    context = MetricPatternContext.from_string(text)
    assert (context.tenant, context.metric, context.pattern) == (tenant, metric, pattern)
    assert context.to_string() == context.key == str(context) == text
    assert parse_context(text) == context
    assert context.to_metric_context() == MetricContext.from_string(f"{tenant}::{metric}")


def test_parse_context_picks_the_model_by_number_of_parts() -> None:
    assert type(parse_context("acme::revenue")) is MetricContext
    assert type(parse_context("acme::revenue::forecasting")) is MetricPatternContext


def test_contexts_are_frozen_hashable_values() -> None:
    context = MetricContext.from_string("acme::revenue")
    assert {context, MetricContext(tenant="acme", metric="revenue")} == {context}
    with pytest.raises(ValidationError):
        context.tenant = "other"  # type: ignore[misc]


def test_building_a_context_directly_validates_its_parts() -> None:
    with pytest.raises(ValidationError, match="tenant 't m' contains ' '"):
        MetricContext(tenant="t m", metric="revenue")
    with pytest.raises(ValidationError):
        MetricContext(tenant="acme", metric="revenue", pattern="forecasting")  # type: ignore[call-arg]


@given(st.sampled_from(list(Grain)), st.dates(date(2000, 1, 1), date(2100, 12, 31)), identifiers, identifiers)
def test_time_context_keys_round_trip(grain: Grain, day: date, tenant: str, metric: str) -> None:
    partition = partition_for_date(grain, day)
    text = f"{partition.key}|{tenant}::{metric}"
    key = parse_time_context_key(grain, text)
    assert key.partition == partition
    assert key.context == MetricContext(tenant=tenant, metric=metric)
    assert key.to_string() == key.key == str(key) == text


def test_a_time_context_key_survives_json_as_a_workflow_payload() -> None:
    key = parse_time_context_key("week", "2025-W27|acme::revenue::forecasting")
    assert TimeContextKey.model_validate_json(key.model_dump_json()) == key
    assert isinstance(key.context, MetricPatternContext)


def test_a_week_time_context_key_accepts_its_mondays_date() -> None:
    key = parse_time_context_key(Grain.WEEK, "2025-07-07|acme::revenue")
    assert key.to_string() == "2025-W27|acme::revenue"


def test_a_time_context_range_expands_its_partitions_and_keeps_its_context() -> None:
    partitions, context = parse_time_context_range("week", "2025-07-07|t::m::p:2025-07-28|t::m::p", now=NOW)
    assert [p.key for p in partitions] == ["2025-W27", "2025-W28", "2025-W29", "2025-W30"]
    assert context == MetricPatternContext(tenant="t", metric="m", pattern="p")

    partitions, context = parse_time_context_range("day", "2025-07-01|acme::revenue", now=NOW)
    assert partitions == [parse_partition("day", "2025-07-01")]
    assert context == MetricContext(tenant="acme", metric="revenue")


def test_a_time_context_range_refuses_incomplete_partitions_unless_allowed() -> None:
    spec = "2025-07|acme::revenue:2025-08|acme::revenue"
    with pytest.raises(PartitionRangeError) as raised:
        parse_time_context_range("month", spec, now=NOW)
    assert raised.value.part == "range end"
    partitions, _ = parse_time_context_range("month", spec, now=NOW, allow_incomplete=True)
    assert [p.key for p in partitions] == ["2025-07", "2025-08"]
