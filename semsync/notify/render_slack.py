"""A notification as a Slack incoming-webhook payload: ``{"text": fallback, "blocks": [Block Kit]}``.

Data is text, never markup. Every text that comes from a story or the catalog (a title, a detail,
a slice, a metric label, a tenant's name) goes through `slack_escape` before it joins our own
template text, whatever the text object:

- ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's documented escaping), which
  defuses ``<!channel>``, ``<@U123>`` and ``<https://x|here>``; a ``>`` also gets a zero-width space
  before it, so data at a line's start is not a quote;
- the mrkdwn formatting characters ``*``, ``_``, ``~`` and a backtick get a zero-width space on
  each side: Slack opens a format only before a non-space and closes it only after one, and it
  never formats inside a word, so a character flanked by the same invisible character on both sides
  is neither, whether Slack reads that character as a space or as a letter;
- ``@`` gets a zero-width space after it (``@channel`` and ``@here`` notify nobody) and an emoji
  code's opening colon one too (``:rotating_light:`` in a slice name stays text);
- every mrkdwn text is ``verbatim``: Slack does not turn bare URLs, ``#channel`` names or mentions
  in it into links.

What a reader sees is the literal text; removing the zero-width spaces and unescaping the three
entities gives it back exactly (the tests check that). Limits: at most `MAX_BLOCKS` blocks, a
section's text at most 3,000 characters, a header's 150, all the blocks' text under `TEXT_BUDGET`,
all counted after escaping; what does not fit is cut with "…" or counted in a "+N more" line.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from semsync.notify.content import Alert, Deliverable, Digest, DigestMetric, TestMessage
from semsync.notify.render_text import (
    DIGEST_NAMES,
    ELLIPSIS,
    MARKS,
    digest_summary,
    one_line,
    ordered_stories,
    sentence_of_test,
    series_span,
    sparkline,
    story_facts,
    web_link,
)
from semsync.stories.model import Polarity, Story

ZWSP = "\u200b"
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_LIMIT = 2000
#: a digest shows at most this many stories of one metric in Slack; the rest are "+N more"
STORIES_PER_METRIC = 3
#: the text of all blocks together: Slack refuses a message whose blocks hold more (``msg_blocks_too_long``,
#: an undocumented limit reported near 12,000 characters, slackapi/bolt-js#2509), so a digest stops short of it
TEXT_BUDGET = 11_000
OVERFLOW_RESERVE = 200
FALLBACK_LIMIT = 1000
EMOJI = {Polarity.BAD: ":red_circle:", Polarity.GOOD: ":large_green_circle:", Polarity.NEUTRAL: ":white_circle:"}

_EMOJI_CODE = re.compile(r":(?=[A-Za-z0-9_+'-]+:)")
_FORMATTING = re.compile(r"[*_~`]")


def slack_escape(text: str) -> str:
    """`text` (data) as literal Slack text: no mention, link, format, quote or emoji code in it acts."""
    text = _EMOJI_CODE.sub(":" + ZWSP, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", ZWSP + "&gt;")
    text = _FORMATTING.sub(lambda m: ZWSP + m.group() + ZWSP, text)
    return text.replace("@", "@" + ZWSP)


def fit(data: str, limit: int) -> str:
    """`data` escaped, cut (before escaping, so no entity is split) to at most `limit` characters with "…"."""
    escaped = slack_escape(data)
    if len(escaped) <= limit:
        return escaped
    low, high = 0, len(data)  # the longest prefix whose escaped form and "…" fit
    while low < high:
        middle = (low + high + 1) // 2
        if len(slack_escape(data[:middle])) + 1 <= limit:
            low = middle
        else:
            high = middle - 1
    return slack_escape(data[:low]) + ELLIPSIS


def _link(url: str | None, label: str) -> str | None:
    """``<url|label>`` for an http(s) URL of ours (escaped as Slack asks; a ``|`` encoded), else None."""
    if (url := web_link(url)) is None:
        return None
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{label}>"


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))


def _lines_within(head: str, lines: list[str], hidden: int, limit: int = SECTION_LIMIT) -> str:
    """`head` and as many of `lines` as fit in `limit` characters, then ``+N more`` for the rest and `hidden`."""
    shown: list[str] = []
    size = len(head)
    for i, line in enumerate(lines):
        rest = len(lines) - i - 1 + hidden
        reserve = len(f"\n_+{rest + 1} more_") if i < len(lines) - 1 or hidden else 0
        if size + 1 + len(line) + reserve > limit:
            break
        shown.append(line)
        size += 1 + len(line)
    more = len(lines) - len(shown) + hidden
    return "\n".join([head, *shown] + ([f"_+{more} more_"] if more else []))


def _story_line(story: Story, with_metric: bool = False) -> str:
    title = fit(one_line(story.title), 200)
    label = f"{fit(one_line(story.metric_label), 100)}: " if with_metric else ""
    return f"{EMOJI[story.polarity]} {label}{title}"


def text_size(blocks: list[Block]) -> int:
    """The characters of every text object in `blocks`, what Slack's cumulative limit counts."""
    def size(value: Any) -> int:
        if isinstance(value, dict):
            return sum(len(v) if k == "text" and isinstance(v, str) else size(v) for k, v in value.items())
        if isinstance(value, list):
            return sum(size(v) for v in value)
        return 0
    return sum(size(block.to_dict()) for block in blocks)


