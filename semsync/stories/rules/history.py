"""Stories from `historical_performance`: growth, trends, spikes and drops, records, year over year,
benchmarks, long range."""

from __future__ import annotations

import math
from collections.abc import Iterator

from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity
from semsync.stories.rules.base import YEAR, Candidate, DateContext, finite, good_or_bad, noise_z, z_strength

PATTERN = "historical_performance"
#: a record is told when it beats at least this many earlier periods
MIN_RECORD_SPAN = {Grain.DAY: 90, Grain.WEEK: 26, Grain.MONTH: 12}
#: historical_performance's default half-width of a normal range, in the series' sigmas
EXCEPTION_Z = 2.7
#: a trend is told once it has lasted this many periods
MIN_TREND = {Grain.DAY: 14, Grain.WEEK: 6, Grain.MONTH: 4}
#: benchmarks told, by reference (the prior period is growth's, a year ago is year-over-year's)
BENCHMARK_LABELS = {
    Grain.DAY: {"week_ago": "the same day a week earlier", "month_ago": "the same weekday four weeks earlier",
                "quarter_ago": "the same weekday 13 weeks earlier"},
    Grain.WEEK: {"month_ago": "four weeks earlier", "quarter_ago": "13 weeks earlier"},
    Grain.MONTH: {"quarter_ago": "three months earlier"},
}
TREND_PHRASE = {"upward": "an upward trend", "downward": "a downward trend", "plateau": "a plateau",
                "stable": "a stable trend"}
#: a comparison (benchmark, year over year, long range) is told from this many noise sigmas
MIN_Z = 3.0


