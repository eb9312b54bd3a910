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

Last line: `pattern_accuracy: fa_white=… fa_seasonal=… fa_ar05=… fa_ar08=… detect_1s=… kept_1s=…
flicker_1s=… kind_3s=… cov_day=… cov_day_year=… cov_month=… cov_month_year=… mase_ratio=… spc_right=…`
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from semsync.patterns import PatternData, get_pattern  # noqa: E402

DRIFT = get_pattern("drift_detection")
FORECAST = get_pattern("forecasting")
HISTORY = get_pattern("historical_performance")

FA_SERIES = 500
STEP_SERIES = 200
WINDOW = 180
FIRST_DAY = date(2024, 1, 1)
WEEKDAY_EFFECT = np.array([0.0, 1.5, 2.4, 1.8, 0.9, -3.0, -3.6])


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
        result = DRIFT.analyze(PatternData("m", series=frame(noise_case(kind, 10_000 + seed))), analysis, "day")
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
        _, found, _ = step_reports(20_000 + seed, 1.0, 120)
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
        step_day, _, first = step_reports(30_000 + seed, 3.0, 30)
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
        rng = np.random.default_rng(40_000 + seed)
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
        rng = np.random.default_rng(50_000 + seed)
        sign = 1 if seed % 2 == 0 else -1
        n = 120
        values = 1000 + sign * rng.uniform(0.5, 2) * np.arange(n) + rng.normal(0, 10, n)
        analysis = FIRST_DAY + timedelta(days=n)
        result = HISTORY.analyze(PatternData("m", series=frame(values)), analysis, "day")
        right += result.current_trend.trend_type == ("upward" if sign > 0 else "downward")
    return right


def main() -> None:
    began = time.perf_counter()
    rows: dict[str, float] = {}
    for kind in ("white", "seasonal", "ar05", "ar08", "trend"):
        rows[f"fa_{kind}"] = false_alarms(kind)
        print(f"drift false alarms, {kind:<8} {rows[f'fa_{kind}']:.3f}  ({time.perf_counter() - began:.0f}s)")
    rows["detect_1s"], rows["kept_1s"], rows["flicker_1s"] = step_1s()
    print(f"1σ step: detected {rows['detect_1s']:.3f} kept {rows['kept_1s']:.3f} flicker {rows['flicker_1s']:.3f}"
          f"  ({time.perf_counter() - began:.0f}s)")
    rows["kind_3s"] = step_3s()
    print(f"3σ step: first report right {rows['kind_3s']:.3f}  ({time.perf_counter() - began:.0f}s)")
    day = forecast_coverage("day", 60)
    month = forecast_coverage("month", 60)
    rows.update(cov_day=day["points"], cov_day_year=day["totals"], cov_month=month["points"],
                cov_month_year=month["totals"], mase_ratio=day["mase_ratio"])
    print(f"forecast coverage: day points {day['points']:.3f} year {day['totals']:.3f}; "
          f"month points {month['points']:.3f} year {month['totals']:.3f}; mase ratio day {day['mase_ratio']:.3f} "
          f"month {month['mase_ratio']:.3f}  ({time.perf_counter() - began:.0f}s)")
    rows["spc_right"] = spc_right()
    print(f"SPC trend right: {rows['spc_right']}/20  ({time.perf_counter() - began:.0f}s)")
    keys = ["fa_white", "fa_seasonal", "fa_ar05", "fa_ar08", "detect_1s", "kept_1s", "flicker_1s", "kind_3s",
            "cov_day", "cov_day_year", "cov_month", "cov_month_year", "mase_ratio"]
    line = " ".join(f"{k}={rows[k]:.3f}" for k in keys)
    print(f"pattern_accuracy: {line} spc_right={rows['spc_right']}/20")


if __name__ == "__main__":
    main()
