"""takedown: cases, hashes, feed, platforms

Revision ID: 0001
Revises:
Create Date: 2026-11-22 12:03:50.127992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "platform",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("stopncii_subscription_key_hash", sa.String(length=64), nullable=False),
        sa.Column("stopncii_fetch_key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "fetched_cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_platform_api_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_platform_name")),
        sa.UniqueConstraint(
            "stopncii_fetch_key_hash", name=op.f("uq_platform_stopncii_fetch_key_hash")
        ),
        sa.UniqueConstraint(
            "stopncii_subscription_key_hash",
            name=op.f("uq_platform_stopncii_subscription_key_hash"),
        ),
    )
    op.create_table(
        "takedown_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_case")),
        sa.UniqueConstraint("number", name=op.f("uq_takedown_case_number")),
    )
    op.create_table(
        "takedown_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media", sa.String(length=8), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_hash")),
        sa.UniqueConstraint("media", "algorithm", "value", name=op.f("uq_takedown_hash_media")),
    )
    with op.batch_alter_table("takedown_hash", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_hash_cursor"), ["cursor"], unique=False)

    op.create_table(
        "takedown_case_hash",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["takedown_case.id"],
            name=op.f("fk_takedown_case_hash_case_id_takedown_case"),
        ),
        sa.ForeignKeyConstraint(
            ["hash_id"],
            ["takedown_hash.id"],
            name=op.f("fk_takedown_case_hash_hash_id_takedown_hash"),
        ),
        sa.PrimaryKeyConstraint("case_id", "hash_id", name=op.f("pk_takedown_case_hash")),
    )
    with op.batch_alter_table("takedown_case_hash", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_case_hash_hash_id"), ["hash_id"], unique=False
        )

    op.create_table(
        "takedown_feed_change",
        sa.Column(
            "cursor",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("media", sa.String(length=8), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hash_id"],
            ["takedown_hash.id"],
            name=op.f("fk_takedown_feed_change_hash_id_takedown_hash"),
        ),
        sa.PrimaryKeyConstraint("cursor", name=op.f("pk_takedown_feed_change")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("takedown_feed_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_feed_change_changed_at"), ["changed_at"], unique=False
        )

    op.create_table(
        "takedown_feedback",
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hash_id"],
            ["takedown_hash.id"],
            name=op.f("fk_takedown_feedback_hash_id_takedown_hash"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_takedown_feedback_platform_id_platform")
        ),
        sa.PrimaryKeyConstraint(
            "platform_id", "hash_id", "outcome", name=op.f("pk_takedown_feedback")
        ),
    )
    with op.batch_alter_table("takedown_feedback", schema=None) as batch_op:
        batch_op.create_index("ix_takedown_feedback_hash", ["hash_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("takedown_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_takedown_feedback_hash")

    op.drop_table("takedown_feedback")
    with op.batch_alter_table("takedown_feed_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_feed_change_changed_at"))

    op.drop_table("takedown_feed_change")
    with op.batch_alter_table("takedown_case_hash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_case_hash_hash_id"))

    op.drop_table("takedown_case_hash")
    with op.batch_alter_table("takedown_hash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_hash_cursor"))

    op.drop_table("takedown_hash")
    op.drop_table("takedown_case")
    op.drop_table("platform")
