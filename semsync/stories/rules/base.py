"""What every story rule shares: the candidate a rule returns, the context of one analysis date, and
the salience scales.

A rule reads one stored pattern result (its JSON, as a dict) and returns the candidates that hold on
that date. A candidate is a story before its lifecycle, ranking and sentences: its type, the numbers
it tells, its polarity and its *strength* (0–1: how much a reader should care on the day it is new).
`semsync.stories.tell` turns candidates into stories.

Strength comes from the series' own noise where the story is about a change: a change of `z` noise
sigmas has strength `z_strength(z)`, about 0.1 at one sigma, 0.5 at three, 0.85 at five, so a quiet
series rarely makes a strong story. Rarity (a record over a year of periods) and share of the whole
(a slice's part in the metric's change) scale it further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity

#: periods in a year, per grain
YEAR = {Grain.DAY: 365, Grain.WEEK: 52, Grain.MONTH: 12}
#: the story types that are events, not states
EVENTS = frozenset({"status_improved", "status_worsened", "spike", "drop", "record_high", "record_low",
                    "new_strongest_slice", "new_weakest_slice"})
#: a change of this many noise sigmas has strength 0.5
Z_HALF = 3.0


@dataclass(frozen=True)
class DateContext:
    """What a rule knows besides the result: the grain, the metric's direction and the series' noise."""

    grain: Grain
    #: +1 higher is better, −1 lower is better
    sign: int
    #: the first day of the latest complete period (the one the analysis date looks back on)
    period: date
    #: the series' noise at this date (one period's typical deviation from its expected value), or None
    noise: float | None


@dataclass
class Candidate:
    story_type: str
    genre: Genre
    polarity: Polarity
    strength: float
    variables: dict[str, Any]
    pattern: str
    dimension: str | None = None
    slice: str | None = None
    #: what makes two dates' candidates of one key the same story (a shift's date, a trend's start,
    #: a forecast period's start); "" for states that simply continue
    identity: str = ""
    #: identities that are dates this many days apart are the same story (a change-point's date
    #: moves a little as data arrive)
    tolerance_days: int = 0
    #: the ordinal of the latest complete period the result looks back on (set by the teller)
    end: int = 0

    def same_as(self, other: Candidate) -> bool:
        """Whether `other` (the previous date's candidate of this key) is this same story."""
        if self.identity == other.identity:
            return True
        if not self.tolerance_days:
            return False
        try:
            return abs((date.fromisoformat(self.identity) - date.fromisoformat(other.identity)).days) \
                <= self.tolerance_days
        except ValueError:
            return False

    @property
    def event(self) -> bool:
        """An event (a spike, a record) is told on its date only: never ongoing, never resolved."""
        return self.story_type in EVENTS

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return self.story_type, self.dimension, self.slice


def z_strength(z: float | None) -> float:
    """0 at no change, 0.07 at 1σ, 0.5 at 3σ, 0.71 at 4σ, 0.85 at 5σ: 1 − exp(−(z / Z_HALF)² ln 2)."""
    if z is None or not math.isfinite(z) or z <= 0:
        return 0.0
    return 1.0 - math.exp(-((z / Z_HALF) ** 2) * math.log(2))


def noise_z(change: float | None, noise: float | None, scale: float = 1.0) -> float | None:
    """`change` in noise units; `scale` is the noise of the change in units of one period's noise
    (√2 for the difference of two periods, 1 for a value against a fixed target)."""
    if change is None or noise is None or not math.isfinite(change) or not noise or noise <= 0:
        return None
    return abs(change) / (noise * scale)


def good_or_bad(change: float | None, sign: int) -> Polarity:
    """A change in the metric's direction is good, against it bad."""
    if change is None or change == 0 or not math.isfinite(change):
        return Polarity.NEUTRAL
    return Polarity.GOOD if change * sign > 0 else Polarity.BAD


def finite(*values: Any) -> bool:
    """Every value a finite number (stored results carry None for a missing one, never NaN)."""
    for v in values:
        if v is None or v.__class__ not in (float, int) or not math.isfinite(v):
            return False
    return True
