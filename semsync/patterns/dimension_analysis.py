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

from dataclasses import dataclass, field
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
)
from semsync.patterns.periods import as_datetime64, ordinals, period_start
from semsync.patterns.series import percent_change


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
    first: int  # ordinal of row 0
    slices: np.ndarray  # names, sorted
    matrix: np.ndarray  # period × slice, NaN = no row
    #: (period ordinal, top_n, sign) → that period's ranking: a period's ranking depends on its own
    #: row only, so the successive windows that all show it share it
    rankings: dict[tuple[int, int, int], PeriodRanking] = field(default_factory=dict, compare=False)

    def window(self, span: Span) -> np.ndarray:
        out = np.full((len(span), len(self.slices)), np.nan)
        lo, hi = max(span.start, self.first), min(span.end, self.first + len(self.matrix) - 1)
        if lo <= hi:
            out[lo - span.start : hi - span.start + 1] = self.matrix[lo - self.first : hi - self.first + 1]
        return out


class DimensionAnalysis(Pattern[DimensionAnalysisSettings, DimensionAnalysisResult, _Prepared]):
    name: ClassVar[str] = "dimension_analysis"
    version: ClassVar[str] = "1.1"
    needs = frozenset({DataNeed.DIMENSIONAL_SERIES})
    settings_model = DimensionAnalysisSettings
    result_model = DimensionAnalysisResult
    per_dimension = True

    def prepare(self, data: PatternData, grain: Grain, settings, spans: list[Span]) -> _Prepared:
        frame = data.dimensional
        if frame is None or len(frame) == 0:
            return _Prepared(0, np.array([], dtype=object), np.empty((0, 0)))
        ords = ordinals(grain, as_datetime64(frame["date"]))
        slice_names, columns = np.unique(frame["dimension_slice"].astype(str).to_numpy(), return_inverse=True)
        first = int(ords.min())
        matrix = np.full((int(ords.max()) - first + 1, len(slice_names)), np.nan)
        matrix[ords - first, columns] = pd.to_numeric(frame["value"]).to_numpy(dtype=float)
        return _Prepared(first, slice_names, matrix)

    def evaluate(self, prepared: _Prepared, span: Span, grain: Grain, settings) -> dict[str, Any]:
        window = prepared.window(span)
        with_data = ~np.isnan(window).all(axis=1)
        if not with_data[-1]:
            raise AnalysisError.insufficient("slice values for the latest period", 1, 0)
        current_row, prior_row = window[-1], window[-2]
        has_prior = bool(with_data[-2])
        seen = ~np.isnan(current_row) | ~np.isnan(prior_row)
        names = prepared.slices[seen]
        # a slice without a row counts 0 (values are finite or NaN here: `checked_data` made ±inf NaN)
        current = _zero_missing(current_row[seen])
        prior = _zero_missing(prior_row[seen]) if has_prior else np.full(len(names), np.nan)
        current_share, prior_share = _shares(current), _shares(prior)
        sign = settings.direction.sign
        order = _ranked(sign * current)  # strongest first, in the metric's direction
        prior_order = _ranked(sign * prior) if has_prior else None
        by_value = _ranked(current)  # largest first, whatever the direction
        prior_by_value = _ranked(prior) if has_prior else None
        average = float(current.mean())
        # Python floats and strings for the per-slice fields: the same values, cheaper to index and validate
        now, before = current.tolist(), prior.tolist()
        share, prior_shares = current_share.tolist(), prior_share.tolist()
        labels = [str(name) for name in names.tolist()]
        slices = [
            SliceComparison(
                slice=labels[i],
                rank=rank + 1,
                current_value=now[i],
                prior_value=before[i],
                absolute_change=now[i] - before[i],
                change_percent=percent_change(now[i], before[i]),
                current_share_percent=share[i],
                prior_share_percent=prior_shares[i],
                share_change_percent=share[i] - prior_shares[i],
                difference_from_average=now[i] - average,
                difference_from_average_percent=percent_change(now[i], average),
            )
            for rank, i in enumerate(order.tolist())
        ]
        top, bottom = order[: settings.top_n], order[::-1][: settings.top_n]
        fields: dict[str, Any] = {
            "num_periods": int(np.count_nonzero(with_data)),
            "slices": slices,
            "top_slices": [SliceValue(slice=str(names[i]), value=current[i], share_percent=current_share[i])
                           for i in top],
            "bottom_slices": [SliceValue(slice=str(names[i]), value=current[i], share_percent=current_share[i])
                              for i in bottom],
            "largest_slice": _share(names, current_share, prior_share, by_value[0], prior_by_value, first=True),
            "smallest_slice": _share(names, current_share, prior_share, by_value[-1], prior_by_value, first=False),
            "historical_rankings": _rankings(prepared, window, with_data, span, grain, settings.top_n, sign),
        }
        if prior_order is not None:
            fields["new_strongest_slice"] = _leader_change(names, current, prior, order[0], prior_order[0])
            fields["new_weakest_slice"] = _leader_change(names, current, prior, order[-1], prior_order[-1])
        if len(order) >= 2:
            a, b = order[0], order[1]
            gap, prior_gap = percent_change(current[a], current[b]), percent_change(prior[a], prior[b])
            fields["top_two_comparison"] = TopTwoComparison(
                slice_a=str(names[a]), slice_b=str(names[b]), value_a=current[a], value_b=current[b],
                gap_percent=gap, prior_gap_percent=prior_gap, gap_change_percent=gap - prior_gap,
            )
        return fields


def _zero_missing(values: np.ndarray) -> np.ndarray:
    """NaN → 0 (np.nan_to_num's result on values without ±inf, without its overhead)."""
    return np.where(np.isnan(values), 0.0, values)


def _ranked(values: np.ndarray) -> np.ndarray:
    """Positions by value, highest first; ties keep name order (the columns are sorted by name)."""
    return np.argsort(-values, kind="stable")


def _shares(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    if not np.isfinite(total) or total == 0:
        return np.full(len(values), np.nan)
    return values / total * 100.0


def _share(names, current_share, prior_share, position, prior_order, *, first: bool) -> SliceShare:
    previous = None if prior_order is None else (prior_order[0] if first else prior_order[-1])
    return SliceShare(
        slice=str(names[position]),
        share_percent=current_share[position],
        previous_slice=None if previous is None else str(names[previous]),
        previous_share_percent=None if previous is None else prior_share[previous],
    )


def _leader_change(names, current, prior, now: int, before: int) -> LeaderChange | None:
    if now == before:
        return None
    return LeaderChange(
        current_slice=str(names[now]), current_value=current[now],
        previous_slice=str(names[before]), previous_value=prior[before],
    )


def _rankings(prepared: _Prepared, window, with_data, span: Span, grain: Grain, top_n: int,
              sign: int) -> list[PeriodRanking]:
    rankings = []
    for row in np.flatnonzero(with_data):
        key = (span.start + int(row), top_n, sign)
        ranking = prepared.rankings.get(key)
        if ranking is None:
            values = window[row]
            seen = np.flatnonzero(~np.isnan(values))
            best = seen[_ranked(sign * values[seen])][:top_n]
            ranking = prepared.rankings[key] = PeriodRanking(
                date=period_start(grain, key[0]),
                slices=prepared.slices[best].tolist(),
                values=values[best].tolist(),
            )
        rankings.append(ranking)
    return rankings
