"""Change-point detection for drift: level shifts and trend changes by binary segmentation.

Within a segment the null model is a straight line (level + slope) with independent noise of scale
σ. For every candidate split k (leaving ≥ `min_segment` points on each side) two one-parameter
alternatives are scored, both with closed forms over suffix sums, O(n) for all k at once:

- a **level shift**: the line plus a step 1[t ≥ t_k] (the slope is shared);
- a **trend change**: the line plus a hinge (t − t_k)+ (the line bends, without a jump).

The score of an alternative is its squared t-statistic, (xᵀe)² / (σ² ‖x residualised on the line‖²).
σ is estimated robustly from first differences (MAD / √2), which neither a step nor a trend moves.

The largest score over k and both kinds is compared with a critical value calibrated by Monte Carlo
for the segment's length: the (1 − α) quantile of the same maximum, σ estimated the same way, on
Gaussian white noise (seeded, so deterministic; cached per `min_segment` and α). On a series without
change the probability of reporting any change is therefore α (the false-alarm rate). When a change
is found the segment is split there and both sides are searched again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MAD_TO_SIGMA = 1.482602218505602
_SIMULATIONS = 3000
_SEED = 20250701


@dataclass(frozen=True)
class Change:
    index: int  # first position of the new regime
    kind: str  # "level_shift" | "trend_change"
    score: float  # squared t-statistic
    size: float  # step (level units) or slope change (per period)


def robust_sigma(y: np.ndarray) -> float:
    """σ of the noise from first differences: a step or a trend barely moves it."""
    if len(y) < 3:
        return float("nan")
    d = np.diff(y)
    return float(MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _suffix(x: np.ndarray) -> np.ndarray:
    """Sums from each position to the end (along the last axis)."""
    return np.flip(np.cumsum(np.flip(x, axis=-1), axis=-1), axis=-1)


def scores(t: np.ndarray, y: np.ndarray, min_segment: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step and hinge statistics (times σ²) and coefficients for splits k = min_segment … n − min_segment.

    `y` may be 2-D (one series per row, all on the positions `t`). Returns
    (step_score, hinge_score, step_size, hinge_size), each with one column per candidate.
    """
    n = len(t)
    tc = t - t.mean()
    s2 = float(tc @ tc)
    y = np.atleast_2d(y)
    mean = y.mean(axis=-1, keepdims=True)
    slope = (y @ tc)[:, None] / s2
    e = y - mean - slope * tc
    ks = np.arange(min_segment, n - min_segment + 1)
    r0 = (n - ks).astype(float)
    r1, r2 = _suffix(tc)[ks], _suffix(tc * tc)[ks]
    e0, e1 = _suffix(e)[:, ks], _suffix(e * tc)[:, ks]
    tk = tc[ks]
    q_step = r0 - r0 * r0 / n - r1 * r1 / s2
    hx0, hx1 = r1 - tk * r0, r2 - tk * r1
    q_hinge = (r2 - 2 * tk * r1 + tk * tk * r0) - hx0 * hx0 / n - hx1 * hx1 / s2
    u_hinge = e1 - tk * e0
    with np.errstate(divide="ignore", invalid="ignore"):
        step_size = np.where(q_step > 1e-12, e0 / q_step, 0.0)
        hinge_size = np.where(q_hinge > 1e-12, u_hinge / q_hinge, 0.0)
    return step_size * e0, hinge_size * u_hinge, step_size, hinge_size


