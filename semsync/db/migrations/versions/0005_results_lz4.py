"""Pattern results compressed with lz4 where the server has it.

A result's JSON is 1–6 KB and TOAST compresses it; with pglz (PostgreSQL's default) compressing took
about 40 % of the time of storing it (COPY into a table like ``pattern_results``: 16,000 rows/s
compressed with pglz, 27,000 uncompressed; pglz halves the size). lz4 compresses about as well at a
fraction of pglz's CPU. Servers built without lz4 (the embedded dev stack's) keep pglz: doubling the
table's size to skip compression is not worth a few percent of a backfill. Applies to rows written
from now on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("run_result", "analysis_window", "error")


def upgrade() -> None:
    statements = " ".join(f"ALTER TABLE pattern_results ALTER COLUMN {column} SET COMPRESSION lz4;"
                          for column in COLUMNS)
    # without lz4 support the ALTER raises feature_not_supported: keep the default then
    op.execute(f"DO $$ BEGIN {statements} EXCEPTION WHEN feature_not_supported THEN NULL; END $$")


def downgrade() -> None:
    for column in COLUMNS:
        op.execute(f"ALTER TABLE pattern_results ALTER COLUMN {column} SET COMPRESSION default")
