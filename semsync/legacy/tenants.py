"""Which tenant of the original is which tenant of semsync.

The original keyed its rows by a numeric tenant id that its tenant service (``GET /tenants/all``)
resolved; semsync knows tenants by identifier (its own ids differ). The map comes from, in order:

1. ``--tenant-map`` values: ``ID=identifier`` pairs, or files holding either such lines or the tenant
   service's JSON answer (``{"results": [{"id": 1, "identifier": "acme", ...}], "count": 1}``, or the
   bare list) saved with ``curl``;
2. a ``tenants`` table (``id``, ``identifier``) in the original's database, if it has one.

Every mapped identifier must already be a semsync tenant (``catalog load`` first): nothing is imported
for a tenant semsync cannot sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.store import find_tenant
from semsync.errors import InvalidInputError, UnknownTenantError


class TenantMapError(InvalidInputError):
    """A tenant map that is malformed, ambiguous or names tenants semsync does not know."""


@dataclass(frozen=True)
class TenantPair:
    """One tenant in both systems."""

    identifier: str
    legacy_id: int
    semsync_id: int


def _pair(entry: str, source: str) -> tuple[int, str]:
    legacy_id, sep, identifier = entry.partition("=")
    if not sep or not identifier.strip() or not legacy_id.strip().isdigit():
        raise TenantMapError(f"tenant map entry {entry!r} ({source}) is not ID=identifier, e.g. 7=acme",
                             part="tenant map", value=entry)
    return int(legacy_id), identifier.strip()


def _from_file(path: Path) -> list[tuple[int, str]]:
    content = path.read_text()
    if content.lstrip().startswith(("{", "[")):
        try:
            answer = json.loads(content)
            tenants = answer["results"] if isinstance(answer, dict) else answer
            return [(int(t["id"]), str(t["identifier"])) for t in tenants]
        except (ValueError, KeyError, TypeError) as exc:
            raise TenantMapError(f"tenant map file {path}: not the tenant service's answer "
                                 f'({{"results": [{{"id": …, "identifier": …}}]}}): {exc}',
                                 part="tenant map", value=str(path)) from None
    lines = [line.strip() for line in content.splitlines()]
    return [_pair(line, str(path)) for line in lines if line and not line.startswith("#")]


def parse_tenant_map(specs: list[str]) -> dict[int, str]:
    """Original tenant id → identifier from ``--tenant-map`` values (pairs or files)."""
    pairs: list[tuple[int, str]] = []
    for spec in specs:
        path = Path(spec)
        if "=" not in spec or path.is_file():
            if not path.is_file():
                raise TenantMapError(f"--tenant-map {spec!r} is neither ID=identifier nor a file",
                                     part="tenant map", value=spec)
            pairs += _from_file(path)
        else:
            pairs.append(_pair(spec, "--tenant-map"))
    return check_map(pairs)


def check_map(pairs: list[tuple[int, str]]) -> dict[int, str]:
    """The pairs as a map; an id or an identifier given twice with different partners is refused."""
    by_id: dict[int, str] = {}
    by_identifier: dict[str, int] = {}
    for legacy_id, identifier in pairs:
        if by_id.setdefault(legacy_id, identifier) != identifier:
            raise TenantMapError(f"tenant id {legacy_id} is mapped to both {by_id[legacy_id]!r} and {identifier!r}",
                                 part="tenant map", value=legacy_id)
        if by_identifier.setdefault(identifier, legacy_id) != legacy_id:
            raise TenantMapError(f"tenant {identifier!r} is mapped from both ids {by_identifier[identifier]} and "
                                 f"{legacy_id}: one original tenant per semsync tenant",
                                 part="tenant map", value=identifier)
    return by_id


async def resolve_tenants(
    session_factory: async_sessionmaker[AsyncSession], tenant_map: dict[int, str], only: str | None = None,
) -> list[TenantPair]:
    """The tenants to work on (all of the map, or `only`), each with its semsync id.

    Raises TenantMapError when `only` is not in the map or the map names tenants semsync does not know,
    UnknownTenantError when `only` is not a semsync tenant."""
    if not tenant_map:
        raise TenantMapError("no tenant map: the original's database has no tenants table; give --tenant-map "
                             "ID=identifier (repeatable) or a file with the tenant service's answer "
                             "(GET /tenants/all)", part="tenant map")
    wanted = {legacy_id: identifier for legacy_id, identifier in tenant_map.items() if only in (None, identifier)}
    if not wanted:
        raise TenantMapError(f"tenant {only!r} has no id of the original in the tenant map "
                             f"({len(tenant_map)} tenants mapped)", part="tenant", value=only)
    pairs, unknown = [], []
    for legacy_id, identifier in sorted(wanted.items(), key=lambda item: item[1]):
        try:
            semsync_id = (await find_tenant(session_factory, identifier)).id
        except UnknownTenantError:
            if only is not None:
                raise
            unknown.append(identifier)
            continue
        pairs.append(TenantPair(identifier, legacy_id, semsync_id))
    if unknown:
        raise TenantMapError(
            f"{len(unknown)} mapped tenants are not in semsync's catalog: {', '.join(unknown[:10])}"
            f"{' …' if len(unknown) > 10 else ''}; load them (catalog load) or choose one with --tenant",
            part="tenant", value=unknown)
    return pairs
