"""Shared by the delivery tests: a tenant with notifications, stored stories, a delivery service."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from semsync.catalog.file import parse_catalog
from semsync.catalog.store import write_catalog
from semsync.config import NotifySettings
from semsync.notify.service import DeliveryService
from semsync.notify.transports import Transports
from semsync.stories import current_versions

SECRET = "0123456789abcdef0123456789abcdef"
HOSTILE = "<!channel> *pay now* <https://x.example|here>"


def catalog_yaml(base_url: str, smtp_port: int = 25, *, tenant: str = "acme", rules: str | None = None,
                 limit: int | None = None, extra_channels: str = "") -> str:
    """A tenant with revenue and orders, a Slack, a webhook and an email channel, and rules."""
    rules = rules or """
        - {id: bad-alerts, channels: [ops, hook, mail], metrics: ["rev*"], polarity: [bad], mode: alert}
        - {id: daily-digest, channels: [ops, mail], grains: [day], mode: digest}
    """
    rate = f", max_alerts_per_hour: {limit}" if limit else ""
    return f"""
tenants:
  - identifier: {tenant}
    name: {tenant.title()} Inc.
    metrics:
      - {{id: revenue, label: Revenue, unit: USD, source: {{type: sql, table: orders, value: sum(amount),
          time_column: ordered_at}}}}
      - {{id: orders, label: Orders, unit: count, source: {{type: sql, table: orders, value: count(*),
          time_column: ordered_at}}}}
    notifications:
      timezone: Europe/Berlin
      digest_time: "08:00"
      channels:
        - {{id: ops, type: slack, webhook_url: "{base_url}/services/T0/B0/slack-secret-path"{rate}}}
        - {{id: hook, type: webhook, url: "{base_url}/hook", secret: {SECRET}{rate}}}
        - {{id: mail, type: email, recipients: [cfo@acme.example]{rate}}}
        {extra_channels}
      rules: {rules}
"""


async def load(test_database, yaml_text: str) -> int:
    """Load the catalog; the first tenant's id."""
    catalog = parse_catalog(yaml_text)
    await write_catalog(test_database.catalog_session_factory, catalog)
    async with test_database.admin_engine.connect() as conn:
        return await conn.scalar(text("SELECT id FROM tenants WHERE identifier = :i"),
                                 {"i": catalog.tenants[0].identifier})


async def add_story(test_database, tenant_id: int, *, metric: str = "revenue", grain: str = "day",
                    on: date = date(2025, 9, 2), story_type: str = "level_shift_down", polarity: str = "bad",
                    salience: float = 0.8, status: str = "new", title: str = "Revenue fell 12 %",
                    genre: str = "drift", slice: str | None = None, dimension: str | None = None,
                    pattern: str = "drift_detection") -> None:
    """One stored story row (the current story and pattern versions)."""
    version = current_versions()[pattern]
    series = [100.0, 101.0, 99.0, 102.0, None, 88.0, 87.0]
    dates = [(on - timedelta(days=len(series) - i)).isoformat() for i in range(len(series))]
    values: dict[str, Any] = {
        "t": tenant_id, "m": metric, "g": grain, "d": on, "ty": story_type, "dim": dimension, "sl": slice,
        "pv": version, "st": status, "ge": genre, "po": polarity, "sa": salience, "ti": title,
        "de": f"{title}. Detail with {HOSTILE}.", "se": json.dumps(series), "sd": json.dumps(dates), "pa": pattern}
    async with test_database.admin_engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO stories (tenant_id, metric_id, grain, story_date, story_type, dimension, slice, version, "
            "pattern_version, status, started_on, identity, genre, polarity, salience, title, detail, variables, "
            "series, series_dates, pattern, analysis_date, also) VALUES (:t, :m, :g, :d, :ty, :dim, :sl, :v, :pv, "
            ":st, :d, '', :ge, :po, :sa, :ti, :de, '{}', CAST(:se AS jsonb), CAST(:sd AS jsonb), :pa, :d, '[]')"),
            {**values, "v": _story_version()})


def _story_version() -> str:
    from semsync.stories.model import STORY_VERSION

    return STORY_VERSION


def service(test_database, smtp_port: int = 25, **settings: Any) -> DeliveryService:
    notify = NotifySettings(smtp_port=smtp_port, smtp_tls="none", retry_initial_s=0.1, **settings)
    return DeliveryService(test_database.session_factory, notify, Transports(notify))


async def deliveries(test_database) -> list:
    async with test_database.admin_engine.connect() as conn:
        return list((await conn.execute(text("SELECT * FROM deliveries ORDER BY id"))).all())
