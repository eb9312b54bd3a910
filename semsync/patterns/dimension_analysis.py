"""dimension_analysis: how the slices of one dimension compare in the latest period and the prior one.

Runs once per dimension (the data names one). For every slice seen in either period (a slice without
a row in a period counts 0 there): value, share of the total, change, difference from the average
slice; the top and bottom `top_n` slices, the largest and smallest by share, a new strongest or
weakest slice, the gap between the top two, and the top slices of each period of the window.
Strongest means best in the metric's direction (`direction`): the highest value, or the lowest for
a lower-is-better metric; ranks, top / bottom, strongest / weakest, the top two and the rankings
follow it, the largest and smallest slice by share do not. Ties are ordered by name, so a result
does not depend on row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from semsync.partitions import Grain
from semsync.patterns.base import (
    AnalysisError,
    AnalysisResult,
    DataNeed,
    Number,
    Pattern,
    PatternData,
    PatternSettings,
    ResultModel,
    Span,
    finite_or_none_list,
)
from semsync.patterns.periods import as_datetime64, ordinals, period_start
from semsync.patterns.series import elementwise_percent_change


class DimensionAnalysisSettings(PatternSettings):
    #: periods of slice rankings reported, ending with the latest (≥ 2: current and prior)
    lookback_day: int = Field(8, ge=2)
    lookback_week: int = Field(8, ge=2)
    lookback_month: int = Field(8, ge=2)
    top_n: int = Field(4, ge=1)


class SliceComparison(ResultModel):
    slice: str
    rank: int
    current_value: Number
    prior_value: Number
    absolute_change: Number
    change_percent: Number
    current_share_percent: Number
    prior_share_percent: Number
    share_change_percent: Number  # percentage points
    difference_from_average: Number
    difference_from_average_percent: Number


class SliceValue(ResultModel):
    slice: str
    value: Number
    share_percent: Number = None


class SliceShare(ResultModel):
    slice: str
    share_percent: Number
    previous_slice: str | None
    previous_share_percent: Number


class LeaderChange(ResultModel):
    """The strongest (or weakest) slice is a different one than in the prior period."""

    current_slice: str
    current_value: Number
    previous_slice: str
    previous_value: Number


class TopTwoComparison(ResultModel):
    slice_a: str
    slice_b: str
    value_a: Number
    value_b: Number
    gap_percent: Number
    prior_gap_percent: Number
    gap_change_percent: Number


class PeriodRanking(ResultModel):
    """The top slices of one period, strongest first (names and values side by side)."""

    date: date
    slices: list[str]
    values: list[Number]


class DimensionAnalysisResult(AnalysisResult):
    slices: list[SliceComparison] | None = None
    top_slices: list[SliceValue] | None = None
    bottom_slices: list[SliceValue] | None = None
    largest_slice: SliceShare | None = None
    smallest_slice: SliceShare | None = None
    new_strongest_slice: LeaderChange | None = None
    new_weakest_slice: LeaderChange | None = None
    top_two_comparison: TopTwoComparison | None = None
    historical_rankings: list[PeriodRanking] | None = None


@dataclass(frozen=True)
class _Prepared:
    #: latest period ordinal → the comparison fields of the windows that end with it (only where
    #: that period has slice values): they depend on the latest period and the prior one only
    comparisons: dict[int, dict[str, Any]]
    #: period ordinal → its ranking (only periods with slice values): a period's ranking depends on
    #: its own row only, so the successive windows that all show it share it
    rankings: dict[int, PeriodRanking]


class DimensionAnalysis(Pattern[DimensionAnalysisSettings, DimensionAnalysisResult, _Prepared]):
    name: ClassVar[str] = "dimension_analysis"
    version: ClassVar[str] = "1.1"
    needs = frozenset({DataNeed.DIMENSIONAL_SERIES})
    settings_model = DimensionAnalysisSettings
    result_model = DimensionAnalysisResult
    per_dimension = True

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        """The comparisons and rankings of every window of `spans`, each computed with numpy for all
        of them at once rather than window by window."""
        frame = data.dimensional
        if frame is None or len(frame) == 0 or not spans:
            return _Prepared({}, {})
        ords = ordinals(grain, as_datetime64(frame["date"]))
        slice_names, columns = np.unique(frame["dimension_slice"].astype(str).to_numpy(), return_inverse=True)
        first = int(ords.min())
        matrix = np.full((int(ords.max()) - first + 1, len(slice_names)), np.nan)
        matrix[ords - first, columns] = pd.to_numeric(frame["value"]).to_numpy(dtype=float)

        def rows(periods: np.ndarray) -> np.ndarray:  # the rows of `periods`, NaN outside the data
            out = np.full((len(periods), len(slice_names)), np.nan)
            inside = (periods >= first) & (periods < first + len(matrix))
            out[inside] = matrix[periods[inside] - first]
            return out

        names = np.array([str(name) for name in slice_names.tolist()], dtype=object)
        sign = settings.direction.sign
        ends = np.unique([span.end for span in spans])
        shown = np.arange(min(span.start for span in spans), ends[-1] + 1)
        return _Prepared(
            _comparisons(names, rows(ends), rows(ends - 1), ends, settings.top_n, sign),
            _rankings(names, rows(shown), int(shown[0]), grain, settings.top_n, sign),
        )

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        comparison = prepared.comparisons.get(span.end)
        if comparison is None:
            raise AnalysisError.insufficient("slice values for the latest period", 1, 0)
        rankings = [prepared.rankings[p] for p in range(span.start, span.end + 1) if p in prepared.rankings]
        return {"num_periods": len(rankings), **comparison, "historical_rankings": rankings}


def _comparisons(names: np.ndarray, current_rows: np.ndarray, prior_rows: np.ndarray, ends: np.ndarray,
                 top_n: int, sign: int) -> dict[int, dict[str, Any]]:
    """Latest period → its comparison with the prior one, for the `ends` with slice values."""
    with_latest = ~np.isnan(current_rows).all(axis=1)
    current_rows, prior_rows, ends = current_rows[with_latest], prior_rows[with_latest], ends[with_latest]
    # a comparison covers the slices seen in either period. The periods that see the same slices are
    # compared together: on their (periods × slices) arrays each row-wise numpy operation gives, bit
    # for bit, what it gives on one period's row (a sum over other columns, even of zeros, might not)
    seen = ~np.isnan(current_rows) | ~np.isnan(prior_rows)
    patterns, group = np.unique(seen, axis=0, return_inverse=True)
    group = group.reshape(-1)
    comparisons: dict[int, dict[str, Any]] = {}
    for g, pattern in enumerate(patterns):
        at, columns = np.flatnonzero(group == g), np.flatnonzero(pattern)
        comparisons |= _compare(names[columns], current_rows[np.ix_(at, columns)], prior_rows[np.ix_(at, columns)],
                                ends[at], top_n, sign)
    return comparisons


_COMPARED = ("current_value", "prior_value", "absolute_change", "change_percent", "current_share_percent",
             "prior_share_percent", "share_change_percent", "difference_from_average",
             "difference_from_average_percent")


def _compare(names: np.ndarray, current_rows: np.ndarray, prior_rows: np.ndarray, ends: np.ndarray,
             top_n: int, sign: int) -> dict[int, dict[str, Any]]:
    """`_comparisons` of periods that see the same slices (`names`): one row of the arrays each."""
    has_prior = ~np.isnan(prior_rows).all(axis=1)
    # a slice without a row counts 0 (values are finite or NaN here: `checked_data` made ±inf NaN)
    current = _zero_missing(current_rows)
    prior = np.where(has_prior[:, None], _zero_missing(prior_rows), np.nan)
    share, prior_share = _shares(current), _shares(prior)
    average = current.mean(axis=1, keepdims=True)
    order = _ranked(sign * current)  # strongest first, in the metric's direction
    prior_order = _ranked(sign * prior)
    by_value = _ranked(current)  # largest first, whatever the direction
    prior_by_value = _ranked(prior)
    table = np.stack([current, prior, current - prior, elementwise_percent_change(current, prior), share,
                      prior_share, share - prior_share, current - average,
                      elementwise_percent_change(current, average)], axis=-1)  # period × slice × _COMPARED
    rows = np.arange(len(ends))
    gaps = np.full((len(ends), 3), np.nan)  # the top two: gap, prior gap, change
    if len(names) >= 2:
        a, b = order[:, 0], order[:, 1]
        gaps[:, 0] = elementwise_percent_change(current[rows, a], current[rows, b])
        gaps[:, 1] = elementwise_percent_change(prior[rows, a], prior[rows, b])
        gaps[:, 2] = gaps[:, 0] - gaps[:, 1]
    # Python values for the models, NaN → None in bulk
    labels = names.tolist()
    per_period = zip(
        ends.tolist(), has_prior.tolist(), order.tolist(), prior_order.tolist(),
        by_value[:, [0, -1]].tolist(), prior_by_value[:, [0, -1]].tolist(),
        finite_or_none_list(np.take_along_axis(table, order[:, :, None], axis=1)),
        finite_or_none_list(current), finite_or_none_list(prior),
        finite_or_none_list(share), finite_or_none_list(prior_share), finite_or_none_list(gaps),
        strict=True,
    )
    comparisons = {}
    for end, known_prior, ranked, ranked_before, extremes, prior_extremes, table_rows, now, before, shares, \
            prior_shares, top_two in per_period:
        slices, values = [], []  # strongest first
        for rank, (i, compared) in enumerate(zip(ranked, table_rows, strict=True), 1):
            slices.append(SliceComparison.trusted(slice=labels[i], rank=rank,
                                                  **dict(zip(_COMPARED, compared, strict=True))))
            values.append(SliceValue.trusted(slice=labels[i], value=now[i], share_percent=shares[i]))
        previous = prior_extremes if known_prior else (None, None)
        fields: dict[str, Any] = {
            "slices": slices,
            "top_slices": values[:top_n],
            "bottom_slices": values[::-1][:top_n],
            "largest_slice": _share(labels, shares, prior_shares, extremes[0], previous[0]),
            "smallest_slice": _share(labels, shares, prior_shares, extremes[1], previous[1]),
        }
        if known_prior:
            fields["new_strongest_slice"] = _leader_change(labels, now, before, ranked[0], ranked_before[0])
            fields["new_weakest_slice"] = _leader_change(labels, now, before, ranked[-1], ranked_before[-1])
        if len(ranked) >= 2:
            a, b = ranked[0], ranked[1]
            fields["top_two_comparison"] = TopTwoComparison.trusted(
                slice_a=labels[a], slice_b=labels[b], value_a=now[a], value_b=now[b],
                gap_percent=top_two[0], prior_gap_percent=top_two[1], gap_change_percent=top_two[2],
            )
        comparisons[end] = fields
    return comparisons


def _zero_missing(values: np.ndarray) -> np.ndarray:
    """NaN → 0 (np.nan_to_num's result on values without ±inf, without its overhead)."""
    return np.where(np.isnan(values), 0.0, values)


def _ranked(values: np.ndarray) -> np.ndarray:
    """Positions by value along the last axis, highest first; ties keep name order (the columns are
    sorted by name), NaN last."""
    return np.argsort(-values, axis=-1, kind="stable")


def _shares(values: np.ndarray) -> np.ndarray:
    """Each value's percentage of its row's total (NaN in a row whose total is 0 or not finite)."""
    total = values.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = values / total * 100.0
    return np.where(np.isfinite(total) & (total != 0), shares, np.nan)


def _share(labels: list[str], shares: list, prior_shares: list, position: int, previous: int | None) -> SliceShare:
    return SliceShare.trusted(
        slice=labels[position],
        share_percent=shares[position],
        previous_slice=None if previous is None else labels[previous],
        previous_share_percent=None if previous is None else prior_shares[previous],
    )


def _leader_change(labels: list[str], current: list, prior: list, now: int, before: int) -> LeaderChange | None:
    if now == before:
        return None
    return LeaderChange.trusted(
        current_slice=labels[now], current_value=current[now],
        previous_slice=labels[before], previous_value=prior[before],
    )


def _rankings(names: np.ndarray, rows: np.ndarray, first: int, grain: Grain, top_n: int,
              sign: int) -> dict[int, PeriodRanking]:
    """Period ordinal (`first` + row) → the top `top_n` slices of its row, for the rows with values."""
    counts = np.count_nonzero(~np.isnan(rows), axis=1).tolist()
    best = _ranked(sign * rows)[:, :top_n]  # the missing slices (NaN) last
    labels = names.tolist()
    rankings = {}
    for row, (count, positions, values) in enumerate(
        zip(counts, best.tolist(), np.take_along_axis(rows, best, axis=1).tolist(), strict=True)
    ):
        if count:
            shown = min(count, top_n)
            rankings[first + row] = PeriodRanking.trusted(
                date=period_start(grain, first + row),
                slices=[labels[i] for i in positions[:shown]],
                values=values[:shown],
            )
    return rankings
