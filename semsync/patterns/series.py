"""Numeric primitives over the values of one analysis window (numpy arrays, NaN = no value)."""

from __future__ import annotations

import math

import numpy as np

from semsync.patterns.changepoints import median


def percent_change(new: float, old: float) -> float:
    """(new − old) / |old| × 100; NaN when `old` is 0 or either value is missing."""
    if not (math.isfinite(new) and math.isfinite(old)) or old == 0:  # math: a scalar's test, cheaply
        return float("nan")
    return float((new - old) / abs(old) * 100.0)


def elementwise_percent_change(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """`percent_change` of each element (the arrays broadcast), bit for bit."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        change = (new - old) / np.abs(old) * 100.0
    return np.where(np.isfinite(new) & np.isfinite(old) & (old != 0), change, np.nan)


def percent_changes(values: np.ndarray) -> np.ndarray:
    """Period-over-period % change of each position (NaN at 0, after a gap or from 0)."""
    out = np.full(len(values), np.nan)
    if len(values) > 1:
        previous = values[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = (values[1:] - previous) / np.abs(previous) * 100.0
        change[previous == 0] = np.nan
        out[1:] = change
    return out


def run_start(values: np.ndarray, end: int) -> int:
    """The first position of the run of values equal to `values[end]` that ends at `end`.

    NaN never equals anything, so a missing value ends a run.
    """
    head = values[: end + 1]
    breaks = np.flatnonzero(head != head[end])
    return int(breaks[-1]) + 1 if len(breaks) else 0


def meets_target(
    values: np.ndarray | float, targets: np.ndarray | float, threshold_ratio: np.ndarray | float, sign: int = 1
) -> np.ndarray | bool:
    """On track: value ≥ target − ratio × |target| for a higher-is-better metric (`sign` +1), value ≤
    target + ratio × |target| for a lower-is-better one (`sign` −1); |target| so that a negative
    target is met the same way. A value computed as exactly the threshold counts as on track despite
    rounding; a NaN value or target is not on track. Scalars give a bool (the same arithmetic, without
    numpy's per-call overhead: forecasting asks this of two numbers per period and date)."""
    if isinstance(values, float) and isinstance(targets, float) and isinstance(threshold_ratio, float):
        threshold = targets - sign * threshold_ratio * abs(targets)
        # max(1.0, NaN) is 1.0 where np.maximum gives NaN; either way a NaN threshold is not met
        return sign * values >= sign * threshold - 1e-9 * max(1.0, abs(threshold))
    targets = np.asarray(targets, dtype=float)
    threshold = targets - sign * np.asarray(threshold_ratio, dtype=float) * np.abs(targets)
    tolerance = 1e-9 * np.maximum(1.0, np.abs(threshold))
    with np.errstate(invalid="ignore"):
        return sign * np.asarray(values, dtype=float) >= sign * threshold - tolerance


def weekly_pattern(values: np.ndarray, first_weekday: int) -> np.ndarray:
    """The weekday effect at each position: the median deviation of that weekday from the centred
    7-day mean, centred on zero. Medians, so a step or an outlier barely moves it."""
    missing = np.isnan(values)
    kernel = np.ones(7)
    sums = np.convolve(np.where(missing, 0.0, values), kernel, mode="same")
    counts = np.convolve((~missing).astype(float), kernel, mode="same")
    deviation = values - np.divide(sums, counts, out=np.full(len(values), np.nan), where=counts >= 5)
    weekday = (first_weekday + np.arange(len(values))) % 7
    effect = np.zeros(7)
    for day in range(7):
        same_day = deviation[(day - first_weekday) % 7 :: 7]  # every 7th position from the first such day
        observed = same_day[~np.isnan(same_day)]
        effect[day] = median(observed)[0] if len(observed) else 0.0
    return (effect - effect.mean())[weekday]
