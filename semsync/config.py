"""Settings for every semsync process, from the environment (prefix ``SEMSYNC_``, nested by ``__``).

Defaults point at the embedded dev stack started by ``python -m starter dev up``. In production set
e.g. ``SEMSYNC_DATABASE__URL`` (or plain ``DATABASE_URL``) and ``SEMSYNC_TEMPORAL__ADDRESS``.
Every secret setting may instead come from a mounted file: ``SEMSYNC_DATABASE__URL_FILE=/run/secrets/…``
(see `SecretFilesSource`).
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from semsync.partitions.grains import DEFAULT_FIRST_DATE
from semsync.partitions.ranges import DEFAULT_MAX_PER_REQUEST, MAX_PARTITIONS_PER_REQUEST
from semsync.temporal_names import PATTERN_TASK_QUEUE, SYNC_TASK_QUEUE

#: the project's own folder when semsync runs from a checkout (an editable install), else None
_CHECKOUT = Path(__file__).resolve().parent.parent
PROJECT_DIR: Path | None = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else None
#: where the embedded stack keeps its state unless SEMSYNC_HOME says otherwise: the project's
#: `.semsync/` in a checkout (whatever the working directory), else `~/.semsync`
DEFAULT_HOME = (PROJECT_DIR / ".semsync") if PROJECT_DIR else Path.home() / ".semsync"
DEMO_CATALOG = Path(__file__).resolve().parent / "demo_catalog.yaml"

DEV_PG_PORT = 55432
DEV_CATALOG_ROLE = "semsync_catalog"
DEV_TEMPORAL_PORT = 7233
DEV_UI_PORT = 8233
#: rows one component may bring in one sync (`SemanticLayerSettings.max_rows_per_component`)
DEFAULT_MAX_ROWS_PER_COMPONENT = 20_000_000


_POSTGRES_SCHEMES = ("postgresql+asyncpg", "postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
_LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def asyncpg_url(url: str) -> tuple[str, dict[str, str]]:
    """`url` in the form semsync's driver takes (``postgresql+asyncpg://``), accepting the forms users
    have (``postgresql://``, ``postgres://``), and the libpq TLS parameters taken out of its query.

    Another database, or a string that is not a URL, is refused with a message naming what is expected.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expected = "expected postgresql://user:password@host:port/database"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"is not a database URL: {expected}") from None
    except ValueError:  # SQLAlchemy's int(port)
        raise ValueError(f"has a port that is not a number: {expected}") from None
    if parsed.host is None and parsed.database is None and not parsed.query:
        raise ValueError(f"is not a database URL: {expected}")
    if parsed.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(f"names a {parsed.drivername!r} database: semsync needs PostgreSQL "
                         "(postgresql://user:password@host:port/database)")
    tls = {key: str(value) for key, value in parsed.query.items() if key in _LIBPQ_TLS}
    driver_url = parsed.difference_update_query(_LIBPQ_TLS).set(drivername="postgresql+asyncpg")
    return driver_url.render_as_string(hide_password=False), tls


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://…``) in the plain ``postgresql://`` form asyncpg connects with."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DatabaseSettings(BaseModel):
    """PostgreSQL: the app connects as a role that neither owns the tables nor bypasses RLS.

    URLs may be given as ``postgresql://``, ``postgres://`` or ``postgresql+asyncpg://``; libpq's TLS
    parameters in a URL's query (``?sslmode=require&sslrootcert=…``) become the TLS settings below.
    """

    url: SecretStr = SecretStr(f"postgresql+asyncpg://semsync_app:semsync_app@127.0.0.1:{DEV_PG_PORT}/semsync")
    admin_url: SecretStr = SecretStr(
        f"postgresql+asyncpg://semsync_owner:semsync_owner@127.0.0.1:{DEV_PG_PORT}/semsync"
    )
    app_role: str = "semsync_app"
    #: the role that writes the catalog (tenants, metrics, dimensions, targets, the context registry):
    #: `catalog load|refresh|rotate-key` and the worker's discovery. The app role only reads tenants.
    #: Unset: `url`'s server and database with the embedded stack's catalog role.
    catalog_url: SecretStr | None = None
    catalog_role: str = DEV_CATALOG_ROLE
    pool_size: int = 10
    #: run the worker and the data commands even as a superuser, a BYPASSRLS role or the tables' owner
    #: (maintenance only: row-level security does not separate the tenants for them)
    allow_privileged_role: bool = False
    #: TLS to PostgreSQL, as libpq names it: disable, allow, prefer, require, verify-ca, verify-full
    #: (None: asyncpg's default, `prefer` without verification). `require` with `sslrootcert` verifies
    #: the CA, as libpq does.
    sslmode: str | None = Field(None, pattern="^(disable|allow|prefer|require|verify-ca|verify-full)$")
    #: the CA bundle that signed the server's certificate (a mounted file)
    sslrootcert: Path | None = None
    #: a client certificate and its key, for servers that authenticate clients by certificate
    sslcert: Path | None = None
    sslkey: Path | None = None

    @property
    def catalog_connection_url(self) -> str:
        """`catalog_url`, else `url`'s server and database with the embedded stack's catalog role."""
        if self.catalog_url is not None:
            return self.catalog_url.get_secret_value()
        from sqlalchemy.engine import make_url

        url = make_url(self.url.get_secret_value()).set(username=DEV_CATALOG_ROLE, password=DEV_CATALOG_ROLE)
        return url.render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _driver_urls(self) -> DatabaseSettings:
        for name in ("url", "admin_url", "catalog_url"):
            if getattr(self, name) is None:
                continue
            try:
                url, tls = asyncpg_url(getattr(self, name).get_secret_value())
            except ValueError as exc:
                raise ValueError(f"database {name} {exc}") from None
            setattr(self, name, SecretStr(url))
            for key, value in tls.items():  # an explicit setting wins over the URL's
                if getattr(self, key) is None:
                    setattr(self, key, value if key == "sslmode" else Path(value))
        # the URL's TLS parameters get the checks the settings get
        if self.sslmode is not None and self.sslmode not in _SSLMODES:
            raise ValueError(f"sslmode {self.sslmode!r} is none of {', '.join(_SSLMODES)}")
        for key in ("sslrootcert", "sslcert", "sslkey"):
            path = getattr(self, key)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{key} {str(path)!r} is no readable file")
        return self


