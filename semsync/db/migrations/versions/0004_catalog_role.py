"""The catalog is written by its own role; the app role only reads tenants, within its tenant scope.

- ``tenants`` gets row-level security: outside a tenant scope (resolving an identifier, listing the
  tenants) every row is visible; inside one, only that tenant's row.
- The app role (the workers' sync and patterns) keeps SELECT on ``tenants`` and loses INSERT/UPDATE/
  DELETE there and on the catalog tables (``metrics``, ``metric_dimensions``, ``metric_targets``): it
  cannot repoint a tenant's semantic layer.
- The catalog role (``catalog load|refresh``, discovery) writes them; it is not the owner and has no
  BYPASSRLS, so the per-tenant tables stay tenant-scoped for it too. When that role does not exist,
  the owner is the catalog writer (``SEMSYNC_DATABASE__CATALOG_URL`` = the owner's URL); create the
  role first and migrate again from 0003 to grant it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant', true), '')::integer"
CATALOG_TABLES = ("metrics", "metric_dimensions", "metric_targets")
REGISTRY_TABLES = ("metric_contexts", "metric_pattern_contexts")


def _role(option: str, default: str) -> tuple[str, str]:
    name = op.get_context().config.get_main_option(option) or default
    return name, '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    _, app = _role("app_role", "semsync_app")
    catalog_name, catalog = _role("catalog_role", "semsync_catalog")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON tenants FROM {app}")
    op.execute(f"GRANT SELECT ON tenants TO {app}")
    for table in CATALOG_TABLES:
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {app}")
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_read ON tenants FOR SELECT "
               f"USING ({CURRENT_TENANT} IS NULL OR id = {CURRENT_TENANT})")
    literal = "'" + catalog_name.replace("'", "''") + "'"
    grants = " ".join(f"EXECUTE $g${statement}$g$;" for statement in [
        f"GRANT SELECT, INSERT, UPDATE ON tenants TO {catalog}",
        f"CREATE POLICY catalog_write ON tenants FOR ALL TO {catalog} USING (true) WITH CHECK (true)",
        *(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {catalog}" for table in CATALOG_TABLES + REGISTRY_TABLES),
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {catalog}",
    ])
    op.execute(f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN "
               f"{grants} END IF; END $$")


def downgrade() -> None:
    _, app = _role("app_role", "semsync_app")
    op.execute("DROP POLICY IF EXISTS catalog_write ON tenants")
    op.execute("DROP POLICY IF EXISTS tenant_read ON tenants")
    op.execute("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON tenants TO {app}")
    for table in CATALOG_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {app}")
