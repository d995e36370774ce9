"""provider and public name: which SMS provider took each delivery; a platform's public name

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=16), nullable=True))
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("public_name")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("provider")
