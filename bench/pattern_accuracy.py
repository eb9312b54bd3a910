"""Benchmark: pattern accuracy on synthetic series with a known truth (fixed seeds).

Everything goes through the public pattern API (`get_pattern(...).analyze_many`) on `PatternData`
frames, as a pattern run would pass them. Cases:

  drift false alarms – 180 daily values, one analysis date, no change: white noise, a weekday
           rhythm, AR(1) noise with φ = 0.5 and φ = 0.8, and a steady trend (table only);
           a false alarm is any reported shift;
  1σ step – white noise with a step of one noise σ; analysis dates every day from the day after the
           step to 120 days after it. `detect`: a level shift within ±14 days of the step is reported
           on some date in the first 60 days; `kept`: it is still reported 60 days after that first
           report; `flicker`: of the steps found, the share missing on some later date (≤ 120 days);
  3σ step – the first report after the step: the kind is `level_shift` and its date within ±2 days;
  forecasting – 95 % interval coverage of daily points (to the quarter's end) and of the year total
           (actuals + projection), daily series with a trend, a weekday rhythm and noise, origins at
           the start of each month; monthly points and year totals likewise (trend + season of 12);
           `mase_ratio` = ETS MASE ÷ seasonal-naive MASE over the daily points;
  SPC trend – 20 steady rising or falling trends (10 each; 0.5–2 per day, noise σ 10, 120 days),
           the current trend type.

Issue 18's cases (the findings stories and alerts stand on; conditions in each function's docstring):
  drift – a 1σ step after 180 days of white noise, each of the 60 days after it (`detect_1s_60d`: a
           level shift of the right sign within ±7 days on some date; `kept_1s_60d`: on the 60th;
           `extra_1s_60d`: another shift on the 60th, > 7 days away or of the wrong sign); a one-day
           outlier (×3, 0.3×, ×1.5, ±5σ, 3σ) reported as a change within ±7 days of it 14–60 days
           later (`outlier_as_shift`); a 2σ step 14 days after it (`kind_2s_14d`);
  forecasting – quarter and year totals from each quarter's first day under a strong trend, with
           noise and a weekday rhythm in proportion to the level (`cov_quarter_trend`, `cov_year_trend`);
  historical_performance – flat noise called stable or plateau (`spc_noise_stable`); trend exceptions
           on change-free dates of seasonal AR(1) series (`spike_false_rate`) and a planted 3σ spike
           flagged on its date (`spike_3s_found`).

Issue 18's item 7, the stories' own accuracy (`bench/story_truth.py`): high-salience `bad` stories
newly told per series-year on change-free series (`false_stories_per_year`) and the share of planted
events told near their date (`events_told`).

`--seeds N` draws another set of series under the same conditions; `--only drift|forecast|history|stories`.
Last line: `pattern_accuracy: fa_white=… fa_seasonal=… fa_ar05=… fa_ar08=… detect_1s=… kept_1s=…
flicker_1s=… kind_3s=… cov_day=… cov_day_year=… cov_month=… cov_month_year=… mase_ratio=… spc_right=…
detect_1s_60d=… kept_1s_60d=… extra_1s_60d=… outlier_as_shift=… kind_2s_14d=… cov_quarter_trend=…
cov_year_trend=… spc_noise_stable=… spike_false_rate=… spike_3s_found=… false_stories_per_year=… events_told=…`
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from story_truth import events_told, false_stories_per_year  # noqa: E402 - bench/, the script's directory

from semsync.patterns import PatternData, get_pattern  # noqa: E402

DRIFT = get_pattern("drift_detection")
FORECAST = get_pattern("forecasting")
HISTORY = get_pattern("historical_performance")

FA_SERIES = 500
STEP_SERIES = 200
WINDOW = 180
FIRST_DAY = date(2024, 1, 1)
WEEKDAY_EFFECT = np.array([0.0, 1.5, 2.4, 1.8, 0.9, -3.0, -3.6])
#: added to every seed (`--seeds N`: N × 1,000,000), for a second set of series under the same conditions
SEED_BASE = 0


def frame(values: np.ndarray, first: date = FIRST_DAY, freq: str = "D") -> pd.DataFrame:
    dates = pd.date_range(first, periods=len(values), freq=freq).date
    return pd.DataFrame({"date": dates, "value": values})


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """AR(1) noise with unit marginal variance."""
    shocks = rng.standard_normal(n + 100) * np.sqrt(1 - phi * phi)
    out = np.empty(n + 100)
    out[0] = rng.standard_normal()
    for i in range(1, n + 100):
        out[i] = phi * out[i - 1] + shocks[i]
    return out[100:]


def noise_case(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = 100.0
    if kind == "white":
        return level + rng.standard_normal(WINDOW)
    if kind == "seasonal":
        weekday = pd.date_range(FIRST_DAY, periods=WINDOW, freq="D").day_of_week.to_numpy()
        return level + WEEKDAY_EFFECT[weekday] + rng.standard_normal(WINDOW)
    if kind == "trend":
        return level + 0.02 * np.arange(WINDOW) + rng.standard_normal(WINDOW)
    return level + ar1(rng, WINDOW, {"ar05": 0.5, "ar08": 0.8}[kind])


def false_alarms(kind: str) -> float:
    analysis = FIRST_DAY + timedelta(days=WINDOW)
    alarms = 0
    for seed in range(FA_SERIES):
        values = noise_case(kind, SEED_BASE + 10_000 + seed)
        result = DRIFT.analyze(PatternData("m", series=frame(values)), analysis, "day")
        alarms += bool(result.shifts)
    return alarms / FA_SERIES


def step_reports(seed: int, size: float, days_after: int) -> tuple[date, list[bool | None], list]:
    """Per analysis date after the step: is a level shift near it reported (and the first report)."""
    rng = np.random.default_rng(seed)
    before = WINDOW + 30
    values = 100 + rng.standard_normal(before + days_after)
    values[before:] += size
    step_day = FIRST_DAY + timedelta(days=before)
    dates = [step_day + timedelta(days=i) for i in range(1, days_after + 1)]
    results = DRIFT.analyze_many(PatternData("m", series=frame(values)), dates, "day")
    found = [
        any(s.kind == "level_shift" and abs((s.date - step_day).days) <= 14 for s in r.shifts or [])
        for r in results
    ]
    first = next((r.shifts for r in results if r.shifts), None)
    return step_day, found, first


def step_1s() -> tuple[float, float, float]:
    detected = kept = flicker = 0
    for seed in range(STEP_SERIES):
        _, found, _ = step_reports(SEED_BASE + 20_000 + seed, 1.0, 120)
        first = next((i for i, f in enumerate(found) if f), None)
        if first is None or first >= 60:
            continue
        detected += 1
        kept += found[first + 60]
        flicker += not all(found[first:])
    return detected / STEP_SERIES, kept / max(detected, 1), flicker / max(detected, 1)


def step_3s() -> float:
    right = 0
    for seed in range(STEP_SERIES):
        step_day, _, first = step_reports(SEED_BASE + 30_000 + seed, 3.0, 30)
        if first is None:
            continue
        near = [s for s in first if abs((s.date - step_day).days) <= 2 and s.kind == "level_shift"]
        right += bool(near) and len(first) == 1
    return right / STEP_SERIES


def mase(actual, forecast, history, m):
    scale = np.mean(np.abs(history[m:] - history[:-m]))
    return float(np.mean(np.abs(actual - forecast)) / scale)


def forecast_coverage(grain: str, series: int) -> dict[str, float]:
    points_in = points_all = totals_in = totals_all = 0
    ours, naive = [], []
    for seed in range(series):
        rng = np.random.default_rng(SEED_BASE + 40_000 + seed)
        if grain == "day":
            n = 365 * 4 + 31
            dates = pd.date_range("2022-01-01", periods=n, freq="D")
            slope = rng.uniform(-0.4, 0.8)
            values = 500 + slope * np.arange(n) + 8 * WEEKDAY_EFFECT[dates.day_of_week] + rng.normal(0, 10, n)
            origins = [date(2024 + k // 12, k % 12 + 1, 1) for k in range(seed % 3, 24, 3)]
            m = 7
        else:
            n = 12 * 12
            dates = pd.date_range("2014-01-01", periods=n, freq="MS")
            slope = rng.uniform(-1.0, 3.0)
            season = 40 * np.sin(2 * np.pi * (dates.month.to_numpy() - 1) / 12)
            values = 1000 + slope * np.arange(n) + season + rng.normal(0, 15, n)
            origins = [date(2021 + k // 12, k % 12 + 1, 1) for k in range(seed % 4, 48, 4)]
            m = 12
        series_frame = pd.DataFrame({"date": dates.date, "value": values})
        truth = series_frame.set_index("date")["value"]
        results = FORECAST.analyze_many(PatternData("m", series=series_frame), origins, grain)
        for origin, result in zip(origins, results, strict=True):
            if result.error is not None:
                continue
            points = result.forecast
            actual = truth.loc[points.dates].to_numpy()
            lower, upper = np.array(points.lower), np.array(points.upper)
            points_in += int(np.sum((actual >= lower) & (actual <= upper)))
            points_all += len(actual)
            history = truth[truth.index < origin].to_numpy()[-365:]
            ours.append(mase(actual, np.array(points.forecast), history, m))
            naive.append(mase(actual, history[-m:][np.arange(len(actual)) % m], history, m))
            year = next(p for p in result.period_forecasts if p.period == "year")
            total = truth[(truth.index >= year.period_start) & (truth.index <= year.period_end)].sum()
            totals_in += year.lower <= total <= year.upper
            totals_all += 1
    return {"points": points_in / points_all, "totals": totals_in / totals_all,
            "mase_ratio": float(np.mean(ours) / np.mean(naive))}


def spc_right() -> int:
    right = 0
    for seed in range(20):
        rng = np.random.default_rng(SEED_BASE + 50_000 + seed)
        sign = 1 if seed % 2 == 0 else -1
        n = 120
        values = 1000 + sign * rng.uniform(0.5, 2) * np.arange(n) + rng.normal(0, 10, n)
        analysis = FIRST_DAY + timedelta(days=n)
        result = HISTORY.analyze(PatternData("m", series=frame(values)), analysis, "day")
        right += result.current_trend.trend_type == ("upward" if sign > 0 else "downward")
    return right


# --- issue 18: the accuracy that stories and alerts stand on ---------------------------------------
# Every case below takes its seeds from SEED_BASE (`--seeds N` moves them), so that a second set of
# series under the same conditions checks that nothing was tuned to one sample.

SERIES_18 = 60
BEFORE = 180  # days of white noise before the change or the outlier


def drift_after(values: np.ndarray, event: int, days: range) -> list:
    """drift_detection on the dates `days` days after position `event` (the date `event + k` sees the
    values up to `event + k − 1`)."""
    event_day = FIRST_DAY + timedelta(days=event)
    dates = [event_day + timedelta(days=k) for k in days]
    return DRIFT.analyze_many(PatternData("m", series=frame(values[: event + days[-1]])), dates, "day")


def right_shift(shift, event_day: date, sign: int, tolerance: int) -> bool:
    return (shift.kind == "level_shift" and abs((shift.date - event_day).days) <= tolerance
            and (shift.size > 0) == (sign > 0))


def step_1s_60d() -> tuple[float, float, float]:
    """A 1σ step after 180 days of white noise, analysed on each of the 60 days after it: reported (a
    level shift of the right sign within ±7 days) on some date; still reported on the 60th; and on
    the 60th, another shift reported (> 7 days from the step or of the wrong sign)."""
    detected = kept = extra = 0
    count = 2 * SERIES_18
    for i in range(count):
        rng = np.random.default_rng(SEED_BASE + 60_000 + i)
        sign = 1 if i % 2 == 0 else -1
        values = 100 + 3 * rng.standard_normal(BEFORE + 60)
        values[BEFORE:] += sign * 3.0
        step_day = FIRST_DAY + timedelta(days=BEFORE)
        results = drift_after(values, BEFORE, range(1, 61))
        found = [any(right_shift(s, step_day, sign, 7) for s in r.shifts or []) for r in results]
        detected += any(found)
        kept += found[-1]
        extra += any(not right_shift(s, step_day, sign, 7) for s in results[-1].shifts or [])
    return detected / count, kept / count, extra / count


#: one-day outliers: a factor of the value, or noise σ added (σ = 3 % of the level)
OUTLIERS = (("times", 3.0), ("times", 0.3), ("times", 1.5), ("sigmas", 5.0), ("sigmas", -5.0), ("sigmas", 3.0))


def outlier_as_shift() -> float:
    """White noise (σ = 3 % of the level) with one outlying day after 180 days: the share of series
    that report a change (of any kind) within ±7 days of it on some date 14 to 60 days later."""
    reported = 0
    count = 2 * SERIES_18
    for i in range(count):
        rng = np.random.default_rng(SEED_BASE + 70_000 + i)
        values = 100 * (1 + 0.03 * rng.standard_normal(BEFORE + 61))
        how, size = OUTLIERS[i % len(OUTLIERS)]
        values[BEFORE] = values[BEFORE] * size if how == "times" else values[BEFORE] + size * 3.0
        day = FIRST_DAY + timedelta(days=BEFORE)
        results = drift_after(values, BEFORE, range(15, 62))
        reported += any(abs((s.date - day).days) <= 7 for r in results for s in r.shifts or [])
    return reported / count


def kind_2s_14d() -> float:
    """A 2σ step after 180 days of white noise, 14 days after it: a level shift dated within ±3 days."""
    right = 0
    for i in range(SERIES_18 * 2):
        rng = np.random.default_rng(SEED_BASE + 80_000 + i)
        sign = 1 if i % 2 == 0 else -1
        values = 100 + rng.standard_normal(BEFORE + 14)
        values[BEFORE:] += 2.0 * sign
        step_day = FIRST_DAY + timedelta(days=BEFORE)
        result = DRIFT.analyze(PatternData("m", series=frame(values)), step_day + timedelta(days=14), "day")
        right += any(right_shift(s, step_day, sign, 3) for s in result.shifts or [])
    return right / (SERIES_18 * 2)


def weekly_profile(rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A weekday rhythm whose largest deviation is `amplitude`."""
    profile = rng.normal(0, 1, 7)
    profile -= profile.mean()
    return profile * amplitude / np.abs(profile).max()


