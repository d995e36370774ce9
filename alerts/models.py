"""AMBER alert tables: agencies, officers, alerts, their versions and audit trail, subscribers."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, BigId, UTCDateTime


class Agency(Base):
    """An authorised issuer of alerts, with the area it may alert."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The jurisdiction as a GeoJSON geometry (lon/lat), and the SAME codes it came from.
    jurisdiction: Mapped[dict[str, Any]] = mapped_column(JSON)
    jurisdiction_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    # The IANA time zone its alerts' times are shown in (e.g. America/Chicago); None: the zone
    # at the jurisdiction's location.
    timezone: Mapped[str | None] = mapped_column(String(64))


class Officer(Base):
    """A person who drafts, approves, updates and cancels alerts for an agency."""

    __tablename__ = "officer"
    __table_args__ = (UniqueConstraint("agency_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    name: Mapped[str] = mapped_column(String(200))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_approver: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # Console sign-in (docs/console.md): an argon2 password hash, an authenticator app's TOTP
    # secret (base32) when the officer chose one, and the one-time enrolment link's hash and
    # end of validity while one is outstanding.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    enrolment_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # Where an approver is told an alert waits for them: an Apprise URL or an E.164 number.
    notify_to: Mapped[str | None] = mapped_column(String(500))


class OfficerCredential(Base):
    """A WebAuthn credential (security key or passkey) an officer registered."""

    __tablename__ = "officer_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    # The credential id as the authenticator gave it, base64url without padding.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class OfficerSession(Base):
    """A console sign-in: the cookie carries a secret whose hash is stored here, so that
    revoking an officer, or signing out, ends the session at once."""

    __tablename__ = "officer_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """An alert and its current version. Earlier versions live in AlertVersion."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))  # Actual, Exercise, Test
    state: Mapped[str] = mapped_column(String(10), index=True)  # draft ... expired
    # Goes up with every change of content: an approval names the revision it reviewed.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    version: Mapped[int] = mapped_column(default=0)  # 0 until first sent
    created_by: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    expires: Mapped[datetime.datetime] = mapped_column(UTCDateTime, index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(20))
    # Why an approver returned the alert to draft or rejected it, for the drafter to see.
    review_note: Mapped[str | None] = mapped_column(String(1000))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AlertVersion(Base):
    """One message that went out: the first alert, each update, the cancellation."""

    __tablename__ = "alert_version"
    __table_args__ = (UniqueConstraint("alert_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    version: Mapped[int]
    msg_type: Mapped[str] = mapped_column(String(10))  # Alert, Update, Cancel
    sent_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only: who did what to which alert, when, and what changed."""

    __tablename__ = "alert_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    action: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Subscriber(Base):
    """A member of the public who receives alerts.

    `language_seq` is taken from the `subscriber_languages` counter on insert and on every
    change of `language`, so per-language audience counts catch up by reading the rows with a
    higher `language_seq` than they have seen.
    """

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    language: Mapped[str] = mapped_column(String(5), default="en")
    language_seq: Mapped[int] = mapped_column(BigId, index=True)
    # active, pending, opted_out, unreachable (Twilio: no such mobile number)
    status: Mapped[str] = mapped_column(String(12), default="active")
    is_tester: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class SubscriberLocation(Base):
    """One of a subscriber's places (at most five).

    `seq` is taken from the `locations` counter on every change, so each process's audience
    index catches up by reading the rows with a higher `seq` than it has seen.
    """

    __tablename__ = "subscriber_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    zip: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    seq: Mapped[int] = mapped_column(BigId, index=True)


Index("ix_alert_audit_agency_at", AuditEntry.agency_id, AuditEntry.at)


class Channel(Base):
    """A non-SMS destination for a subscriber's alerts: an Apprise URL (email, push, webhook).

    Active only once confirmed through the link sent to it.
    """

    __tablename__ = "subscriber_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # active, removed
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class Verification(Base):
    """A one-time code sent by SMS to confirm a web-form subscription (double opt-in)."""

    __tablename__ = "subscriber_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class DispatchJob(Base):
    """One alert version to deliver: written in the same transaction as the version itself,
    so no approved alert can be lost between approval and sending."""

    __tablename__ = "dispatch_job"
    __table_args__ = (UniqueConstraint("alert_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    version: Mapped[int]
    msg_type: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    recorded: Mapped[int] = mapped_column(default=0)  # deliveries recorded so far
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One message to one subscriber on one channel for one alert version.

    `channel_id` 0 is SMS to the subscriber's phone; otherwise a subscriber_channel id.
    The unique key makes recording idempotent under retries and double activation.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "version", "subscriber_id", "channel_id"),
        # Claims read deliveries by status and kind (SMS: channel 0), longest waiting first.
        Index("ix_delivery_due", "status", "channel_id", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("dispatch_job.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    version: Mapped[int]
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"))
    channel_id: Mapped[int] = mapped_column(default=0)
    # pending, sending, queued, sent, delivered, undelivered, failed, skipped
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    # Which SMS provider took it ("twilio", "vonage"); the provider's own id for it.
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str | None] = mapped_column(String(16))
    # Why it failed (or was last put off), for a person: "render: KeyError: 'name'".
    reason: Mapped[str | None] = mapped_column(String(200))
    # Times the provider said "try later" (HTTP 429/5xx): they grow the backoff but spend no
    # attempt, so an outage cannot use up an alert's attempts.
    deferrals: Mapped[int] = mapped_column(default=0, server_default="0")
    sent_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class AlertPhoto(Base):
    """A child's photo, fetched once (at approval, or at an update that names a new one) and
    served from Haven at a URL carrying its digest (alerts/photos.py).

    A child shows the photo fetched from its `photo_url`: keyed by the URL, not the child's
    place in the list, a photo stays with its child however an update reorders them, and an
    update that names a new URL never shows the old photo again.
    """

    __tablename__ = "alert_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    source_url: Mapped[str] = mapped_column(Text)  # the child's photo_url, as given
    media_type: Mapped[str] = mapped_column(String(64))  # from the bytes, never the server
    size: Mapped[int] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256, hex: the URL Haven serves it at
    sha1: Mapped[str] = mapped_column(String(40))  # hex: CAP 1.2's <digest> is SHA-1
    data: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class Distributor(Base):
    """A secondary distributor (app, sign network, broadcaster) that Haven pushes CAP to."""

    __tablename__ = "distributor"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # The HMAC key Haven signs its pushes with; shown once at registration. Kept as it is,
    # not hashed: Haven needs the key itself to sign.
    secret: Mapped[str] = mapped_column(String(128))
    # The receiver's area as a GeoJSON geometry (lon/lat), and the SAME codes it came from;
    # None: every alert, wherever it is.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    area_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class DistributorDelivery(Base):
    """One CAP message (alert, update or cancel) to push to one distributor, and its attempts."""

    __tablename__ = "distributor_delivery"
    __table_args__ = (UniqueConstraint("distributor_id", "alert_id", "alert_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributor.id"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    alert_version: Mapped[int] = mapped_column()
    msg_type: Mapped[str] = mapped_column(String(10))  # Alert, Update, Cancel
    status: Mapped[str] = mapped_column(String(10), index=True)  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime, index=True)
    # While `sending`: the claim's end; a push whose worker died is taken over after it.
    lease_until: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)


class ApproverNotice(Base):
    """One approver to tell that an alert waits for their approval: stored with the submit,
    sent by the worker (alerts/approvals/). The address is read from the officer when the
    notice is sent, never copied here (an Apprise URL may hold a password)."""

    __tablename__ = "approver_notice"
    __table_args__ = (Index("ix_approver_notice_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))  # the approver
    status: Mapped[str] = mapped_column(String(10))  # pending, sending, sent, failed, skipped
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    # While `sending`: the claim's end; a notice whose worker died is taken over after it.
    lease_until: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed, was retried or skipped
    created_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime)
