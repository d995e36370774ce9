"""platforms: fetch accounting per route, one feedback row per (platform, hash), key rotation,
sandbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 12:00:00.000000

Feedback rows that differ only by outcome are merged: the row with the latest `updated_at`
is kept. `updated_at` is hour-grained, so rows of the same hour tie; the tie goes to the
outcome that settles the matter (removed, then not_violating, unable_to_action, matched).
The rows merged away are kept, unchanged, in `takedown_feedback_superseded` (nothing stored
is lost; Haven never reads them), and the migration logs how many there were. A downgrade
puts them back.

The existing `fetched_cursor` cannot tell which route advanced it; it stays the native
cursor, and the StopNCII cursor starts at 0.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# When two reports of one hour tie, the first outcome here wins.
_TIE_ORDER = ("removed", "not_violating", "unable_to_action", "matched")


FEEDBACK_COLUMNS = ("platform_id", "hash_id", "outcome", "count", "updated_at")


def _feedback_table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("platform_id", sa.Integer),
        sa.column("hash_id", sa.Integer),
        sa.column("outcome", sa.String),
        sa.column("count", sa.Integer),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )


def _merge_duplicate_feedback() -> int:
    """Keep one feedback row per (platform, hash): the latest; move the others into
    takedown_feedback_superseded. Returns how many were moved."""
    connection = op.get_bind()
    feedback = _feedback_table("takedown_feedback")
    superseded = _feedback_table("takedown_feedback_superseded")
    duplicated = connection.execute(
        sa.select(feedback.c.platform_id, feedback.c.hash_id)
        .group_by(feedback.c.platform_id, feedback.c.hash_id)
        .having(sa.func.count() > 1)
    ).all()
    removed = 0
    for platform_id, hash_id in duplicated:
        mine = (feedback.c.platform_id == platform_id) & (feedback.c.hash_id == hash_id)
        rows = connection.execute(
            sa.select(feedback.c.outcome, feedback.c.updated_at).where(mine)
        ).all()

        def rank(row: sa.Row[tuple[str, object]]) -> tuple[object, int]:
            order = _TIE_ORDER.index(row[0]) if row[0] in _TIE_ORDER else len(_TIE_ORDER)
            return (row[1], -order)

        keep = max(rows, key=rank)[0]
        older = mine & (feedback.c.outcome != keep)
        connection.execute(
            sa.insert(superseded).from_select(
                list(FEEDBACK_COLUMNS),
                sa.select(*(feedback.c[name] for name in FEEDBACK_COLUMNS)).where(older),
            )
        )
        result = connection.execute(sa.delete(feedback).where(older))
        removed += result.rowcount
    return removed


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "takedown_feedback_superseded",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("hash_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_feedback_superseded")),
    )
    removed = _merge_duplicate_feedback()
    if removed:
        log.warning(
            "takedown_feedback: %d older rows moved to takedown_feedback_superseded"
            " (latest outcome kept)",
            removed,
        )
    with op.batch_alter_table("takedown_feedback", schema=None) as batch_op:
        batch_op.drop_constraint("pk_takedown_feedback", type_="primary")
        batch_op.create_primary_key("pk_takedown_feedback", ["platform_id", "hash_id"])

    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "stopncii_fetched_cursor",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("native_polled_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("stopncii_polled_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sandbox", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("previous_api_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "previous_stopncii_subscription_key_hash", sa.String(length=64), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("previous_stopncii_fetch_key_hash", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_key_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_platform_previous_api_key_hash"), ["previous_api_key_hash"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_platform_previous_stopncii_subscription_key_hash"),
            ["previous_stopncii_subscription_key_hash"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_platform_previous_stopncii_fetch_key_hash"),
            ["previous_stopncii_fetch_key_hash"],
        )

    with op.batch_alter_table("takedown_hash", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sandbox", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_constraint("uq_takedown_hash_media", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_takedown_hash_sandbox"), ["sandbox", "media", "algorithm", "value"]
        )

    with op.batch_alter_table("takedown_feed_change", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sandbox", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Revert this migration. Sandbox hashes and their changes are deleted first."""
    op.execute(
        "DELETE FROM takedown_feedback"
        " WHERE hash_id IN (SELECT id FROM takedown_hash WHERE sandbox)"
    )
    op.execute("DELETE FROM takedown_feed_change WHERE sandbox")
    op.execute("DELETE FROM takedown_hash WHERE sandbox")
    op.execute("DELETE FROM platform WHERE sandbox")
    with op.batch_alter_table("takedown_feed_change", schema=None) as batch_op:
        batch_op.drop_column("sandbox")
    with op.batch_alter_table("takedown_hash", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_takedown_hash_sandbox"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_takedown_hash_media"), ["media", "algorithm", "value"]
        )
        batch_op.drop_column("sandbox")
    with op.batch_alter_table("platform", schema=None) as batch_op:
        for name in (
            "previous_stopncii_fetch_key_hash",
            "previous_stopncii_subscription_key_hash",
            "previous_api_key_hash",
        ):
            batch_op.drop_constraint(batch_op.f(f"uq_platform_{name}"), type_="unique")
        for name in (
            "previous_key_expires_at",
            "previous_stopncii_fetch_key_hash",
            "previous_stopncii_subscription_key_hash",
            "previous_api_key_hash",
            "sandbox",
            "stopncii_polled_at",
            "native_polled_at",
            "stopncii_fetched_cursor",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("takedown_feedback", schema=None) as batch_op:
        batch_op.drop_constraint("pk_takedown_feedback", type_="primary")
        batch_op.create_primary_key("pk_takedown_feedback", ["platform_id", "hash_id", "outcome"])
    columns = ", ".join(FEEDBACK_COLUMNS)
    op.execute(
        f"INSERT INTO takedown_feedback ({columns})"  # noqa: S608 (constant names)
        f" SELECT {columns} FROM takedown_feedback_superseded"
    )
    op.drop_table("takedown_feedback_superseded")
