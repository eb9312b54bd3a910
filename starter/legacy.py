"""`python -m starter legacy import|targets|compare`: move from the original (Dagster) system to semsync.

- ``legacy import --from URL``: the original's series, dimensional series and sync statuses (and
  ``--pattern-results``) into semsync's tables, tenant by tenant, idempotently; counts per table.
- ``legacy targets --from URL``: the original's targets as catalog YAML (targets are catalog data).
- ``legacy compare --against URL --grain G --partition-range A:B``: the shadow run's check, per
  context and component; exit 1 when any value is missing, extra or different.

Both map the original's tenant ids to semsync's tenants by identifier (`semsync.legacy.tenants`):
``--tenant-map ID=identifier`` (repeatable) or a file (``ID=identifier`` lines, or the answer of the
original's tenant service ``GET /tenants/all``), else the original database's ``tenants`` table.
Exit codes: 0 done (compare: equal), 1 compare found differences or a database failed, 2 bad input.
"""

from __future__ import annotations

import json
from datetime import date

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from semsync.config import get_settings
from semsync.db.session import Database
from semsync.legacy import (
    CompareReport,
    ImportReport,
    LegacyDatabase,
    TenantImport,
    TenantPair,
    compare_values,
    import_legacy,
    legacy_targets,
    parse_tenant_map,
    resolve_tenants,
)
from semsync.legacy.compare import DEFAULT_ABS_TOL, DEFAULT_REL_TOL
from semsync.partitions import Grain, expand_range
from starter.console import console, counted, parse_date, reported_errors, run_with_database

app = typer.Typer(no_args_is_help=True, help="Move from the original system: import its tables, compare a shadow run.")

TENANT_MAP_HELP = ("ID=identifier (repeatable), or a file of such lines or of the tenant service's answer "
                   "(GET /tenants/all) [default: the original's tenants table]")
#: compare accepts partitions from long before semsync's first date: the original's history
EARLIEST = date(1970, 1, 5)


async def _tenants(database: Database, legacy: LegacyDatabase, tenant_map: list[str],
                   tenant: str | None) -> tuple[list[TenantPair], dict[int, str]]:
    mapping = parse_tenant_map(tenant_map) if tenant_map else await legacy.tenant_map()
    return await resolve_tenants(database.session_factory, mapping, tenant), mapping


def _print_tenant(report: TenantImport, dry_run: bool) -> None:
    table = Table(title=escape(f"{report.identifier} (original tenant id {report.legacy_id})"
                               + (" · dry run, nothing written" if dry_run else "")))
    for column in ("table", "read", "inserted", "updated", "unchanged", "skipped"):
        table.add_column(column, justify="left" if column in ("table", "skipped") else "right")
    for name, counts in report.tables.items():
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in sorted(counts.skipped.items()))
        written = name != "metric_target"  # targets are checked against the catalog, not written
        table.add_row(name + ("" if written else " (checked)"), f"{counts.read:,}",
                      f"{counts.inserted:,}" if written else "–", f"{counts.updated:,}" if written else "–",
                      f"{counts.unchanged:,}", Text(skipped or "–"))
    console.print(table)


def _print_import_summary(report: ImportReport) -> None:
    tables = [t for tenant in report.tenants for t in tenant.tables.values()]
    read = sum(t.read for t in tables)
    verb = "would change" if report.dry_run else "changed"
    if report.changed:
        console.print(f"{counted(len(report.tenants), 'tenant')}: {counted(read, 'row')} read, "
                      f"{counted(report.changed, 'row')} {verb}", markup=False)
    else:
        console.print(f"nothing {verb}: semsync already holds everything imported "
                      f"({counted(read, 'row')} read from {counted(len(report.tenants), 'tenant')})", markup=False)
    if report.unmapped:
        ids = ", ".join(str(i) for i in report.unmapped[:20]) + (" …" if len(report.unmapped) > 20 else "")
        console.print(f"not imported: the original's tenant ids {ids} have sync statuses but are not in the "
                      "tenant map", markup=False)
    if any("metric_target" in t.tables and t.tables["metric_target"].skipped for t in report.tenants):
        console.print("targets: some of the original's targets are not in semsync's catalog with the same value; "
                      "targets are catalog data: add them to the catalog and `catalog load` it", markup=False)


@app.command("import")
def import_(
    source: str = typer.Option(..., "--from", help="the original's database URL (postgresql://…)"),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="one tenant (its identifier) [default: all mapped]"),
    since: str | None = typer.Option(None, "--since", help="values, targets and pattern results from this date "
                                                           "(YYYY-MM-DD) [default: all]"),
    tenant_map: list[str] = typer.Option([], "--tenant-map", help=TENANT_MAP_HELP),
    pattern_results: bool = typer.Option(False, "--pattern-results",
                                         help="import the original's pattern results too (as version legacy-…)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would change, write nothing"),
    as_json: bool = typer.Option(False, "--json", help="the counts as one JSON object"),
) -> None:
    """Import the original system's values and sync statuses into semsync (idempotent)."""
    with reported_errors():
        since_date = parse_date(since, "--since")

        async def work(database: Database) -> ImportReport:
            legacy = await LegacyDatabase.connect(source)
            try:
                pairs, mapping = await _tenants(database, legacy, tenant_map, tenant)
                return await import_legacy(
                    database.session_factory, legacy, pairs, since=since_date, pattern_results=pattern_results,
                    dry_run=dry_run, on_tenant=None if as_json else lambda r: _print_tenant(r, dry_run),
                    tenant_map=None if tenant else mapping)
            finally:
                await legacy.close()

        report = run_with_database(work)
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    _print_import_summary(report)