def _header(data: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=fit(one_line(data), HEADER_LIMIT), emoji=True))


def _alert_blocks(alert: Alert) -> list[Block]:
    story = alert.story
    title = one_line(story.title)
    room = HEADER_LIMIT - len(EMOJI[story.polarity]) - 1
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=f"{EMOJI[story.polarity]} {fit(title, room)}",
                                                            emoji=True))]
    parts = [fit(title, 1000)] if len(slack_escape(title)) > room else []  # the header cut it: whole below
    parts.append(fit(story.detail, 2000))
    parts += [f"_Also:_ {fit(one_line(fact), 300)}" for fact in story.also[:5]]
    if story.series:
        parts.append(f"`{sparkline(story.series)}`  {slack_escape(series_span(story))}".rstrip())
    blocks.append(_section(_lines_within(parts[0], parts[1:], 0)))
    facts = " · ".join(slack_escape(fact) for fact in story_facts(story, alert.tenant_name))
    blocks.append(ContextBlock(elements=[_mrkdwn(fit_escaped(facts, CONTEXT_LIMIT))]))
    if link := _link(alert.link, "Open report"):
        blocks.append(_section(f":bar_chart: {link}"))
    return blocks


def fit_escaped(text: str, limit: int) -> str:
    """Already escaped `text` cut at a joint (" · ") to fit `limit`: no entity or escape is split."""
    while len(text) > limit and " · " in text:
        text = text.rsplit(" · ", 1)[0] + " " + ELLIPSIS
    return text if len(text) <= limit else ELLIPSIS


def _metric_section(metric: DigestMetric) -> SectionBlock:
    head = f"*{fit(one_line(metric.metric_label), 200)}*"
    if link := _link(metric.link, "report"):
        head += f"  {link}"
    stories = ordered_stories(metric)
    lines = [_story_line(story) for story in stories[:STORIES_PER_METRIC]]
    hidden = len(stories) - len(lines) + metric.more
    return _section(_lines_within(head, lines, hidden))


def _digest_blocks(digest: Digest) -> list[Block]:
    summary = digest_summary(digest)
    head: list[Block] = [_header(summary)]
    if len(slack_escape(one_line(summary))) > HEADER_LIMIT:
        head.append(_section(slack_escape(summary)))
    head.append(DividerBlock())
    tail: list[Block] = []
    if digest.folded:
        tail.append(_section(_lines_within("*Held back by the rate limit*",
                                           [_story_line(s, with_metric=True) for s in digest.folded], 0, 1500)))
    if digest.not_analysed:
        names = " · ".join(slack_escape(one_line(name)) for name in digest.not_analysed)
        tail.append(ContextBlock(elements=[_mrkdwn(fit_escaped(f"Not analysed yet: {names}", 1000))]))
    link = _link(digest.link, "Open report")
    if link:
        tail.append(_section(f":bar_chart: {link}"))
    if tail:
        tail.insert(0, DividerBlock())
    room = MAX_BLOCKS - len(head) - len(tail)
    budget = TEXT_BUDGET - text_size(head + tail)
    metrics = [m for m in digest.metrics if m.bad or m.good or m.neutral or m.more]
    body: list[Block] = []
    for i, metric in enumerate(metrics):
        section = _metric_section(metric)
        size = text_size([section])
        last = i == len(metrics) - 1  # else keep room for the line that counts the metrics left out
        if room - len(body) - (0 if last else 1) < 1 or size > budget - (0 if last else OVERFLOW_RESERVE):
            break
        body.append(section)
        budget -= size
    if left := metrics[len(body):]:
        stories = sum(len(ordered_stories(m)) + m.more for m in left)
        where = "in the report" if link else "in the report or the email digest"
        body.append(_section(f"_+{len(left)} more metrics with {stories} stories: see them {where}_"))
    if not metrics:
        body.append(_section(f"No new stories in this {DIGEST_NAMES[digest.grain]} digest."))
    return head + body + tail


def slack_payload(item: Deliverable) -> dict[str, Any]:
    """The incoming-webhook payload of an alert, a digest or a test message: ``{"text", "blocks"}``.

    ``text`` is the plain fallback (notifications, clients without blocks): escaped like the rest,
    without formatting of ours.
    """
    if isinstance(item, Alert):
        story = item.story
        fallback = f"{MARKS[story.polarity]} {one_line(story.metric_label)}: {one_line(story.title)}"
        blocks = _alert_blocks(item)
    elif isinstance(item, Digest):
        fallback = digest_summary(item)
        blocks = _digest_blocks(item)
    elif isinstance(item, TestMessage):
        fallback = sentence_of_test(item)
        blocks = [_section(f":wave: {slack_escape(fallback)}")]
    else:
        raise TypeError(f"cannot render {type(item).__name__} for Slack")
    return {"text": fit(fallback, FALLBACK_LIMIT), "blocks": [block.to_dict() for block in blocks]}
