"""delivery reason and deferrals: why a delivery failed (or was last put off), for a person to
read, and how often the provider said "try later" (which spends no attempt)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("deferrals")
        batch_op.drop_column("reason")
