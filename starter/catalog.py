"""`python -m starter catalog load|validate|show`: the tenant and metric catalog in the database.

`load FILE` validates a catalog YAML and makes the catalog tables equal to it (a reload replaces
the previous catalog; tenants missing from the file are marked sync-disabled, never deleted).
`show` lists what the tables hold; secrets are never printed. The tenants' connections are stored
encrypted (`semsync.encryption`): `new-key` prints a key, `rotate-key` re-encrypts with the first one.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from semsync.catalog.factory import provider_from_settings
from semsync.catalog.file import check_catalog_file
from semsync.catalog.models import Catalog, CubeConnection, MetricDef, NoConnection, TenantDef
from semsync.catalog.store import CatalogWriteSummary, read_catalog, reseal_connections, write_catalog
from semsync.config import get_settings
from semsync.encryption import new_key
from semsync.redaction import redact
from starter.console import console, counted, err_console, reported_errors, run_with_database

app = typer.Typer(no_args_is_help=True, help="Load and inspect the tenant and metric catalog.")

CatalogFile = typer.Argument(..., help="catalog YAML (see semsync/catalog/file.py for the format)")


@app.command()
def validate(file: Path = CatalogFile) -> None:
    """Check FILE without touching the database."""
    with reported_errors():
        catalog, warnings = check_catalog_file(file)
    _warn(warnings)
    console.print(f"[green]✓[/] {escape(str(file))}: valid; {_counts(catalog)}")


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        err_console.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False)


@app.command()
def load(file: Path = CatalogFile) -> None:
    """Validate FILE and write it into the catalog tables of SEMSYNC_DATABASE__URL."""
    with reported_errors():
        catalog, warnings = check_catalog_file(file)
        _warn(warnings)
        summary: CatalogWriteSummary = run_with_database(lambda db: write_catalog(db.session_factory, catalog),
                                                         catalog_role=True)
    console.print(
        f"[green]✓[/] loaded {escape(str(file))}: {_counts(catalog)} "
        f"({counted(summary.changed, 'row')} written, {summary.removed} removed)"
    )
    if summary.disabled_tenants:
        console.print(f"tenants not in {file}, now sync-disabled: {', '.join(summary.disabled_tenants)}",
                      markup=False)


@app.command()
def refresh() -> None:
    """Load the catalog from the configured provider (SEMSYNC_CATALOG__PROVIDER: `file` or `http`, the
    product's tenant and metrics services) into the catalog tables; tenants it no longer lists become
    sync-disabled. What the provider had to skip is listed."""
    settings = get_settings()

    async def work(db) -> tuple[Catalog, CatalogWriteSummary, list[str]]:
        async with httpx.AsyncClient(timeout=settings.semantic_layer.request_timeout_s) as client:
            async with provider_from_settings(settings.catalog, http_client=client) as provider:
                catalog = await provider.load()
        return catalog, await write_catalog(db.session_factory, catalog), getattr(provider, "problems", [])

    with reported_errors():
        catalog, summary, problems = run_with_database(work, catalog_role=True)
    console.print(
        f"[green]✓[/] loaded the {settings.catalog.provider} catalog: {_counts(catalog)} "
        f"({counted(summary.changed, 'row')} written, {summary.removed} removed)"
    )
    if summary.disabled_tenants:
        console.print(f"tenants no longer listed, now sync-disabled: {', '.join(summary.disabled_tenants)}",
                      markup=False)
    for problem in problems:
        console.print(f"[yellow]skipped[/]: {escape(problem)}")


@app.command()
def show() -> None:
    """List the tenants and metrics in the catalog tables."""
    with reported_errors():
        catalog: Catalog = run_with_database(lambda db: read_catalog(db.session_factory))
    if not catalog.tenants:
        console.print("the catalog is empty: load one with `python -m starter catalog load FILE`")
        return
    tenants = Table("tenant", "name", "sync", "semantic layer", "metrics", title="Tenants")
    for tenant in catalog.tenants:
        tenants.add_row(*map(Text, (tenant.identifier, tenant.name, "enabled" if tenant.sync_enabled else "disabled",
                                    _connection(tenant), str(len(tenant.metrics)))))
    console.print(tenants)
    metrics = Table("tenant", "metric", "label", "source", "dimensions", "targets", title="Metrics")
    for tenant in catalog.tenants:
        for metric in tenant.metrics:
            metrics.add_row(*map(Text, (tenant.identifier, metric.id, metric.label, _source(metric),
                                        ", ".join(d.id for d in metric.dimensions) or "-",
                                        str(len(metric.targets)))))
    console.print(metrics)
    console.print(_counts(catalog), markup=False)


def _counts(catalog: Catalog) -> str:
    metrics = [m for t in catalog.tenants for m in t.metrics]
    return (
        f"{counted(len(catalog.tenants), 'tenant')}, {counted(len(metrics), 'metric')}, "
        f"{counted(sum(len(m.dimensions) for m in metrics), 'dimension')}, "
        f"{counted(sum(len(m.targets) for m in metrics), 'target')}"
    )


def _connection(tenant: TenantDef) -> str:
    layer = tenant.semantic_layer
    if isinstance(layer, CubeConnection):
        return f"cube {redact(layer.cube_api_url)} ({layer.auth_type.value})"
    if isinstance(layer, NoConnection):
        return "none (dropped from the catalog)"
    if layer.database_url is not None:
        return "sql " + redact(layer.database_url.get_secret_value())
    return "sql (semsync database)"


@app.command("new-key")
def new_key_command() -> None:
    """Print a fresh key for SEMSYNC_SECRETS__KEYS (the tenants' connections are encrypted with it)."""
    console.print(new_key(), highlight=False)


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every tenant's connection with the first key of SEMSYNC_SECRETS__KEYS.

    Rotation: put the new key first (``NEW,OLD``) on every process, run this, then drop the old key."""
    with reported_errors():
        count = run_with_database(lambda db: reseal_connections(db.session_factory), catalog_role=True)
    console.print(f"[green]✓[/] {counted(count, 'tenant connection')} re-encrypted with the first key")


def _source(metric: MetricDef) -> str:
    source = metric.source
    if source.type == "cube":
        return f"cube {source.measure}"
    return f"sql {source.value} from {source.table}"