class TemporalSettings(BaseModel):
    address: str = f"127.0.0.1:{DEV_TEMPORAL_PORT}"
    namespace: str = "default"
    sync_task_queue: str = SYNC_TASK_QUEUE
    pattern_task_queue: str = PATTERN_TASK_QUEUE
    ui_url: str = f"http://127.0.0.1:{DEV_UI_PORT}"
    #: TLS to the frontend; implied by a client certificate, a server CA or an API key
    tls: bool = False
    #: the CA that signed the server's certificate (default: the system's roots, e.g. Temporal Cloud's)
    tls_server_ca: Path | None = None
    #: mTLS: the client certificate (chain) and its private key, PEM files (mounted, never in the image)
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    #: the name the server's certificate must carry when it differs from the address' host
    tls_server_name: str | None = None
    #: a Temporal Cloud API key (sent as a bearer token; TLS is turned on with it)
    api_key: SecretStr | None = None

    @model_validator(mode="after")
    def _client_cert_and_key(self) -> TemporalSettings:
        if (self.tls_client_cert is None) != (self.tls_client_key is None):
            raise ValueError("tls_client_cert and tls_client_key go together: set both or neither")
        return self

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls or self.api_key or self.tls_client_cert or self.tls_server_ca)


class WorkerSettings(BaseModel):
    """How much one worker process takes on (``python worker.py``)."""

    #: sync activities at once (each one semantic layer fetch and one window write)
    sync_concurrency: int = Field(8, ge=1)
    #: pattern analysis processes (0: one per core)
    pattern_processes: int = Field(0, ge=0)
    #: pattern activities at once (reading and storing overlap the analysis of others)
    pattern_concurrency: int = Field(0, ge=0)
    #: the pattern processes' niceness: the analysis yields the cores to the worker's own process, so
    #: workflow tasks (and the syncs' event loop) are not starved while every core analyses
    pattern_nice: int = Field(10, ge=0, le=19)
    #: seconds a stopping worker lets running activities finish before cancelling them
    graceful_shutdown_s: float = 30.0
    #: workflows each worker keeps in its sticky cache; a bound on the worker's memory however many
    #: contexts a scheduled run covers (an evicted workflow replays its short history when it resumes)
    max_cached_workflows: int = Field(200, ge=0)
    #: eager activities: a workflow's new activities start on this worker's free slots at once, past
    #: the task queue, and so past its priorities and fairness; off, every activity is matched by the
    #: server in priority order (a scheduled run's ahead of a backfill's)
    eager_activities: bool = False
    #: the Prometheus endpoint (`/metrics`: the SDK's metrics and semsync's); 0 = off
    metrics_port: int = Field(0, ge=0, le=65535)
    #: loopback by default: the endpoint has no authentication (a container sets 0.0.0.0 explicitly)
    metrics_host: str = "127.0.0.1"