#: `simulate_critical_values` for the default minimum segments (days 7, weeks 4, months 3) at
#: α = 0.01, so that a worker does not spend seconds simulating on its first call (a test checks them)
PRECOMPUTED = {
    (7, 0.01): ((15, 22, 32, 48, 71, 105, 156, 230, 340, 503, 744, 1100),
                (22.671, 19.722, 19.977, 16.414, 16.659, 15.008, 16.277, 15.071, 15.469, 15.333, 15.464, 15.788)),
    (4, 0.01): ((9, 13, 21, 33, 51, 79, 123, 191, 296, 459, 710, 1100),
                (37.586, 31.771, 22.818, 21.937, 17.07, 16.682, 16.231, 15.344, 15.475, 15.08, 15.516, 14.55)),
    (3, 0.01): ((7, 11, 17, 27, 44, 69, 110, 174, 276, 438, 694, 1100),
                (58.586, 39.875, 28.476, 22.193, 18.024, 17.808, 16.468, 15.661, 15.409, 15.621, 16.37, 15.088)),
}


@lru_cache(maxsize=32)
def _critical_values(min_segment: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    if (min_segment, alpha) in PRECOMPUTED:
        lengths, critical = PRECOMPUTED[(min_segment, alpha)]
        return np.array(lengths, dtype=float), np.array(critical)
    return simulate_critical_values(min_segment, alpha)


def simulate_critical_values(min_segment: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, critical values of the max score / σ̂²) on a grid of lengths, by simulation."""
    rng = np.random.default_rng(_SEED)
    lengths = np.unique(np.geomspace(2 * min_segment + 1, 1100, 12).astype(int))
    critical = []
    for n in lengths:
        y = rng.standard_normal((_SIMULATIONS, n))
        step, hinge, _, _ = scores(np.arange(n, dtype=float), y, min_segment)
        d = np.diff(y, axis=1)
        mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
        sigma2 = (MAD_TO_SIGMA * mad / np.sqrt(2.0)) ** 2
        best = np.maximum(step.max(axis=1), hinge.max(axis=1)) / sigma2
        critical.append(float(np.quantile(best, 1.0 - alpha)))
    return lengths.astype(float), np.array(critical)


def critical_value(n: int, min_segment: int, alpha: float) -> float:
    """The score above which a segment of `n` points is split (false-alarm probability `alpha`)."""
    lengths, critical = _critical_values(min_segment, round(alpha, 6))
    return float(np.interp(np.log(n), np.log(lengths), critical))


def detect(
    t: np.ndarray, y: np.ndarray, *, sigma: float, min_segment: int, alpha: float, max_changes: int = 10
) -> list[Change]:
    """Binary segmentation: split where the best score beats the critical value, then recurse."""
    found: list[Change] = []
    pending = [(0, len(y))]
    while pending and len(found) < max_changes:
        lo, hi = pending.pop()
        if hi - lo < 2 * min_segment + 1:
            continue
        step, hinge, step_size, hinge_size = (a[0] for a in scores(t[lo:hi], y[lo:hi], min_segment))
        best_step, best_hinge = int(np.argmax(step)), int(np.argmax(hinge))
        if step[best_step] >= hinge[best_hinge]:
            k, kind, score, size = best_step, "level_shift", step[best_step], step_size[best_step]
        else:
            k, kind, score, size = best_hinge, "trend_change", hinge[best_hinge], hinge_size[best_hinge]
        if score / sigma**2 < critical_value(hi - lo, min_segment, alpha):
            continue
        split = lo + min_segment + k
        found.append(Change(split, kind, float(score / sigma**2), float(size)))
        pending += [(lo, split), (split, hi)]
    return sorted(found, key=lambda c: c.index)


def local_estimate(t: np.ndarray, y: np.ndarray, change: Change, lo: int, hi: int) -> float:
    """The size of `change` re-estimated on its neighbourhood [lo, hi) between adjacent changes."""
    k = change.index - lo
    n = hi - lo
    if k < 1 or n - k < 1 or n < 4:
        return change.size
    _, _, step_size, hinge_size = (a[0] for a in scores(t[lo:hi], y[lo:hi], 1))
    column = k - 1  # with min_segment 1 the candidates are k = 1 … n − 1
    return float(step_size[column] if change.kind == "level_shift" else hinge_size[column])
