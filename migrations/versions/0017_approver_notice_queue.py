"""approver notice queue: notices to approvers are stored with the submit, sent by the worker

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "approver_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_approver_notice_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_approver_notice_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approver_notice")),
    )
    with op.batch_alter_table("approver_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approver_notice_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_approver_notice_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("approver_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_approver_notice_due")
        batch_op.drop_index(batch_op.f("ix_approver_notice_alert_id"))
    op.drop_table("approver_notice")
