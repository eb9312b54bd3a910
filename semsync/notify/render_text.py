"""The words and small pictures every channel of a notification shares, before any escaping.

Everything here returns plain text (data included as is): each renderer escapes it for its medium
(Slack mrkdwn, HTML, JSON). One place for the period labels, the digest's one-line summary, the
sparkline of a story's series and the line of facts under a story, so Slack, email and a webhook
say the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from semsync.notify.content import Digest, DigestMetric, TestMessage
from semsync.partitions import Grain, parse_partition
from semsync.stories.model import Polarity, Story

#: English names, whatever the process's locale (strftime's %A/%B follow it)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
#: a story's polarity as one character, for a subject line and the plain-text part
MARKS = {Polarity.BAD: "▼", Polarity.GOOD: "▲", Polarity.NEUTRAL: "●"}
#: how a digest of each grain is called
DIGEST_NAMES = {Grain.DAY: "daily", Grain.WEEK: "weekly", Grain.MONTH: "monthly"}
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) as one space: for subjects and headers."""
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the cut marked with "…"."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def web_link(url: str | None) -> str | None:
    """`url` when it is an http(s) URL, else None: a link is only ever to a web page (no ``javascript:``)."""
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def period_label(grain: Grain | str, period_key: str) -> str:
    """How a reader says a period: ``Sunday 6 July 2025``, ``week 27 of 2025 (7–13 July)``, ``July 2025``.

    A week that spans two months or two years names both ends in full enough to be unambiguous
    (``week 5 of 2025 (27 January–2 February)``, ``week 52 of 2025 (29 December 2025–4 January 2026)``).
    Raises `PartitionKeyError` for a malformed key.
    """
    partition = parse_partition(grain, period_key)
    start, end = partition.start, partition.end
    if partition.grain is Grain.DAY:
        return f"{_DAYS[start.weekday()]} {start.day} {_MONTHS[start.month - 1]} {start.year}"
    if partition.grain is Grain.MONTH:
        return f"{_MONTHS[start.month - 1]} {start.year}"
    number = int(partition.key.rsplit("W", 1)[1])
    if start.year != end.year:
        span = f"{start.day} {_MONTHS[start.month - 1]} {start.year}–{end.day} {_MONTHS[end.month - 1]} {end.year}"
    elif start.month != end.month:
        span = f"{start.day} {_MONTHS[start.month - 1]}–{end.day} {_MONTHS[end.month - 1]}"
    else:
        span = f"{start.day}–{end.day} {_MONTHS[start.month - 1]}"
    return f"week {number} of {start.year} ({span})"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def digest_counts(digest: Digest) -> dict[Polarity, int]:
    """The digest's stories per polarity (the folded alerts not included: they were counted when held back)."""
    return {
        Polarity.BAD: sum(len(m.bad) for m in digest.metrics),
        Polarity.GOOD: sum(len(m.good) for m in digest.metrics),
        Polarity.NEUTRAL: sum(len(m.neutral) for m in digest.metrics),
    }


def digest_label(digest: Digest) -> str:
    """The digest's period as a reader says it (the digest's own label, else the one `period_label` makes)."""
    return digest.period_label or period_label(digest.grain, digest.period)


def digest_summary(digest: Digest) -> str:
    """The digest in one line: ``Acme Inc. — Sunday 6 July 2025: 3 bad and 2 good stories on 4 metrics``.

    Then, when there are any, the alerts a rate limit held back and the metrics not analysed in time
    (``…; 2 alerts held back; 1 metric not analysed yet``). Plain text: escape it for the medium.
    """
    counts = digest_counts(digest)
    told = [f"{n} {polarity.value}" for polarity, n in counts.items() if n]
    total = sum(counts.values())
    if told:
        metrics = sum(1 for m in digest.metrics if m.bad or m.good or m.neutral)
        line = f"{_and(told)} {'story' if total == 1 else 'stories'} on {_plural(metrics, 'metric')}"
    else:
        line = "no new stories"
    if digest.folded:
        line += f"; {_plural(len(digest.folded), 'alert')} held back"
    if digest.not_analysed:
        line += f"; {_plural(len(digest.not_analysed), 'metric')} not analysed yet"
    return f"{one_line(digest.tenant_name)} — {digest_label(digest)}: {line}"


def digest_subject_counts(digest: Digest) -> str:
    """``3 bad, 2 good`` (neutral ones when there are any), or ``no new stories``."""
    counts = digest_counts(digest)
    if not sum(counts.values()):
        return "no new stories"
    parts = [f"{counts[Polarity.BAD]} bad", f"{counts[Polarity.GOOD]} good"]
    if counts[Polarity.NEUTRAL]:
        parts.append(f"{counts[Polarity.NEUTRAL]} neutral")
    return ", ".join(parts)


def ordered_stories(metric: DigestMetric) -> list[Story]:
    """A digest metric's stories as told: bad, then good, then neutral, each the most salient first."""
    return [story for group in (metric.bad, metric.good, metric.neutral)
            for story in sorted(group, key=lambda s: -s.salience)]


def sparkline(series: Sequence[float | None]) -> str:
    """`series` as unicode blocks (``▁▂▅█``), lowest to highest; a missing value is a space."""
    values = [v for v in series if v is not None and math.isfinite(v)]
    if not values:
        return " " * len(series)
    low, high = min(values), max(values)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        " " if v is None or not math.isfinite(v)
        else SPARK_BLOCKS[round((v - low) / span * top) if span else top // 2]
        for v in series)


def story_facts(story: Story, tenant_name: str) -> list[str]:
    """The facts under a story: tenant, metric, grain, date, segment, type, salience (plain text)."""
    facts = [one_line(tenant_name), one_line(story.metric_label), story.grain.value, story.story_date.isoformat()]
    if story.dimension and story.slice is not None:
        facts.append(f"{one_line(story.dimension)} = {one_line(story.slice)}")
    facts += [story.story_type.replace("_", " "), f"salience {story.salience:.2f}"]
    return facts


def series_span(story: Story) -> str:
    """What the sparkline covers: ``last 8 days to 2025-07-06`` (empty without dates)."""
    if not story.series_dates:
        return ""
    return f"last {_plural(len(story.series), story.grain.value)} to {story.series_dates[-1].isoformat()}"


def sentence_of_test(message: TestMessage) -> str:
    """The one sentence a test message says (plain text)."""
    return (f"semsync test message for channel {one_line(message.channel)} of tenant "
            f"{one_line(message.tenant_name)} ({one_line(message.tenant)}): if you read this, the channel works.")
