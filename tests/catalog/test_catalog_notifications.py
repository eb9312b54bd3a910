"""A tenant's `notifications` in the catalog file: what is refused, in the catalog's usual
`file:line: entry field: problem` form, and what is only a warning."""

from __future__ import annotations

from datetime import time

import pytest

from semsync.catalog.file import check_catalog_file, parse_catalog
from semsync.errors import CatalogError
from semsync.notify.channels import NotificationRule

SECRET = "0123456789abcdef0123456789abcdef"
BASE = """tenants:
  - identifier: acme
    name: Acme
    metrics:
      - {id: revenue, label: Revenue, source: {type: sql, table: orders, value: sum(amount), time_column: at}}
      - {id: conversion, label: Conversion, source: {type: sql, table: orders, value: avg(c), time_column: at}}
    notifications:
"""


def catalog(notifications: str) -> str:
    return BASE + "\n".join("      " + line for line in notifications.strip().splitlines()) + "\n"


def problem(notifications: str) -> str:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(catalog(notifications), source="catalog.yaml")
    return str(caught.value)


def test_a_valid_notifications_block_reads_with_its_defaults():
    parsed = parse_catalog(catalog(f"""
timezone: Europe/Berlin
digest_time: 07:30
channels:
  - {{id: ops, type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/X"}}
  - {{id: mail, type: email, recipients: [CFO@Acme.example]}}
  - {{id: hook, type: webhook, url: "http://127.0.0.1:9000/in", secret: {SECRET}, max_alerts_per_hour: 5}}
rules:
  - {{id: bad, channels: [ops, hook], metrics: ["conv*"], polarity: [bad], min_salience: 0.6}}
  - {{id: weekly, channels: [mail], grains: [week], mode: digest}}
"""))
    notifications = parsed.tenants[0].notifications
    assert notifications.digest_time == time(7, 30)  # unquoted 07:30 is YAML 1.1's sexagesimal 450
    assert notifications.channel("mail").recipients == ["CFO@acme.example"]
    assert "hooks.slack.com" not in repr(notifications) and SECRET not in repr(notifications)
    bad = notifications.rules[0]
    assert bad.mode == "alert" and bad.selects(metric="conversion", grain="day", genre="drift",
                                               story_type="level_shift_down", polarity="bad", salience=0.7)
    assert not bad.selects(metric="revenue", grain="day", genre="drift", story_type="level_shift_down",
                           polarity="bad", salience=0.7)
    assert not bad.selects(metric="conversion", grain="day", genre="drift", story_type="level_shift_down",
                           polarity="bad", salience=0.5)


@pytest.mark.parametrize(("block", "expected"), [
    ('channels: [{id: ops, type: slack, webhook_url: "https://h.example/x"}]\n'
     "rules: [{id: r, channels: [ops, pager]}]",
     "catalog.yaml:9: tenants[0] (acme) notifications.rules[0] (r) channels[1]: unknown channel 'pager'; "
     "the tenant's channels are ops"),
    ('channels: [{id: hook, type: webhook, url: "http://hooks.acme.example/in", secret: ' + SECRET + "}]",
     "catalog.yaml:8: tenants[0] (acme) notifications.channels[0] (hook) url: sends in clear text to "
     "hooks.acme.example: use https:// (http:// only to a loopback host)"),
    ("channels: [{id: mail, type: email, recipients: [not-an-address]}]",
     "notifications.channels[0] (mail) recipients: 'not-an-address' is not an email address"),
    ('channels: [{id: hook, type: webhook, url: "https://h.example/in", secret: short}]',
     "secret: is shorter than 32 characters"),
    ("channels: [{id: x, type: pager}]", "notifications.channels[0] (x).type: unknown type 'pager'"),
    ("timezone: Europe/Berln", "timezone: unknown time zone 'Europe/Berln'"),
    ('digest_time: "25:00"', "digest_time:"),
    ('channels: [{id: ops, type: slack, webhook_url: "https://h.example/x"}]\n'
     "rules: [{id: r, channels: [ops], story_types: [spike, level_shift_sideways]}]",
     "'level_shift_sideways' matches no story type"),
])
def test_a_bad_notifications_block_is_refused_naming_line_entry_and_field(block, expected):
    assert expected in problem(block)


def test_a_secret_is_never_part_of_the_message():
    message = problem('channels: [{id: hook, type: webhook, url: "http://user:pw@10.1.1.1/in-secret-path", '
                      f"secret: {SECRET}}}]")
    assert "in-secret-path" not in message and "pw" not in message and SECRET not in message


def test_a_metric_glob_that_matches_nothing_is_a_warning(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog('channels: [{id: ops, type: slack, webhook_url: "https://h.example/x"}]\n'
                            "rules: [{id: r, channels: [ops], metrics: [revenue, churn*]}]"))
    parsed, warnings = check_catalog_file(path)
    assert parsed.tenants[0].notifications.rules[0].metrics == ["revenue", "churn*"]
    assert warnings == [f"{path}:9: tenants[0] (acme) notifications.rules[0] (r) metrics[1]: 'churn*' matches "
                        "none of the tenant's metrics (revenue, conversion): the rule selects nothing by it"]


def test_story_type_globs_select_families():
    rule = NotificationRule(id="r", channels=["x"], story_types=["likely_off_track_*"])
    assert rule.selects(metric="m", grain="month", genre="forecast", story_type="likely_off_track_year",
                        polarity="bad", salience=0.1)
    assert not rule.selects(metric="m", grain="month", genre="forecast", story_type="likely_on_track_year",
                            polarity="good", salience=0.1)
