"""The rendered forms of a notification: Slack Block Kit, a multipart email, a webhook's JSON.

Pure unit tests (no database, no Temporal) over stories built here, except the one that opens the
HTML emails in headless Chromium when it is installed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from semsync.errors import PartitionKeyError
from semsync.notify.content import Alert, Digest, DigestMetric, EmailContent, TestMessage
from semsync.notify.render import digest_summary, email_content, period_label, render, slack_payload, webhook_body
from semsync.notify.render_slack import ZWSP, slack_escape
from semsync.notify.render_text import sparkline
from semsync.stories.model import Story

#: what a slice, a title or a name may hold: a Slack broadcast, a fake link, formatting, a mention
HOSTILE = "<!channel> *pay now* <https://x.example|here> <@U123> @here _it_ ~gone~ `code` :rotating_light:"
SCRIPT = "<script>alert(1)</script> & <b>bold</b>"
REPORT = "https://report.example/acme/revenue?grain=day&from=2025-07-01"
DAY = date(2025, 7, 6)


def make_story(*, title: str = "Revenue rose 8.4 % to $412K", polarity: str = "bad", salience: float = 0.7,
               slice_: str | None = None, metric: str = "revenue", metric_label: str = "Revenue",
               detail: str = "Revenue was $412K on 6 Jul 2025, up from $380K.",
               series: list[float | None] | None = None) -> Story:
    series = [380.0, 395.0, None, 401.0, 412.0] if series is None else series
    return Story(
        tenant="acme", metric=metric, metric_label=metric_label, grain="day", story_date=DAY, story_type="spike",
        genre="growth", dimension="region" if slice_ is not None else None, slice=slice_, status="new",
        started_on=DAY, polarity=polarity, salience=salience, title=title, detail=detail,
        variables={"value": 412.0, "slice": slice_}, series=series,
        series_dates=[DAY - timedelta(days=len(series) - 1 - i) for i in range(len(series))],
        pattern="historical_performance", pattern_version="1.3", analysis_date=DAY + timedelta(days=1))


def make_alert(story: Story | None = None, link: str | None = REPORT, tenant_name: str = "Acme Inc.") -> Alert:
    return Alert(tenant="acme", tenant_name=tenant_name, story=story or make_story(), rule="bad-revenue",
                 channel="ops-slack", link=link, idempotency_key="alert/acme/1")


def make_digest(metrics: list[DigestMetric], **fields: Any) -> Digest:
    values: dict[str, Any] = {"tenant": "acme", "tenant_name": "Acme Inc.", "grain": "day", "period": "2025-07-06",
                              "period_label": period_label("day", "2025-07-06"), "channel": "ops-mail",
                              "link": "https://report.example/acme", "idempotency_key": "digest/acme/2025-07-06"}
    return Digest(metrics=metrics, **values | fields)


def hostile_alert() -> Alert:
    story = make_story(title=f"Revenue from {HOSTILE} fell\n{SCRIPT}", slice_=HOSTILE, metric_label=f"Rev {HOSTILE}",
                       detail=f"The {HOSTILE} segment fell. {SCRIPT}")
    return make_alert(story, tenant_name=f"Acme {HOSTILE}")


def hostile_digest() -> Digest:
    bad = make_story(title=f"{HOSTILE} dropped", slice_=HOSTILE, metric_label=HOSTILE)
    good = make_story(title=f"{SCRIPT} rose", polarity="good", slice_=HOSTILE, metric_label=HOSTILE)
    return make_digest([DigestMetric(metric="revenue", metric_label=HOSTILE, bad=[bad], good=[good], more=1)],
                       tenant_name=f"Acme {HOSTILE}", folded=[make_story(title=HOSTILE, slice_=HOSTILE)],
                       not_analysed=[HOSTILE])


def hostile_test_message() -> TestMessage:
    return TestMessage(tenant="acme", tenant_name=f"Acme {HOSTILE}", channel=f"ops {HOSTILE}",
                       idempotency_key="test/acme/1")


HOSTILE_ITEMS = [pytest.param(hostile_alert, id="alert"), pytest.param(hostile_digest, id="digest"),
                 pytest.param(hostile_test_message, id="test")]


def strings(value: Any) -> list[str]:
    """Every string anywhere in a JSON-like value (keys are ours, values may be data)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def as_read(slack_text: str) -> str:
    """What a Slack reader sees of a literal text: the zero-width spaces gone, the three entities decoded."""
    return slack_text.replace(ZWSP, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- Slack ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", HOSTILE_ITEMS)
def test_slack_shows_hostile_text_literally_and_notifies_nobody(make):
    payload = slack_payload(make())
    texts = strings(payload)
    assert texts
    for text in texts:
        assert "<!" not in text and "<@" not in text and "<#" not in text, text  # no broadcast, mention, channel
        assert "<https://x.example" not in text and "<script" not in text, text
        assert "@here" not in text and "@channel" not in text, text  # not even as a bare word
        assert "*pay now*" not in text and "_it_" not in text and "~gone~" not in text and "`code`" not in text
        assert ":rotating_light:" not in text
        # the only links are ours: the report, never one made of data
        assert all(link.startswith("<https://report.example/") for link in re.findall(r"<[^>]*>", text)), text
        for block_quote in re.findall(r"(?m)^&gt;", text):  # a ">" of data at a line's start is not a quote
            pytest.fail(f"quote in {text!r}: {block_quote}")
    read = [as_read(text) for text in texts]
    assert any(HOSTILE in text for text in read)  # the reader gets the exact text back
    escaped = slack_escape(HOSTILE)
    assert f"{ZWSP}*{ZWSP}pay now{ZWSP}*{ZWSP}" in escaped and "&lt;!channel" in escaped and "@" + ZWSP in escaped
    mrkdwn = [b["text"] for b in payload["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    assert all(obj["verbatim"] is True for obj in mrkdwn)  # no autolinks or mention parsing in data


def test_slack_escaping_round_trips_every_special_character():
    for text in (HOSTILE, SCRIPT, "&amp; already escaped &lt;", "a*b_c~d`e", "> quoted\n> twice", "@everyone"):
        assert as_read(slack_escape(text)) == text


def test_slack_alert_has_title_detail_facts_sparkline_and_link():
    payload = slack_payload(make_alert(make_story(slice_="EMEA")))
    header, section, context, link = payload["blocks"]
    assert header["type"] == "header" and header["text"]["text"] == ":red_circle: Revenue rose 8.4 % to $412K"
    assert "Revenue was $412K" in section["text"]["text"]
    assert "`▁▄ ▆█`" in section["text"]["text"]  # 380, 395, None, 401, 412 as blocks, the gap a space
    facts = context["elements"][0]["text"]
    for fact in ("Acme Inc.", "Revenue", "day", "2025-07-06", "region = EMEA", "spike", "salience 0.70"):
        assert fact in facts
    assert link["text"]["text"].endswith(
        "<https://report.example/acme/revenue?grain=day&amp;from=2025-07-01|Open report>")
    assert payload["text"] == "▼ Revenue: Revenue rose 8.4 % to $412K"
    good = slack_payload(make_alert(make_story(polarity="good"), link=None))
    assert good["blocks"][0]["text"]["text"].startswith(":large_green_circle:")
    assert all("Open report" not in text for text in strings(good))


def test_slack_alert_without_a_web_link_shows_none():
    payload = slack_payload(make_alert(link="javascript:alert(1)"))
    assert all("javascript" not in text for text in strings(payload))


def test_slack_alert_cuts_a_long_title_in_the_header_and_shows_it_whole_below():
    title = "Revenue " + "very " * 80 + "high"
    payload = slack_payload(make_alert(make_story(title=title)))
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert title in payload["blocks"][1]["text"]["text"]
    huge = slack_payload(make_alert(make_story(title="*x* " * 2000, detail="<y> " * 2000)))
    check_slack_limits(huge)


def slack_text_size(payload: dict[str, Any]) -> int:
    def size(value: Any) -> int:
        if isinstance(value, dict):
            return sum(len(v) if k == "text" and isinstance(v, str) else size(v) for k, v in value.items())
        return sum(size(v) for v in value) if isinstance(value, list) else 0
    return size(payload["blocks"])


def check_slack_limits(payload: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert all(len(element["text"]) <= 2000 for element in block["elements"])
    assert slack_text_size(payload) <= 12_000  # Slack's cumulative limit (msg_blocks_too_long)
    assert len(payload["text"]) <= 1000
    return blocks


def metrics_left_out(blocks: list[dict[str, Any]]) -> int:
    rest = [b["text"]["text"] for b in blocks if "more metrics with" in b.get("text", {}).get("text", "")]
    return int(re.search(r"\+(\d+) more metrics with \d+ stories", rest[0]).group(1)) if rest else 0


def test_slack_digest_of_40_metrics_stays_within_slacks_limits():
    long = "Revenue from the " + "*very* " * 60 + "large segment rose"
    metrics = [DigestMetric(metric=f"m{i}", metric_label=f"Metric {i} " + "x" * 150,
                            bad=[make_story(title=f"{long} {j}", salience=0.9 - j / 100) for j in range(8)],
                            good=[make_story(title=long, polarity="good")], more=3) for i in range(40)]
    digest = make_digest(metrics, tenant_name="Acme " + "Incorporated " * 20,
                         folded=[make_story(title=long) for _ in range(30)],
                         not_analysed=[f"metric_{i}_" + "y" * 80 for i in range(60)])
    payload = slack_payload(digest)
    blocks = check_slack_limits(payload)
    shown = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*Metric ")]
    assert len(shown) + metrics_left_out(blocks) == 40 and len(shown) >= 5
    first = shown[0]["text"]["text"]
    assert first.count(":red_circle:") == 3 and first.endswith("_+9 more_")  # 8 bad + 1 good + 3 more, 3 shown
    assert any(b["text"]["text"].startswith("*Held back by the rate limit*") for b in blocks if b["type"] == "section")
    assert any(b["elements"][0]["text"].startswith("Not analysed yet: ") for b in blocks if b["type"] == "context")
    assert blocks[-1]["text"]["text"].endswith("<https://report.example/acme|Open report>")


@pytest.mark.parametrize("count", [1, 40, 60])
def test_slack_digest_of_many_ordinary_metrics_shows_what_fits_and_counts_the_rest(count):
    metrics = [DigestMetric(metric=f"m{i}", metric_label=f"Metric {i}",
                            bad=[make_story(title=f"Metric {i} fell 12 % to $38K, its lowest in 8 weeks")],
                            good=[make_story(title=f"Metric {i} in EMEA rose 4 %", polarity="good")])
               for i in range(count)]
    blocks = check_slack_limits(slack_payload(make_digest(metrics)))
    shown = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*Metric ")]
    assert len(shown) + metrics_left_out(blocks) == count
    assert len(shown) == count if count <= 40 else len(shown) >= 40  # 40 short metrics fit whole


def test_slack_digest_lists_bad_then_good_then_neutral_most_salient_first():
    by_salience = DigestMetric(metric="revenue", metric_label="Revenue", bad=[
        make_story(title="bad low", salience=0.3), make_story(title="bad high", salience=0.9)])
    by_polarity = DigestMetric(metric="orders", metric_label="Orders",
                               neutral=[make_story(title="flat", polarity="neutral")],
                               good=[make_story(title="good one", polarity="good")], bad=[make_story(title="bad")])
    blocks = slack_payload(make_digest([by_salience, by_polarity]))["blocks"]
    assert blocks[2]["text"]["text"].splitlines() == ["*Revenue*", ":red_circle: bad high", ":red_circle: bad low"]
    assert blocks[3]["text"]["text"].splitlines() == ["*Orders*", ":red_circle: bad", ":large_green_circle: good one",
                                                      ":white_circle: flat"]


# --- email ---------------------------------------------------------------------------------------


class Tags(HTMLParser):
    """The tags of a page and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


@pytest.mark.parametrize("make", HOSTILE_ITEMS)
def test_email_html_escapes_hostile_text(make):
    email = email_content(make())
    assert "&lt;!channel&gt;" in email.html and "<!channel>" not in email.html
    assert "<https://" not in email.html and "<script" not in email.html and "<@U123>" not in email.html
    tags = parse(email.html)
    assert {tag for tag, _ in tags.tags} <= {"html", "head", "meta", "title", "body", "div", "table", "tr", "td",
                                             "span", "a", "h1", "h2", "p"}
    assert all(attrs.get("href", "").startswith("https://report.example/") for tag, attrs in tags.tags if tag == "a")
    assert not [attrs for _, attrs in tags.tags if any(name.startswith("on") for name in attrs)]  # no handlers
    assert HOSTILE in " ".join(tags.text)  # the reader sees the literal text
    assert HOSTILE in email.text  # and the text part carries it as is
    assert "\n" not in email.subject and "\r" not in email.subject


def test_email_keeps_a_script_in_a_title_inert():
    email = email_content(make_alert(make_story(title=SCRIPT)))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in email.html
    assert not [tag for tag, _ in parse(email.html).tags if tag in ("script", "b", "img", "link", "style", "iframe")]
    assert SCRIPT in email.subject


def test_email_subject_is_one_line_even_when_a_title_is_not():
    email = email_content(make_alert(make_story(title="Revenue fell\r\nBcc: everyone@example.com\n\tbadly")))
    assert email.subject == "[semsync] ▼ Revenue: Revenue fell Bcc: everyone@example.com badly"
    long = email_content(make_alert(make_story(title="x" * 500))).subject
    assert len(long) <= 200 and long.endswith("…")


def test_email_alert_parts():
    email = email_content(make_alert(make_story(polarity="good", slice_="EMEA")))
    assert isinstance(email, EmailContent)
    assert email.subject == "[semsync] ▲ Revenue: Revenue rose 8.4 % to $412K"
    for part in (email.text, email.html):
        assert "Revenue rose 8.4 % to $412K" in part and "Revenue was $412K" in part and "region = EMEA" in part
    assert "▁▄ ▆█" in email.text and f"Open report: {REPORT}" in email.text
    assert f'href="{html.escape(REPORT)}"' in email.html
    assert "http" not in email_content(make_alert(link=None)).html.replace(REPORT, "").split("<body")[1]


def bars_of(page: str) -> list[list[dict[str, str | None]]]:
    """The bars of each chart of a page, in order."""
    charts: list[list[dict[str, str | None]]] = []
    for tag, attrs in parse(page).tags:
        classes = (attrs.get("class") or "").split()
        if tag == "table" and "semsync-chart" in classes:
            charts.append([])
        elif tag == "td" and "bar" in classes:
            charts[-1].append(attrs)
    return charts


def test_email_chart_has_one_bar_per_value_with_heights_ordered_like_the_values():
    series = [5.0, 20.0, None, 10.0, 0.0, 40.0, 12.5, 30.0]
    email = email_content(make_alert(make_story(series=series)))
    [bars] = bars_of(email.html)
    assert len(bars) == len(series)
    assert [("gap" in (b["class"] or "")) for b in bars] == [v is None for v in series]
    known = [(v, int(b["height"])) for v, b in zip(series, bars, strict=True) if v is not None]
    by_value = [height for _, height in sorted(known)]
    assert by_value == sorted(by_value) and len(set(by_value)) == len(known)  # distinct values, distinct heights
    assert dict(known)[40.0] == 40 and dict(known)[0.0] >= 1  # the highest fills the chart; zero still shows
    colours = [b.get("bgcolor") for b in bars]
    assert colours[-1] == "#c62828" and set(colours[:-1]) - {None} == {"#b0bec5"}  # the last bar highlighted
    assert "style" in bars[-1] and "height:30px" in (bars[-1]["style"] or "")


def test_email_chart_of_negative_values_keeps_the_order():
    series = [-3.0, 1.0, -1.0, 2.0]
    [bars] = bars_of(email_content(make_alert(make_story(series=series))).html)
    heights = [int(b["height"]) for b in bars]
    assert sorted(range(4), key=lambda i: series[i]) == sorted(range(4), key=lambda i: heights[i])


def test_email_digest_parts():
    metrics = [
        DigestMetric(metric="revenue", metric_label="Revenue", bad=[make_story(title="Revenue fell")],
                     good=[make_story(title="Revenue rose", polarity="good")], more=2),
        DigestMetric(metric="orders", metric_label="Orders", good=[make_story(title="Orders rose", polarity="good")]),
    ]
    digest = make_digest(metrics, folded=[make_story(title="Held alert")], not_analysed=["signups"])
    email = email_content(digest)
    assert email.subject == "[semsync] Acme Inc. daily digest, Sunday 6 July 2025: 1 bad, 2 good"
    for part in (email.text, email.html):
        assert part.index("Revenue fell") < part.index("Revenue rose") < part.index("Orders rose")
        assert "+2 more" in part and "Held back by the rate limit" in part and "Held alert" in part
        assert "Not analysed yet: signups" in part
    assert len(bars_of(email.html)) == 4  # a chart per story, the held-back one too
    assert "Acme Inc. — Sunday 6 July 2025: 1 bad and 2 good stories on 2 metrics" in email.text


# --- webhook -------------------------------------------------------------------------------------


def test_webhook_alert_carries_the_exact_story_fields():
    alert = hostile_alert()
    body = json.loads(json.dumps(webhook_body(alert)))
    assert set(body) == {"kind", "idempotency_key", "tenant", "tenant_name", "channel", "rule", "link", "story"}
    assert body["kind"] == "alert" and body["idempotency_key"] == "alert/acme/1" and body["link"] == REPORT
    assert body["story"]["slice"] == HOSTILE and body["story"]["title"] == alert.story.title
    assert body["tenant_name"] == f"Acme {HOSTILE}"
    assert Story.model_validate(body["story"]) == alert.story  # every field, round-tripped


def test_webhook_digest_fields():
    digest = hostile_digest()
    body = json.loads(json.dumps(webhook_body(digest)))
    assert set(body) == {"kind", "idempotency_key", "tenant", "tenant_name", "channel", "grain", "period",
                         "period_label", "summary", "metrics", "folded", "not_analysed", "link"}
    assert (body["kind"], body["grain"], body["period"], body["period_label"]) == (
        "digest", "day", "2025-07-06", "Sunday 6 July 2025")
    [metric] = body["metrics"]
    assert set(metric) == {"metric", "metric_label", "link", "bad", "good", "neutral", "more"}
    assert metric["metric_label"] == HOSTILE and metric["bad"][0]["slice"] == HOSTILE and metric["more"] == 1
    assert metric["good"][0]["title"] == f"{SCRIPT} rose"
    assert body["folded"][0]["title"] == HOSTILE and body["not_analysed"] == [HOSTILE]
    assert body["summary"] == digest_summary(digest)


def test_webhook_test_message():
    body = webhook_body(hostile_test_message())
    assert body["kind"] == "test" and HOSTILE in body["message"] and body["channel"] == f"ops {HOSTILE}"


# --- test messages, dispatch ---------------------------------------------------------------------


def test_a_test_message_says_the_channel_works_on_every_channel():
    message = TestMessage(tenant="acme", tenant_name="Acme Inc.", channel="ops-slack", idempotency_key="t/1")
    sentence = ("semsync test message for channel ops-slack of tenant Acme Inc. (acme): if you read this, "
                "the channel works.")
    slack = render("slack", message)
    assert slack["text"] == sentence and sentence in slack["blocks"][0]["text"]["text"]
    email = render("email", message)
    assert sentence in email.text and sentence in email.html and "ops-slack" in email.subject
    assert render("webhook", message)["message"] == sentence


def test_render_dispatches_on_the_channel_type():
    alert = make_alert()
    assert render("slack", alert) == slack_payload(alert)
    assert render("email", alert) == email_content(alert)
    assert render("webhook", alert) == webhook_body(alert)
    with pytest.raises(ValueError, match="unknown channel type 'sms'"):
        render("sms", alert)  # type: ignore[arg-type]


# --- words ---------------------------------------------------------------------------------------


def test_digest_summary_counts_stories_and_metrics():
    metrics = [
        DigestMetric(metric="a", metric_label="A", bad=[make_story(), make_story()],
                     good=[make_story(polarity="good")]),
        DigestMetric(metric="b", metric_label="B", bad=[make_story()]),
        DigestMetric(metric="c", metric_label="C", good=[make_story(polarity="good")]),
        DigestMetric(metric="d", metric_label="D", bad=[], more=0),
        DigestMetric(metric="e", metric_label="E", neutral=[]),
    ]
    assert digest_summary(make_digest(metrics[:3] + metrics[3:])) == \
        "Acme Inc. — Sunday 6 July 2025: 3 bad and 2 good stories on 3 metrics"
    one = make_digest([DigestMetric(metric="a", metric_label="A", neutral=[make_story(polarity="neutral")])])
    assert digest_summary(one) == "Acme Inc. — Sunday 6 July 2025: 1 neutral story on 1 metric"
    held = make_digest([], folded=[make_story(), make_story()], not_analysed=["orders"], period_label="")
    assert digest_summary(held) == ("Acme Inc. — Sunday 6 July 2025: no new stories; 2 alerts held back; "
                                    "1 metric not analysed yet")
    assert make_digest(metrics).story_count == 5


@pytest.mark.parametrize(("grain", "key", "label"), [
    ("day", "2025-07-06", "Sunday 6 July 2025"),
    ("day", "2024-02-29", "Thursday 29 February 2024"),
    ("week", "2025-W27", "week 27 of 2025 (7–13 July)"),
    ("week", "2025-W05", "week 5 of 2025 (3–9 February)"),
    ("week", "2025-W22", "week 22 of 2025 (2–8 June)"),
    ("week", "2025-W26", "week 26 of 2025 (30 June–6 July)"),
    ("week", "2025-W52", "week 52 of 2025 (29 December 2025–4 January 2026)"),
    ("month", "2025-07", "July 2025"),
])
def test_period_label(grain, key, label):
    assert period_label(grain, key) == label


def test_period_label_refuses_a_malformed_key():
    with pytest.raises(PartitionKeyError):
        period_label("week", "2025-W00")


def test_sparkline():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, None, 3.0]) == "▄ ▄"
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""


# --- a real browser --------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("SEMSYNC_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (Debian's `chromium`; .ci/run installs it)")
@pytest.mark.parametrize("kind", ["alert", "digest"])
def test_the_email_html_shows_its_charts_in_a_real_browser(kind, tmp_path):
    if kind == "alert":
        item: Alert | Digest = hostile_alert()
        charts = 1
    else:
        metrics = [DigestMetric(metric=f"m{i}", metric_label=f"Metric {i}", more=i,
                                bad=[make_story(title=f"Metric {i} fell", series=[10, 12, None, 9, 4])],
                                good=[make_story(title=f"Metric {i} rose", polarity="good")]) for i in range(3)]
        item = make_digest(metrics, folded=[make_story(title=HOSTILE)], not_analysed=["signups"])
        charts = 7
    email = email_content(item)
    page = tmp_path / f"{kind}.html"
    page.write_text(email.html, encoding="utf-8")
    browser = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    assert dom.stdout.count('class="semsync-chart"') == charts
    assert dom.stdout.count('class="bar"') + dom.stdout.count('class="bar gap"') == 5 * charts
    assert "<script" not in dom.stdout and "&lt;!channel&gt;" in dom.stdout  # the data stayed text in the DOM
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"email-{kind}.png"  # kept: a person can look at what a reader sees
    taken = subprocess.run([*browser, "--window-size=700,1200", f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 10_000
