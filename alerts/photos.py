"""Children's photos: fetched once, when an alert is approved (or an update names a new one),
stored with the version that shows them, and served from Haven's own origin at a URL carrying
their SHA-256; read back for the page, CAP, Atom and channel messages. docs/photos.md.

Fetching is `alerts.photo_fetch`. A photo that cannot be fetched does not hold the alert back:
the officer is told why (in the answer to the approval and in the audit trail) and the alert
goes out without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from alerts import store
from alerts.content import AlertContent, StoredChild
from alerts.models import Alert, AlertPhoto
from alerts.photo_fetch import EXTENSIONS, FetchedPhoto, PhotoProblem
from alerts.providers import Attachment
from haven.db import utcnow

# Storing and reporting


@dataclasses.dataclass(frozen=True)
class PhotoOutcome:
    """What became of one child's photo, as the officer is told."""

    child: int  # the child's place in the alert's children
    name: str
    source_url: str
    status: Literal["stored", "not_used"]
    path: str | None = None  # where Haven serves it, on its public URL
    media_type: str | None = None
    size: int | None = None
    digest: str | None = None
    code: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """This outcome as the API and the audit trail show it."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def photo_path(*, alert_id: int, digest: str, media_type: str) -> str:
    """Where Haven serves a photo (on its public URL)."""
    return f"/alerts/{alert_id}/photos/{digest}.{EXTENSIONS[media_type]}"


def urls_to_fetch(
    *, session: Session, alert: Alert, urls: Sequence[str] | None = None
) -> list[str]:
    """Those of `urls` (by default, the alert's children's photo URLs) that no stored photo
    of the alert was fetched from yet."""
    if urls is None:
        children = AlertContent.from_stored(alert.content).children
        urls = [child.photo_url for child in children if child.photo_url]
    stored = {p.source_url for p in store.fetch_photos(session=session, alert_id=alert.id)}
    return [url for url in dict.fromkeys(urls) if url not in stored]


def save_photos(
    *,
    session: Session,
    alert: Alert,
    fetched: dict[str, FetchedPhoto | PhotoProblem],
) -> list[PhotoOutcome]:
    """Store the photos fetched for the alert's current content, in the caller's
    transaction, and say what became of each child's photo."""
    stored = {p.source_url: p for p in store.fetch_photos(session=session, alert_id=alert.id)}
    for url, result in fetched.items():
        if isinstance(result, FetchedPhoto) and url not in stored:
            stored[url] = store.save(
                session=session,
                row=AlertPhoto(
                    alert_id=alert.id,
                    source_url=url,
                    media_type=result.media_type,
                    size=len(result.data),
                    digest=hashlib.sha256(result.data).hexdigest(),
                    sha1=hashlib.sha1(result.data, usedforsecurity=False).hexdigest(),
                    data=result.data,
                    fetched_at=utcnow(),
                ),
            )
    outcomes = []
    for number, child in enumerate(AlertContent.from_stored(alert.content).children):
        if not child.photo_url:
            continue
        photo = stored.get(child.photo_url)
        if photo is not None:
            outcomes.append(
                PhotoOutcome(
                    number,
                    child.name,
                    child.photo_url,
                    "stored",
                    path=photo_path(
                        alert_id=alert.id, digest=photo.digest, media_type=photo.media_type
                    ),
                    media_type=photo.media_type,
                    size=photo.size,
                    digest=photo.digest,
                )
            )
            continue
        problem = fetched.get(child.photo_url)
        if not isinstance(problem, PhotoProblem):
            problem = PhotoProblem("photo_not_fetched", "Haven did not fetch this photo.")
        outcomes.append(
            PhotoOutcome(
                number,
                child.name,
                child.photo_url,
                "not_used",
                code=problem.code,
                message=f"{problem.message} The alert goes out without this photo.",
            )
        )
    return outcomes


# Reading back


@dataclasses.dataclass(frozen=True)
class ChildPhoto:
    """A child's stored photo, as pages, CAP, Atom and messages refer to it (no bytes)."""

    alert_id: int
    child: int  # the child's place in the alert's children
    name: str
    media_type: str
    size: int
    digest: str  # SHA-256, hex
    sha1: str  # hex, for CAP's <digest>

    @property
    def path(self) -> str:
        """Where Haven serves it (on its public URL)."""
        return photo_path(alert_id=self.alert_id, digest=self.digest, media_type=self.media_type)

    @property
    def filename(self) -> str:
        """A plain file name for it as an attachment: photo-1.jpg for the first child."""
        return f"photo-{self.child + 1}.{EXTENSIONS[self.media_type]}"


def child_photos(
    *, session: Session, alert_id: int, children: Sequence[StoredChild]
) -> list[ChildPhoto]:
    """The stored photo of each child that has one, in the children's order: the photo
    fetched from the child's `photo_url`."""
    if not any(child.photo_url for child in children):
        return []
    by_url = {p.source_url: p for p in store.fetch_photos(session=session, alert_id=alert_id)}
    found = []
    for number, child in enumerate(children):
        photo = by_url.get(child.photo_url or "")
        if photo is not None:
            found.append(
                ChildPhoto(
                    alert_id,
                    number,
                    child.name,
                    photo.media_type,
                    photo.size,
                    photo.digest,
                    photo.sha1,
                )
            )
    return found


def alert_photos(*, session: Session, alert: Alert) -> list[ChildPhoto]:
    """The photos the alert's current version shows."""
    children = AlertContent.from_stored(alert.content).children
    return child_photos(session=session, alert_id=alert.id, children=children)


def version_attachments(
    *, session: Session, alert_id: int, version: int, public_url: str
) -> tuple[Attachment, ...]:
    """The photos an alert version shows, as files for its channel messages (none for a
    cancellation), each with its URL on Haven when the alert is public (an Actual one)."""
    alert = store.get_alert(session=session, alert_id=alert_id, with_content=False)
    sent = next(
        (
            v
            for v in store.fetch_versions(session=session, alert_id=alert_id)
            if v.version == version
        ),
        None,
    )
    if alert is None or sent is None or sent.msg_type == "Cancel":
        return ()
    children = AlertContent.from_stored(sent.content).children
    files = []
    for photo in child_photos(session=session, alert_id=alert_id, children=children):
        data = store.get_photo_data(session=session, alert_id=alert_id, digest=photo.digest)
        if data is not None:
            url = f"{public_url}{photo.path}" if alert.status == "Actual" else None
            files.append(Attachment(photo.filename, photo.media_type, data, url))
    return tuple(files)
