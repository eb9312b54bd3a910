"""PostgreSQL schema, sessions with tenant row-level security, and set-based bulk writes."""

from semsync.db.session import Database, tenant_scope

__all__ = ["Database", "tenant_scope"]
