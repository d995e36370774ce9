"""dispatch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:23:23.413792
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "subscriber_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscriber_channel_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_channel")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_subscriber_channel_token_hash")),
    )
    with op.batch_alter_table("subscriber_channel", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_channel_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "subscriber_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscriber_verification_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_verification")),
    )
    with op.batch_alter_table("subscriber_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_verification_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "dispatch_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_dispatch_job_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_job")),
        sa.UniqueConstraint("alert_id", "version", name=op.f("uq_dispatch_job_alert_id")),
    )
    with op.batch_alter_table("dispatch_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatch_job_state"), ["state"], unique=False)

    op.create_table(
        "delivery",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_delivery_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["dispatch_job.id"], name=op.f("fk_delivery_job_id_dispatch_job")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscriber.id"], name=op.f("fk_delivery_subscriber_id_subscriber")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint(
            "alert_id", "version", "subscriber_id", "channel_id", name=op.f("uq_delivery_alert_id")
        ),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_claim", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_provider_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_job_id"))
        batch_op.drop_index("ix_delivery_claim")

    op.drop_table("delivery")
    with op.batch_alter_table("dispatch_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatch_job_state"))

    op.drop_table("dispatch_job")
    with op.batch_alter_table("subscriber_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_verification_subscriber_id"))

    op.drop_table("subscriber_verification")
    with op.batch_alter_table("subscriber_channel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_channel_subscriber_id"))

    op.drop_table("subscriber_channel")
