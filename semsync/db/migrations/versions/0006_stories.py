"""Stories: one row per (tenant, metric, grain, story date, type, dimension, slice, version, pattern
version), with row-level security.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant', true), '')::integer"


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("story_date", sa.Date(), nullable=False),
        sa.Column("story_type", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=64), nullable=True),
        sa.Column("slice", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("pattern_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("genre", sa.String(length=16), nullable=False),
        sa.Column("polarity", sa.String(length=8), nullable=False),
        sa.Column("salience", sa.Double(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("variables", JSONB(), nullable=False),
        sa.Column("series", JSONB(), nullable=False),
        sa.Column("series_dates", JSONB(), nullable=False),
        sa.Column("pattern", sa.String(length=64), nullable=False),
        sa.Column("analysis_date", sa.Date(), nullable=False),
        sa.Column("grouped_under", sa.String(length=64), nullable=True),
        sa.Column("also", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_stories_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_index("uq_stories_key", "stories",
                    ["tenant_id", "metric_id", "grain", "story_date", "story_type", "dimension", "slice", "version",
                     "pattern_version"], unique=True, postgresql_nulls_not_distinct=True)
    op.create_index("ix_stories_date", "stories", ["tenant_id", "grain", "story_date"])
    app_role = op.get_context().config.get_main_option("app_role") or "semsync_app"
    role = '"' + app_role.replace('"', '""') + '"'
    op.execute("ALTER TABLE stories ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON stories "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON stories TO {role}")


def downgrade() -> None:
    op.drop_index("ix_stories_date", table_name="stories")
    op.drop_index("uq_stories_key", table_name="stories")
    op.drop_table("stories")