def history_stories(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    yield from _trend(r, ctx)
    yield from _exception(r, ctx)
    yield from _records(r, ctx)
    yield from _growth(r, ctx)
    yield from _comparisons(r, ctx)


def _trend(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    trend, previous = r.get("current_trend"), r.get("previous_trend")
    if not trend:
        return
    kind = trend.get("trend_type")
    variables = {"since": trend.get("start_date"), "periods": trend.get("duration_periods"),
                 "slope_percent": trend.get("slope_percent"),
                 "previous": TREND_PHRASE.get((previous or {}).get("trend_type"))}
    # the same trend while its type holds: the chart's start date moves as points arrive
    identity = ""
    if (trend.get("duration_periods") or 0) < MIN_TREND[ctx.grain]:
        return
    if kind in ("upward", "downward") and (previous or {}).get("trend_type") != kind:
        up = kind == "upward"
        polarity = Polarity.GOOD if (1 if up else -1) * ctx.sign > 0 else Polarity.BAD
        yield Candidate("new_upward_trend" if up else "new_downward_trend", Genre.TREND, polarity, 0.45, variables,
                        PATTERN, identity=identity)
    elif kind == "plateau":
        yield Candidate("plateau", Genre.TREND, Polarity.NEUTRAL, 0.3, variables, PATTERN, identity=identity)
    elif kind == "stable" and (previous or {}).get("trend_type") in ("upward", "downward"):
        yield Candidate("stable_trend", Genre.TREND, Polarity.NEUTRAL, 0.3, variables, PATTERN, identity=identity)


def _exception(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    exception = r.get("trend_exception")
    if not exception or exception.get("type") not in ("spike", "drop"):
        return
    value, low, high = exception.get("current_value"), exception.get("normal_range_low"), \
        exception.get("normal_range_high")
    if not finite(value, low, high):
        return
    expected = (low + high) / 2
    # the normal range is the expected value ± `exception_z` (2.7 by default) of the series' own
    # one-period sigmas: a value at its edge is a 2.7σ surprise, one a sigma beyond it a 3.7σ one
    sigma = (high - low) / (2 * EXCEPTION_Z) if high > low else ctx.noise
    z = noise_z(value - expected, sigma)
    spike = exception["type"] == "spike"
    yield Candidate("spike" if spike else "drop", Genre.TREND,
                    Polarity.GOOD if exception.get("favourable") else Polarity.BAD,
                    0.2 + 0.8 * z_strength(None if z is None else z - 1.0),
                    {"value": value, "low": low, "high": high, "expected": expected,
                     "magnitude_percent": exception.get("magnitude_percent"), "date": ctx.period},
                    PATTERN)


def _records(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    for key, story_type in (("high_rank", "record_high"), ("low_rank", "record_low")):
        rank = r.get(key)
        if not rank or not rank.get("is_record") or (rank.get("periods_compared") or 0) < MIN_RECORD_SPAN[ctx.grain]:
            continue
        span = rank["periods_compared"]
        delta = rank.get("absolute_delta_from_prior_record")
        rarity = min(1.0, span / YEAR[ctx.grain])
        z = noise_z(delta, ctx.noise)
        high = story_type == "record_high"
        yield Candidate(story_type, Genre.RECORD, Polarity.GOOD if (1 if high else -1) * ctx.sign > 0 else Polarity.BAD,
                        rarity * (0.35 + 0.65 * z_strength((z or 0) + 2.0)),
                        {"value": rank.get("value"), "span": span, "delta": delta,
                         "delta_percent": rank.get("relative_delta_from_prior_record"),
                         "prior_value": rank.get("prior_record_value"), "prior_date": rank.get("prior_record_date"),
                         "date": ctx.period},
                        PATTERN)


def _growth(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    growth = r.get("growth_stats")
    if not growth:
        return
    current, acceleration = growth.get("current_pop_growth_percent"), growth.get("current_growth_acceleration")
    average = growth.get("average_pop_growth_percent")
    accelerating, slowing = growth.get("num_periods_accelerating") or 0, growth.get("num_periods_slowing") or 0
    if finite(current, acceleration, average) and ctx.grain is not Grain.DAY:
        # growth is told at the week and month grains, where a period's growth is more than a day's noise:
        # positive growth above its average, accelerating in most of the recent periods (or the reverse)
        if current > 0 and acceleration > 0 and current > average and accelerating > slowing:
            yield Candidate("growth_accelerating", Genre.GROWTH, good_or_bad(1.0, ctx.sign), 0.35,
                            {"growth": current, "average": average, "acceleration": acceleration}, PATTERN)
        elif acceleration < 0 and current < average and slowing > accelerating:
            yield Candidate("growth_slowing", Genre.GROWTH, good_or_bad(-1.0, ctx.sign), 0.35,
                            {"growth": current, "average": average, "acceleration": acceleration}, PATTERN)
    overall = growth.get("overall_growth_percent")
    periods = len(r.get("period_metrics") or ())  # the periods the growth is over
    value = _latest_value(r)
    # long range at the week and month grains: a day's value against one 12 days before mostly
    # compares weekdays
    if finite(overall, value) and overall != -100 and periods and ctx.grain is not Grain.DAY:
        start = value / (1 + overall / 100)
        z = noise_z(value - start, ctx.noise, math.sqrt(2.0))
        if z is not None and z >= MIN_Z:
            polarity = good_or_bad(overall, ctx.sign)
            yield Candidate("long_range_improving" if polarity is Polarity.GOOD else "long_range_worsening",
                            Genre.GROWTH, polarity,
                            0.2 + 0.5 * z_strength(z - MIN_Z + 2),
                            {"overall_percent": overall, "periods": periods, "value": value, "start_value": start},
                            PATTERN)


def _comparisons(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    value = _latest_value(r)
    season = r.get("seasonality")
    if season and finite(value, season.get("year_ago_value"), season.get("yoy_change_percent")):
        change = value - season["year_ago_value"]
        z = noise_z(change, ctx.noise, math.sqrt(2.0))
        if z is not None and z >= MIN_Z:
            better = change * ctx.sign > 0
            yield Candidate("yoy_better" if better else "yoy_worse", Genre.GROWTH,
                            Polarity.GOOD if better else Polarity.BAD, 0.25 + 0.5 * z_strength(z - MIN_Z + 2),
                            {"value": value, "year_ago_value": season["year_ago_value"],
                             "year_ago_date": season.get("year_ago_date"),
                             "change_percent": season["yoy_change_percent"]},
                            PATTERN)
    labels = BENCHMARK_LABELS[ctx.grain]
    for benchmark in r.get("benchmarks") or []:
        reference = benchmark.get("reference")
        if reference not in labels or not finite(value, benchmark.get("reference_value"),
                                                  benchmark.get("change_percent")):
            continue
        change = value - benchmark["reference_value"]
        z = noise_z(change, ctx.noise, math.sqrt(2.0))
        if z is None or z < MIN_Z + 1:
            continue
        yield Candidate(f"benchmark_{reference}", Genre.GROWTH, good_or_bad(change, ctx.sign),
                        0.2 + 0.4 * z_strength(z - MIN_Z + 1),
                        {"value": value, "reference_value": benchmark["reference_value"],
                         "reference_date": benchmark.get("reference_date"), "reference": labels[reference],
                         "change_percent": benchmark["change_percent"]}, PATTERN)


def _latest_value(r: dict) -> float | None:
    rank = r.get("high_rank") or {}
    return rank.get("value")