def cov_trend_totals() -> tuple[float, float]:
    """Daily series with a linear trend of 0.05–0.3 % of the level per day (rising, or falling to the
    level: the percentages are of the lowest level), a weekday rhythm of 5–20 % and white noise of
    2–5 % of each day's level (so both grow with the trend), a year of history, forecast from the
    first day of each quarter of the next year: the share of quarter and year totals inside their
    95 % interval."""
    quarter_in = year_in = count = 0
    for i in range(SERIES_18):
        rng = np.random.default_rng(SEED_BASE + 90_000 + i)
        dates = pd.date_range("2024-01-01", "2025-12-31", freq="D")
        n = len(dates)
        rate = rng.uniform(0.0005, 0.003)
        level = 1000.0 * (1 + rate * (np.arange(n) if i % 2 == 0 else n - np.arange(n)))
        season = weekly_profile(rng, rng.uniform(0.05, 0.20))[dates.day_of_week]
        values = level * (1 + season + rng.normal(0, rng.uniform(0.02, 0.05), n))
        series_frame = pd.DataFrame({"date": dates.date, "value": values})
        truth = series_frame.set_index("date")["value"]
        origins = [date(2025, month, 1) for month in (1, 4, 7, 10)]
        for result in FORECAST.analyze_many(PatternData("m", series=series_frame), origins, "day"):
            if result.error is not None:
                continue
            count += 1
            for period in result.period_forecasts:
                if period.period in ("quarter", "year"):
                    total = truth[(truth.index >= period.period_start) & (truth.index <= period.period_end)].sum()
                    inside = period.lower <= total <= period.upper
                    quarter_in += inside and period.period == "quarter"
                    year_in += inside and period.period == "year"
    return quarter_in / count, year_in / count


