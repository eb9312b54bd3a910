"""Stories' own accuracy on synthetic daily series with a known truth (no database), for
`bench/pattern_accuracy.py`:

  false_stories_per_year – change-free series (white noise, a weekday rhythm, AR(1) noise with
           φ = 0.5 and φ = 0.8; noise 3 % of the level), a year of daily analysis dates after a year
           of history: the high-salience (≥ 0.7) `bad` stories newly told per series-year (group
           leads: what a digest shows). The aim, ≤ 1 per series-year: a person reading a daily digest
           of 20 metrics meets a false alarm about once in 18 days, against the several a day that a
           plain 3σ rule on each metric's every comparison would send;
  events_told – series with a planted event (a level shift of ±4 noise σ, a one-day spike of ×3),
           the share told by a story of the right type and sign: a `level_shift_up|down` whose date
           is within ±7 days of the change, first told within 21 days of it; a `spike` or
           `record_high` about the spike's day, told the day after.

Everything goes through the public pattern API and `semsync.stories.tell.tell`, as a story run
would pass it the stored results (their JSON).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from semsync.partitions import Grain
from semsync.patterns import PatternData, get_pattern
from semsync.stories.tell import ROW_COLUMNS, Series, StoryJob, tell

PATTERNS = ("historical_performance", "drift_detection", "forecasting")
FIRST = date(2024, 1, 1)
HISTORY, TOLD = 400, 365
LEVEL, NOISE = 1000.0, 0.03
WEEKDAY = np.array([0.0, 1.5, 2.4, 1.8, 0.9, -3.0, -3.6]) / 100  # a weekday rhythm, fraction of the level
HIGH = 0.7
COLUMN = {name: i for i, name in enumerate(ROW_COLUMNS)}


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    noise = rng.normal(0, 1, n)
    out = np.empty(n)
    out[0] = noise[0] / np.sqrt(1 - phi * phi)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out * np.sqrt(1 - phi * phi)  # unit variance


def quiet_series(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    days = np.arange(n)
    if kind == "white":
        noise = rng.normal(0, 1, n)
    elif kind == "seasonal":
        return LEVEL * (1 + WEEKDAY[(days + FIRST.weekday()) % 7] + NOISE * rng.normal(0, 1, n))
    else:
        noise = _ar1(rng, n, {"ar05": 0.5, "ar08": 0.8}[kind])
    return LEVEL * (1 + NOISE * noise)


def told(values: np.ndarray, first_told: int) -> list[tuple]:
    """The story rows of `values` (daily from FIRST) for the analysis dates from day `first_told` on."""
    days = [FIRST + timedelta(days=i) for i in range(len(values))]
    frame = pd.DataFrame({"date": days, "value": values})
    data = PatternData(metric_id="m", series=frame)
    dates = [FIRST + timedelta(days=i) for i in range(first_told, len(values) + 1)]
    results = {}
    for name in PATTERNS:
        pattern = get_pattern(name)
        analysed = pattern.analyze_many(data, dates, Grain.DAY)
        results[name] = {r.analysis_date: [r.model_dump_json()] for r in analysed}
    job = StoryJob(tenant="t", metric_id="m", metric_label="Metric", unit="count", sign=1, grain=Grain.DAY,
                   dates=dates[1:], previous=dates[0], results=results,
                   versions={name: get_pattern(name).version for name in PATTERNS},
                   series=Series.from_points(Grain.DAY, zip(days, values, strict=True)))
    return tell(job)


def _new_leads(rows: list[tuple]) -> list[tuple]:
    return [r for r in rows if r[COLUMN["status"]] == "new" and r[COLUMN["grouped_under"]] is None]


def false_stories_per_year(series_per_kind: int = 12, seed: int = 70) -> tuple[float, dict[str, float]]:
    """High-salience bad stories newly told per series-year on change-free series, overall and per kind."""
    rng = np.random.default_rng(seed)
    per_kind = {}
    for kind in ("white", "seasonal", "ar05", "ar08"):
        false = 0
        for _ in range(series_per_kind):
            rows = _new_leads(told(quiet_series(kind, rng, HISTORY + TOLD), HISTORY))
            false += sum(1 for r in rows if r[COLUMN["polarity"]] == "bad" and r[COLUMN["salience"]] >= HIGH)
        per_kind[kind] = false / series_per_kind
    return sum(per_kind.values()) / len(per_kind), per_kind


def events_told(series_per_event: int = 12, seed: int = 71) -> tuple[float, dict[str, float]]:
    """The share of planted events told by a story of the right type, near their date."""
    rng = np.random.default_rng(seed)
    n, at = HISTORY + 120, HISTORY + 40  # the event's day; stories told from 30 days before it
    shares = {}
    for event in ("shift_up", "shift_down", "spike"):
        found = 0
        for _ in range(series_per_event):
            values = quiet_series("white", rng, n)
            if event == "spike":
                values[at] *= 3
            else:
                values[at:] += (4 if event == "shift_up" else -4) * NOISE * LEVEL
            rows = told(values, at - 30)  # every story, a group's members too: the event is told in it
            day = FIRST + timedelta(days=at)
            if event == "spike":
                hit = any(r[COLUMN["story_type"]] in ("spike", "record_high")
                          and r[COLUMN["story_date"]] == day + timedelta(days=1) for r in rows)
            else:
                kind = "level_shift_up" if event == "shift_up" else "level_shift_down"
                hit = any(r[COLUMN["story_type"]] == kind and r[COLUMN["status"]] == "new"
                          and abs((date.fromisoformat(_variable(r, "date")) - day).days) <= 7
                          and r[COLUMN["story_date"]] <= day + timedelta(days=21) for r in rows)
            found += hit
        shares[event] = found / series_per_event
    return sum(shares.values()) / len(shares), shares


def _variable(row: tuple, name: str):
    return json.loads(row[COLUMN["variables"]]).get(name)


if __name__ == "__main__":
    import time

    began = time.perf_counter()
    print("false_stories_per_year", false_stories_per_year(), f"{time.perf_counter() - began:.1f}s")
    print("events_told", events_told(), f"{time.perf_counter() - began:.1f}s")
