"""console sign-in: officers' passwords, factors, enrolment links and sessions; review notes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("officer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("enrolment_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("enrolment_expires", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("notify_to", sa.String(length=500), nullable=True))
        batch_op.create_unique_constraint("uq_officer_enrolment_hash", ["enrolment_hash"])
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_note", sa.String(length=1000), nullable=True))
    op.create_table(
        "officer_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    with op.batch_alter_table("officer_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_credential_officer_id"), ["officer_id"], unique=False
        )
    op.create_table(
        "officer_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("officer_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_session_officer_id"), ["officer_id"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("officer_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_session_officer_id"))
    op.drop_table("officer_session")
    with op.batch_alter_table("officer_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_credential_officer_id"))
    op.drop_table("officer_credential")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("review_note")
    with op.batch_alter_table("officer", schema=None) as batch_op:
        batch_op.drop_constraint("uq_officer_enrolment_hash", type_="unique")
        batch_op.drop_column("notify_to")
        batch_op.drop_column("enrolment_expires")
        batch_op.drop_column("enrolment_hash")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("password_hash")
