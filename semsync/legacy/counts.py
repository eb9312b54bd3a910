"""What an import did: counts per tenant and table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableCounts:
    """One table of one tenant: rows read from the original, written (inserted, updated), already
    equal (unchanged) and skipped by reason."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.read - self.inserted - self.updated - sum(self.skipped.values())

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"unchanged": self.unchanged}


@dataclass
class TenantImport:
    identifier: str
    legacy_id: int
    tables: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tables.values())


@dataclass
class ImportReport:
    tenants: list[TenantImport] = field(default_factory=list)
    dry_run: bool = False
    #: tenant ids with sync statuses in the original that the tenant map does not name (not imported)
    unmapped: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tenants)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "changed": self.changed, "unmapped_tenant_ids": self.unmapped, "tenants": [
            {"tenant": t.identifier, "legacy_id": t.legacy_id, "changed": t.changed,
             "tables": {name: counts.as_dict() for name, counts in t.tables.items()}} for t in self.tenants]}
