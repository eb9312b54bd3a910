"""The production compose stack, checked as files (no Docker engine runs here): the services, pinned
images, a scalable worker, environment names that are real settings, ports that match the settings,
secrets only from files, the Temporal setup registering semsync's search attributes, the Dockerfile;
and the pieces it runs that can run here (`make-secrets.sh`, `python -m starter migrate`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from devstack import SEARCH_ATTRIBUTES
from semsync.config import FILE_SUFFIX, Settings, TemporalSettings, WorkerSettings, get_settings
from semsync.encryption import SecretBox, new_key
from starter.cli import DEVSTACK_COMMANDS, app, build

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def setting_names(model: type[BaseModel] = Settings, prefix: str = "SEMSYNC_") -> set[str]:
    """Every environment variable semsync reads: each field, nested by ``__``, its aliases, and the
    ``_FILE`` form of each secret."""
    names = set()
    for name, field in model.model_fields.items():
        env = prefix + name.upper()
        kinds = [field.annotation, *getattr(field.annotation, "__args__", ())]
        nested = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if nested is not None:
            names |= setting_names(nested, env + "__")
            continue
        names.add(env)
        if SecretStr in kinds:
            names.add(env + FILE_SUFFIX)
        aliases = getattr(field.validation_alias, "choices", ())
        names |= {alias for alias in aliases if isinstance(alias, str)}
    return names


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def port_of(address: str) -> int:
    return urlsplit(address if "://" in address else f"//{address}").port


def test_the_stack_has_its_services():
    assert {"postgres", "temporal", "temporal-setup", "temporal-ui", "worker", "setup", "prometheus",
            "grafana"} <= SERVICES.keys()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name):
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
    assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
    assert tag != "latest" and not tag.startswith("latest"), f"{name}: {image} is not pinned"


def test_the_worker_scales():
    """`--scale worker=N` needs no fixed name and no host port; it waits for the migrations."""
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert worker["command"][-1] == "worker.py" and worker["build"] == "."


def test_every_semsync_variable_is_a_setting():
    valid = setting_names()
    assert {"SEMSYNC_DATABASE__URL_FILE", "SEMSYNC_WORKER__METRICS_PORT", "SEMSYNC_LOG_FORMAT",
            "SEMSYNC_TEMPORAL__API_KEY_FILE", "SEMSYNC_HOME", "SEMSYNC_DATABASE__SSLMODE"} <= valid
    used = {name: service for service, spec in SERVICES.items() for name in environment(spec)
            if name.startswith("SEMSYNC_")}
    assert used, "the compose file sets no semsync setting"
    assert {name: service for name, service in used.items() if name not in valid} == {}


def test_the_settings_in_the_compose_file_parse(monkeypatch, tmp_path):
    """The worker's and the setup's environment, with stand-in secret files, is a valid `Settings`."""
    monkeypatch.delenv("SEMSYNC_SECRETS__KEYS", raising=False)  # the session's key (conftest): the file here
    for service in ("worker", "setup"):
        for name, value in environment(SERVICES[service]).items():
            if name.endswith(FILE_SUFFIX):
                secret = tmp_path / Path(value).name
                stand_in = new_key() if "KEYS" in name else "postgresql+asyncpg://u:p@postgres:5432/semsync"
                secret.write_text(stand_in + "\n")
                value = str(secret)
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.temporal.address == "temporal:7233"
        assert settings.database.url.get_secret_value().startswith("postgresql+asyncpg://")


def test_ports_match_the_settings():
    defaults = TemporalSettings()
    temporal_ports = {int(p.split(":")[-1]): int(p.split(":")[-2]) for p in SERVICES["temporal"]["ports"]}
    assert temporal_ports == {port_of(defaults.address): port_of(defaults.address)}  # 7233 inside and out
    # the Web UI on the host port the settings' ui_url names (the container listens on 8080)
    assert SERVICES["temporal-ui"]["ports"] == [f"127.0.0.1:{port_of(defaults.ui_url)}:8080"]
    for service in ("worker", "setup"):
        env = environment(SERVICES[service])
        assert port_of(env["SEMSYNC_TEMPORAL__ADDRESS"]) == port_of(defaults.address)
        assert port_of(env["SEMSYNC_TEMPORAL__UI_URL"]) == port_of(defaults.ui_url)
    worker = environment(SERVICES["worker"])
    assert SERVICES["worker"]["expose"] == [worker["SEMSYNC_WORKER__METRICS_PORT"]]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["dns_sd_configs"][0]["port"] == int(worker["SEMSYNC_WORKER__METRICS_PORT"])


def test_nothing_unauthenticated_is_published_beyond_the_hosts_loopback():
    """Temporal's gRPC port and the Web UI have no authentication in this stack: published on
    127.0.0.1 only; the worker's metrics stay on the compose network (listening on the container's
    interface for Prometheus, no host port), and the setting's default is loopback."""
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            spec = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port['published']}:{port['target']}"
            assert spec.count(":") == 2 and spec.startswith("127.0.0.1:"), \
                f"{name}: {spec} is published on every interface"
    assert "ports" not in SERVICES["worker"]
    assert environment(SERVICES["worker"])["SEMSYNC_WORKER__METRICS_HOST"] == "0.0.0.0"
    assert WorkerSettings().metrics_host == "127.0.0.1"


