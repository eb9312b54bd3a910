"""Deliveries: the tenants' notifications (sealed), one row per delivery (an alert of a story to a
channel, a digest of a period to a channel, a test message), and the metrics whose alerts are
snoozed; with row-level security.

A delivery's `key` is its idempotency key: (tenant, key) is unique, so a delivery is recorded and
sent once whoever asks again (a re-run backfill, a replayed workflow); the same key travels with
every attempt (a webhook header, the email's Message-ID).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant', true), '')::integer"


def _tenant_table(name: str, role: str) -> None:
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {name} "
               f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {role}")


def upgrade() -> None:
    op.add_column("tenants", sa.Column("notifications", JSONB(), nullable=True))
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("channel_type", sa.String(length=8), nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=True),
        sa.Column("grain", sa.String(length=8), nullable=True),
        sa.Column("story_date", sa.Date(), nullable=True),
        sa.Column("story_type", sa.String(length=64), nullable=True),
        sa.Column("dimension", sa.String(length=64), nullable=True),
        sa.Column("slice", sa.Text(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("salience", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest_id", sa.BigInteger(), nullable=True),
        sa.Column("workflow_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_deliveries_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index("uq_deliveries_key", "deliveries", ["tenant_id", "key"], unique=True)
    op.create_index("ix_deliveries_status", "deliveries", ["tenant_id", "status", "created_at"])
    op.create_index("ix_deliveries_channel", "deliveries", ["tenant_id", "channel_id", "kind", "created_at"])
    op.create_table(
        "alert_snoozes",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_alert_snoozes_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "metric_id", name=op.f("pk_alert_snoozes")),
    )
    app_role = op.get_context().config.get_main_option("app_role") or "semsync_app"
    role = '"' + app_role.replace('"', '""') + '"'
    _tenant_table("deliveries", role)
    _tenant_table("alert_snoozes", role)


def downgrade() -> None:
    op.drop_table("alert_snoozes")
    op.drop_index("ix_deliveries_channel", table_name="deliveries")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_index("uq_deliveries_key", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_column("tenants", "notifications")
