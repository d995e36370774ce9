"""alert revision: goes up with every change of an alert's content, so an approval can name
the revision the approver reviewed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("revision")
