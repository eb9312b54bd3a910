"""Settings as users write them: the usual PostgreSQL URL forms work; invalid settings are one line,
exit 2, no traceback (the CLI run as a user runs it, `python -m starter`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from semsync.config import DatabaseSettings, asyncpg_url


def starter(*args: str, **env: str) -> subprocess.CompletedProcess:
    # the session's encryption key stays (conftest): rows the tests wrote decrypt in the subprocess
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("SEMSYNC_") and k != "DATABASE_URL" or k == "SEMSYNC_SECRETS__KEYS"}
    return subprocess.run([sys.executable, "-m", "starter", *args], env=clean | env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_the_usual_url_forms_reach_the_database(db, scheme):
    url = make_url(db.app_url).set(drivername=scheme).render_as_string(hide_password=False)
    shown = starter("catalog", "show", DATABASE_URL=url)
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr


def test_libpq_tls_parameters_in_the_url_become_the_tls_settings(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("a CA bundle\n")
    settings = DatabaseSettings(url=f"postgres://u:p@db:5432/semsync?sslmode=verify-full&sslrootcert={ca}&x=1")
    assert settings.url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/semsync?x=1"
    assert settings.sslmode == "verify-full" and settings.sslrootcert == ca
    assert asyncpg_url("postgresql://h/db") == ("postgresql+asyncpg://h/db", {})


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DATABASE_URL": "mysql://u:secret-pw@h/db"}, "semsync needs PostgreSQL"),
        ({"SEMSYNC_DATABASE__URL": "not a url"}, "is not a database URL"),
        ({"DATABASE_URL": "postgresql://u:secret-pw@h:notaport/db"}, "has a port that is not a number"),
        ({"DATABASE_URL": "postgresql://u:secret-pw@h/db?sslmode=bogus"}, "sslmode 'bogus' is none of"),
        ({"DATABASE_URL": "postgresql://u:secret-pw@h/db?sslrootcert=/no/ca.pem"},
         "sslrootcert '/no/ca.pem' is no readable file"),
        ({"SEMSYNC_SECRETS__KEYS": "not-a-fernet-key"}, "SEMSYNC_SECRETS__KEYS: key 1 is not a Fernet key"),
        ({"SEMSYNC_DATABASE__CATALOG_URL": "mysql://u:secret-pw@h/db"}, "semsync needs PostgreSQL"),
        ({"SEMSYNC_SEMANTIC_LAYER__MAX_CONCURRENT_DIMENSIONS": "abc"},
         "SEMSYNC_SEMANTIC_LAYER__MAX_CONCURRENT_DIMENSIONS: Input should be a valid integer"),
        ({"SEMSYNC_WORKER__SYNC_CONCURRENCY": "0"}, "SEMSYNC_WORKER__SYNC_CONCURRENCY"),
    ],
)
def test_an_invalid_setting_is_one_line_and_exit_2(env, says):
    refused = starter("catalog", "show", **env)
    assert refused.returncode == 2, refused.stderr
    assert says in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "secret-pw" not in refused.stderr


def _wrong_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(password="not-the-password").render_as_string(hide_password=False)


def test_a_wrong_database_password_is_a_configuration_error_exit_2(test_database):
    refused = starter("catalog", "show", SEMSYNC_DATABASE__URL=_wrong_password(test_database.app_url))
    assert refused.returncode == 2, refused.stderr
    assert "password authentication failed" in refused.stderr and "check the role" in refused.stderr
    assert "not-the-password" not in refused.stderr and "Traceback" not in refused.stderr


async def test_a_wrong_database_password_is_non_retryable_in_activities(test_database):
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.sync import SyncActivities
    from semsync.contracts import SemanticSyncRequest
    from semsync.db.session import Database
    from semsync.sources.registry import SourceRegistry
    from semsync.sync.service import SemanticSyncService

    database = Database.connect(_wrong_password(test_database.app_url), pool_size=1)
    try:
        service = SemanticSyncService(database.session_factory, SourceRegistry(database.engine))
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(SyncActivities(service).plan_sync, SemanticSyncRequest(
                tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01"))
    finally:
        await database.dispose()
    assert raised.value.non_retryable and raised.value.type == "DatabaseConfigurationError"
    assert "not-the-password" not in str(raised.value)