class ScheduleSettings(BaseModel):
    """What `python -m starter schedules apply` puts in the schedules."""

    #: child syncs at once in a scheduled run
    max_concurrency: int = Field(8, ge=1, le=200)
    run_patterns: bool = True
    #: discovery gives a new context its sync of the last complete partition of each grain
    initial_sync: bool = False
    #: paused schedules are created paused (a staging environment, say)
    paused: bool = False
    #: the weekly and monthly runs and the days they cover: ``resolve`` syncs the period's missing days
    #: first (again every `cross_grain_poll_min` while some keep failing), ``wait`` waits for them,
    #: ``off`` runs at once; `cross_grain_deadline_h` after it began the period runs anyway and its
    #: ledger rows name the days that were missing
    cross_grain: Literal["resolve", "wait", "off"] = "resolve"
    cross_grain_deadline_h: float = Field(6.0, gt=0)
    cross_grain_poll_min: float = Field(15.0, gt=0)


class SemanticLayerSettings(BaseModel):
    """Defaults for talking to a semantic layer; a tenant's own connection comes from the catalog."""

    request_timeout_s: float = 30.0
    continue_wait_deadline_s: float = 120.0
    max_concurrent_dimensions: int = 4
    #: the most rows one component (the base series or one dimension) may bring in one sync; more
    #: fails the component, non-retryable, with nothing written (`ComponentTooLargeError`). Rows are
    #: streamed page by page whatever this is: it bounds the database's work and a runaway dimension.
    max_rows_per_component: int = Field(DEFAULT_MAX_ROWS_PER_COMPONENT, ge=1)
    jwt_ttl_s: int = 3600
    #: attempts at one page of a paged Cube fetch (5xx, timeout, connection error) before giving up
    page_attempts: int = Field(3, ge=1)
    #: backoff between page attempts: doubling from `page_retry_initial_s` (plus as much random
    #: jitter) up to `page_retry_max_s`
    page_retry_initial_s: float = Field(0.5, ge=0)
    page_retry_max_s: float = Field(5.0, ge=0)
    #: requests per second to one Cube deployment (all tenants on that URL share it); 0 = unlimited
    requests_per_second: float = Field(0, ge=0)
    #: the largest answer (one page, decompressed) read from a semantic layer, and the longest one
    #: request may take whole (connect, headers and body; `request_timeout_s` bounds each read)
    max_response_mb: float = Field(64, gt=0)
    request_deadline_s: float = Field(120, gt=0)
    #: hosts (comma-separated) a Cube URL or an HTTP catalog URL may name with plain http:// (besides
    #: loopback ones), e.g. "cube,cube.internal" on a compose network (`semsync.http.url_policy`)
    allow_http_hosts: str = ""
    #: schemas (comma-separated) a SQL metric may read when its tenant's connection is semsync's own
    #: database (`database_url` unset): its table is `schema.table` in one of them, and the query runs
    #: read-only with only them on the search path (`semsync.sources.sql`)
    warehouse_schemas: str = "warehouse"

    @property
    def warehouse_schema_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.warehouse_schemas.split(",") if name.strip())


class SecretsSettings(BaseModel):
    """The keys that encrypt the tenants' semantic layer secrets at rest (Fernet).

    ``keys``: comma-separated Fernet keys (``python -m starter catalog new-key`` makes one); the first
    encrypts, every one decrypts, so a key is rotated by putting the new one first, running
    ``python -m starter catalog rotate-key``, then dropping the old one. Give every process (workers,
    the CLI) the same keys, e.g. from a mounted file with ``SEMSYNC_SECRETS__KEYS_FILE``. Unset, the
    embedded stack's key file ``$SEMSYNC_HOME/secrets.key`` is used (created on first use).
    """

    keys: SecretStr | None = None

    @field_validator("keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        import base64
        import binascii

        if value is None:
            return None
        keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
        for position, key in enumerate(keys, 1):
            try:
                valid = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                raise ValueError(f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes): "
                                 "`python -m starter catalog new-key` prints one")
        if not keys:
            raise ValueError("has no key")
        return value