@app.command()
def targets(
    source: str = typer.Option(..., "--from", help="the original's database URL (postgresql://…)"),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="one tenant [default: all mapped]"),
    since: str | None = typer.Option(None, "--since", help="targets from this date (YYYY-MM-DD) [default: all]"),
    tenant_map: list[str] = typer.Option([], "--tenant-map", help=TENANT_MAP_HELP),
) -> None:
    """Print the original's targets as catalog YAML (tenant → metric → targets) to add to the catalog."""
    with reported_errors():
        since_date = parse_date(since, "--since")

        async def work(database: Database) -> dict[str, dict[str, list]]:
            legacy = await LegacyDatabase.connect(source)
            try:
                pairs, _ = await _tenants(database, legacy, tenant_map, tenant)
                return {pair.identifier: await legacy_targets(legacy, pair, since_date) for pair in pairs}
            finally:
                await legacy.close()

        found = run_with_database(work)
    print("# the original system's targets in the catalog's form: add each metric's list under its `targets:`,")
    print("# then `python -m starter catalog load` (or the catalog service) — targets are catalog data in semsync")
    print(yaml.safe_dump(found, sort_keys=False, default_flow_style=None, width=200), end="")


def _print_compare(report: CompareReport, tenants: list[str]) -> None:
    span = f"{report.grain.value} {report.first}:{report.last}"
    differing = [c for c in report.components if c.differs]
    if differing:
        table = Table(title=escape(f"differences · {span}"))
        counts = ("equal", "missing", "extra", "different")
        for column in ("context", "component", *counts, "first differences"):
            table.add_column(column, justify="right" if column in counts else "left")
        for c in differing:
            samples = "; ".join(
                f"{s.kind} {s.date}" + (f" {s.slice}" if s.slice is not None else "")
                + (f" original {s.legacy!r} semsync {s.semsync!r}" if s.kind == "different" else "")
                for s in c.samples)
            table.add_row(Text(c.context), Text(c.dimension or "(base)"), f"{c.equal:,}", f"{c.missing:,}",
                          f"{c.extra:,}", f"{c.different:,}", Text(samples))
        console.print(table)
    totals = {k: report.total(k) for k in ("equal", "missing", "extra", "different")}
    ignored = f"; {counted(report.ignored, 'row')} of the original not compared (null or off a period start)" \
        if report.ignored else ""
    if report.uncatalogued:
        names = ", ".join(f"{name} ({n:,})" for name, n in sorted(report.uncatalogued.items())[:10])
        console.print(f"not compared, not in semsync's catalog: {names}", markup=False)
    if not report.components:
        console.print(f"nothing to compare: neither system holds {report.grain.value} values of "
                      f"{counted(len(tenants), 'tenant')} over {span} (check the range and the tenant map)",
                      markup=False)
    elif report.differs:
        console.print(f"DIFFERENT: {len(differing)} of {counted(len(report.components), 'component')} differ over "
                      f"{span}: {totals['missing']:,} missing, {totals['extra']:,} extra, {totals['different']:,} "
                      f"different, {totals['equal']:,} equal{ignored}", markup=False)
    else:
        console.print(f"equal: {counted(totals['equal'], 'value')} in {counted(len(report.components), 'component')} "
                      f"of {counted(len(tenants), 'tenant')} over {span}{ignored}", markup=False)


@app.command()
def compare(
    against: str = typer.Option(..., "--against", help="the original's database URL (postgresql://…)"),
    grain: Grain = typer.Option(..., "--grain", "-g"),
    partition_range: str = typer.Option(..., "--partition-range", "-r", help="an inclusive range A:B, or one key"),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="one tenant [default: all mapped]"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="only this metric (repeatable)"),
    tenant_map: list[str] = typer.Option([], "--tenant-map", help=TENANT_MAP_HELP),
    tolerance: float = typer.Option(DEFAULT_REL_TOL, "--tolerance", min=0.0,
                                    help="relative difference allowed between two values"),
    abs_tolerance: float = typer.Option(DEFAULT_ABS_TOL, "--abs-tolerance", min=0.0,
                                        help="absolute difference allowed (values near zero)"),
    as_json: bool = typer.Option(False, "--json", help="the comparison as one JSON object"),
) -> None:
    """Compare semsync's values with the original's over a partition range: exit 1 when they differ."""
    with reported_errors():
        partitions = expand_range(grain, partition_range, allow_incomplete=True,
                                  first_date=min(get_settings().partitions.first_date, EARLIEST),
                                  max_partitions=get_settings().partitions.max_per_request)

        async def work(database: Database) -> tuple[CompareReport, list[str]]:
            legacy = await LegacyDatabase.connect(against)
            try:
                pairs, _ = await _tenants(database, legacy, tenant_map, tenant)
                report = await compare_values(database.session_factory, legacy, pairs, grain, partitions[0],
                                              partitions[-1], metrics=metric or None, rel_tol=tolerance,
                                              abs_tol=abs_tolerance)
                return report, [p.identifier for p in pairs]
            finally:
                await legacy.close()

        report, tenants = run_with_database(work)
    if as_json:
        print(json.dumps(report.as_dict() | {"tenants": tenants}))
    else:
        _print_compare(report, tenants)
    if report.differs:
        raise typer.Exit(1)
