"""alerts: agencies, officers, alerts, audit, subscribers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:16:35.977816
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.JSON(), nullable=False),
        sa.Column("jurisdiction_codes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("name", name=op.f("uq_agency_name")),
    )
    op.create_table(
        "haven_counter",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_haven_counter")),
    )
    op.create_table(
        "subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("is_tester", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber")),
        sa.UniqueConstraint("phone", name=op.f("uq_subscriber_phone")),
    )
    op.create_table(
        "officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("is_approver", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_officer_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer")),
        sa.UniqueConstraint("agency_id", "name", name=op.f("uq_officer_agency_id")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_officer_api_key_hash")),
    )
    op.create_table(
        "subscriber_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("zip", sa.String(length=5), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscriber_location_subscriber_id_subscriber"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_location")),
    )
    with op.batch_alter_table("subscriber_location", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriber_location_seq"), ["seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_subscriber_location_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_reason", sa.String(length=20), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_alert_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["officer.id"], name=op.f("fk_alert_created_by_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_expires"), ["expires"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_state"), ["state"], unique=False)

    op.create_table(
        "alert_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_alert_audit_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_audit_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_alert_audit_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_audit")),
    )
    with op.batch_alter_table("alert_audit", schema=None) as batch_op:
        batch_op.create_index("ix_alert_audit_agency_at", ["agency_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_audit_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "alert_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_version_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_version")),
        sa.UniqueConstraint("alert_id", "version", name=op.f("uq_alert_version_alert_id")),
    )

    op.bulk_insert(
        sa.table("haven_counter", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "locations", "value": 0}],
    )
    # The audit trail is append-only, whatever connects to the database.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION alert_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'alert_audit is append-only'; END$$"
        )
        op.execute(
            "CREATE TRIGGER alert_audit_append_only BEFORE UPDATE OR DELETE ON alert_audit "
            "FOR EACH ROW EXECUTE FUNCTION alert_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER alert_audit_no_{event.lower()} BEFORE {event} ON alert_audit "
                "BEGIN SELECT RAISE(ABORT, 'alert_audit is append-only'); END"
            )


def downgrade() -> None:
    """Revert this migration."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER alert_audit_append_only ON alert_audit")
        op.execute("DROP FUNCTION alert_audit_append_only()")
    op.drop_table("alert_version")
    with op.batch_alter_table("alert_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_audit_alert_id"))
        batch_op.drop_index("ix_alert_audit_agency_at")

    op.drop_table("alert_audit")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_state"))
        batch_op.drop_index(batch_op.f("ix_alert_expires"))
        batch_op.drop_index(batch_op.f("ix_alert_agency_id"))

    op.drop_table("alert")
    with op.batch_alter_table("subscriber_location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_location_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_location_seq"))

    op.drop_table("subscriber_location")
    op.drop_table("officer")
    op.drop_table("subscriber")
    op.drop_table("haven_counter")
    op.drop_table("agency")