class NotifySettings(BaseModel):
    """How deliveries reach people: the SMTP server (the catalog names only recipients), timeouts,
    how long a failing delivery keeps trying, and how long a digest waits for its period's stories."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    #: `starttls` (upgrade a plain connection, required), `tls` (implicit TLS, port 465) or `none`
    smtp_tls: str = Field("starttls", pattern="^(none|starttls|tls)$")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    #: the From of every email
    email_from: str = "semsync <semsync@localhost>"
    #: seconds one send may take (connect, TLS, request) before it counts as a transient failure
    timeout_s: float = Field(10.0, gt=0)
    #: retry backoff of a transient failure: doubling from `retry_initial_s` up to `retry_max_s`
    retry_initial_s: float = Field(5.0, gt=0)
    retry_max_s: float = Field(600.0, gt=0)
    #: how long a delivery keeps retrying before it is recorded `failed` (a receiver down for hours)
    retry_for_h: float = Field(24.0, gt=0)
    #: how long a digest waits for its period's stories before it goes out with what is there
    digest_wait_h: float = Field(6.0, ge=0)
    #: the report's address, with {tenant}, {metric} and {grain}; a tenant's own `report_url` wins
    report_url: str | None = None


class PartitionSettings(BaseModel):
    """The calendar semsync syncs."""

    #: the first day with history: each grain's first partition is the first one wholly on or after
    #: it (2025-07-01: 2025-07-01, 2025-W27, 2025-07); ranges before it are refused
    first_date: date = DEFAULT_FIRST_DATE
    #: the most partitions one CLI request (a sync, pattern or backfill range) may span; the
    #: contracts refuse more than MAX_PARTITIONS_PER_REQUEST whatever this says (workflows read no
    #: settings), so it can lower the cap but not raise it
    max_per_request: int = Field(DEFAULT_MAX_PER_REQUEST, ge=1, le=MAX_PARTITIONS_PER_REQUEST)


class CatalogSettings(BaseModel):
    """Where tenants and metrics come from: a YAML file (default) or the product's HTTP services."""

    provider: str = Field("file", pattern="^(file|http)$")
    #: the HTTP catalog's bounds: pages per listing (a service that ignores `offset` would page forever),
    #: the largest answer, and the longest one request may take whole
    max_pages: int = Field(10_000, ge=1)
    max_response_mb: float = Field(16, gt=0)
    request_deadline_s: float = Field(60, gt=0)
    file: Path = DEMO_CATALOG
    tenants_url: str | None = None
    metrics_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    audience: str | None = None


ENV_PREFIX = "SEMSYNC_"
FILE_SUFFIX = "_FILE"


def _is_secret(model: type[BaseModel], path: list[str]) -> bool:
    """Whether `path` (``["database", "url"]``) names a `SecretStr` setting of `model`."""
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    kinds = [field.annotation, *get_args(field.annotation)]
    if len(path) == 1:
        return SecretStr in kinds
    nested = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
    return nested is not None and _is_secret(nested, path[1:])


class SecretFilesSource(PydanticBaseSettingsSource):
    """Secrets from mounted files: ``SEMSYNC_DATABASE__URL_FILE=/run/secrets/db_url`` sets the secret
    setting ``SEMSYNC_DATABASE__URL`` to the file's content (surrounding whitespace stripped), the
    convention of Docker and Kubernetes secrets. Only secret settings take a file; setting both the
    variable and its ``_FILE`` form is refused, as the official images do."""

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, value in os.environ.items():
            upper = name.upper()
            if not (upper.startswith(ENV_PREFIX) and upper.endswith(FILE_SUFFIX)):
                continue
            path = upper[len(ENV_PREFIX):-len(FILE_SUFFIX)].lower().split("__")
            if not _is_secret(self.settings_cls, path):
                continue
            if any(other.upper() == upper[:-len(FILE_SUFFIX)] for other in os.environ):
                raise ValueError(f"set {upper[:-len(FILE_SUFFIX)]} or {upper}, not both")
            try:
                secret = Path(value).read_text().strip()
            except OSError as exc:
                raise ValueError(f"{upper}: cannot read {value}: {exc.strerror}") from None
            target = data
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = secret
        return data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every file at once


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, SecretFilesSource(settings_cls), env_settings, dotenv_settings, file_secret_settings

    #: the embedded stack's state (PostgreSQL data, Temporal's SQLite, logs, pid files): SEMSYNC_HOME
    state_dir: Path = Field(DEFAULT_HOME, validation_alias=AliasChoices("SEMSYNC_HOME", "SEMSYNC_STATE_DIR"))
    database: DatabaseSettings = DatabaseSettings()
    temporal: TemporalSettings = TemporalSettings()
    semantic_layer: SemanticLayerSettings = SemanticLayerSettings()
    catalog: CatalogSettings = CatalogSettings()
    secrets: SecretsSettings = SecretsSettings()
    worker: WorkerSettings = WorkerSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    partitions: PartitionSettings = PartitionSettings()
    notify: NotifySettings = NotifySettings()
    #: the worker's log lines: `text` (readable) or `json` (one object a line, for a log pipeline)
    log_format: str = Field("text", pattern="^(text|json)$")

    @field_validator("state_dir")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        # one state directory whatever the working directory: a relative SEMSYNC_HOME is made absolute
        return value.expanduser().absolute()

    @model_validator(mode="after")
    def _plain_database_url(self) -> Settings:
        # Operators expect the conventional DATABASE_URL to work; the prefixed form wins if both are set.
        plain = os.environ.get("DATABASE_URL")
        if plain and not {"SEMSYNC_DATABASE__URL", "SEMSYNC_DATABASE__URL_FILE"} & set(os.environ):
            self.database = DatabaseSettings.model_validate(self.database.model_dump() | {
                "url": SecretStr(plain), "admin_url": self.database.admin_url})
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
