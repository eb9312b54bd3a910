"""The partition ledger: one row per (tenant, metric, grain, partition, kind), with row-level security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant', true), '')::integer"


def upgrade() -> None:
    op.create_table(
        "partition_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("partition_key", sa.String(length=16), nullable=False),
        sa.Column("partition_start", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_partition_ledger_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partition_ledger")),
    )
    op.create_index("uq_partition_ledger_key", "partition_ledger",
                    ["tenant_id", "metric_id", "grain", "partition_key", "kind"], unique=True)
    op.create_index("ix_partition_ledger_status", "partition_ledger", ["tenant_id", "grain", "kind", "status"])
    app_role = op.get_context().config.get_main_option("app_role") or "semsync_app"
    role = '"' + app_role.replace('"', '""') + '"'
    op.execute("ALTER TABLE partition_ledger ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON partition_ledger "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON partition_ledger TO {role}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    op.drop_index("ix_partition_ledger_status", table_name="partition_ledger")
    op.drop_index("uq_partition_ledger_key", table_name="partition_ledger")
    op.drop_table("partition_ledger")
