"""Every story template, with its exact sentences: a change to a sentence is a change a reader sees,
made on purpose here (and in `STORY_VERSION`)."""

from __future__ import annotations

import pytest

from semsync.stories import numbers
from semsync.stories.templates import RESOLVED, TEMPLATES, Renderer

#: the slice of each segment story in the cases below
SLICES = {'top_slice': 'emea', 'bottom_slice': 'latam', 'new_strongest_slice': 'emea', 'new_weakest_slice': 'apac', 'share_gain': 'north', 'share_loss': 'north', 'top_two_compared': 'web', 'slice_stronger': 'web', 'slice_weaker': 'web'}

#: the latest complete period of each grain in the cases
LATEST = {"day": "2025-11-28", "week": "2025-11-24", "month": "2025-11-01"}

CASES = [
    ('on_track', {'value': 461000.0, 'target': 450000.0, 'diff_percent': 2.444, 'run': 3},
     'Revenue is on track: $461K against a $450K target (+2.4 %)',
     'Revenue was $461K on 28 Nov 2025 against a target of $450K, on track for the third day in a row.'),
    ('off_track', {'value': 412000.0, 'target': 450000.0, 'diff_percent': -8.444, 'run': 3},
     'Revenue is off track: $412K against a $450K target (−8.4 %), the third day in a row',
     'Revenue was $412K on 28 Nov 2025, −8.4 % against its target of $450K.'),
    ('at_risk', {'value': 437000.0, 'target': 450000.0, 'diff_percent': -2.9, 'run': 1},
     'Revenue is at risk: $437K against a $450K target (−2.9 %)',
     'Revenue was $437K on 28 Nov 2025, inside the at-risk band below its target of $450K.'),
    ('status_improved', {'value': 461000.0, 'target': 450000.0, 'new_label': 'on track', 'old_label': 'off track', 'held': 4},
     'Revenue is on track again after 4 days off track',
     'Revenue was $461K on 28 Nov 2025 against a target of $450K: on track after 4 days off track.'),
    ('status_worsened', {'value': 412000.0, 'target': 450000.0, 'new_label': 'off track', 'old_label': 'on track', 'held': 9},
     'Revenue is off track after 9 days on track',
     'Revenue was $412K on 28 Nov 2025 against a target of $450K: off track after 9 days on track.'),
    ('hold_steady', {'value': 455000.0, 'target': 450000.0, 'margin_percent': 1.11},
     'Revenue needs to hold steady: 1.1 % above its target',
     'Revenue was $455K on 28 Nov 2025, just above its target of $450K; holding this level keeps it on track.'),
    ('growth_streak', {'length': 5, 'total_percent': 12.5, 'start': '2025-11-03', 'start_value': 400000.0, 'value': 450000.0},
     'Revenue has risen 5 days in a row, +12.5 % since 3 Nov 2025',
     'Revenue rose every day since 3 Nov 2025, from $400K to $450K.'),
    ('decline_streak', {'length': 4, 'total_percent': -9.1, 'start': '2025-11-10', 'start_value': 440000.0, 'value': 400000.0},
     'Revenue has fallen 4 days in a row, −9.1 % since 10 Nov 2025',
     'Revenue fell every day since 10 Nov 2025, from $440K to $400K.'),
    ('growth_accelerating', {'growth': 6.2, 'average': 1.5, 'acceleration': 3.1},
     "Revenue's growth is accelerating: +6.2 % on 28 Nov 2025",
     'Revenue changed +6.2 % on 28 Nov 2025, above its average of +1.5 % a day.'),
    ('growth_slowing', {'growth': -1.2, 'average': 2.5, 'acceleration': -2.0},
     "Revenue's growth is slowing: −1.2 % on 28 Nov 2025",
     'Revenue changed −1.2 % on 28 Nov 2025, below its average of +2.5 % a day.'),
    ('long_range_improving', {'overall_percent': 18.0, 'periods': 12, 'value': 472000.0, 'start_value': 400000.0},
     'Revenue has improved: +18.0 % over 12 days',
     'Revenue went from $400K to $472K over the last 12 days.'),
    ('long_range_worsening', {'overall_percent': -15.0, 'periods': 12, 'value': 340000.0, 'start_value': 400000.0},
     'Revenue has worsened: −15.0 % over 12 days',
     'Revenue went from $400K to $340K over the last 12 days.'),
    ('new_upward_trend', {'since': '2025-10-06', 'periods': 8, 'slope_percent': 1.4, 'previous': 'a stable trend'},
     'Revenue is on a new upward trend since 6 Oct 2025',
     'Revenue has been trending up since 6 Oct 2025, +1.4 % a day, after a stable trend.'),
    ('new_downward_trend', {'since': '2025-10-06', 'periods': 8, 'slope_percent': -1.4, 'previous': 'an upward trend'},
     'Revenue is on a new downward trend since 6 Oct 2025',
     'Revenue has been trending down since 6 Oct 2025, −1.4 % a day, after an upward trend.'),
    ('plateau', {'since': '2025-10-06', 'periods': 8, 'slope_percent': 0.0, 'previous': 'an upward trend'},
     'Revenue has plateaued since 6 Oct 2025',
     'Revenue has barely moved since 6 Oct 2025 (8 days).'),
    ('stable_trend', {'since': '2025-10-06', 'periods': 8, 'slope_percent': 0.1, 'previous': 'an upward trend'},
     "Revenue's trend has levelled off since 6 Oct 2025",
     'Revenue has been stable since 6 Oct 2025, after an upward trend.'),
    ('spike', {'value': 3902.0, 'low': 1100.0, 'high': 1560.0, 'expected': 1330.0, 'magnitude_percent': 150.1, 'date': '2025-11-28'},
     'Revenue spiked to $3.9K on 28 Nov 2025, 150 % above its normal range',
     'Revenue was $3.9K on 28 Nov 2025, above its normal range of $1.1K to $1.56K.'),
    ('drop', {'value': 610.0, 'low': 1100.0, 'high': 1560.0, 'expected': 1330.0, 'magnitude_percent': -44.5, 'date': '2025-11-28'},
     'Revenue dropped to $610 on 28 Nov 2025, 44.5 % below its normal range',
     'Revenue was $610 on 28 Nov 2025, below its normal range of $1.1K to $1.56K.'),
    ('record_high', {'value': 3902.0, 'span': 400, 'delta': 1650.0, 'delta_percent': 73.3, 'prior_value': 2252.0, 'prior_date': '2024-12-02', 'date': '2025-11-28'},
     'Revenue hit a record high of $3.9K on 28 Nov 2025, the highest in 400 days',
     'Revenue reached $3.9K, +$1.65K (+73.3 %) above the previous high of $2.25K on 2 Dec 2024.'),
    ('record_low', {'value': 610.0, 'span': 120, 'delta': -90.0, 'delta_percent': -12.9, 'prior_value': 700.0, 'prior_date': '2025-08-17', 'date': '2025-11-28'},
     'Revenue hit a record low of $610 on 28 Nov 2025, the lowest in 120 days',
     'Revenue fell to $610, −$90 (−12.9 %) against the previous low of $700 on 17 Aug 2025.'),
    ('yoy_better', {'value': 3902.0, 'year_ago_value': 1200.0, 'year_ago_date': '2024-11-29', 'change_percent': 225.2},
     'Revenue is +225 % on a year ago',
     'Revenue was $3.9K on 28 Nov 2025 against $1.2K a year earlier (29 Nov 2024).'),
    ('yoy_worse', {'value': 900.0, 'year_ago_value': 1200.0, 'year_ago_date': '2024-11-29', 'change_percent': -25.0},
     'Revenue is −25.0 % on a year ago',
     'Revenue was $900 on 28 Nov 2025 against $1.2K a year earlier (29 Nov 2024).'),
    ('benchmark_week_ago', {'value': 3902.0, 'reference_value': 1300.0, 'reference_date': '2025-11-21', 'reference': 'the same day a week earlier', 'change_percent': 200.2},
     'Revenue is +200 % against the same day a week earlier',
     'Revenue was $3.9K on 28 Nov 2025 against $1.3K on 21 Nov 2025.'),
    ('benchmark_month_ago', {'value': 3902.0, 'reference_value': 1300.0, 'reference_date': '2025-10-31', 'reference': 'the same weekday four weeks earlier', 'change_percent': 200.2},
     'Revenue is +200 % against the same weekday four weeks earlier',
     'Revenue was $3.9K on 28 Nov 2025 against $1.3K on 31 Oct 2025.'),
    ('benchmark_quarter_ago', {'value': 900.0, 'reference_value': 1300.0, 'reference_date': '2025-08-29', 'reference': 'the same weekday 13 weeks earlier', 'change_percent': -30.8},
     'Revenue is −30.8 % against the same weekday 13 weeks earlier',
     'Revenue was $900 on 28 Nov 2025 against $1.3K on 29 Aug 2025.'),
    ('top_slice', {'share': 41.2, 'previous_share': 39.8, 'dimension': 'region'},
     'emea is the largest region of Revenue: 41.2 % of the total',
     'emea holds 41.2 % of Revenue, against 39.8 % the day before.'),
    ('bottom_slice', {'share': 8.7, 'previous_share': 9.1, 'dimension': 'region'},
     'latam is the smallest region of Revenue: 8.7 % of the total',
     'latam holds 8.7 % of Revenue, against 9.1 % the day before.'),
    ('new_strongest_slice', {'value': 152000.0, 'previous_slice': 'na', 'previous_value': 148000.0, 'dimension': 'region'},
     'emea is now the strongest region of Revenue, ahead of na',
     'emea brought $152K on 28 Nov 2025; na, the strongest the day before, brought $148K.'),
    ('new_weakest_slice', {'value': 21000.0, 'previous_slice': 'latam', 'previous_value': 23000.0, 'dimension': 'region'},
     'apac is now the weakest region of Revenue, behind latam',
     'apac brought $21K on 28 Nov 2025; latam, the weakest the day before, brought $23K.'),
    ('share_gain', {'share': 36.1, 'previous_share': 31.0, 'share_change': 5.1, 'pressure': 72.0, 'dimension': 'region'},
     "north's share of Revenue rose from 31.0 % to 36.1 %",
     'north gained 5.1 pp of Revenue on 28 Nov 2025, carrying 72.0 % of the change in Revenue.'),
    ('share_loss', {'share': 24.0, 'previous_share': 31.0, 'share_change': -7.0, 'pressure': 64.0, 'dimension': 'region'},
     "north's share of Revenue fell from 31.0 % to 24.0 %",
     'north lost 7.0 pp of Revenue on 28 Nov 2025, carrying 64.0 % of the change in Revenue.'),
    ('top_two_compared', {'slice_b': 'mobile', 'value': 52000.0, 'value_b': 46000.0, 'gap_percent': 13.0, 'prior_gap_percent': 20.0, 'dimension': 'channel'},
     'web leads mobile in Revenue by 13.0 %',
     'web brought $52K and mobile $46K on 28 Nov 2025; the gap was 20.0 % the day before.'),
    ('slice_stronger', {'value': 61000.0, 'previous_value': 49000.0, 'change': 12000.0, 'change_percent': 24.5, 'pressure': 80.0, 'dimension': 'channel'},
     'web lifted Revenue: +$12K (+24.5 %) on 28 Nov 2025',
     "web went from $49K to $61K, carrying 80.0 % of Revenue's change."),
    ('slice_weaker', {'value': 37000.0, 'previous_value': 49000.0, 'change': -12000.0, 'change_percent': -24.5, 'pressure': 80.0, 'dimension': 'channel'},
     'web weighed on Revenue: −$12K (−24.5 %) on 28 Nov 2025',
     "web went from $49K to $37K, carrying 80.0 % of Revenue's change."),
    ('level_shift_up', {'date': '2025-09-01', 'size': 25000.0, 'size_percent': 25.3, 'before': 99000.0, 'after': 124000.0, 'slope_before': 0.0, 'slope_after': 0.0, 'z': 9.1},
     'Revenue shifted up 25.3 % on 1 Sep 2025',
     'Revenue moved from about $99K to about $124K a day on 1 Sep 2025, and has stayed there.'),
    ('level_shift_down', {'date': '2025-10-01', 'size': -15000.0, 'size_percent': -15.2, 'before': 99000.0, 'after': 84000.0, 'slope_before': 0.0, 'slope_after': 0.0, 'z': 7.1},
     'Revenue shifted down 15.2 % on 1 Oct 2025',
     'Revenue moved from about $99K to about $84K a day on 1 Oct 2025, and has stayed there.'),
    ('trend_change_up', {'date': '2025-10-01', 'size': 120.0, 'size_percent': 0.2, 'before': 99000.0, 'after': 99500.0, 'slope_before': -80.0, 'slope_after': 120.0, 'z': 5.0},
     "Revenue's trend turned up on 1 Oct 2025",
     'Since 1 Oct 2025, Revenue has changed by +$120 a day, against −$80 before.'),
    ('trend_change_down', {'date': '2025-10-01', 'size': -200.0, 'size_percent': -0.2, 'before': 99000.0, 'after': 98500.0, 'slope_before': 80.0, 'slope_after': -120.0, 'z': 5.0},
     "Revenue's trend turned down on 1 Oct 2025",
     'Since 1 Oct 2025, Revenue has changed by −$120 a day, against +$80 before.'),
    ('likely_on_track_week', {'horizon': 'week', 'period_end': '2025-12-31', 'forecast': 4610000.0, 'target': 4500000.0, 'low': 4480000.0, 'high': 4740000.0, 'gap_percent': 2.444},
     'Revenue is likely to meet its week target: $4.61M forecast against $4.5M',
     'At the current pace, Revenue ends the week on 31 Dec 2025 at $4.61M (95 % interval $4.48M to $4.74M), +2.4 % against its target of $4.5M.'),
    ('likely_off_track_week', {'horizon': 'week', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444},
     'Revenue is likely to miss its week target: $4.12M forecast against $4.5M (−8.4 %)',
     'At the current pace, Revenue ends the week on 31 Dec 2025 at $4.12M (95 % interval $3.98M to $4.26M), short of its target of $4.5M.'),
    ('pacing_ahead_week', {'horizon': 'week', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4700000.0, 'pace_gap_percent': 4.4, 'elapsed_percent': 35.0},
     'Revenue is pacing ahead of its week target: $4.7M projected against $4.5M',
     'With 35.0 % of the week gone, Revenue is on pace for $4.7M, +4.4 % against its target of $4.5M.'),
    ('pacing_behind_week', {'horizon': 'week', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4100000.0, 'pace_gap_percent': -8.9, 'elapsed_percent': 35.0},
     'Revenue is pacing behind its week target: $4.1M projected against $4.5M (−8.9 %)',
     'With 35.0 % of the week gone, Revenue is on pace for $4.1M, short of its target of $4.5M.'),
    ('required_growth_week', {'horizon': 'week', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'required_percent': 1.3, 'remaining': 30, 'target_at_end': 160000.0},
     'Revenue needs +1.3 % a day to reach its week target',
     'To reach $160K by 31 Dec 2025, Revenue has to grow 1.3 % a day for the 30 days left.'),
    ('likely_on_track_month', {'horizon': 'month', 'period_end': '2025-12-31', 'forecast': 4610000.0, 'target': 4500000.0, 'low': 4480000.0, 'high': 4740000.0, 'gap_percent': 2.444},
     'Revenue is likely to meet its month target: $4.61M forecast against $4.5M',
     'At the current pace, Revenue ends the month on 31 Dec 2025 at $4.61M (95 % interval $4.48M to $4.74M), +2.4 % against its target of $4.5M.'),
    ('likely_off_track_month', {'horizon': 'month', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444},
     'Revenue is likely to miss its month target: $4.12M forecast against $4.5M (−8.4 %)',
     'At the current pace, Revenue ends the month on 31 Dec 2025 at $4.12M (95 % interval $3.98M to $4.26M), short of its target of $4.5M.'),
    ('pacing_ahead_month', {'horizon': 'month', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4700000.0, 'pace_gap_percent': 4.4, 'elapsed_percent': 35.0},
     'Revenue is pacing ahead of its month target: $4.7M projected against $4.5M',
     'With 35.0 % of the month gone, Revenue is on pace for $4.7M, +4.4 % against its target of $4.5M.'),
    ('pacing_behind_month', {'horizon': 'month', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4100000.0, 'pace_gap_percent': -8.9, 'elapsed_percent': 35.0},
     'Revenue is pacing behind its month target: $4.1M projected against $4.5M (−8.9 %)',
     'With 35.0 % of the month gone, Revenue is on pace for $4.1M, short of its target of $4.5M.'),
    ('required_growth_month', {'horizon': 'month', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'required_percent': 1.3, 'remaining': 30, 'target_at_end': 160000.0},
     'Revenue needs +1.3 % a day to reach its month target',
     'To reach $160K by 31 Dec 2025, Revenue has to grow 1.3 % a day for the 30 days left.'),
    ('likely_on_track_quarter', {'horizon': 'quarter', 'period_end': '2025-12-31', 'forecast': 4610000.0, 'target': 4500000.0, 'low': 4480000.0, 'high': 4740000.0, 'gap_percent': 2.444},
     'Revenue is likely to meet its quarter target: $4.61M forecast against $4.5M',
     'At the current pace, Revenue ends the quarter on 31 Dec 2025 at $4.61M (95 % interval $4.48M to $4.74M), +2.4 % against its target of $4.5M.'),
    ('likely_off_track_quarter', {'horizon': 'quarter', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444},
     'Revenue is likely to miss its quarter target: $4.12M forecast against $4.5M (−8.4 %)',
     'At the current pace, Revenue ends the quarter on 31 Dec 2025 at $4.12M (95 % interval $3.98M to $4.26M), short of its target of $4.5M.'),
    ('pacing_ahead_quarter', {'horizon': 'quarter', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4700000.0, 'pace_gap_percent': 4.4, 'elapsed_percent': 35.0},
     'Revenue is pacing ahead of its quarter target: $4.7M projected against $4.5M',
     'With 35.0 % of the quarter gone, Revenue is on pace for $4.7M, +4.4 % against its target of $4.5M.'),
    ('pacing_behind_quarter', {'horizon': 'quarter', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4100000.0, 'pace_gap_percent': -8.9, 'elapsed_percent': 35.0},
     'Revenue is pacing behind its quarter target: $4.1M projected against $4.5M (−8.9 %)',
     'With 35.0 % of the quarter gone, Revenue is on pace for $4.1M, short of its target of $4.5M.'),
    ('required_growth_quarter', {'horizon': 'quarter', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'required_percent': 1.3, 'remaining': 30, 'target_at_end': 160000.0},
     'Revenue needs +1.3 % a day to reach its quarter target',
     'To reach $160K by 31 Dec 2025, Revenue has to grow 1.3 % a day for the 30 days left.'),
    ('likely_on_track_year', {'horizon': 'year', 'period_end': '2025-12-31', 'forecast': 4610000.0, 'target': 4500000.0, 'low': 4480000.0, 'high': 4740000.0, 'gap_percent': 2.444},
     'Revenue is likely to meet its year target: $4.61M forecast against $4.5M',
     'At the current pace, Revenue ends the year on 31 Dec 2025 at $4.61M (95 % interval $4.48M to $4.74M), +2.4 % against its target of $4.5M.'),
    ('likely_off_track_year', {'horizon': 'year', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444},
     'Revenue is likely to miss its year target: $4.12M forecast against $4.5M (−8.4 %)',
     'At the current pace, Revenue ends the year on 31 Dec 2025 at $4.12M (95 % interval $3.98M to $4.26M), short of its target of $4.5M.'),
    ('pacing_ahead_year', {'horizon': 'year', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4700000.0, 'pace_gap_percent': 4.4, 'elapsed_percent': 35.0},
     'Revenue is pacing ahead of its year target: $4.7M projected against $4.5M',
     'With 35.0 % of the year gone, Revenue is on pace for $4.7M, +4.4 % against its target of $4.5M.'),
    ('pacing_behind_year', {'horizon': 'year', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'projected': 4100000.0, 'pace_gap_percent': -8.9, 'elapsed_percent': 35.0},
     'Revenue is pacing behind its year target: $4.1M projected against $4.5M (−8.9 %)',
     'With 35.0 % of the year gone, Revenue is on pace for $4.1M, short of its target of $4.5M.'),
    ('required_growth_year', {'horizon': 'year', 'period_end': '2025-12-31', 'forecast': 4120000.0, 'target': 4500000.0, 'low': 3980000.0, 'high': 4260000.0, 'gap_percent': -8.444, 'required_percent': 1.3, 'remaining': 30, 'target_at_end': 160000.0},
     'Revenue needs +1.3 % a day to reach its year target',
     'To reach $160K by 31 Dec 2025, Revenue has to grow 1.3 % a day for the 30 days left.'),
]


