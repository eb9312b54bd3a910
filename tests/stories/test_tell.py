"""Telling stories from stored results: lifecycle, polarity in the metric's direction, grouping,
and a re-run of part of a span that gives the same rows (no database: `tell` is a pure function)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from semsync.partitions import Grain
from semsync.stories.tell import ROW_COLUMNS, Series, StoryJob, tell

FIRST = date(2025, 11, 1)
COLUMN = {name: i for i, name in enumerate(ROW_COLUMNS)}


def status(value: float, target: float, state: str, run: int = 1, change: tuple | None = None) -> dict:
    return {"status": state, "current_value": value, "target_value": target, "current_status_duration_periods": run,
            "status_change": None if change is None else {"old_status": change[0], "new_status": state,
                                                          "old_status_duration_periods": change[1]}}


def drift(shift_date: str | None, direction: str = "up", z: float = 9.0) -> dict:
    shift = None if shift_date is None else {
        "kind": "level_shift", "date": shift_date, "direction": direction, "size": 25.0 if direction == "up" else -25.0,
        "size_percent": 25.0 if direction == "up" else -25.0, "z_score": z, "level_before": 100.0,
        "level_after": 125.0 if direction == "up" else 75.0, "slope_before": 0.0, "slope_after": 0.0}
    return {"latest_shift": shift, "noise_sigma": 5.0, "critical_z": 3.5}


def history(value: float, spike: bool = False, record: int = 0) -> dict:
    return {"high_rank": {"value": value, "rank": 1 if record else 5, "periods_compared": record or 100,
                          "is_record": bool(record), "prior_record_value": 150.0, "prior_record_date": "2025-06-01",
                          "absolute_delta_from_prior_record": value - 150.0,
                          "relative_delta_from_prior_record": (value / 150 - 1) * 100},
            "trend_exception": {"type": "spike", "favourable": True, "current_value": value, "normal_range_low": 90.0,
                                "normal_range_high": 110.0, "absolute_delta_from_normal_range": value - 110.0,
                                "magnitude_percent": (value / 110 - 1) * 100} if spike else None}


def job(results: dict[str, list[dict | None]], *, sign: int = 1, first: date = FIRST, previous: bool = True,
        prior: dict | None = None) -> StoryJob:
    """A job over len(results' lists) − 1 dates from `first`; the first entry is the previous date's."""
    days = len(next(iter(results.values())))
    dates = [first + timedelta(days=i) for i in range(days)]
    by_pattern = {pattern: {d: [json.dumps(r)] for d, r in zip(dates, found, strict=True) if r is not None}
                  for pattern, found in results.items()}
    noise = random.Random(5)  # the same series in every job
    series = Series.from_points(Grain.DAY, [(date(2025, 8, 1) + timedelta(days=i), 100.0 + noise.gauss(0, 3))
                                            for i in range(120)])
    return StoryJob(tenant="acme", metric_id="cost" if sign < 0 else "revenue", metric_label="Revenue", unit="USD",
                    sign=sign, grain=Grain.DAY, dates=dates[1:] if previous else dates,
                    previous=dates[0] if previous else None, results=by_pattern,
                    versions={"performance_status": "1.1", "drift_detection": "2.1", "historical_performance": "1.1"},
                    series=series, prior=prior or {})


def told(rows: list[tuple], *columns: str) -> list[tuple]:
    return [tuple(row[COLUMN[c]] for c in columns) for row in rows]


def test_a_state_is_told_when_new_not_again_while_it_holds_and_resolved_when_it_stops():
    rows = tell(job({"performance_status": [None, status(90, 100, "off_track"), status(91, 100, "off_track", 2),
                                            status(92, 100, "off_track", 3),
                                            status(101, 100, "on_track", 1, ("off_track", 3))]}))
    # ongoing on the 3rd and the 4th: told on the 2nd, not again
    assert told(rows, "story_date", "story_type", "status", "started_on") == [
        (date(2025, 11, 2), "off_track", "new", date(2025, 11, 2)),
        (date(2025, 11, 5), "on_track", "new", date(2025, 11, 5)),
        (date(2025, 11, 5), "status_improved", "new", date(2025, 11, 5)),
        (date(2025, 11, 5), "off_track", "resolved", date(2025, 11, 2)),
    ]
    titles = dict(told(rows, "status", "title"))
    assert titles["resolved"] == "Revenue is no longer off track"
    # the status change leads the on-track story of its date: one story with two facts
    lead = next(r for r in rows if r[COLUMN["story_type"]] == "status_improved")
    assert json.loads(lead[COLUMN["also"]]) == ["Revenue is on track: $101 against a $100 target (+1.0 %)"]
    assert next(r for r in rows if r[COLUMN["story_type"]] == "on_track")[COLUMN["grouped_under"]] == "status_improved"
    # its end matters less than its beginning
    salience = [r[COLUMN["salience"]] for r in rows if r[COLUMN["story_type"]] == "off_track"]
    assert salience[0] > salience[1]


def test_the_previous_dates_results_decide_what_is_ongoing_and_a_rerun_of_part_gives_the_same_rows():
    results = {"drift_detection": [drift("2025-10-20"), drift("2025-10-20"), drift("2025-10-21"), drift(None),
                                   drift("2025-11-03", "down")]}
    # the shift held on the previous date: ongoing from the first (its date moving a day is the same
    # shift), resolved when no longer reported, with the date it began as stored
    stored = {("level_shift_up", None, None): date(2025, 10, 25)}
    whole = tell(job(results, prior=stored))
    assert told(whole, "story_date", "story_type", "status", "started_on") == [
        (date(2025, 11, 4), "level_shift_up", "resolved", date(2025, 10, 25)),
        (date(2025, 11, 5), "level_shift_down", "new", date(2025, 11, 5))]
    # the last two dates alone: the same rows (what held on the day before them is read from its
    # results, when it began from the stored stories)
    part = tell(job({"drift_detection": results["drift_detection"][2:]}, first=date(2025, 11, 3), prior=stored))
    assert part == whole


def test_polarity_follows_the_metrics_direction():
    results = {"drift_detection": [None, drift("2025-11-01", "up")],
               "historical_performance": [None, history(180.0, record=400)]}
    revenue, cost = tell(job(results)), tell(job(results, sign=-1))
    assert told(revenue, "story_type", "polarity") == [("level_shift_up", "good"), ("record_high", "good")]
    assert told(cost, "story_type", "polarity") == [("level_shift_up", "bad"), ("record_high", "bad")]


def test_a_spike_that_is_a_record_reads_as_one_story_and_events_are_never_ongoing():
    rows = tell(job({"historical_performance": [history(100.0, spike=True, record=400),
                                                history(180.0, spike=True, record=400),
                                                history(190.0, spike=True, record=400)]}))
    assert told(rows, "story_date", "story_type", "status", "grouped_under") == [
        (date(2025, 11, 2), "spike", "new", "record_high"), (date(2025, 11, 2), "record_high", "new", None),
        (date(2025, 11, 3), "spike", "new", "record_high"), (date(2025, 11, 3), "record_high", "new", None)]
    lead = rows[1]
    assert lead[COLUMN["title"]] == "Revenue hit a record high of $180 on 1 Nov 2025, the highest in 400 days"
    assert json.loads(lead[COLUMN["also"]]) == [
        "Revenue spiked to $180 on 1 Nov 2025, 63.6 % above its normal range"]
    # a sparkline of the metric up to the story's period, with its dates
    assert json.loads(lead[COLUMN["series_dates"]])[-1] == "2025-11-01"
    assert len(json.loads(lead[COLUMN["series"]])) == 30


def test_a_quiet_record_over_a_short_span_is_not_told():
    rows = tell(job({"historical_performance": [None, history(151.0, record=30)]}))
    assert rows == []


def test_a_sparkline_ends_at_the_storys_period_even_when_the_series_stops_before_it():
    series = Series.from_points(Grain.DAY, [(date(2025, 11, 1), 1.0), (date(2025, 11, 3), 3.0)])
    end = series.first + 4  # 2025-11-05: no value read after the 3rd (a sparse slice), or read and missing
    first, values = series.upto(end, 30)
    assert first == series.first and [None if v != v else v for v in values.tolist()] == [1.0, None, 3.0, None, None]
