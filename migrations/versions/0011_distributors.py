"""distributors: secondary distributors Haven pushes CAP to, and each push's attempts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 23:06:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "distributor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("area", sa.JSON(), nullable=True),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributor")),
        sa.UniqueConstraint("name", name=op.f("uq_distributor_name")),
    )
    op.create_table(
        "distributor_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("distributor_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("alert_version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_distributor_delivery_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["distributor_id"],
            ["distributor.id"],
            name=op.f("fk_distributor_delivery_distributor_id_distributor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributor_delivery")),
        sa.UniqueConstraint(
            "distributor_id",
            "alert_id",
            "alert_version",
            name=op.f("uq_distributor_delivery_distributor_id"),
        ),
    )
    with op.batch_alter_table("distributor_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_distributor_delivery_alert_id"), ["alert_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_distributor_delivery_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_distributor_delivery_status"), ["status"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("distributor_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distributor_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_distributor_delivery_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_distributor_delivery_alert_id"))
    op.drop_table("distributor_delivery")
    op.drop_table("distributor")