def render(story_type: str, variables: dict, unit: str | None = "USD", grain: str = "day") -> tuple[str, str]:
    renderer = Renderer("Revenue", unit, grain)
    variables = {**variables, "slice": SLICES.get(story_type), "when": numbers.when(grain, LATEST[grain])}
    template = TEMPLATES[story_type]
    return renderer.render(template.title, variables), renderer.render(template.detail, variables)


def test_every_template_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(TEMPLATES)
    assert len({t.split("_week")[0].split("_month")[0].split("_quarter")[0].split("_year")[0] for t in TEMPLATES}) >= 25


@pytest.mark.parametrize(("story_type", "variables", "title", "detail"), CASES, ids=[c[0] for c in CASES])
def test_template_sentences(story_type, variables, title, detail):
    assert render(story_type, variables) == (title, detail)


def test_an_optional_part_without_its_values_is_left_out():
    variables = {"value": 412_000.0, "target": 450_000.0, "diff_percent": -8.444, "run": 1}
    assert render("off_track", variables)[0] == "Revenue is off track: $412K against a $450K target (−8.4 %)"
    record = {"value": 3902.0, "span": 400, "delta": None, "delta_percent": None, "prior_value": None,
              "prior_date": None, "date": "2025-11-28"}
    assert render("record_high", record)[1] == "Revenue reached $3.9K."


