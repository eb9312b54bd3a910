"""Change-point detection for drift: level shifts and trend changes by binary segmentation.

Within a segment the null model is a straight line (level + slope) with independent noise of scale
σ. For every candidate split k (leaving ≥ `min_segment` points on each side) two one-parameter
alternatives are scored, both with closed forms over suffix sums, O(n) for all k at once:

- a **level shift**: the line plus a step 1[t ≥ t_k] (the slope is shared);
- a **trend change**: the line plus a hinge (t − t_k)+ (the line bends, without a jump).

The score of an alternative is its squared t-statistic, (xᵀe)² / (σ² ‖x residualised on the line‖²).
σ is the noise's long-run scale, estimated robustly from first differences, which neither a step nor
a trend moves, and widened for positive autocorrelation (`noise_scale`).

The largest score over k and both kinds is compared with a critical value calibrated by Monte Carlo
for the series' length: the (1 − α) quantile of the same maximum, σ estimated the same way, on
Gaussian white noise (seeded, so deterministic; cached per `min_segment` and α). On a series without
change the probability of reporting any change is therefore α (the false-alarm rate). When a change
is found the series is split there and both parts are searched again, against the same value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MAD_TO_SIGMA = 1.482602218505602
MAX_PERSISTENCE = 0.9
WINSOR = 2.5
#: E[min(Z², c²)] for a standard normal Z and c = WINSOR: what winsorising leaves of the variance
_WINSOR_MEAN_SQUARE = (
    math.erf(WINSOR / math.sqrt(2))
    - 2 * WINSOR * math.exp(-WINSOR**2 / 2) / math.sqrt(2 * math.pi)
    + WINSOR**2 * (1 - math.erf(WINSOR / math.sqrt(2)))
)
_SIMULATIONS = 3000
_SEED = 20250701


@dataclass(frozen=True)
class Change:
    index: int  # first position of the new regime
    kind: str  # "level_shift" | "trend_change"
    score: float  # squared t-statistic
    size: float  # step (level units) or slope change (per period)


def _mad_sigma(x: np.ndarray) -> np.ndarray:
    """σ from the median absolute deviation, along the last axis."""
    centre = np.median(x, axis=-1, keepdims=True)
    return MAD_TO_SIGMA * np.median(np.abs(x - centre), axis=-1)


def noise_scale(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(σ, ρ): the long-run scale of the noise and its lag-one autocorrelation, along the last axis.

    Both come from first differences d, which a step or a trend barely moves, winsorised at
    `WINSOR` robust (MAD) standard deviations so that a step's one large difference cannot sway
    them: σ_d² from their mean square, r from their lag-one correlation. For AR(1) noise
    r = −(1 − ρ)/2, so ρ = 1 + 2r, kept within [0, `MAX_PERSISTENCE`]; white noise gives ρ ≈ 0 and
    σ = σ_d / √2. Sums of persistent noise wander further than white noise does, so σ is the
    long-run scale σ_d √((1 + ρ) / 2) / (1 − ρ), which keeps false alarms rare on such series.
    """
    d = np.diff(y, axis=-1)
    centred = d - np.median(d, axis=-1, keepdims=True)
    bound = WINSOR * _mad_sigma(d)[..., None]
    clipped = np.clip(centred, -bound, bound)
    square = (clipped * clipped).sum(axis=-1)
    lagged = (clipped[..., 1:] * clipped[..., :-1]).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(square > 0, lagged / square, -0.5)
    rho = np.clip(1.0 + 2.0 * r, 0.0, MAX_PERSISTENCE)
    sigma_d = np.sqrt(square / d.shape[-1] / _WINSOR_MEAN_SQUARE)
    return sigma_d * np.sqrt((1.0 + rho) / 2.0) / (1.0 - rho), rho


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
                (7.079, 8.597, 11.257, 11.073, 11.714, 12.654, 12.601, 13.343, 13.197, 13.923, 14.348, 15.028)),
    (4, 0.01): ((9, 13, 21, 33, 51, 79, 123, 191, 296, 459, 710, 1100),
                (7.113, 7.745, 9.442, 12.001, 11.146, 12.222, 12.194, 12.644, 13.815, 13.409, 14.769, 13.865)),
    (3, 0.01): ((7, 11, 17, 27, 44, 69, 110, 174, 276, 438, 694, 1100),
                (8.21, 8.441, 8.926, 10.802, 11.469, 11.506, 13.125, 12.863, 13.987, 14.077, 15.1, 14.764)),
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
        sigma2 = noise_scale(y)[0] ** 2
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
    """Binary segmentation: split where the best score beats the critical value, then recurse.

    Every segment is held to the critical value of the whole series: the maximum over a part's
    fewer candidates is smaller, so a part never gets a looser test than the whole had.
    """
    critical = critical_value(len(y), min_segment, alpha)
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
        if score / sigma**2 < critical:
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
