"""No planted credential leaves semsync: every command's output, the report page, the log lines and
every row of every table (read as the owner, as a dump would) are scanned for them.

The catalog plants a password in a Cube URL, a Cube token, a Cube signing key, and a password in a
SQL source's database URL; the CLI connects with the app role's password. Both Cube and the SQL
database are unreachable, so the syncs fail with their URLs in hand and the failures are stored.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from devstack import free_port
from semsync.config import get_settings
from semsync.observability import log_handler
from starter.cli import app


def planted(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex}"


URL_PASSWORD, TOKEN, SIGNING_KEY, DB_PASSWORD = (planted("urlpw"), planted("token"), planted("signkey"),
                                                 planted("dbpw"))
CATALOG = f"""\
tenants:
  - identifier: acme
    name: Acme
    semantic_layer: {{type: cube, cube_api_url: "http://scan:{URL_PASSWORD}@127.0.0.1:{free_port()}", token: {TOKEN}}}
    metrics:
      - id: revenue
        label: Revenue
        source: {{type: cube, measure: orders.revenue, time_dimension: orders.created_at}}
        dimensions: [{{id: region, member: orders.region}}]
  - identifier: signco
    name: Sign Co
    semantic_layer: {{type: cube, cube_api_url: "http://127.0.0.1:{free_port()}", auth_type: SECRET_KEY,
                     secret_key: {SIGNING_KEY}}}
    metrics:
      - id: revenue
        label: Revenue
        source: {{type: cube, measure: orders.revenue, time_dimension: orders.created_at}}
  - identifier: sqlco
    name: SQL Co
    semantic_layer: {{type: sql, database_url: "postgresql://reader:{DB_PASSWORD}@127.0.0.1:{free_port()}/dw"}}
    metrics:
      - id: signups
        label: Signups
        source: {{type: sql, table: warehouse.signups, value: count(*), time_column: created_at}}
"""


def scan(where: str, content: str, secrets: list[str]) -> None:
    leaked = [s for s in secrets if s in content]
    assert not leaked, f"{where} shows {leaked}:\n{content[:3000]}"


async def test_no_command_output_log_or_table_shows_a_credential(db, monkeypatch, tmp_path, caplog):
    app_password = make_url(db.app_url).password
    secrets = [URL_PASSWORD, TOKEN, SIGNING_KEY, DB_PASSWORD, f":{app_password}@"]
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", db.app_url)
    monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__PAGE_ATTEMPTS", "1")
    monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__REQUEST_TIMEOUT_S", "2")
    get_settings.cache_clear()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent(CATALOG))
    report = tmp_path / "report.html"
    commands = [
        ["catalog", "validate", str(catalog)],
        ["catalog", "load", str(catalog)],
        ["catalog", "show"],
        ["catalog", "rotate-key"],
        ["sync", "run", "acme::revenue", "--grain", "day", "-p", "2025-07-01"],
        ["sync", "run", "signco::revenue", "--grain", "day", "-p", "2025-07-01"],
        ["sync", "run", "sqlco::signups", "--grain", "day", "-p", "2025-07-01:2025-07-03"],
        ["status", "--grain", "day"],
        ["results", "acme::revenue"],
        ["patterns", "list"],
        ["patterns", "run", "acme::revenue::forecasting", "--grain", "day", "-p", "2025-07-01"],
        ["report", "acme::revenue", "--out", str(report)],
        ["dev", "status"],
    ]
    handler = log_handler("text")
    stream_lines: list[str] = []
    handler.emit = lambda record: stream_lines.append(handler.format(record))  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG):
            for command in commands:
                result = await asyncio.to_thread(CliRunner().invoke, app, command)
                output = result.output + (str(result.exception) if result.exception else "")
                scan(" ".join(command), output, secrets)
                assert "Traceback" not in output, (command, output)
    finally:
        logging.getLogger().removeHandler(handler)
        get_settings.cache_clear()

    scan("the log", "\n".join(stream_lines), secrets)
    if report.exists():
        scan("the report page", report.read_text(), secrets)
    # what was stored: the failures were recorded (with the URL in hand), and no table holds a secret
    async with db.admin_engine.connect() as conn:
        errors = (await conn.execute(text("SELECT error FROM metric_sync_status WHERE error IS NOT NULL"))).scalars()
        stored_errors = list(errors)
        tables = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        for table in list(tables):
            rows = (await conn.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t'))).scalars()
            scan(f"table {table}", "\n".join(rows), secrets)
    assert any("127.0.0.1" in error for error in stored_errors), stored_errors
    assert any("scan:***@" in error for error in stored_errors), stored_errors


@pytest.mark.parametrize("message", [
    f"GET http://user:{URL_PASSWORD}@cube:4000/cubejs-api/v1/load failed",
    f"connect to postgresql+asyncpg://reader:{DB_PASSWORD}@db/dw refused",
    f"401 for Authorization: Bearer {TOKEN}",
    f"https://svc/token?client_secret={SIGNING_KEY}&grant_type=client_credentials",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJl rejected",
])
def test_the_one_helper_masks_every_kind_of_credential(message):
    from semsync.redaction import redact

    masked = redact(message)
    scan("redact()", masked, [URL_PASSWORD, DB_PASSWORD, TOKEN, SIGNING_KEY, "c2lnbmF0dXJl"])
    assert "***" in masked


def test_redaction_keeps_what_is_no_secret():
    from semsync.redaction import redact

    plain = "Cube at http://cube:4000 answered 502 for tenant acme (postgresql://reader@db/dw)"
    assert redact(plain) == plain


def test_a_logged_credential_is_masked(capsys):
    logger = logging.getLogger("semsync.test.scan")
    handler = log_handler("json")
    logger.addHandler(handler)
    try:
        logger.error("cannot reach %s", f"http://u:{URL_PASSWORD}@cube:4000")
        try:
            raise RuntimeError(f"boom with token={TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    scan("the JSON log", capsys.readouterr().err, [URL_PASSWORD, TOKEN])


