"""delivery due index: claims read an ordered index range per kind instead of sorting

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_claim")
        batch_op.create_index(
            "ix_delivery_due", ["status", "channel_id", "next_attempt_at", "id"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_due")
        batch_op.create_index("ix_delivery_claim", ["status", "next_attempt_at"], unique=False)
