"""`python -m starter catalog …` against the test database, through Typer's CliRunner.

The CLI runs its own event loop (`asyncio.run`), so it is invoked on a worker thread.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsync.catalog.store import get_tenant
from semsync.config import get_settings
from starter.cli import app

CATALOG = """\
tenants:
  - identifier: acme
    name: Acme Inc.
    semantic_layer: {type: cube, cube_api_url: "http://127.0.0.1:4000", token: cube-token-123}
    metrics:
      - id: revenue
        label: Revenue
        source: {type: cube, measure: orders.revenue, time_dimension: orders.created_at}
        dimensions: [{id: region, member: orders.region}, {id: channel, member: orders.channel}]
        targets: [{grain: month, target_date: 2025-07-01, target_value: 1000}]
  - identifier: globex
    name: Globex
    metrics:
      - id: signups
        label: Signups
        source: {type: sql, table: warehouse.signups, value: count(*), time_column: created_at}
"""


@pytest.fixture
def settings_env(db, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", db.app_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def catalog_file(tmp_path: Path, content: str = CATALOG) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(content))
    return path


async def invoke(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_load_writes_the_catalog_and_prints_a_summary(db, settings_env, tmp_path):
    path = catalog_file(tmp_path)
    result = await invoke("catalog", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "2 tenants, 2 metrics, 2 dimensions, 1 target (7 rows written, 0 removed)" in result.output
    assert (await get_tenant(db.session_factory, "acme")).semantic_layer.token.get_secret_value() == "cube-token-123"

    again = await invoke("catalog", "load", str(path))
    assert again.exit_code == 0, again.output
    assert "(0 rows written, 0 removed)" in again.output


async def test_show_lists_tenants_and_metrics_without_secrets(db, settings_env, tmp_path):
    empty = await invoke("catalog", "show")
    assert empty.exit_code == 0, empty.output
    assert "the catalog is empty" in empty.output

    assert (await invoke("catalog", "load", str(catalog_file(tmp_path)))).exit_code == 0
    result = await invoke("catalog", "show")
    assert result.exit_code == 0, result.output
    for expected in ("acme", "globex", "revenue", "signups", "region, channel", "2 tenants, 2 metrics"):
        assert expected in result.output
    assert "cube-token-123" not in result.output


async def test_invalid_file_exits_2_naming_file_entry_and_field(db, settings_env, tmp_path):
    path = catalog_file(tmp_path, CATALOG.replace("value: count(*), ", ""))
    result = await invoke("catalog", "load", str(path))
    assert result.exit_code == 2, result.output
    assert f"CatalogError: {path}:16: tenants[1] (globex) metrics[0] (signups) source.value: Field required" in (
        result.output
    )
    # nothing was written
    assert "the catalog is empty" in (await invoke("catalog", "show")).output


async def test_missing_file_and_bad_yaml_exit_2(db, settings_env, tmp_path):
    missing = await invoke("catalog", "load", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2, missing.output
    assert "nope.yaml: catalog file not found" in missing.output

    bad = await invoke("catalog", "validate", str(catalog_file(tmp_path, "tenants: [\n")))
    assert bad.exit_code == 2, bad.output
    assert "catalog.yaml:2:1: invalid YAML" in bad.output


async def test_unreachable_database_exits_1(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMSYNC_DATABASE__URL", "postgresql+asyncpg://semsync_app:hunter2@127.0.0.1:9/semsync")
    get_settings.cache_clear()
    try:
        result = await invoke("catalog", "load", str(catalog_file(tmp_path)))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "cannot use the database postgresql+asyncpg://semsync_catalog:***@127.0.0.1:9/semsync" in result.output
    assert "hunter2" not in result.output


def test_validate_needs_no_database(tmp_path):
    result = CliRunner().invoke(app, ["catalog", "validate", str(catalog_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "valid; 2 tenants, 2 metrics, 2 dimensions, 1 target\n" in result.output


async def test_refresh_loads_the_configured_provider(db, settings_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SEMSYNC_CATALOG__PROVIDER", "file")
    monkeypatch.setenv("SEMSYNC_CATALOG__FILE", str(catalog_file(tmp_path)))
    get_settings.cache_clear()
    result = await invoke("catalog", "refresh")
    assert result.exit_code == 0, result.output
    assert "loaded the file catalog: 2 tenants, 2 metrics" in result.output
    assert (await get_tenant(db.session_factory, "globex")).sync_enabled


async def test_refresh_from_an_unreachable_service_exits_1(db, settings_env, monkeypatch):
    from devstack import free_port

    url = f"http://127.0.0.1:{free_port()}"
    for key, value in {"PROVIDER": "http", "TENANTS_URL": url, "METRICS_URL": url, "TOKEN_URL": f"{url}/token",
                       "CLIENT_ID": "semsync", "CLIENT_SECRET": "s"}.items():
        monkeypatch.setenv(f"SEMSYNC_CATALOG__{key}", value)
    get_settings.cache_clear()
    result = await invoke("catalog", "refresh")
    assert result.exit_code == 1, result.output
    assert "CatalogUnavailableError" in result.output
