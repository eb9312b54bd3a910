"""Settings for every semsync process, from the environment (prefix ``SEMSYNC_``, nested by ``__``).

Defaults point at the embedded dev stack started by ``python -m starter dev up``. In production set
e.g. ``SEMSYNC_DATABASE__URL`` (or plain ``DATABASE_URL``) and ``SEMSYNC_TEMPORAL__ADDRESS``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the project's own folder when semsync runs from a checkout (an editable install), else None
_CHECKOUT = Path(__file__).resolve().parent.parent
PROJECT_DIR: Path | None = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else None
#: where the embedded stack keeps its state unless SEMSYNC_HOME says otherwise: the project's
#: `.semsync/` in a checkout (whatever the working directory), else `~/.semsync`
DEFAULT_HOME = (PROJECT_DIR / ".semsync") if PROJECT_DIR else Path.home() / ".semsync"
DEMO_CATALOG = Path(__file__).resolve().parent / "demo_catalog.yaml"

DEV_PG_PORT = 55432
DEV_TEMPORAL_PORT = 7233
DEV_UI_PORT = 8233


class DatabaseSettings(BaseModel):
    """PostgreSQL: the app connects as a role that neither owns the tables nor bypasses RLS."""

    url: SecretStr = SecretStr(f"postgresql+asyncpg://semsync_app:semsync_app@127.0.0.1:{DEV_PG_PORT}/semsync")
    admin_url: SecretStr = SecretStr(
        f"postgresql+asyncpg://semsync_owner:semsync_owner@127.0.0.1:{DEV_PG_PORT}/semsync"
    )
    app_role: str = "semsync_app"
    pool_size: int = 10


class TemporalSettings(BaseModel):
    address: str = f"127.0.0.1:{DEV_TEMPORAL_PORT}"
    namespace: str = "default"
    sync_task_queue: str = "semsync-sync"
    pattern_task_queue: str = "semsync-patterns"
    ui_url: str = f"http://127.0.0.1:{DEV_UI_PORT}"


class WorkerSettings(BaseModel):
    """How much one worker process takes on (``python worker.py``)."""

    #: sync activities at once (each one semantic layer fetch and one window write)
    sync_concurrency: int = Field(8, ge=1)
    #: pattern analysis processes (0: one per core)
    pattern_processes: int = Field(0, ge=0)
    #: pattern activities at once (reading and storing overlap the analysis of others)
    pattern_concurrency: int = Field(0, ge=0)
    #: seconds a stopping worker lets running activities finish before cancelling them
    graceful_shutdown_s: float = 30.0


class ScheduleSettings(BaseModel):
    """What `python -m starter schedules apply` puts in the schedules."""

    #: child syncs at once in a scheduled run
    max_concurrency: int = Field(8, ge=1, le=200)
    run_patterns: bool = True
    #: discovery gives a new context its sync of the last complete partition of each grain
    initial_sync: bool = False
    #: paused schedules are created paused (a staging environment, say)
    paused: bool = False


class SemanticLayerSettings(BaseModel):
    """Defaults for talking to a semantic layer; a tenant's own connection comes from the catalog."""

    request_timeout_s: float = 30.0
    continue_wait_deadline_s: float = 120.0
    max_concurrent_dimensions: int = 4
    jwt_ttl_s: int = 3600
    #: attempts at one page of a paged Cube fetch (5xx, timeout, connection error) before giving up
    page_attempts: int = Field(3, ge=1)
    #: backoff between page attempts: doubling from `page_retry_initial_s` (plus as much random
    #: jitter) up to `page_retry_max_s`
    page_retry_initial_s: float = Field(0.5, ge=0)
    page_retry_max_s: float = Field(5.0, ge=0)
    #: requests per second to one Cube deployment (all tenants on that URL share it); 0 = unlimited
    requests_per_second: float = Field(0, ge=0)


class CatalogSettings(BaseModel):
    """Where tenants and metrics come from: a YAML file (default) or the product's HTTP services."""

    provider: str = Field("file", pattern="^(file|http)$")
    file: Path = DEMO_CATALOG
    tenants_url: str | None = None
    metrics_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    audience: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEMSYNC_", env_nested_delimiter="__", extra="ignore")

    #: the embedded stack's state (PostgreSQL data, Temporal's SQLite, logs, pid files): SEMSYNC_HOME
    state_dir: Path = Field(DEFAULT_HOME, validation_alias=AliasChoices("SEMSYNC_HOME", "SEMSYNC_STATE_DIR"))
    database: DatabaseSettings = DatabaseSettings()
    temporal: TemporalSettings = TemporalSettings()
    semantic_layer: SemanticLayerSettings = SemanticLayerSettings()
    catalog: CatalogSettings = CatalogSettings()
    worker: WorkerSettings = WorkerSettings()
    schedules: ScheduleSettings = ScheduleSettings()

    @field_validator("state_dir")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        # one state directory whatever the working directory: a relative SEMSYNC_HOME is made absolute
        return value.expanduser().absolute()

    @model_validator(mode="after")
    def _plain_database_url(self) -> Settings:
        # Operators expect the conventional DATABASE_URL to work; the prefixed form wins if both are set.
        plain = os.environ.get("DATABASE_URL")
        if plain and "SEMSYNC_DATABASE__URL" not in os.environ:
            self.database.url = SecretStr(plain)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
