"""database identity: one row naming this database, written once at migration

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00.000000
"""

import datetime
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    table = op.create_table(
        "haven_instance",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_haven_instance")),
    )
    # A fresh random id per database: a reset or restore-into-new-database gets a new one, so
    # caches built from another database (the audience snapshot) can tell they are foreign.
    op.bulk_insert(
        table,
        [{"id": uuid.uuid4().hex, "created_at": datetime.datetime.now(datetime.UTC)}],
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("haven_instance")