def spc_noise_stable() -> float:
    """Flat white noise, 100 + N(0, 2) over 400 days: the share called stable or plateau."""
    calm = 0
    for i in range(SERIES_18):
        values = 100 + np.random.default_rng(SEED_BASE + 100_000 + i).normal(0, 2, 400)
        result = HISTORY.analyze(PatternData("m", series=frame(values)), FIRST_DAY + timedelta(days=400), "day")
        calm += result.current_trend.trend_type in ("stable", "plateau")
    return calm / SERIES_18


SPIKE_DATES = 365


def spike_rates() -> tuple[float, float, dict[float, float]]:
    """Change-free daily series with a weekday rhythm (5–20 % of the level) and AR(1) noise (φ 0.5 and
    0.8, σ 3 % of the level): the share of a year of daily analysis dates with a trend exception; and
    on the same series a one-day spike of 3 noise σ planted on the latest day of a date: the share
    flagged (as a spike) on its date."""
    flagged = dates_all = found = planted = 0
    per_phi: dict[float, list[int]] = {}
    lookback = HISTORY.settings().lookback_day
    for i in range(SERIES_18):
        rng = np.random.default_rng(SEED_BASE + 110_000 + i)
        phi = (0.5, 0.8)[i % 2]
        n = lookback + SPIKE_DATES
        weekday = pd.date_range(FIRST_DAY, periods=n, freq="D").day_of_week.to_numpy()
        level = 1000.0
        sigma = 0.03 * level
        values = level + weekly_profile(rng, rng.uniform(0.05, 0.20) * level)[weekday] + sigma * ar1(rng, n, phi)
        dates = [FIRST_DAY + timedelta(days=lookback + k) for k in range(1, SPIKE_DATES + 1)]
        results = HISTORY.analyze_many(PatternData("m", series=frame(values)), dates, "day")
        flagged += sum(r.trend_exception is not None for r in results)
        dates_all += len(results)
        # spikes on 6 dates spread over the year, each alone in its own copy of the series
        for k in rng.choice(SPIKE_DATES, 6, replace=False):
            spiked = values[: lookback + k + 1].copy()
            spiked[-1] += 3 * sigma
            result = HISTORY.analyze(PatternData("m", series=frame(spiked)), dates[k], "day")
            hit = result.trend_exception is not None and result.trend_exception.type == "spike"
            found += hit
            planted += 1
            per_phi.setdefault(phi, []).append(hit)
    return flagged / dates_all, found / planted, {phi: float(np.mean(h)) for phi, h in per_phi.items()}


