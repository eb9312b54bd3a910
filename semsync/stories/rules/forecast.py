"""Stories from `forecasting`: likely on / off track for the end of the week, month, quarter and
year, pacing ahead / behind, and the growth required to reach the target.

One story type per period (`likely_off_track_quarter`), each the same story while its period runs
(identity: the period's start), so a quarter's miss is announced once, not every day.
"""

from __future__ import annotations

from collections.abc import Iterator

from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity
from semsync.stories.rules.base import Candidate, DateContext, finite, z_strength

PATTERN = "forecasting"
PERIODS = ("week", "month", "quarter", "year")
#: horizons not told at a grain: a day grain's week would be a new story every Monday (the week's
#: own grain tells its status)
SKIPPED = {Grain.DAY: ("week",)}


def forecast_stories(r: dict, ctx: DateContext) -> Iterator[Candidate]:
    for period in r.get("period_forecasts") or []:
        kind = period.get("period")
        if kind not in PERIODS or kind in SKIPPED.get(ctx.grain, ()) or period.get("status") not in ("on_track",
                                                                                                     "off_track"):
            continue
        forecast, target = period.get("forecasted_value"), period.get("target_value")
        low, high = period.get("lower"), period.get("upper")
        if not finite(forecast, target, low, high) or target == 0:
            continue
        identity = str(period.get("period_start"))
        base = {"horizon": kind, "period_end": period.get("period_end"), "forecast": forecast, "target": target,
                "low": low, "high": high, "gap_percent": (forecast - target) / abs(target) * 100}
        # how sure the forecast is of the outcome: the gap in the forecast's own standard errors
        sigma = (high - low) / (2 * 1.96)
        z = abs(forecast - target) / sigma if sigma > 0 else 0.0
        on = period["status"] == "on_track"
        yield Candidate(f"likely_{period['status']}_{kind}", Genre.FORECAST, Polarity.GOOD if on else Polarity.BAD,
                        (0.25 if on else 0.35) + (0.25 if on else 0.6) * z_strength(z), base, PATTERN,
                        identity=identity)
        pacing = period.get("pacing") or {}
        if pacing.get("status") in ("on_track", "off_track") and finite(pacing.get("projected_value"),
                                                                        pacing.get("gap_percent")):
            ahead = pacing["status"] == "on_track"
            yield Candidate(f"pacing_{'ahead' if ahead else 'behind'}_{kind}", Genre.FORECAST,
                            Polarity.GOOD if ahead else Polarity.BAD,
                            0.2 + 0.3 * min(1.0, abs(pacing["gap_percent"]) / 20),
                            {**base, "projected": pacing["projected_value"], "pace_gap_percent": pacing["gap_percent"],
                             "elapsed_percent": pacing.get("percent_elapsed")}, PATTERN, identity=identity)
        required = period.get("required_growth") or {}
        if not on and finite(required.get("required_pop_growth_percent"), required.get("target_at_period_end")) \
                and (required.get("remaining_periods") or 0) > 0:
            yield Candidate(f"required_growth_{kind}", Genre.FORECAST, Polarity.NEUTRAL, 0.3,
                            {**base, "required_percent": required["required_pop_growth_percent"],
                             "remaining": required["remaining_periods"],
                             "target_at_end": required["target_at_period_end"]}, PATTERN, identity=identity)
