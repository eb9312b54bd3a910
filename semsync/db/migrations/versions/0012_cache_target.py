"""A tenant's cache target (Snowflake or another database, `semsync.cache`), sealed like its
semantic layer connection: ``{"type": …, "fernet": token}``.

Row-level security: the column lives on ``tenants``, whose policies (0004, forced in 0008) already
say who sees a row: the catalog role writes it, the app role reads it (inside a tenant scope only
its own tenant's). No new tenant table: the cached rows live in the tenant's own warehouse.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("cache_target", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "cache_target")