def mounts(service: dict) -> dict[str, str]:
    """A service's bind mounts: container path to the repository path (``./`` dropped)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = source.removeprefix("./")
    return found


def test_prometheus_loads_the_scrape_config_and_the_alert_rules_from_the_repository():
    prometheus = SERVICES["prometheus"]
    config = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file="))
    folder, name = config.rsplit("/", 1)
    assert mounts(prometheus)[folder] == "deploy/prometheus" and name == "prometheus.yml"
    rule_files = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["rule_files"]
    assert rule_files == ["rules/semsync.rules.yml"] and (ROOT / "deploy/prometheus" / rule_files[0]).is_file()
    assert any(a.startswith("--storage.tsdb.retention.time=") for a in prometheus["command"])


def test_grafana_is_provisioned_with_the_prometheus_data_source_and_the_dashboard():
    grafana = SERVICES["grafana"]
    mounted = mounts(grafana)
    assert mounted["/etc/grafana/provisioning"] == "deploy/grafana/provisioning"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/semsync.yml").read_text())
    dashboards = provider["providers"][0]["options"]["path"]
    assert mounted[dashboards] == "deploy/grafana/dashboards"
    assert (ROOT / "deploy/grafana/dashboards/semsync.json").is_file()
    assert environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == f"{dashboards}/semsync.json"
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    url = urlsplit(source["datasources"][0]["url"])
    prometheus_port = int(SERVICES["prometheus"]["ports"][0].split(":")[-1])
    assert (url.hostname, url.port) == ("prometheus", prometheus_port)
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_started"


def test_one_namespace_everywhere():
    namespace = environment(SERVICES["worker"])["SEMSYNC_TEMPORAL__NAMESPACE"]
    assert environment(SERVICES["setup"])["SEMSYNC_TEMPORAL__NAMESPACE"] == namespace
    assert environment(SERVICES["temporal-setup"])["NAMESPACE"] == namespace
    assert environment(SERVICES["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace


def test_the_temporal_setup_registers_every_search_attribute():
    script = (ROOT / "deploy/temporal/setup.sh").read_text()
    listed = re.search(r'SEARCH_ATTRIBUTES="([^"]*)"', script).group(1).split()
    assert dict(pair.split(":") for pair in listed) == SEARCH_ATTRIBUTES
    assert SERVICES["setup"]["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"


def test_secrets_come_from_git_ignored_files_only():
    """No password or URL with credentials is written in the compose file; the secret files are ignored."""
    for name, service in SERVICES.items():
        for key, value in environment(service).items():
            if re.search(r"PASSWORD|PWD|SECRET|API_KEY|(?<!UI_)URL$", key):
                assert key.endswith(FILE_SUFFIX) and value.startswith("/run/secrets/"), (name, key)
    paths = [spec["file"] for spec in COMPOSE["secrets"].values()]
    assert all(path.startswith("./deploy/secrets/") for path in paths)
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(paths)
    init = (ROOT / "deploy/postgres/init-databases.sh").read_text()
    for service in ("postgres", "temporal", "setup", "worker"):
        for secret in SERVICES[service].get("secrets", []):
            assert secret in COMPOSE["secrets"], (service, secret)
            assert secret in init or f"/run/secrets/{secret}" in str(SERVICES[service]), (service, secret)


def test_make_secrets_writes_urls_that_match_the_roles(tmp_path):
    secrets = tmp_path / "secrets"
    run = subprocess.run(["sh", str(ROOT / "deploy/make-secrets.sh")], env={"SECRETS_DIR": str(secrets),
                                                                          "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    files = {path.name: path.read_text().strip() for path in secrets.iterdir()}
    assert files.keys() == set(COMPOSE["secrets"])
    app_url, admin_url = make_url(files["semsync_database_url"]), make_url(files["semsync_admin_url"])
    assert (app_url.username, app_url.password) == ("semsync_app", files["semsync_app_password"])
    assert (admin_url.username, admin_url.password) == ("semsync_owner", files["semsync_owner_password"])
    assert app_url.host == admin_url.host == "postgres" and app_url.port == 5432 and app_url.database == "semsync"
    assert environment(SERVICES["worker"])["SEMSYNC_DATABASE__APP_ROLE"] == app_url.username
    catalog_url = make_url(files["semsync_catalog_url"])
    assert (catalog_url.username, catalog_url.password) == ("semsync_catalog", files["semsync_catalog_password"])
    assert environment(SERVICES["worker"])["SEMSYNC_DATABASE__CATALOG_ROLE"] == catalog_url.username
    SecretBox([files["semsync_secrets_keys"]])  # a valid Fernet key
    assert len(set(files.values())) == len(files)  # every password its own
    again = subprocess.run(["sh", str(ROOT / "deploy/make-secrets.sh")], env={"SECRETS_DIR": str(secrets),
                                                                            "PATH": "/usr/bin:/bin"})
    assert again.returncode == 0
    assert {path.name: path.read_text().strip() for path in secrets.iterdir()} == files  # kept


def test_the_dockerfile_installs_without_dev_extras_and_runs_the_worker():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim[\w.-]*", base), base
    assert "pip install ." in dockerfile and "[dev" not in dockerfile
    assert 'CMD ["python", "worker.py"]' in dockerfile
    assert re.search(r"^USER \S+", dockerfile, re.M), "the worker must not run as root"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"deploy", ".git", ".venv"} <= set(ignored)


def test_the_cli_goes_without_the_dev_stack_that_production_does_not_install(monkeypatch):
    """The image has no `devstack/` (neither copied nor installed): every other command is there."""
    monkeypatch.setitem(sys.modules, "devstack", None)  # importing it fails, as in the image
    for module in ("starter.dev", "starter.demo"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    result = CliRunner().invoke(build(), ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert not listed & DEVSTACK_COMMANDS and {"migrate", "catalog", "schedules", "sync"} <= listed, result.output
    assert "devstack" in (ROOT / ".dockerignore").read_text().split()
    assert "COPY devstack" not in (ROOT / "Dockerfile").read_text()


def test_the_setup_runs_commands_that_exist():
    script = SERVICES["setup"]["command"][-1]
    commands = [c.strip().removeprefix("python -m starter ").split() for c in script.split("&&")]
    assert [c[:2] for c in commands] == [["migrate"], ["catalog", "load"], ["schedules", "apply"]]
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command[:2 if command[0] != "migrate" else 1], "--help"])
        assert result.exit_code == 0, result.output


def test_migrate_applies_the_migrations_as_the_owner(test_database, monkeypatch):
    """On a migrated database a second `migrate` changes nothing; an unreachable one exits 1, password masked."""
    monkeypatch.setenv("SEMSYNC_DATABASE__ADMIN_URL", test_database.admin_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "migrations applied" in result.output and "semsync_owner:***@" in result.output
        monkeypatch.setenv("SEMSYNC_DATABASE__ADMIN_URL", "postgresql+asyncpg://o:hunter2@127.0.0.1:1/semsync")
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["migrate"])
        assert result.exit_code == 1 and "hunter2" not in result.output and "127.0.0.1:1" in result.output
    finally:
        get_settings.cache_clear()
