"""Take It Down tables. Anonymous by construction: no column can hold who submitted a case."""

from __future__ import annotations

import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, BigId, UTCDateTime

MEDIA = ("image", "video")
ALGORITHMS = ("md5", "sha1", "sha256", "pdq", "vpdq")
# A vpdq hash's `value` is the SHA-256 digest of its canonical signal string (takedown.vpdq);
# the signal string itself, its frames, is in HashFeatures.
VPDQ = "vpdq"
OUTCOMES = ("matched", "removed", "not_violating", "unable_to_action")
ACTIVE, WITHDRAWN = "active", "withdrawn"
# The signals the StopNCII protocol defines; its route serves only these.
STOPNCII_SIGNALS = (("image", "pdq"), ("video", "md5"))


class Platform(Base):
    """A participating platform. Only hashes of its credentials are kept."""

    __tablename__ = "platform"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The name the families' page lists it under; None keeps it off that list.
    public_name: Mapped[str | None] = mapped_column(String(100))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    stopncii_subscription_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    stopncii_fetch_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # Highest feed cursor the native feed delivered to this platform: every change at or below
    # it was fetched, of every algorithm.
    fetched_cursor: Mapped[int] = mapped_column(BigId, default=0)
    # The same through the StopNCII route, which serves only STOPNCII_SIGNALS: a change of
    # another signal at or below it was never served by that route.
    stopncii_fetched_cursor: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    native_polled_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    stopncii_polled_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # A sandbox platform sees only synthetic hashes, on the sandbox routes only.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # After a rotation the previous credentials keep working until this moment.
    previous_api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_stopncii_subscription_key_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True
    )
    previous_stopncii_fetch_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_key_expires_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class Case(Base):
    """A family's removal request: a number, a slow hash of its PIN, and hour-grained times."""

    __tablename__ = "takedown_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class Hash(Base):
    """One distinct hash, shared by every case that submitted it; active while any case is.

    Sandbox hashes are synthetic, held by no case, and a row of their own even when a value
    equals a real one: the real feed never serves them, the sandbox feed serves nothing else.
    """

    __tablename__ = "takedown_hash"
    __table_args__ = (UniqueConstraint("sandbox", "media", "algorithm", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media: Mapped[str] = mapped_column(String(8))
    algorithm: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    cursor: Mapped[int] = mapped_column(BigId, index=True)
    changed_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class HashFeatures(Base):
    """The frames of a vpdq hash: its canonical signal string, which its `value` digests.

    Written once, with the hash row; never changed (another spelling of the same frames has
    the same canonical string, so the same digest and the same row).
    """

    __tablename__ = "takedown_hash_features"

    hash_id: Mapped[int] = mapped_column(ForeignKey("takedown_hash.id"), primary_key=True)
    features: Mapped[str] = mapped_column(Text)


class CaseHash(Base):
    """Which case holds which hash."""

    __tablename__ = "takedown_case_hash"

    case_id: Mapped[int] = mapped_column(ForeignKey("takedown_case.id"), primary_key=True)
    hash_id: Mapped[int] = mapped_column(
        ForeignKey("takedown_hash.id"), primary_key=True, index=True
    )


class FeedChange(Base):
    """The append-only feed: one row per change of a hash's status, in commit order.

    Self-contained (media, algorithm and value are copied in) so a page is one index range scan.
    """

    __tablename__ = "takedown_feed_change"
    __table_args__ = ({"sqlite_autoincrement": True},)

    cursor: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hash_id: Mapped[int] = mapped_column(ForeignKey("takedown_hash.id"))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media: Mapped[str] = mapped_column(String(8))
    algorithm: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, index=True)


class FeedPending(Base):
    """A case whose hashes the feed has yet to catch up with: queued when the case is submitted
    or withdrawn, in the same transaction, and taken off by the sequencer
    (takedown.service.sequence_feed), which gives the changes their cursors after commit."""

    __tablename__ = "takedown_feed_pending"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("takedown_case.id"))


class Feedback(Base):
    """What one platform last reported doing about one hash, whichever API carried it.

    One row per (platform, hash): a later report replaces the outcome and its item count.
    """

    __tablename__ = "takedown_feedback"

    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id"), primary_key=True)
    hash_id: Mapped[int] = mapped_column(ForeignKey("takedown_hash.id"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


Index("ix_takedown_feedback_hash", Feedback.hash_id)


class SupersededFeedback(Base):
    """Feedback rows that migration 0006 merged away when feedback became one row per
    (platform, hash): kept as they were, for the record. Haven never reads them."""

    __tablename__ = "takedown_feedback_superseded"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer)
    hash_id: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
