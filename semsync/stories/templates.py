"""Every story's sentences, in one place to review: a title (one line) and a detail (one or two
sentences) per story type, and a short label that names the story when it ends (`resolved`).

Placeholders are the rule's variables with a format:
- ``{value:v}`` a value of the metric in its unit (``$412K``), ``{diff:c}`` a signed change in it;
- ``{x:p}`` / ``{x:+p}`` a percentage's size / signed, ``{x:pp}`` / ``{x:+pp}`` percentage points;
- ``{x:d}`` a date (``28 Nov 2025``), ``{n:per}`` a number of periods (``3 weeks``), ``{n:ord}`` an
  ordinal (``third``), ``{metric:pos}`` a possessive (``Orders'``).
``{metric}`` is the metric's label, ``{period}`` its grain (``day``), ``{slice}`` the segment. A part
in ``[[ … ]]`` is told only when every placeholder in it has a value (``{run:ord}``: a run of two
or more).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from typing import Any

from semsync.stories import numbers
from semsync.stories.numbers import UnitFormat


@dataclass(frozen=True)
class StoryTemplate:
    title: str
    detail: str
    #: names the story in the sentence that says it ended
    label: str


def _periods(kind: str) -> dict[str, StoryTemplate]:
    """The forecast stories of one period (week, month, quarter, year)."""
    return {
        f"likely_on_track_{kind}": StoryTemplate(
            f"{{metric}} is likely to meet its {kind} target: {{forecast:v}} forecast against {{target:v}}",
            f"At the current pace, {{metric}} ends the {kind} on {{period_end:d}} at {{forecast:v}} "
            f"(95 % interval {{low:v}} to {{high:v}}), {{gap_percent:+p}} against its target of {{target:v}}.",
            f"likely to meet its {kind} target"),
        f"likely_off_track_{kind}": StoryTemplate(
            f"{{metric}} is likely to miss its {kind} target: {{forecast:v}} forecast against {{target:v}} "
            f"({{gap_percent:+p}})",
            f"At the current pace, {{metric}} ends the {kind} on {{period_end:d}} at {{forecast:v}} "
            f"(95 % interval {{low:v}} to {{high:v}}), short of its target of {{target:v}}.",
            f"likely to miss its {kind} target"),
        f"pacing_ahead_{kind}": StoryTemplate(
            f"{{metric}} is pacing ahead of its {kind} target: {{projected:v}} projected against {{target:v}}",
            f"With {{elapsed_percent:p}} of the {kind} gone, {{metric}} is on pace for {{projected:v}}, "
            f"{{pace_gap_percent:+p}} against its target of {{target:v}}.",
            f"pacing ahead of its {kind} target"),
        f"pacing_behind_{kind}": StoryTemplate(
            f"{{metric}} is pacing behind its {kind} target: {{projected:v}} projected against {{target:v}} "
            f"({{pace_gap_percent:+p}})",
            f"With {{elapsed_percent:p}} of the {kind} gone, {{metric}} is on pace for {{projected:v}}, "
            f"short of its target of {{target:v}}.",
            f"pacing behind its {kind} target"),
        f"required_growth_{kind}": StoryTemplate(
            f"{{metric}} needs {{required_percent:+p}} a {{period}} to reach its {kind} target",
            "To reach {target_at_end:v} by {period_end:d}, {metric} has to grow {required_percent:p} "
            "a {period} for the {remaining:per} left.",
            f"short of the growth its {kind} target needs"),
    }


TEMPLATES: dict[str, StoryTemplate] = {
    # -- goal vs actual, status change, required performance (performance_status) --------------
    "on_track": StoryTemplate(
        "{metric} is on track: {value:v} against a {target:v} target ({diff_percent:+p})",
        "{metric} was {value:v} {when} against a target of {target:v}[[, on track for the {run:ord} {period} "
        "in a row]].",
        "on track"),
    "off_track": StoryTemplate(
        "{metric} is off track: {value:v} against a {target:v} target ({diff_percent:+p})[[, the {run:ord} {period} "
        "in a row]]",
        "{metric} was {value:v} {when}, {diff_percent:+p} against its target of {target:v}.",
        "off track"),
    "at_risk": StoryTemplate(
        "{metric} is at risk: {value:v} against a {target:v} target ({diff_percent:+p})",
        "{metric} was {value:v} {when}, inside the at-risk band below its target of {target:v}"
        "[[, for the {run:ord} {period} in a row]].",
        "at risk"),
    "status_improved": StoryTemplate(
        "{metric} is {new_label} again after {held:per} {old_label}",
        "{metric} was {value:v} {when} against a target of {target:v}: {new_label} after "
        "{held:per} {old_label}.",
        "newly {new_label}"),
    "status_worsened": StoryTemplate(
        "{metric} is {new_label} after {held:per} {old_label}",
        "{metric} was {value:v} {when} against a target of {target:v}: {new_label} after "
        "{held:per} {old_label}.",
        "newly {new_label}"),
    "hold_steady": StoryTemplate(
        "{metric} needs to hold steady: {margin_percent:p} above its target",
        "{metric} was {value:v} {when}, just above its target of {target:v}; holding this level keeps "
        "it on track.",
        "holding steady just above target"),
    "growth_streak": StoryTemplate(
        "{metric} has risen {length:per} in a row[[, {total_percent:+p} since {start:d}]]",
        "{metric} rose every {period} since {start:d}, from {start_value:v} to {value:v}.",
        "on a rising streak"),
    "decline_streak": StoryTemplate(
        "{metric} has fallen {length:per} in a row[[, {total_percent:+p} since {start:d}]]",
        "{metric} fell every {period} since {start:d}, from {start_value:v} to {value:v}.",
        "on a falling streak"),
    # -- growth, trends, trend exceptions, records, comparisons (historical_performance) ----------
    "growth_accelerating": StoryTemplate(
        "{metric:pos} growth is accelerating: {growth:+p} {when}",
        "{metric} changed {growth:+p} {when}, above its average of {average:+p} a {period}.",
        "growing faster than its average"),
    "growth_slowing": StoryTemplate(
        "{metric:pos} growth is slowing: {growth:+p} {when}",
        "{metric} changed {growth:+p} {when}, below its average of {average:+p} a {period}.",
        "growing slower than its average"),
    "long_range_improving": StoryTemplate(
        "{metric} has improved: {overall_percent:+p} over {periods:per}",
        "{metric} went from {start_value:v} to {value:v} over the last {periods:per}.",
        "improving over the long range"),
    "long_range_worsening": StoryTemplate(
        "{metric} has worsened: {overall_percent:+p} over {periods:per}",
        "{metric} went from {start_value:v} to {value:v} over the last {periods:per}.",
        "worsening over the long range"),
    "new_upward_trend": StoryTemplate(
        "{metric} is on a new upward trend since {since:d}",
        "{metric} has been trending up since {since:d}[[, {slope_percent:+p} a {period}]][[, after {previous}]].",
        "on an upward trend"),
    "new_downward_trend": StoryTemplate(
        "{metric} is on a new downward trend since {since:d}",
        "{metric} has been trending down since {since:d}[[, {slope_percent:+p} a {period}]][[, after {previous}]].",
        "on a downward trend"),
    "plateau": StoryTemplate(
        "{metric} has plateaued since {since:d}",
        "{metric} has barely moved since {since:d}[[ ({periods:per})]].",
        "on a plateau"),
    "stable_trend": StoryTemplate(
        "{metric:pos} trend has levelled off since {since:d}",
        "{metric} has been stable since {since:d}[[, after {previous}]].",
        "stable"),
    "spike": StoryTemplate(
        "{metric} spiked to {value:v} on {date:d}[[, {magnitude_percent:p} above its normal range]]",
        "{metric} was {value:v} on {date:d}, above its normal range of {low:v} to {high:v}.",
        "spiking"),
    "drop": StoryTemplate(
        "{metric} dropped to {value:v} on {date:d}[[, {magnitude_percent:p} below its normal range]]",
        "{metric} was {value:v} on {date:d}, below its normal range of {low:v} to {high:v}.",
        "dropping"),
    "record_high": StoryTemplate(
        "{metric} hit a record high of {value:v} on {date:d}, the highest in {span:per}",
        "{metric} reached {value:v}[[, {delta:c} ({delta_percent:+p}) above the previous high of {prior_value:v} "
        "on {prior_date:d}]].",
        "at a record high"),
    "record_low": StoryTemplate(
        "{metric} hit a record low of {value:v} on {date:d}, the lowest in {span:per}",
        "{metric} fell to {value:v}[[, {delta:c} ({delta_percent:+p}) against the previous low of {prior_value:v} "
        "on {prior_date:d}]].",
        "at a record low"),
    "yoy_better": StoryTemplate(
        "{metric} is {change_percent:+p} on a year ago",
        "{metric} was {value:v} {when} against {year_ago_value:v} a year earlier[[ ({year_ago_date:d})]].",
        "better than a year ago"),
    "yoy_worse": StoryTemplate(
        "{metric} is {change_percent:+p} on a year ago",
        "{metric} was {value:v} {when} against {year_ago_value:v} a year earlier[[ ({year_ago_date:d})]].",
        "worse than a year ago"),
    **{f"benchmark_{reference}": StoryTemplate(
        "{metric} is {change_percent:+p} against {reference}",
        "{metric} was {value:v} {when} against {reference_value:v} on {reference_date:d}.",
        f"far from its value {label}")
       for reference, label in (("week_ago", "a week earlier"), ("month_ago", "a month earlier"),
                                ("quarter_ago", "a quarter earlier"))},
    # -- significant segments and segment drift (dimension_analysis) --------------------------------
    "top_slice": StoryTemplate(
        "{slice} is the largest {dimension} of {metric}: {share:p} of the total",
        "{slice} holds {share:p} of {metric}[[, against {previous_share:p} the {period} before]].",
        "the largest {dimension} of {metric}"),
    "bottom_slice": StoryTemplate(
        "{slice} is the smallest {dimension} of {metric}: {share:p} of the total",
        "{slice} holds {share:p} of {metric}[[, against {previous_share:p} the {period} before]].",
        "the smallest {dimension} of {metric}"),
    "new_strongest_slice": StoryTemplate(
        "{slice} is now the strongest {dimension} of {metric}, ahead of {previous_slice}",
        "{slice} brought {value:v} {when}; {previous_slice}, the strongest the {period} before, "
        "brought {previous_value:v}.",
        "newly the strongest {dimension} of {metric}"),
    "new_weakest_slice": StoryTemplate(
        "{slice} is now the weakest {dimension} of {metric}, behind {previous_slice}",
        "{slice} brought {value:v} {when}; {previous_slice}, the weakest the {period} before, "
        "brought {previous_value:v}.",
        "newly the weakest {dimension} of {metric}"),
    "share_gain": StoryTemplate(
        "{slice}'s share of {metric} rose from {previous_share:p} to {share:p}",
        "{slice} gained {share_change:pp} of {metric} {when}[[, carrying {pressure:p} of the change in {metric}]].",
        "gaining share of {metric}"),
    "share_loss": StoryTemplate(
        "{slice}'s share of {metric} fell from {previous_share:p} to {share:p}",
        "{slice} lost {share_change:pp} of {metric} {when}[[, carrying {pressure:p} of the change in {metric}]].",
        "losing share of {metric}"),
    "top_two_compared": StoryTemplate(
        "{slice} leads {slice_b} in {metric} by {gap_percent:p}",
        "{slice} brought {value:v} and {slice_b} {value_b:v} {when}[[; the gap was {prior_gap_percent:p} "
        "the {period} before]].",
        "leading {slice_b} in {metric}"),
    "slice_stronger": StoryTemplate(
        "{slice} lifted {metric}: {change:c} ({change_percent:+p}) {when}",
        "{slice} went from {previous_value:v} to {value:v}, carrying {pressure:p} of {metric:pos} change.",
        "lifting {metric}"),
    "slice_weaker": StoryTemplate(
        "{slice} weighed on {metric}: {change:c} ({change_percent:+p}) {when}",
        "{slice} went from {previous_value:v} to {value:v}, carrying {pressure:p} of {metric:pos} change.",
        "weighing on {metric}"),
    # -- likely status, pacing, required performance (forecasting) ------------------------------
    **{name: template for kind in ("week", "month", "quarter", "year") for name, template in _periods(kind).items()},
    # -- level shifts and trend changes (drift_detection) ---------------------------------------
    "level_shift_up": StoryTemplate(
        "{metric} shifted up {size_percent:p} on {date:d}",
        "{metric} moved from about {before:v} to about {after:v} a {period} on {date:d}, and has stayed there.",
        "at the higher level it reached on {date:d}"),
    "level_shift_down": StoryTemplate(
        "{metric} shifted down {size_percent:p} on {date:d}",
        "{metric} moved from about {before:v} to about {after:v} a {period} on {date:d}, and has stayed there.",
        "at the lower level it fell to on {date:d}"),
    "trend_change_up": StoryTemplate(
        "{metric:pos} trend turned up on {date:d}",
        "Since {date:d}, {metric} has changed by {slope_after:c} a {period}, against {slope_before:c} before.",
        "on the upturn of {date:d}"),
    "trend_change_down": StoryTemplate(
        "{metric:pos} trend turned down on {date:d}",
        "Since {date:d}, {metric} has changed by {slope_after:c} a {period}, against {slope_before:c} before.",
        "on the downturn of {date:d}"),
}

#: a story that stopped holding; the subject is the slice for a segment story, else the metric
RESOLVED = StoryTemplate(
    "{subject} is no longer {label}",
    "{subject} was {label} from {started:d} to {last:d}.",
    "")

_OPTIONAL = re.compile(r"\[\[(.*?)\]\]")


class _Compiled:
    """A template string parsed once: literal text, fields and optional parts."""

    def __init__(self, text: str) -> None:
        self.parts: list[tuple[bool, list[tuple[str, str | None, str]]]] = []
        position = 0
        for match in _OPTIONAL.finditer(text):
            self.parts.append((False, self._parse(text[position:match.start()])))
            self.parts.append((True, self._parse(match.group(1))))
            position = match.end()
        self.parts.append((False, self._parse(text[position:])))

    @staticmethod
    def _parse(text: str) -> list[tuple[str, str | None, str]]:
        return [(literal, name, spec or "") for literal, name, spec, _ in string.Formatter().parse(text)]


class Renderer:
    """Renders templates for one metric: its label, unit and grain."""

    _cache: dict[str, _Compiled] = {}

    def __init__(self, metric_label: str, unit: str | None, grain: str) -> None:
        self.metric = metric_label
        self.unit = UnitFormat(unit)
        self.grain = grain

    def render(self, text: str, variables: dict[str, Any]) -> str:
        """`text` with `variables` (and the metric's label and grain) filled in."""
        return self.render_all((text,), variables)[0]

    def render_all(self, texts: tuple[str, ...], variables: dict[str, Any]) -> list[str]:
        """Several templates of one story with its variables, each number formatted once."""
        values = {"metric": self.metric, "period": self.grain, **variables}
        formatted: dict[tuple[str, str], str | None] = {}
        return [self._render(text, values, formatted) for text in texts]

    def _render(self, text: str, values: dict[str, Any], formatted: dict[tuple[str, str], str | None]) -> str:
        compiled = self._cache.get(text)
        if compiled is None:
            compiled = self._cache[text] = _Compiled(text)
        out: list[str] = []
        for optional, fields in compiled.parts:
            rendered = []
            for literal, name, spec in fields:
                rendered.append(literal)
                if name is None:
                    continue
                key = (name, spec)
                if key not in formatted:
                    formatted[key] = self._format(values.get(name), spec)
                text = formatted[key]
                if text is None:
                    if optional:
                        rendered = None
                        break
                    text = "n/a"
                rendered.append(text)
            if rendered is not None:
                out.extend(rendered)
        return "".join(out)

    def _format(self, value: Any, spec: str) -> str | None:
        if value is None or (isinstance(value, float) and value != value):
            return None
        if spec == "v":
            return self.unit.value(value)
        if spec == "c":
            return self.unit.change(value)
        if spec == "p":
            return numbers.percent(abs(value))
        if spec == "+p":
            return numbers.percent(value, signed=True)
        if spec == "pp":
            return numbers.points(abs(value), signed=False)
        if spec == "+pp":
            return numbers.points(value)
        if spec == "pos":
            return f"{value}'" if str(value).endswith("s") else f"{value}'s"
        if spec == "d":
            return numbers.day(value if isinstance(value, date | str) else str(value))
        if spec == "per":
            n = int(value)
            return f"{n} {self.grain}{'' if n == 1 else 's'}"
        if spec == "ord":
            n = int(value)
            return numbers.ordinal(n) if n >= 2 else None
        if spec == "n":
            return f"{int(value):,}"
        return str(value)


def story_types() -> list[str]:
    """Every story type, in the templates' order."""
    return list(TEMPLATES)
