"""The delivery commands against the test database and real local receivers, through Typer's
CliRunner: `notify test`, `digest preview`, `deliveries`, `alerts list|snooze|unsnooze`."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from semsync.config import get_settings
from starter.cli import app
from tests.notify.helpers import HOSTILE, add_story, catalog_yaml, deliveries, load
from tests.notify.receivers import HttpReceiver, Reply, SmtpReceiver


@pytest.fixture
async def cli(db, monkeypatch):
    with SmtpReceiver() as smtp:
        async with HttpReceiver() as http:
            monkeypatch.setenv("SEMSYNC_DATABASE__URL", db.app_url)
            monkeypatch.setenv("SEMSYNC_NOTIFY__SMTP_PORT", str(smtp.port))
            monkeypatch.setenv("SEMSYNC_NOTIFY__SMTP_TLS", "none")
            get_settings.cache_clear()
            tenant_id = await load(db, catalog_yaml(http.base_url, smtp.port))
            yield http, smtp, tenant_id
            get_settings.cache_clear()


async def invoke(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_notify_test_sends_to_one_channel_and_says_what_the_receiver_answered(cli, db):
    http, smtp, _ = cli
    sent = await invoke("notify", "test", "hook", "--tenant", "acme")
    assert sent.exit_code == 0, sent.output
    assert "test message sent to hook of acme" in sent.output
    (request,) = http.received("/hook")
    assert json.loads(request.body)["kind"] == "test"
    http.set_reply("/services/T0/B0/slack-secret-path", Reply(404, "no_service"))
    refused = await invoke("notify", "test", "ops", "--tenant", "acme")
    assert refused.exit_code == 1 and "no_service" in refused.output and "slack-secret-path" not in refused.output
    unknown = await invoke("notify", "test", "pager", "--tenant", "acme")
    assert unknown.exit_code == 2 and "has no channel 'pager'" in unknown.output and "ops" in unknown.output
    assert (await invoke("notify", "test", "ops", "--tenant", "nobody")).exit_code == 2
    listed = await invoke("deliveries", "--tenant", "acme", "--kind", "test")
    assert listed.exit_code == 0 and "failed" in listed.output and "sent" in listed.output
    as_json = [json.loads(line) for line in (await invoke("deliveries", "--status", "failed", "--json")).output
               .splitlines()]
    assert [(d["channel_id"], d["status_code"]) for d in as_json] == [("ops", 404)]
    http.set_reply("/services/T0/B0/slack-secret-path", None)
    assert {r.status for r in await deliveries(db)} == {"sent", "failed"}


async def test_digest_preview_renders_without_sending(cli, db, tmp_path):
    http, smtp, tenant_id = cli
    await add_story(db, tenant_id, on=date(2025, 9, 6), slice=HOSTILE, dimension="region", genre="segment",
                    story_type="slice_weaker", pattern="dimension_analysis", title=f"Revenue in {HOSTILE} fell")
    out = tmp_path / "digest.html"
    made = await invoke("digest", "preview", "--tenant", "acme", "--date", "2025-09-06", "--out", str(out))
    assert made.exit_code == 0, made.output
    html = out.read_text()
    assert "Revenue in &lt;!channel&gt;" in html and "<!channel>" not in html and "<https://" not in html
    assert 'class="semsync-chart"' in html
    slack = await invoke("digest", "preview", "--tenant", "acme", "--date", "2025-09-06", "--format", "slack")
    assert slack.exit_code == 0 and json.loads(slack.output)["blocks"]
    assert not http.received() and not smtp.received() and await deliveries(db) == []
    bad = await invoke("digest", "preview", "--tenant", "acme", "--date", "2025-13-01")
    assert bad.exit_code == 2 and "not a date" in bad.output


async def test_alerts_snooze_list_and_unsnooze(cli, db):
    snoozed = await invoke("alerts", "snooze", "acme::revenue", "--until", "2099-01-01", "--reason", "noisy")
    assert snoozed.exit_code == 0, snoozed.output
    listed = await invoke("alerts", "list")
    assert listed.exit_code == 0 and "bad-alerts" in listed.output and "acme::revenue until 2099-01-01" in \
        listed.output and "slack-secret-path" not in listed.output
    assert (await invoke("alerts", "snooze", "acme::nothing")).exit_code == 2  # unknown metric
    assert (await invoke("alerts", "snooze", "acme:revenue")).exit_code == 2  # malformed context
    assert (await invoke("alerts", "snooze", "acme::revenue", "--until", "2001-01-01")).exit_code == 2  # past
    async with db.admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM alert_snoozes")) == 1
    unsnoozed = await invoke("alerts", "unsnooze", "acme::revenue")
    assert unsnoozed.exit_code == 0 and "unsnoozed" in unsnoozed.output
    assert "was not snoozed" in (await invoke("alerts", "unsnooze", "acme::revenue")).output
