"""feed pending: cases whose feed changes still wait for their cursors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "takedown_feed_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["takedown_case.id"],
            name=op.f("fk_takedown_feed_pending_case_id_takedown_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_feed_pending")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("takedown_feed_pending")
