"""vpdq: the frames of each vPDQ hash, in a table of their own

A vpdq hash's `takedown_hash.value` is the SHA-256 digest (64 hex) of its canonical signal
string, so `value` keeps its width and its unique index; the signal string itself is kept
once per hash in `takedown_hash_features`. `algorithm` (String(8)) already holds "vpdq".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "takedown_hash_features",
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hash_id"],
            ["takedown_hash.id"],
            name=op.f("fk_takedown_hash_features_hash_id_takedown_hash"),
        ),
        sa.PrimaryKeyConstraint("hash_id", name=op.f("pk_takedown_hash_features")),
    )


def downgrade() -> None:
    """Revert this migration: vpdq hashes keep their digests but lose their frames."""
    op.drop_table("takedown_hash_features")
