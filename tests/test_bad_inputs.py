"""Bad input, as a user types it: every row is `python -m starter …` run as a subprocess with the
given arguments, environment and files, and must end with the expected exit code (2: usage,
configuration or validation), a message that says what is wrong, no traceback, and a few lines.

Most rows fail before the CLI connects to anything: the database and Temporal addresses point at a
closed port, so a row that reaches for either fails with exit 1 instead of passing. Rows marked `db`
run against the session's test database (a tenant `acme` without metrics).

The CLI takes a few seconds to start on a busy 2-core machine (see the README), so the
rows selected in a session run together, a few at a time, the first time a row's result is asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: an address nothing listens on: a row that tries the database or Temporal fails fast, exit 1
CLOSED = "127.0.0.1:1"
#: Typer's usage errors: the usage, a hint and the message in a box
USAGE_LINES = 6


@dataclass(frozen=True)
class Bad:
    """One bad input: `args` (``{dir}`` is the row's directory, holding `files`) and `env`."""

    id: str
    args: tuple[str, ...]
    says: str
    code: int = 2
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    db: bool = False
    max_lines: int = 3

    def __str__(self) -> str:
        return self.id


def cli(id: str, *args: str, says: str, **options) -> Bad:
    return Bad(id, args, says, **options)


def setting(id: str, says: str, **env: str) -> Bad:
    return Bad(id, ("catalog", "show"), says, env=env)


def catalog(id: str, content: str, says: str, command: str = "validate") -> Bad:
    return Bad(id, ("catalog", command, "{dir}/catalog.yaml"), says, files={"catalog.yaml": content})


TENANT = """\
tenants:
  - identifier: acme
    name: Acme
"""
METRIC = TENANT + """\
    metrics:
      - id: revenue
        label: Revenue
        source: {type: sql, table: orders, value: sum(amount), time_column: ordered_at}
"""
CUBE = "    semantic_layer: {type: cube, cube_api_url: 'https://cube:4000', auth_type: SECRET_KEY, secret_key: %s}\n"

CASES = [
    # -- settings: one line naming the variable, before any command runs
    setting("setting-not-an-integer", "SEMSYNC_SEMANTIC_LAYER__MAX_CONCURRENT_DIMENSIONS: Input should be a valid "
            "integer", SEMSYNC_SEMANTIC_LAYER__MAX_CONCURRENT_DIMENSIONS="abc"),
    setting("setting-mysql-url", "semsync needs PostgreSQL", DATABASE_URL="mysql://x"),
    setting("setting-not-a-url", "is not a database URL", DATABASE_URL="notaurl"),
    setting("setting-below-minimum", "SEMSYNC_WORKER__SYNC_CONCURRENCY: Input should be greater than or equal to 1",
            SEMSYNC_WORKER__SYNC_CONCURRENCY="0"),
    setting("setting-port-out-of-range", "SEMSYNC_WORKER__METRICS_PORT: Input should be less than or equal to 65535",
            SEMSYNC_WORKER__METRICS_PORT="70000"),
    setting("setting-unknown-provider", "SEMSYNC_CATALOG__PROVIDER", SEMSYNC_CATALOG__PROVIDER="ldap"),
    setting("setting-unknown-sslmode", "SEMSYNC_DATABASE__SSLMODE", SEMSYNC_DATABASE__SSLMODE="always"),
    setting("setting-not-a-boolean", "SEMSYNC_TEMPORAL__TLS: Input should be a valid boolean",
            SEMSYNC_TEMPORAL__TLS="maybe"),
    setting("setting-secret-file-missing", "SEMSYNC_DATABASE__URL_FILE: cannot read /nonexistent/url",
            SEMSYNC_DATABASE__URL_FILE="/nonexistent/url"),
    Bad("setting-temporal-not-an-address", ("status", "some-backfill"),
        says="cannot use Temporal at not an address: invalid target URL",
        env={"SEMSYNC_TEMPORAL__ADDRESS": "not an address"}),
    Bad("setting-temporal-tls-file-missing", ("status", "some-backfill"),
        says="No such file or directory: '/nonexistent/ca.pem'",
        env={"SEMSYNC_TEMPORAL__TLS": "true", "SEMSYNC_TEMPORAL__TLS_SERVER_CA": "/nonexistent/ca.pem"}),
    Bad("setting-catalog-service-not-a-url", ("catalog", "refresh"), says="SEMSYNC_CATALOG__TENANTS_URL 'notaurl' "
        "is not an http(s) URL", env={"SEMSYNC_CATALOG__PROVIDER": "http", "SEMSYNC_CATALOG__TENANTS_URL": "notaurl",
                                      "SEMSYNC_CATALOG__METRICS_URL": "https://metrics.internal"}),
    # -- contexts, partition keys and ranges
    cli("context-one-part", "sync", "run", "acme", "-p", "2025-07-01", says="expected tenant::metric"),
    cli("context-bad-character", "sync", "run", "acme::rev enue", "-p", "2025-07-01", says="contains ' '"),
    cli("context-no-pattern", "patterns", "run", "acme::revenue", "-p", "2025-07-01",
        says="expected tenant::metric::pattern"),
    cli("context-three-parts", "report", "acme::revenue::x", says="expected tenant::metric"),
    cli("key-month-13", "sync", "run", "acme::revenue", "-p", "2025-13-01", says="month 13 is not between 01 and 12"),
    cli("key-week-not-monday", "sync", "run", "acme::revenue", "-g", "week", "-p", "2025-07-01",
        says="a week is named by its Monday's date"),
    cli("key-week-54", "sync", "run", "acme::revenue", "-g", "week", "-p", "2025-W54",
        says="week number 54 is past the last week of 2025"),
    cli("key-month-one-digit", "sync", "run", "acme::revenue", "-g", "month", "-p", "2025-7",
        says="must be exactly 2 digits"),
    cli("range-reversed", "sync", "run", "acme::revenue", "-p", "2025-07-31:2025-07-01", says="is before start"),
    cli("range-empty", "sync", "run", "acme::revenue", "-p", "", says="is empty"),
    cli("range-no-end", "sync", "run", "acme::revenue", "-p", "2025-07-01:", says="has an empty range end"),
    cli("range-incomplete", "sync", "run", "acme::revenue", "-p", "2099-01-01", says="--allow-incomplete"),
    cli("range-before-first-partition", "sync", "run", "acme::revenue", "-p", "2020-01-01",
        says="is before the first day partition 2025-07-01"),
    cli("grain-unknown", "sync", "run", "acme::revenue", "-g", "year", "-p", "2025-07-01",
        says="'year' is not one of 'day', 'week', 'month'", max_lines=USAGE_LINES),
    cli("option-missing", "sync", "run", "acme::revenue", says="Missing option '--partitions'",
        max_lines=USAGE_LINES),
    cli("command-unknown", "synch", says="No such command 'synch'", max_lines=USAGE_LINES),
    cli("time-context-no-separator", "sync", "start", "--partition", "2025-07-01", says="has 0 '|' separators"),
    cli("time-context-none", "sync", "start", says='give --partition "KEY|CONTEXT"'),
    cli("time-context-mixed", "sync", "start", "--partition-range",
        "2025-07-01|acme::revenue:2025-07-02|globex::revenue", says="mixes contexts"),
    cli("pattern-unknown-start", "patterns", "start", "--partition", "2025-07-01|acme::revenue::seasonality",
        says="unknown pattern 'seasonality'"),
    cli("pattern-unknown-run", "patterns", "run", "acme::revenue::seasonality", "-p", "2025-07-01",
        says="unknown pattern 'seasonality'"),
    cli("results-bad-date", "results", "acme::revenue", "--date", "2025-13-01", says="is not a date (YYYY-MM-DD)"),
    cli("results-unknown-pattern", "results", "acme::revenue", "-P", "seasonality",
        says="unknown pattern 'seasonality'"),
    cli("stories-bad-date", "stories", "acme::revenue", "--since", "2025-13-01", says="--since '2025-13-01' is not a "
        "date (YYYY-MM-DD)"),
    cli("stories-unknown-type", "stories", "--type", "fireworks", says="unknown story type fireworks: one of "),
    cli("stories-context-and-tenant", "stories", "acme::revenue", "--tenant", "acme",
        says="give a context T::M or --tenant, not both"),
    cli("stories-bad-context", "stories", "acme:revenue", says="acme:revenue"),
    cli("status-bad-tenant", "status", "--tenant", "ac me", says="tenant 'ac me' contains ' '"),
    cli("status-unknown-kind", "status", "--kind", "seasonality",
        says="--kind 'seasonality': expected sync, stories, cache or"),
    cli("status-last-zero", "status", "--last", "0", says="Invalid value for '--last'", max_lines=USAGE_LINES),
    cli("demo-seed-before-start", "demo", "seed", "--until", "2019-01-01", says="--until 2019-01-01 is before the "
        "demo's data begins"),
    cli("demo-seed-not-a-date", "demo", "seed", "--until", "2025-13-01", says="'2025-13-01' does not match the "
        "formats '%Y-%m-%d'", max_lines=USAGE_LINES),
    # -- backfill options
    cli("backfill-no-grain", "backfill", "-p", "2025-07-01:2025-07-31", says="give --grain GRAIN"),
    cli("backfill-grain-and-all-grains", "backfill", "--all-grains", "-g", "day", "-p", "2025-07-01:2025-07-31",
        says="give --grain or --all-grains, not both"),
    cli("backfill-tenant-and-context", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "-t", "acme",
        "-c", "acme::revenue", says="give --context or --tenant, not both"),
    cli("backfill-bad-tenant", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "-t", "ac me",
        says="tenant 'ac me' contains ' '"),
    cli("backfill-bad-id", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "--id", "a b/c",
        says="backfill id 'a b/c': 1-120 characters"),
    cli("backfill-concurrency-0", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "--max-concurrency", "0",
        says="Invalid value for '--max-concurrency'", max_lines=USAGE_LINES),
    cli("backfill-unknown-mode", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "-m", "some",
        says="'some' is not one of 'missing', 'failed', 'all'", max_lines=USAGE_LINES),
    cli("backfill-range-incomplete", "backfill", "-g", "day", "-p", "2099-01-01",
        says="a backfill syncs complete partitions only: end the range at"),
    # -- catalogs
    Bad("catalog-missing-file", ("catalog", "validate", "{dir}/nope.yaml"), says="nope.yaml: catalog file not found"),
    catalog("catalog-empty", "", "the catalog is empty"),
    catalog("catalog-yaml-syntax", TENANT + "   oops: [\n", "catalog.yaml:4:4: invalid YAML"),
    catalog("catalog-duplicate-key", TENANT + "    name: Acme Inc.\n",
            "catalog.yaml:4: duplicate key 'name' (first at line 3)"),
    catalog("catalog-unknown-field", TENANT + "    nmae: Acme\n", "tenants[0] (acme) nmae: unknown field"),
    catalog("catalog-unknown-unit", METRIC + "        unit: dollars\n", "catalog.yaml:8: tenants[0] (acme) metrics[0] "
            "(revenue) unit: unit 'dollars': expected count, percent or an ISO 4217 currency code"),
    catalog("catalog-bad-identifier", TENANT.replace("acme", "ac me"), "'ac me' is not a valid identifier"),
    catalog("catalog-duplicate-metric", METRIC + METRIC.split("    metrics:\n")[1], "duplicate metric ids: revenue"),
    catalog("catalog-unknown-pattern", TENANT + "    patterns: {seasonality: {}}\n",
            "catalog.yaml:4: tenants[0] (acme) patterns.seasonality: unknown pattern 'seasonality'"),
    catalog("catalog-unknown-setting", METRIC + "        patterns: {forecasting: {min_period: 12}}\n",
            "metrics[0] (revenue) patterns.forecasting.min_period: unknown setting of forecasting"),
    catalog("catalog-setting-wrong-type", TENANT + "    patterns: {drift_detection: {false_alarm_rate: often}}\n",
            "patterns.drift_detection.false_alarm_rate: Input should be a valid number"),
    catalog("catalog-setting-on-load", TENANT + "    patterns: {performance_status: {threshold_ratio: 2}}\n",
            "patterns.performance_status.threshold_ratio: Input should be less than 1", command="load"),
    catalog("catalog-short-jwt-secret", TENANT + CUBE % "not-32-bytes",
            "semantic_layer.secret_key: cannot sign HS256 JWTs with this key: The HMAC key is 12 bytes long"),
    catalog("catalog-impossible-date", METRIC + "        targets: [{grain: month, target_date: 2025-13-01, "
            "target_value: 1}]\n", "catalog.yaml:8:47: invalid YAML: '2025-13-01' is not a date"),
    cli("report-out-no-directory", "report", "acme::revenue", "-o", "/nonexistent/dir/report.html",
        says="the directory '/nonexistent/dir' does not exist"),
    # -- names the database does not know
    cli("tenant-unknown", "sync", "run", "initech::revenue", "-p", "2025-07-01", says="unknown tenant 'initech'",
        db=True),
    cli("metric-unknown", "sync", "run", "acme::profit", "-p", "2025-07-01", says="unknown metric 'profit'", db=True),
    cli("results-tenant-unknown", "results", "initech::revenue", says="unknown tenant 'initech'", db=True),
    cli("stories-tenant-unknown", "stories", "--tenant", "initech", says="unknown tenant 'initech'", db=True),
    cli("pattern-run-tenant-unknown", "patterns", "run", "initech::revenue::forecasting", "-p", "2025-07-01",
        says="unknown tenant 'initech'", db=True),
    cli("backfill-tenant-unknown", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31", "-t", "initech",
        "--dry-run", says="unknown tenant 'initech'", db=True),
    cli("report-tenant-unknown", "report", "initech::revenue", "-o", "{dir}/report.html",
        says="unknown tenant 'initech'", db=True),
    cli("status-tenant-unknown", "status", "--tenant", "initech", says="unknown tenant 'initech'", db=True),
    # -- notifications: the catalog's channels and rules, and the delivery commands
    catalog("catalog-rule-unknown-channel", METRIC + "    notifications:\n      channels: [{id: ops, type: slack, "
            "webhook_url: 'https://h.example/x'}]\n      rules: [{id: r, channels: [pager]}]\n",
            "notifications.rules[0] (r) channels[0]: unknown channel 'pager'; the tenant's channels are ops"),
    catalog("catalog-webhook-http", METRIC + "    notifications:\n      channels: [{id: h, type: webhook, "
            "url: 'http://hooks.example/in', secret: 0123456789abcdef0123456789abcdef}]\n",
            "notifications.channels[0] (h) url: sends in clear text to hooks.example"),
    catalog("catalog-bad-recipient", METRIC + "    notifications:\n      channels: [{id: m, type: email, "
            "recipients: [nobody]}]\n", "recipients: 'nobody' is not an email address"),
    cli("notify-tenant-unknown", "notify", "test", "ops", "--tenant", "initech", says="unknown tenant 'initech'",
        db=True),
    cli("notify-channel-unknown", "notify", "test", "ops", "--tenant", "acme",
        says="tenant 'acme' has no channel 'ops'", db=True),
    cli("snooze-bad-context", "alerts", "snooze", "acme:revenue", says="acme:revenue"),
    cli("snooze-bad-date", "alerts", "snooze", "acme::revenue", "--until", "tomorrow",
        says="--until 'tomorrow' is not a date"),
    cli("snooze-metric-unknown", "alerts", "snooze", "acme::profit", says="unknown metric 'profit'", db=True),
    cli("digest-bad-period", "digest", "send", "--tenant", "acme", "--grain", "week", "--period", "2025-27",
        says="2025-27"),
    # -- the cap on the partitions of one request
    cli("sync-span-over-the-cap", "sync", "run", "acme::revenue", "-p", "0001-01-01:9999-12-31", "--allow-incomplete",
        says="holds 3652059 day partitions, more than the 4000 allowed in one request (set by "
             "SEMSYNC_PARTITIONS__MAX_PER_REQUEST=4000", env={"SEMSYNC_PARTITIONS__FIRST_DATE": "0001-01-01"}),
    cli("backfill-span-over-the-setting", "backfill", "-g", "day", "-p", "2025-07-01:2025-07-31",
        says="holds 31 day partitions, more than the 30 allowed", env={"SEMSYNC_PARTITIONS__MAX_PER_REQUEST": "30"}),
    cli("backfill-all-grains-over-the-setting", "backfill", "--all-grains",
        says="day partitions, more than the 30 allowed", env={"SEMSYNC_PARTITIONS__MAX_PER_REQUEST": "30"}),
    setting("setting-max-per-request-over-the-cap", "SEMSYNC_PARTITIONS__MAX_PER_REQUEST: Input should be less than "
            "or equal to 10000", SEMSYNC_PARTITIONS__MAX_PER_REQUEST="20000"),
    cli("deliveries-resend-without-tenant", "deliveries", "--resend", says="--resend needs --tenant"),
    # -- a typo in a metric is refused before a workflow starts, with exit 2 (not a failed workflow, exit 1)
    cli("sync-start-metric-typo", "sync", "start", "--partition", "2025-07-01|acme::revnue", "--wait",
        says="unknown metric 'revnue'", db=True),
    cli("patterns-start-metric-typo", "patterns", "start", "--partition", "2025-07-01|acme::revnue::forecasting",
        says="unknown metric 'revnue'", db=True),
    cli("results-metric-typo", "results", "acme::revnue", says="unknown metric 'revnue'", db=True),
    cli("report-metric-typo", "report", "acme::revnue", "-o", "{dir}/report.html", says="unknown metric 'revnue'",
        db=True),
]


def _environment(case: Bad, directory: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMSYNC_") and k != "DATABASE_URL"}
    env |= {"SEMSYNC_DATABASE__URL": database_url or f"postgresql://semsync:secret@{CLOSED}/semsync",
            "SEMSYNC_TEMPORAL__ADDRESS": CLOSED, "SEMSYNC_HOME": str(directory), "NO_COLOR": "1"}
    if any(name in case.env for name in ("DATABASE_URL", "SEMSYNC_DATABASE__URL_FILE")):  # the row's own URL
        del env["SEMSYNC_DATABASE__URL"]
    return env | dict(case.env)


def _run(case: Bad, directory: Path, database_url: str | None) -> subprocess.CompletedProcess:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        (directory / name).write_text(content)
    args = [arg.replace("{dir}", str(directory)) for arg in case.args]
    return subprocess.run([sys.executable, "-m", "starter", *args], env=_environment(case, directory, database_url),
                          cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
async def cli_database(test_database):
    """The test database holding one tenant, `acme`, without metrics."""
    await test_database.truncate()
    await test_database.create_tenant("acme")
    return test_database


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every selected row's run, made the first time one is asked for, a few at a time."""
    selected = {item.callspec.params["case"].id: item.callspec.params["case"] for item in request.session.items
                if item.path == Path(__file__) and getattr(item, "originalname", None) == "test_bad_input"}
    database_url = None
    if any(case.db for case in selected.values()):
        database_url = request.getfixturevalue("cli_database").app_url
    root = tmp_path_factory.mktemp("bad-inputs")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = {case.id: pool.submit(_run, case, root / case.id, database_url if case.db else None)
                for case in selected.values()}
        return {case_id: run.result() for case_id, run in runs.items()}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Bad, outcomes):
    run = outcomes[case.id]
    output = run.stdout + run.stderr
    shown = f"exit {run.returncode}:\n{output}"
    assert run.returncode == case.code, shown
    assert case.says in " ".join(output.replace("│", " ").split()), shown  # rich may wrap a long line
    assert "Traceback" not in output, shown
    assert len(output.strip().splitlines()) <= case.max_lines, shown
    assert "secret@" not in output, shown  # the database password is never shown
