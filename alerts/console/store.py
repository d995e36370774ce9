"""Every query and write of the console's sign-in: officers' sessions, WebAuthn credentials,
enrolment links, and sign-in events in the audit trail.

Functions take the caller's SQLAlchemy session and write inside the caller's transaction
(`haven.db.write`); none commits.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from alerts.models import AuditEntry, Officer, OfficerCredential, OfficerSession

# Officers


def get_officer_by_enrolment(*, session: Session, enrolment_hash: str) -> Officer | None:
    """The officer whose outstanding enrolment link has this hash (expired or not)."""
    return session.scalar(select(Officer).where(Officer.enrolment_hash == enrolment_hash))


def claim_enrolment(*, session: Session, officer_id: int, enrolment_hash: str) -> bool:
    """Spend an officer's enrolment link (inside the caller's write transaction): False when
    it was spent or replaced meanwhile. A concurrent second use waits for the first and then
    finds nothing to spend."""
    result = session.execute(
        update(Officer)
        .where(Officer.id == officer_id, Officer.enrolment_hash == enrolment_hash)
        .values(enrolment_hash=None, enrolment_expires=None)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


# WebAuthn credentials


def get_credential(*, session: Session, credential_id: str) -> OfficerCredential | None:
    """The credential with this id (base64url), whoever registered it."""
    return session.scalar(
        select(OfficerCredential).where(OfficerCredential.credential_id == credential_id)
    )


def fetch_credentials(*, session: Session, officer_id: int) -> list[OfficerCredential]:
    """An officer's WebAuthn credentials, oldest first."""
    return list(
        session.scalars(
            select(OfficerCredential)
            .where(OfficerCredential.officer_id == officer_id)
            .order_by(OfficerCredential.id)
        )
    )


def add_credential(
    *,
    session: Session,
    officer_id: int,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
    now: datetime.datetime,
) -> OfficerCredential:
    """Store a verified WebAuthn credential (inside the caller's write transaction)."""
    row = OfficerCredential(
        officer_id=officer_id,
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        transports=transports,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def delete_credentials(*, session: Session, officer_id: int) -> None:
    """Remove an officer's WebAuthn credentials (inside the caller's write transaction)."""
    session.execute(delete(OfficerCredential).where(OfficerCredential.officer_id == officer_id))


# Sessions


def add_session(
    *, session: Session, token_hash: str, officer_id: int, now: datetime.datetime
) -> None:
    """Store a new console session by its token's hash (inside the caller's write
    transaction)."""
    session.add(
        OfficerSession(token_hash=token_hash, officer_id=officer_id, created_at=now, last_seen=now)
    )


def get_session_by_token(
    *, session: Session, token_hash: str
) -> tuple[OfficerSession, Officer] | None:
    """The console session with this token hash and its officer, ended or not."""
    row = session.execute(
        select(OfficerSession, Officer)
        .join(Officer, Officer.id == OfficerSession.officer_id)
        .where(OfficerSession.token_hash == token_hash)
    ).first()
    return None if row is None else (row[0], row[1])


def touch_session(*, session: Session, session_id: int, now: datetime.datetime) -> None:
    """Move a session's last request to `now` (inside the caller's write transaction)."""
    session.execute(
        update(OfficerSession).where(OfficerSession.id == session_id).values(last_seen=now)
    )


def end_session(*, session: Session, token_hash: str, now: datetime.datetime) -> None:
    """End the session with this token hash, if it is open (inside the caller's write
    transaction)."""
    session.execute(
        update(OfficerSession)
        .where(OfficerSession.token_hash == token_hash, OfficerSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions(*, session: Session, officer_id: int, now: datetime.datetime) -> int:
    """End every open session of an officer (inside the caller's write transaction); how
    many."""
    result = session.execute(
        update(OfficerSession)
        .where(OfficerSession.officer_id == officer_id, OfficerSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# The audit trail


def record_event(
    *,
    session: Session,
    agency_id: int,
    officer_id: int | None,
    action: str,
    now: datetime.datetime,
    **changes: Any,
) -> None:
    """Write a sign-in event to the audit trail (no alert; inside the caller's write
    transaction). Never given a password, a code or an address."""
    session.add(
        AuditEntry(
            alert_id=None,
            agency_id=agency_id,
            officer_id=officer_id,
            action=action,
            at=now,
            changes=changes,
        )
    )
