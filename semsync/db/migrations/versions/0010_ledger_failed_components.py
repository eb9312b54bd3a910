"""The components a partial sync left failed, on its ledger rows: ``backfill --mode failed`` re-syncs
just those (a dimension's 400 does not make the base series and the healthy dimensions fetched again).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("partition_ledger", sa.Column("failed_components", ARRAY(sa.Text())))


def downgrade() -> None:
    op.drop_column("partition_ledger", "failed_components")
