"""Statistical process control (an XmR chart with a sloped centre line) for trend detection.

The centre line of a segment comes from half-averages: the mean of its first `half` points and of
the next `half`, joined by a straight line (so a steady trend is "in control"). The limits sit at
centre ± 2.66 × the average moving range of those baseline points. A point signals when it lies
outside the limits or belongs to a run of ≥ 7 on one side of the centre line. Five consecutive
signals mean the process changed: a new segment starts at the first of them and its line is
recomputed from there (a segment lasts at least `consecutive_signals` points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

D2 = 1.128  # E[moving range of two] / sigma, for sigma from the average moving range


@dataclass(frozen=True)
class Segment:
    start: int  # first position (in the chart's values)
    slope: float  # centre line change per period
    level: float  # centre line at the segment's first point
    slope_se: float  # standard error of the half-average slope, from the average moving range

    def t_value(self) -> float:
        if self.slope_se > 0:
            return self.slope / self.slope_se
        return 0.0 if self.slope == 0 else float(np.sign(self.slope)) * np.inf


@dataclass(frozen=True)
class ControlChart:
    centre: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    signal: np.ndarray  # bool per point
    segments: list[Segment]


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of the runs of equal values."""
    bounds = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1], [True])))
    return bounds[:-1], bounds[1:] - bounds[:-1]


def control_chart(
    y: np.ndarray,
    *,
    half_average_point: int = 9,
    consecutive_signals: int = 5,
    multiplier: float = 2.66,
    run_length: int = 7,
) -> ControlChart:
    """The chart of `y` (no missing values, ≥ 4 of them), recomputed after consecutive signals."""
    n = len(y)
    if n < 4 or consecutive_signals < 4:
        raise ValueError("a control chart needs at least 4 values and consecutive_signals ≥ 4")
    centre, upper, lower = np.empty(n), np.empty(n), np.empty(n)
    signal = np.zeros(n, dtype=bool)
    segments: list[Segment] = []
    start = 0
    while True:
        base = y[start : start + 2 * half_average_point]
        half = len(base) // 2  # ≥ 2: a segment starts with ≥ consecutive_signals points
        first, second = base[:half].sum() / half, base[half : 2 * half].sum() / half
        slope = (second - first) / half
        moving_range = float(np.abs(base[1 : 2 * half] - base[: 2 * half - 1]).sum()) / (2 * half - 1)
        slope_se = moving_range / D2 * math.sqrt(2.0 / half) / half
        positions = np.arange(start, n)
        line = first + slope * (positions - (start + (half - 1) / 2.0))
        high, low = line + multiplier * moving_range, line - multiplier * moving_range
        rest = y[start:]
        outside = (rest > high) | (rest < low)
        side = np.sign(rest - line)
        run_starts, run_lengths = _runs(side)
        long_run = (run_lengths >= run_length) & (side[run_starts] != 0)
        signals = outside | np.repeat(long_run, run_lengths)

        # the first point, at least `consecutive_signals` into the segment, that starts a run of
        # `consecutive_signals` signals
        end = n
        sig_starts, sig_lengths = _runs(signals)
        first = np.maximum(sig_starts, consecutive_signals)
        changed = signals[sig_starts] & (sig_starts + sig_lengths - first >= consecutive_signals)
        if changed.any():
            end = start + int(first[np.argmax(changed)])
        width = end - start
        centre[start:end] = line[:width]
        upper[start:end] = high[:width]
        lower[start:end] = low[:width]
        signal[start:end] = signals[:width]
        segments.append(Segment(start, float(slope), float(line[0]), float(slope_se)))
        if end == n:
            return ControlChart(centre, upper, lower, signal, segments)
        start = end
