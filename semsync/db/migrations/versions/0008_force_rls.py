"""Row-level security forced: the tables' owner is held to the tenant policies too.

Without FORCE the owner (the role migrations run as) bypasses every policy, so a worker given the
owner's URL would see and write every tenant's rows. With it the owner sees no tenant row unless a
session says it does maintenance: the policy ``owner_maintenance`` (for the migrating role only)
lets every row through when ``app.maintenance`` is ``on`` (``SET app.maintenance = on``, or the
connection setting ``server_settings={"app.maintenance": "on"}``; `semsync.db.session`). Other roles
setting it gain nothing. A later migration that rewrites tenant rows sets it first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: every table with row-level security enabled (0001, 0003, 0004, 0006, 0007)
RLS_TABLES = (
    "metrics", "metric_dimensions", "metric_targets", "metric_contexts", "metric_pattern_contexts",
    "metric_time_series", "metric_dimensional_time_series", "metric_sync_status", "pattern_results",
    "partition_ledger", "tenants", "stories", "deliveries", "alert_snoozes",
)
MAINTENANCE = "current_setting('app.maintenance', true) = 'on'"


def upgrade() -> None:
    for table in RLS_TABLES:
        op.execute(f"CREATE POLICY owner_maintenance ON {table} FOR ALL TO CURRENT_USER "
                   f"USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS owner_maintenance ON {table}")
