"""subscriber language numbers: every subscriber's language carries a commit-ordered number

`subscriber.language_seq` is taken from the `subscriber_languages` counter on every insert of
a subscriber and every change of its language, so the console's per-language audience counts
catch up by reading only the rows numbered above the last number seen. Existing rows are
numbered by id and the counter starts at the highest number given.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTER = "subscriber_languages"


def upgrade() -> None:
    """Apply this migration."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language_seq", big_id, nullable=True))
    op.execute("UPDATE subscriber SET language_seq = id")
    op.execute(
        sa.text(
            "INSERT INTO haven_counter (name, value)"
            " SELECT :name, COALESCE(MAX(language_seq), 0) FROM subscriber"
        ).bindparams(name=COUNTER)
    )
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("language_seq", existing_type=big_id, nullable=False)
        batch_op.create_index(
            batch_op.f("ix_subscriber_language_seq"), ["language_seq"], unique=False
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_language_seq"))
        batch_op.drop_column("language_seq")
    op.execute(sa.text("DELETE FROM haven_counter WHERE name = :name").bindparams(name=COUNTER))