def test_units_and_grains_in_sentences():
    variables = {"value": 0.0312, "target": 0.0335, "diff_percent": -6.87, "run": 2}
    assert render("off_track", variables, unit="percent", grain="week") == (
        "Revenue is off track: 3.1 % against a 3.4 % target (−6.9 %), the second week in a row",
        "Revenue was 3.1 % in the week of 24 Nov 2025, −6.9 % against its target of 3.4 %.")
    assert render("on_track", {"value": 1234.0, "target": 1200.0, "diff_percent": 2.8, "run": 1}, unit=None,
                  grain="month")[1] == "Revenue was 1.23K in Nov 2025 against a target of 1.2K."
    assert render("slice_weaker", {"value": 37_000.0, "previous_value": 49_000.0, "change": -12_000.0,
                                   "change_percent": -24.5, "pressure": 80.0}, unit="EUR")[0] == \
        "web weighed on Revenue: −€12K (−24.5 %) on 28 Nov 2025"


def test_resolved_sentences_name_what_ended():
    renderer = Renderer("Orders", "count", "day")
    label = renderer.render(TEMPLATES["level_shift_down"].label, {"date": "2025-10-01"})
    variables = {"label": label, "started": "2025-10-02", "last": "2025-12-01", "subject": "Orders"}
    assert renderer.render(RESOLVED.title, variables) == \
        "Orders is no longer at the lower level it fell to on 1 Oct 2025"
    assert renderer.render(RESOLVED.detail, variables) == \
        "Orders was at the lower level it fell to on 1 Oct 2025 from 2 Oct 2025 to 1 Dec 2025."
    slice_label = renderer.render(TEMPLATES["top_slice"].label, {"dimension": "region"})
    assert renderer.render(RESOLVED.title, {"label": slice_label, "subject": "emea"}) == \
        "emea is no longer the largest region of Orders"
