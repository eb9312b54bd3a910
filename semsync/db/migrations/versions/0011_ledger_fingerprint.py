"""What a pattern's success stood on (its version, settings and the data's version), and a note, on
the ledger rows: a run over a span whose data, version and settings are unchanged since its last
success is skipped and the row says ``skipped: unchanged``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("partition_ledger", sa.Column("fingerprint", sa.Text()))
    op.add_column("partition_ledger", sa.Column("note", sa.Text()))


def downgrade() -> None:
    op.drop_column("partition_ledger", "note")
    op.drop_column("partition_ledger", "fingerprint")
