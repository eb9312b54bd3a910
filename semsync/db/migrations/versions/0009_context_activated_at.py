"""When a metric context became active: set when discovery inserts it and when it reactivates one.

Discovery's first sync of new and returning contexts selects them by this time (`activated_since`)
rather than by a list of their keys, so that the workflow input stays small however many contexts a
catalog change brings (the first discovery of a catalog of 100,000 metrics).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("metric_contexts", sa.Column("activated_at", sa.DateTime(timezone=True),
                                               server_default=sa.text("now()"), nullable=False))
    op.execute("SET LOCAL app.maintenance = on")  # forced row-level security (0008): the owner sees every row
    op.execute("UPDATE metric_contexts SET activated_at = first_seen_at")
    op.create_index("ix_metric_contexts_activated", "metric_contexts", ["tenant_id", "activated_at"])


def downgrade() -> None:
    op.drop_index("ix_metric_contexts_activated", table_name="metric_contexts")
    op.drop_column("metric_contexts", "activated_at")
