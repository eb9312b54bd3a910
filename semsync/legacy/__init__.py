"""Moving from the original (Dagster) system to semsync: import its tables, compare a shadow run.

- `tenants`: which tenant id of the original is which semsync tenant (by identifier);
- `source`: the original's database, read per tenant and table in batches;
- `counts`: what an import did, per tenant and table;
- `targets`: its targets checked against semsync's catalog, and given in the catalog's form;
- `importer`: its series, dimensional series and sync statuses (and, on request, pattern results)
  written into semsync's tables, set-based and idempotently, each tenant in one transaction;
- `compare`: the values both systems hold for a grain and a partition range, context by context.

The original's tables are described in ``shared/reference/original-system-notes.md``.
"""

from semsync.legacy.compare import CompareReport, ComponentDiff, compare_values
from semsync.legacy.counts import ImportReport, TableCounts, TenantImport
from semsync.legacy.importer import import_legacy
from semsync.legacy.source import LegacyDatabase, LegacyDatabaseError
from semsync.legacy.targets import legacy_targets
from semsync.legacy.tenants import TenantMapError, TenantPair, parse_tenant_map, resolve_tenants

__all__ = [
    "CompareReport",
    "ComponentDiff",
    "ImportReport",
    "LegacyDatabase",
    "LegacyDatabaseError",
    "TableCounts",
    "TenantImport",
    "TenantMapError",
    "TenantPair",
    "compare_values",
    "import_legacy",
    "legacy_targets",
    "parse_tenant_map",
    "resolve_tenants",
]
