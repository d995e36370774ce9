"""alert photos: each child's photo, fetched at approval and served by Haven

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "alert_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_photo_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_photo")),
    )
    with op.batch_alter_table("alert_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_photo_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("alert_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_photo_alert_id"))
    op.drop_table("alert_photo")
