"""forecasting: accuracy against seasonal-naive, interval coverage, statsmodels agreement, targets."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from semsync.patterns import ErrorType, PatternData, ets, get_pattern

FORECAST = get_pattern("forecasting")


def seasonal_daily(days: int, end: date, seed: int = 0, trend: float = 0.3, sigma: float = 10.0) -> pd.DataFrame:
    dates = pd.date_range(end=end, periods=days, freq="D")
    t = np.arange(days)
    rng = np.random.default_rng(seed)
    weekly = np.array([0, 10, 20, 25, 15, -30, -40])[dates.day_of_week]
    return pd.DataFrame({"date": dates.date, "value": 500 + trend * t + weekly + rng.normal(0, sigma, days)})


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, m: int = 7) -> float:
    scale = np.mean(np.abs(history[m:] - history[:-m]))
    return float(np.mean(np.abs(actual - forecast)) / scale)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_seasonal_naive_and_intervals_cover(seed):
    full = seasonal_daily(1000, date(2025, 12, 31), seed)
    values = full.set_index("date")["value"]
    ours, naive, covered, total = [], [], 0, 0
    for analysis_date in (date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)):
        known = full[full["date"] < analysis_date]
        result = FORECAST.analyze(PatternData("m", series=known), analysis_date, "day")
        assert result.error is None and result.model.seasonal_periods == 7
        points = result.forecast
        actual = values.loc[points.dates].to_numpy()
        history = known["value"].to_numpy()[-365:]
        forecast = np.array(points.forecast)
        seasonal_naive = history[-7:][np.arange(len(actual)) % 7]
        ours.append(mase(actual, forecast, history))
        naive.append(mase(actual, seasonal_naive, history))
        covered += int(np.sum((actual >= np.array(points.lower)) & (actual <= np.array(points.upper))))
        total += len(actual)
        assert 90 <= len(actual) <= 92  # to the end of the quarter
    assert np.mean(ours) < np.mean(naive)
    assert 0.93 <= covered / total <= 0.98  # 0.945–0.973 today


def test_the_model_agrees_with_statsmodels_and_the_calibration_is_bounded():
    data = PatternData("m", series=seasonal_daily(400, date(2025, 6, 30)))
    result = FORECAST.analyze(data, date(2025, 7, 1), "day", {"refit_every_day": 1})
    window = data.series.iloc[-365:]
    assert result.model.fit_start == window["date"].iloc[0] and result.model.fit_end == date(2025, 6, 30)
    model = ETSModel(
        pd.Series(window["value"].to_numpy(), index=pd.DatetimeIndex(window["date"], freq="D")),
        error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
        initialization_method="heuristic",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(disp=False)
    horizon = len(result.forecast.dates)
    frame = fitted.get_prediction(start=365, end=365 + horizon - 1).summary_frame(alpha=0.05)
    # the model itself: our recursion and closed-form variances are statsmodels' (σ² aside, which
    # we take over the degrees of freedom rather than n)
    fit = ets.fit_ets(window["value"].to_numpy(), seasonal_periods=7, damped=True)
    states = ets.filter_states(fit, window["value"].to_numpy())
    weights = ets.forecast_weights(fit, horizon)
    np.testing.assert_allclose(ets.point_forecasts(fit, states, 364, weights, horizon), frame["mean"], rtol=1e-9)
    mse_scale = fit.sigma2 * (365 - 13) / 365  # 13 = 4 smoothing and damping + level, trend, 7 seasonal
    np.testing.assert_allclose(1.959964 * np.sqrt(mse_scale * weights.variance),
                               frame["mean"] - frame["pi_lower"], rtol=1e-6)
    # the pattern adds the rolling-origin calibration: the damped trend under-projects this steady
    # trend, and the mean error the past showed brings the forecast back toward it
    dates = pd.DatetimeIndex(result.forecast.dates)
    t = np.arange(400, 400 + horizon)
    truth = 500 + 0.3 * t + np.array([0, 10, 20, 25, 15, -30, -40])[dates.day_of_week]
    ours, theirs = (np.abs(np.asarray(f) - truth).mean() for f in (result.forecast.forecast, frame["mean"]))
    assert ours < 0.5 * theirs
    width_ratio = (np.array(result.forecast.upper) - result.forecast.forecast) / (frame["mean"] - frame["pi_lower"])
    assert 0.55 < width_ratio.min() and width_ratio.max() < 1.15  # narrower far out: the model overstates


def test_period_totals_against_cumulative_targets():
    series = seasonal_daily(400, date(2025, 7, 9), sigma=3.0)
    days = pd.date_range("2024-06-01", "2025-12-31").date
    targets = pd.DataFrame({"date": days, "target_value": 600.0})
    result = FORECAST.analyze(PatternData("m", series=series, targets=targets), date(2025, 7, 10), "day")
    by_period = {p.period: p for p in result.period_forecasts}
    assert list(by_period) == ["week", "month", "quarter", "year"]
    month = by_period["month"]
    assert (month.period_start, month.period_end) == (date(2025, 7, 1), date(2025, 7, 31))
    assert (month.periods_elapsed, month.periods_remaining) == (9, 22)
    july = series[pd.to_datetime(series["date"]) >= "2025-07-01"]["value"]
    assert month.actual_to_date == pytest.approx(july.sum())
    assert month.forecast_remaining == pytest.approx(sum(result.forecast.forecast[:22]))
    assert month.forecasted_value == pytest.approx(month.actual_to_date + month.forecast_remaining)
    assert month.target_value == 600.0 * 31
    assert month.gap_percent == pytest.approx((month.forecasted_value / (600.0 * 31) - 1) * 100)
    assert month.status == ("on_track" if month.forecasted_value >= 0.95 * 600 * 31 else "off_track")
    assert month.pacing.percent_elapsed == pytest.approx(100 * 9 / 31)
    assert month.pacing.projected_value == pytest.approx(july.sum() * 31 / 9)
    latest = series["value"].iloc[-1]
    assert month.required_growth.remaining_periods == 22
    assert month.required_growth.required_pop_growth_percent == pytest.approx(((600 / latest) ** (1 / 22) - 1) * 100)
    week = by_period["week"]
    assert (week.period_start, week.period_end, week.periods_elapsed) == (date(2025, 7, 7), date(2025, 7, 13), 3)
    assert by_period["year"].periods_remaining == 175 and by_period["year"].target_value == 600.0 * 365
    assert result.forecast.dates[-1] == date(2025, 9, 30)


def test_a_week_that_runs_into_the_next_year():
    series = seasonal_daily(400, date(2025, 12, 30))
    result = FORECAST.analyze(PatternData("m", series=series), date(2025, 12, 31), "day")
    week = result.period_forecasts[0]
    assert (week.period_end, week.periods_remaining, week.target_value) == (date(2026, 1, 4), 5, None)
    assert week.status is None and week.required_growth is None


@pytest.mark.parametrize(
    ("grain", "periods", "freq", "seasonal_periods", "kinds"),
    [
        ("week", 160, "W-MON", 52, ["month", "quarter", "year"]),
        ("week", 80, "W-MON", 0, ["month", "quarter", "year"]),
        ("month", 60, "MS", 12, ["quarter", "year"]),
        ("month", 20, "MS", 0, ["quarter", "year"]),
    ],
)
def test_week_and_month_grains(grain, periods, freq, seasonal_periods, kinds):
    dates = pd.date_range(end="2025-06-30", periods=periods, freq=freq)
    t = np.arange(periods)
    cycle = 52 if grain == "week" else 12
    values = 1000 + 5 * t + 80 * np.sin(2 * np.pi * t / cycle) + np.random.default_rng(3).normal(0, 10, periods)
    data = PatternData("m", series=pd.DataFrame({"date": dates.date, "value": values}))
    result = FORECAST.analyze(data, date(2025, 7, 8), grain)
    assert result.error is None
    assert result.model.seasonal_periods == seasonal_periods
    assert [p.period for p in result.period_forecasts] == kinds
    assert result.forecast.dates[0] == (date(2025, 7, 7) if grain == "week" else date(2025, 7, 1))
    assert result.forecast.dates[-1] <= date(2025, 9, 30)
    assert all(lo < f < hi for lo, f, hi in zip(result.forecast.lower, result.forecast.forecast,
                                                result.forecast.upper, strict=True))


def test_gaps_are_carried_forward_and_too_little_history_is_an_error():
    series = seasonal_daily(200, date(2025, 6, 30))
    gappy = series.drop(index=[150, 151, 160])
    result = FORECAST.analyze(PatternData("m", series=gappy), date(2025, 7, 1), "day")
    assert result.error is None and result.num_periods == 197
    short = FORECAST.analyze(PatternData("m", series=series.iloc[-10:]), date(2025, 7, 1), "day",
                             {"refit_every_day": 1})
    assert short.error.type is ErrorType.INSUFFICIENT_DATA
    assert (short.error.required, short.error.available) == (12, 10)
    assert short.forecast is None and short.period_forecasts is None
    unknown = FORECAST.analyze(PatternData("m", series=series), date(2025, 7, 1) + timedelta(days=3), "day")
    assert unknown.error.type is ErrorType.MISSING_LATEST_VALUE


def test_year_to_date_counts_from_the_year_start_when_the_lookback_is_shorter():
    series = seasonal_daily(400, date(2025, 9, 30))
    targets = pd.DataFrame({"date": pd.date_range("2024-01-01", "2025-12-31").date, "target_value": 550.0})
    data = PatternData("m", series=series, targets=targets)
    settings = {"lookback_day": 120, "refit_every_day": 1}
    dates = [date(2025, 10, 1)]
    start, _, _ = FORECAST.data_range(dates, "day", settings)
    assert start == date(2025, 1, 1)  # the window (120 days) starts in June; the year in January
    year = {p.period: p for p in FORECAST.analyze(data, dates[0], "day", settings).period_forecasts}["year"]
    actual = series[pd.to_datetime(series["date"]) >= "2025-01-01"]["value"].sum()
    assert year.actual_to_date == pytest.approx(actual) and year.periods_elapsed == 273
    assert year.target_value == 550.0 * 365


def test_the_calibration_starts_once_the_states_forgot_their_initial_values():
    """The heuristic initial trend comes from the first few periods; with a small β the states take
    months to forget it, and forecasts from those origins err by the initialisation (daily year totals
    were covered 97 % of the time, too wide): the rolling origins start one time constant later."""

    def fit(alpha: float, beta: float, phi: float) -> ets.EtsFit:
        return ets.EtsFit(alpha, beta, 0.0, phi, 0, 1.0, 0.0, 0.0, np.zeros(0), 365)

    slow, quick = ets.converged_after(fit(0.03, 0.005, 0.98), 121), ets.converged_after(fit(0.3, 0.05, 0.98), 121)
    assert 35 <= slow <= 55 and quick <= 15  # 44 and 13 today
    assert ets.converged_after(fit(0.001, 0.0, 1.0), 121) == 121  # never within a third of the sample


def totals_covered(series) -> tuple[int, int]:
    """How many of the quarter and year totals forecast from each quarter's first day of 2025 their
    95 % interval covers, over `series`, and of how many."""
    covered = total = 0
    for full in series:
        truth = full.set_index("date")["value"]
        origins = [date(2025, m, 1) for m in (1, 4, 7, 10)]
        for result in FORECAST.analyze_many(PatternData("m", series=full), origins, "day"):
            for period in result.period_forecasts:
                if period.period in ("quarter", "year"):
                    actual = truth[(truth.index >= period.period_start) & (truth.index <= period.period_end)].sum()
                    covered += period.lower <= actual <= period.upper
                    total += 1
    return covered, total


def test_intervals_cover_period_totals_on_trending_series():
    """A compact version of the bench's year totals (bench/pattern_accuracy.py: cov_day_year)."""
    covered, total = totals_covered(seasonal_daily(1100, date(2025, 12, 31), seed, trend=0.2 + 0.2 * seed)
                                    for seed in range(6))
    assert total == 48
    assert covered >= 44  # 47 today (before the calibration: 41)


def growing_daily(seed: int, rate: float) -> pd.DataFrame:
    """Two years of a level rising by `rate` of its first value a day, with a weekday rhythm and noise
    in proportion to each day's level (8 % and 4 %): the noise of the forecast year is larger than
    the fitted year's."""
    dates = pd.date_range("2024-01-01", "2025-12-31", freq="D")
    level = 1000.0 * (1 + rate * np.arange(len(dates)))
    weekly = np.array([0.02, 0.05, 0.08, 0.04, 0.0, -0.08, -0.11])[dates.day_of_week]
    noise = np.random.default_rng(seed).normal(0, 0.04, len(dates))
    return pd.DataFrame({"date": dates.date, "value": level * (1 + weekly + noise)})


def test_intervals_grow_with_a_rising_level():
    """Errors in proportion to the level (bench/pattern_accuracy.py: cov_quarter_trend, cov_year_trend):
    the calibration measures them against the level forecast, so a level that doubles in a year
    widens the intervals of the totals ahead instead of keeping the first months' spread."""
    covered, total = totals_covered(growing_daily(seed, 0.002 + 0.0001 * seed) for seed in range(8))
    assert total == 64
    assert covered >= 57  # 59 today; 54 when the errors were taken as they are, whatever the level
