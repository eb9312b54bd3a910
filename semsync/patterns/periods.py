"""Period arithmetic on a regular grid, vectorised with numpy.

Every grain's periods are numbered by an *ordinal*: days since 1970-01-01, Monday-based weeks since
the week of 1970-01-05, months since 1970-01. A series is laid on the grid of its grain
(`PeriodGrid`): one slot per period from its first to its last, NaN where a period has no value, so
that "the previous period" is always position − 1 and an analysis window is a slice.

The patterns evaluate one analysis date on the slice of its window only; nothing here reaches outside
that slice, which is why evaluating many dates over one grid gives the same answer as evaluating each
date over the data read for it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from semsync.errors import InvalidInputError
from semsync.partitions import Grain, Partition, last_complete_partition

_EPOCH = date(1970, 1, 1).toordinal()
_EPOCH_MONDAY_DAY = 4  # 1970-01-05 is day 4 of the epoch


def ordinals(grain: Grain, dates: np.ndarray) -> np.ndarray:
    """The period ordinal of each date (a `datetime64[D]` array); dates inside a period map to it."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    if grain is Grain.DAY:
        return days
    if grain is Grain.WEEK:
        return (days - _EPOCH_MONDAY_DAY) // 7
    return dates.astype("datetime64[M]").astype(np.int64)


def ordinal(grain: Grain, d: date) -> int:
    """The ordinal of the period of `grain` that contains day `d` (scalar twin of `ordinals`)."""
    if grain is Grain.MONTH:
        return (d.year - 1970) * 12 + d.month - 1
    days = d.toordinal() - _EPOCH
    return days if grain is Grain.DAY else (days - _EPOCH_MONDAY_DAY) // 7


def period_starts(grain: Grain, ords: np.ndarray) -> np.ndarray:
    """The first day (`datetime64[D]`) of each period ordinal."""
    ords = np.asarray(ords, dtype=np.int64)
    if grain is Grain.DAY:
        return ords.astype("datetime64[D]")
    if grain is Grain.WEEK:
        return (ords * 7 + _EPOCH_MONDAY_DAY).astype("datetime64[D]")
    return ords.astype("datetime64[M]").astype("datetime64[D]")


def period_start(grain: Grain, ord_: int) -> date:
    """The first day of the period with ordinal `ord_` (scalar twin of `period_starts`)."""
    ord_ = int(ord_)
    if grain is Grain.DAY:
        return date.fromordinal(_EPOCH + ord_)
    if grain is Grain.WEEK:
        return date.fromordinal(_EPOCH + _EPOCH_MONDAY_DAY + 7 * ord_)
    return date(1970 + ord_ // 12, ord_ % 12 + 1, 1)


def period_end(grain: Grain, ord_: int) -> date:
    """The last day (inclusive) of the period with ordinal `ord_`."""
    return period_start(grain, ord_ + 1) - timedelta(days=1)


def to_date(value: np.datetime64) -> date:
    return value.astype("datetime64[D]").item()


@lru_cache(maxsize=8192)  # every pattern asks it for the same dates
def last_complete_ordinal(grain: Grain, analysis_date: date) -> int:
    """The ordinal of the last period complete when `analysis_date` begins (midnight UTC).

    An analysis on 2025-07-02 covers day 2025-07-01, the week ending on the Sunday before and the
    month ending before it; see `semsync.partitions.last_complete_partition`.
    """
    partition = last_complete_partition(grain, datetime.combine(analysis_date, time()))
    return ordinal(grain, partition.start)


def analysis_date_for(partition: Partition) -> date:
    """The first analysis date whose window ends with `partition`: the day after its last day."""
    return partition.end + timedelta(days=1)


def as_datetime64(column: pd.Series) -> np.ndarray:
    """A date column (python dates, strings or timestamps) as `datetime64[D]`."""
    return pd.to_datetime(column).to_numpy().astype("datetime64[D]")


@dataclass(frozen=True)
class PeriodGrid:
    """Values of one series on the regular grid of its grain; NaN where a period has no value."""

    grain: Grain
    first: int  # ordinal of position 0
    values: np.ndarray

    @classmethod
    def empty(cls, grain: Grain) -> PeriodGrid:
        return cls(grain, 0, np.empty(0))

    @classmethod
    def from_frame(cls, grain: Grain, frame: pd.DataFrame | None, column: str = "value") -> PeriodGrid:
        """Lay `frame[column]` (one row per period, keyed by `frame["date"]`) on the grid."""
        if frame is None or len(frame) == 0:
            return cls.empty(grain)
        ords = ordinals(grain, as_datetime64(frame["date"]))
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        return cls.from_ordinals(grain, ords, values, what=column)

    @classmethod
    def from_ordinals(cls, grain: Grain, ords: np.ndarray, values: np.ndarray, what: str = "value") -> PeriodGrid:
        if len(ords) == 0:
            return cls.empty(grain)
        first = int(ords.min())
        grid = np.full(int(ords.max()) - first + 1, np.nan)
        positions = ords - first
        if len(np.unique(positions)) != len(positions):
            raise InvalidInputError(
                f"more than one {what} for a {grain} period: each period must have one row", part="data"
            )
        grid[positions] = values
        return cls(grain, first, grid)

    @property
    def last(self) -> int:
        return self.first + len(self.values) - 1

    def window(self, start: int, end: int, fill: float = np.nan) -> np.ndarray:
        """Values for ordinals `start..end` (inclusive), `fill` (NaN) outside the data."""
        out = np.full(end - start + 1, fill)
        lo, hi = max(start, self.first), min(end, self.last)
        if lo <= hi:
            out[lo - start : hi - start + 1] = self.values[lo - self.first : hi - self.first + 1]
        return out

    def value_at(self, ord_: int) -> float:
        if self.first <= ord_ <= self.last:
            return float(self.values[ord_ - self.first])
        return float("nan")
