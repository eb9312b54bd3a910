"""`python -m starter migrate`: apply the database migrations as the owner role.

Alembic upgrades `SEMSYNC_DATABASE__ADMIN_URL` (the owner; the app role of `SEMSYNC_DATABASE__APP_ROLE`
gets its grants) to the newest revision; a second run changes nothing. The roles and the database
must exist (a DBA creates them, or `deploy/postgres/init-databases.sh` in the compose stack).
PostgreSQL over TLS: the `SEMSYNC_DATABASE__SSL*` settings are handed to asyncpg as libpq's
``PGSSLMODE``/``PGSSLROOTCERT``/``PGSSLCERT``/``PGSSLKEY`` (the migration opens its own engine).
"""

from __future__ import annotations

import os

import asyncpg
import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from semsync.config import DatabaseSettings, get_settings
from semsync.db.migrate import apply_migrations
from semsync.redaction import redact
from starter.console import console, err_console


def libpq_ssl_environment(settings: DatabaseSettings) -> dict[str, str]:
    """The libpq variables asyncpg reads when a connection is given no `ssl` argument."""
    values = {"PGSSLMODE": settings.sslmode, "PGSSLROOTCERT": settings.sslrootcert,
              "PGSSLCERT": settings.sslcert, "PGSSLKEY": settings.sslkey}
    return {name: str(value) for name, value in values.items() if value is not None}


def migrate() -> None:
    """Apply the migrations to SEMSYNC_DATABASE__ADMIN_URL (the owner role); idempotent."""
    database = get_settings().database
    admin_url = database.admin_url.get_secret_value()
    shown = make_url(admin_url).render_as_string(hide_password=True)
    os.environ.update(libpq_ssl_environment(database))
    try:
        apply_migrations(admin_url, database.app_role, database.catalog_role)
    except (OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        err_console.print(f"[bold red]error[/]: migrating {shown} failed: {type(exc).__name__}: {redact(str(exc))}")
        raise typer.Exit(1) from None
    console.print(f"[green]✓[/] {shown}: migrations applied (app role {database.app_role})")