SECTIONS = ("drift", "forecast", "history", "stories")
KEYS = ["fa_white", "fa_seasonal", "fa_ar05", "fa_ar08", "detect_1s", "kept_1s", "flicker_1s", "kind_3s",
        "cov_day", "cov_day_year", "cov_month", "cov_month_year", "mase_ratio", "spc_right",
        "detect_1s_60d", "kept_1s_60d", "extra_1s_60d", "outlier_as_shift", "kind_2s_14d",
        "cov_quarter_trend", "cov_year_trend", "spc_noise_stable", "spike_false_rate", "spike_3s_found",
        "false_stories_per_year", "events_told"]


def main() -> None:
    global SEED_BASE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0, help="another set of series: every seed + N × 1,000,000")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run these patterns' cases only")
    args = parser.parse_args()
    SEED_BASE = args.seeds * 1_000_000
    sections = args.only or SECTIONS
    began = time.perf_counter()
    rows: dict[str, float] = {}

    def took() -> str:
        return f"({time.perf_counter() - began:.0f}s)"

    if "drift" in sections:
        for kind in ("white", "seasonal", "ar05", "ar08", "trend"):
            rows[f"fa_{kind}"] = false_alarms(kind)
            print(f"drift false alarms, {kind:<8} {rows[f'fa_{kind}']:.3f}  {took()}")
        rows["detect_1s"], rows["kept_1s"], rows["flicker_1s"] = step_1s()
        print(f"1σ step: detected {rows['detect_1s']:.3f} kept {rows['kept_1s']:.3f} "
              f"flicker {rows['flicker_1s']:.3f}  {took()}")
        rows["kind_3s"] = step_3s()
        print(f"3σ step: first report right {rows['kind_3s']:.3f}  {took()}")
        rows["detect_1s_60d"], rows["kept_1s_60d"], rows["extra_1s_60d"] = step_1s_60d()
        print(f"1σ step after 180 days, 60 daily dates: detected {rows['detect_1s_60d']:.3f} kept "
              f"{rows['kept_1s_60d']:.3f} another shift {rows['extra_1s_60d']:.3f}  {took()}")
        rows["outlier_as_shift"] = outlier_as_shift()
        print(f"one-day outlier reported as a change 14–60 days later: {rows['outlier_as_shift']:.3f}  {took()}")
        rows["kind_2s_14d"] = kind_2s_14d()
        print(f"2σ step, 14 days after: a level shift within ±3 days {rows['kind_2s_14d']:.3f}  {took()}")
    if "forecast" in sections:
        day = forecast_coverage("day", 60)
        month = forecast_coverage("month", 60)
        rows.update(cov_day=day["points"], cov_day_year=day["totals"], cov_month=month["points"],
                    cov_month_year=month["totals"], mase_ratio=day["mase_ratio"])
        print(f"forecast coverage: day points {day['points']:.3f} year {day['totals']:.3f}; "
              f"month points {month['points']:.3f} year {month['totals']:.3f}; mase ratio day "
              f"{day['mase_ratio']:.3f} month {month['mase_ratio']:.3f}  {took()}")
        rows["cov_quarter_trend"], rows["cov_year_trend"] = cov_trend_totals()
        print(f"forecast coverage under a strong trend: quarter totals {rows['cov_quarter_trend']:.3f} "
              f"year totals {rows['cov_year_trend']:.3f}  {took()}")
    if "history" in sections:
        rows["spc_right"] = spc_right()
        print(f"SPC trend right: {rows['spc_right']}/20  {took()}")
        rows["spc_noise_stable"] = spc_noise_stable()
        print(f"SPC on flat noise: stable or plateau {rows['spc_noise_stable']:.3f}  {took()}")
        rows["spike_false_rate"], rows["spike_3s_found"], per_phi = spike_rates()
        print(f"trend exceptions: on change-free dates {rows['spike_false_rate']:.4f}, a 3σ spike flagged "
              f"{rows['spike_3s_found']:.3f} ({', '.join(f'φ {k}: {v:.3f}' for k, v in per_phi.items())})  {took()}")
    if "stories" in sections:
        rows["false_stories_per_year"], per_kind = false_stories_per_year(seed=SEED_BASE + 70)
        print(f"stories: high-salience bad stories per series-year on change-free series "
              f"{rows['false_stories_per_year']:.3f} ({', '.join(f'{k} {v:.2f}' for k, v in per_kind.items())})  "
              f"{took()}")
        rows["events_told"], per_event = events_told(seed=SEED_BASE + 71)
        print(f"stories: planted events told {rows['events_told']:.3f} "
              f"({', '.join(f'{k} {v:.2f}' for k, v in per_event.items())})  {took()}")
    fields = [f"{k}={rows[k]}/20" if k == "spc_right" else f"{k}={rows[k]:.3f}" for k in KEYS if k in rows]
    print(f"pattern_accuracy: {' '.join(fields)}")


if __name__ == "__main__":
    main()
