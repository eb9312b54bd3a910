"""A notification as a multipart email: a subject, a plain-text part and an HTML part.

The parts come from the jinja2 templates in ``semsync/notify/templates``: ``*.html.j2`` through an
environment with autoescaping on (every value from a story or the catalog is escaped for HTML; the
templates mark nothing safe), ``*.txt.j2`` through one without (plain text needs none).

The HTML is made for mail clients: tables for layout, inline styles, no script, no external
resource (no image, font or stylesheet is fetched). Each story carries a small bar chart of its
series drawn with table cells, so it shows in clients that block images: a ``table`` of class
``semsync-chart``, one cell of class ``bar`` per value (``bar gap`` for a missing one), heights
proportional to the values above zero (or above the lowest value when some are negative), the
last bar in the story's colour.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from semsync.notify.content import Alert, Deliverable, Digest, EmailContent, TestMessage
from semsync.notify.render_text import (
    DIGEST_NAMES,
    MARKS,
    digest_label,
    digest_subject_counts,
    digest_summary,
    one_line,
    ordered_stories,
    sentence_of_test,
    series_span,
    shorten,
    sparkline,
    story_facts,
    web_link,
)
from semsync.stories.model import Polarity, Story
from semsync.stories.numbers import MINUS, compact

COLOURS = {Polarity.BAD: "#c62828", Polarity.GOOD: "#2e7d32", Polarity.NEUTRAL: "#546e7a"}
BAR_COLOUR = "#b0bec5"
CHART_HEIGHT = 40
DIGEST_CHART_HEIGHT = 24
SUBJECT_LIMIT = 200
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Bar:
    """One cell of a chart: its height in pixels (0 for a missing value), colour and tooltip."""

    height: int
    colour: str | None
    label: str

    @property
    def missing(self) -> bool:
        return self.colour is None


def chart_bars(story: Story, height: int = CHART_HEIGHT) -> list[Bar]:
    """The bars of `story.series`: heights proportional to the values, ordered like them, at least 1 px."""
    values = [v if v is not None and math.isfinite(v) else None for v in story.series]
    known = [v for v in values if v is not None]
    base = min([0.0, *known])
    span = max([0.0, *known]) - base
    dates = [d.isoformat() for d in story.series_dates] if len(story.series_dates) == len(values) else []
    bars = []
    for i, value in enumerate(values):
        when = f"{dates[i]}: " if dates else ""
        if value is None:
            bars.append(Bar(0, None, f"{when}no value"))
            continue
        size = max(1, round((value - base) / span * height)) if span else height
        colour = COLOURS[story.polarity] if i == len(values) - 1 else BAR_COLOUR
        bars.append(Bar(size, colour, f"{when}{MINUS if value < 0 else ''}{compact(value)}"))
    return bars


def _story_view(story: Story, tenant_name: str, chart_height: int = CHART_HEIGHT) -> dict[str, Any]:
    bars = chart_bars(story, chart_height)
    return {
        "mark": MARKS[story.polarity], "colour": COLOURS[story.polarity], "polarity": story.polarity.value,
        "title": one_line(story.title), "detail": story.detail, "also": story.also,
        "metric_label": one_line(story.metric_label), "facts": story_facts(story, tenant_name),
        "bars": bars, "bars_height": chart_height, "bar_width": max(4, min(16, 260 // max(1, len(bars)))),
        "spark": sparkline(story.series), "span": series_span(story),
    }


@cache
def _environments() -> tuple[Environment, Environment]:
    """The HTML environment (autoescaped) and the text one, over the same templates."""
    common: dict[str, Any] = {"loader": PackageLoader("semsync.notify", "templates"), "undefined": StrictUndefined,
                              "trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True}
    return Environment(autoescape=True, **common), Environment(autoescape=False, **common)


def _render(name: str, values: dict[str, Any]) -> tuple[str, str]:
    html_env, text_env = _environments()
    return (text_env.get_template(f"{name}.txt.j2").render(values),
            html_env.get_template(f"{name}.html.j2").render(values))


def subject(item: Deliverable) -> str:
    """The subject line: one line (whitespace collapsed, no newline from a title), at most 200 characters."""
    if isinstance(item, Alert):
        story = item.story
        line = f"[semsync] {MARKS[story.polarity]} {story.metric_label}: {story.title}"
    elif isinstance(item, Digest):
        line = (f"[semsync] {item.tenant_name} {DIGEST_NAMES[item.grain]} digest, {digest_label(item)}: "
                f"{digest_subject_counts(item)}")
    elif isinstance(item, TestMessage):
        line = f"[semsync] test message for channel {item.channel} of {item.tenant_name}"
    else:
        raise TypeError(f"cannot render {type(item).__name__} as an email")
    return shorten(one_line(line), SUBJECT_LIMIT)


def email_content(item: Deliverable) -> EmailContent:
    """An alert, a digest or a test message as an email's subject, text part and HTML part."""
    title = subject(item)
    values: dict[str, Any] = {"subject": title, "tenant": item.tenant, "tenant_name": one_line(item.tenant_name),
                              "channel": item.channel}
    if isinstance(item, Alert):
        values |= {"story": _story_view(item.story, item.tenant_name), "rule": item.rule, "link": web_link(item.link),
                   "preview": one_line(item.story.detail)}
        name = "alert"
    elif isinstance(item, Digest):
        values |= {
            "summary": digest_summary(item), "digest_name": DIGEST_NAMES[item.grain], "link": web_link(item.link),
            "metrics": [{"label": one_line(m.metric_label), "link": web_link(m.link), "more": m.more,
                         "stories": [_story_view(s, item.tenant_name, DIGEST_CHART_HEIGHT)
                                     for s in ordered_stories(m)]}
                        for m in item.metrics if m.bad or m.good or m.neutral or m.more],
            "folded": [_story_view(s, item.tenant_name, DIGEST_CHART_HEIGHT) for s in item.folded],
            "not_analysed": item.not_analysed,
        }
        values["preview"] = values["summary"]
        name = "digest"
    elif isinstance(item, TestMessage):
        values |= {"sentence": sentence_of_test(item), "preview": sentence_of_test(item)}
        name = "test"
    else:
        raise TypeError(f"cannot render {type(item).__name__} as an email")
    text, html = _render(name, values)
    return EmailContent(subject=title, text=_BLANK_LINES.sub("\n\n", text), html=html)
