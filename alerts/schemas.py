"""Request and response shapes of the alerts API, with their validation.

An alert draft is what an officer sends (`AlertIn`); CAP 1.2 import produces the same shape,
so both paths are validated by one set of rules. These rules apply to requests only: stored
content is read as `alerts.content.AlertContent` and shown as `AlertContentOut`, never
validated again.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from alerts.phones import to_e164 as e164
from haven.languages import LANGUAGES
from haven.web import Out, Strict

# NWS alerts carry hundreds of polygons; a regional AMBER alert, dozens of counties.
MAX_AREAS = 500
AlertStatus = Literal["Actual", "Exercise", "Test"]
AlertState = Literal["draft", "pending", "active", "cancelled", "expired", "rejected"]
CancelReason = Literal["child_found", "other"]
US_STATES = frozenset(
    (
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
        "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI"
    ).split()
)


class ChildIn(Strict):
    """A missing child."""

    name: str = Field(min_length=1, max_length=200)
    age: StrictInt | None = Field(default=None, ge=0, le=20)
    description: str | None = Field(default=None, max_length=1000)
    photo_url: AnyHttpUrl | None = None


class SuspectIn(Strict):
    """A suspected abductor."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class VehicleIn(Strict):
    """The suspect vehicle."""

    make: str | None = Field(default=None, max_length=60)
    model: str | None = Field(default=None, max_length=60)
    color: str | None = Field(default=None, max_length=40)
    plate: str | None = Field(default=None, max_length=16, pattern=r"^[A-Za-z0-9 \-]+$")
    plate_state: str | None = Field(default=None, max_length=2)

    @field_validator("plate")
    @classmethod
    def _plate(cls, plate: str | None) -> str | None:
        return plate.upper() if plate else plate

    @field_validator("plate_state")
    @classmethod
    def _state(cls, state: str | None) -> str | None:
        if state is None:
            return None
        if state.upper() not in US_STATES:
            raise ValueError(f"{state!r} is not a US state or territory code")
        return state.upper()


class LastSeenIn(Strict):
    """When and where the child was last seen, and which way they were heading."""

    at: AwareDatetime | None = None
    place: str | None = Field(default=None, max_length=300)
    # As the officer words it: "north on I-94", "toward Gary, IN".
    direction: str | None = Field(default=None, min_length=1, max_length=120)


class AreaIn(Strict):
    """One area, written as CAP writes it: exactly one of polygon, circle, geojson or same."""

    polygon: str | None = Field(default=None, max_length=1_000_000)
    circle: str | None = Field(default=None, max_length=100)
    geojson: dict[str, Any] | None = None
    same: str | None = Field(default=None, max_length=6)
    description: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _exactly_one(self) -> AreaIn:
        given = [
            k for k in ("polygon", "circle", "geojson", "same") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("an area is exactly one of polygon, circle, geojson or same")
        if not getattr(self, given[0]):
            raise ValueError(f"the {given[0]} is empty")
        return self

    @property
    def kind(self) -> str:
        """Which form this area takes."""
        return next(
            k for k in ("polygon", "circle", "geojson", "same") if getattr(self, k) is not None
        )

    @property
    def source(self) -> Any:
        """The area as given."""
        return getattr(self, self.kind)


def _languages(texts: dict[str, str] | dict[str, str | None]) -> None:
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unsupported language {unknown[0]!r}; use one of {', '.join(LANGUAGES)}")
    too_long = [k for k, v in texts.items() if v is not None and not 1 <= len(v) <= 1000]
    if too_long:
        raise ValueError(f"the {too_long[0]} text must be 1 to 1000 characters")


class AlertIn(Strict):
    """A new alert draft."""

    status: AlertStatus
    expires: AwareDatetime
    areas: list[AreaIn] = Field(min_length=1, max_length=MAX_AREAS)
    children: list[ChildIn] = Field(min_length=1, max_length=10)
    suspects: list[SuspectIn] = Field(default_factory=list, max_length=10)
    vehicle: VehicleIn | None = None
    last_seen: LastSeenIn | None = None
    contact_phone: str = Field(min_length=3, max_length=30)
    texts: dict[str, str] = Field(default_factory=dict)

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return e164(value)

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        if None in value.values():
            raise ValueError("a draft's texts are strings; null removes a text in an update")
        _languages(value)
        return value


class AlertUpdateIn(Strict):
    """Changes for a new version of an active alert: any of these, at least one.

    `texts` merges per language: each language given replaces that language's text, null
    removes it, and languages not given keep their text.
    """

    expires: AwareDatetime | None = None
    areas: list[AreaIn] | None = Field(default=None, min_length=1, max_length=MAX_AREAS)
    children: list[ChildIn] | None = Field(default=None, min_length=1, max_length=10)
    suspects: list[SuspectIn] | None = Field(default=None, max_length=10)
    vehicle: VehicleIn | None = None
    last_seen: LastSeenIn | None = None
    contact_phone: str | None = Field(default=None, min_length=3, max_length=30)
    texts: dict[str, str | None] | None = None
    # The revision the change was made on, as GET showed it (optional; If-Match also works):
    # 409 stale_revision if the alert has changed since. Not a change itself.
    revision: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _something(self) -> AlertUpdateIn:
        if not self.model_fields_set - {"revision"}:
            raise ValueError("an update changes at least one field")
        required = ("expires", "areas", "children", "contact_phone")
        removed = [k for k in required if k in self.model_fields_set and getattr(self, k) is None]
        if removed:
            raise ValueError(f"an alert always has {removed[0]}; it cannot be null")
        if self.contact_phone is not None:
            self.contact_phone = e164(self.contact_phone)
        if self.texts is not None:
            _languages(self.texts)
        return self


class ApproveIn(Strict):
    """What the approver reviewed: the alert's revision, as `GET` showed it."""

    revision: StrictInt = Field(ge=1, le=2**31 - 1)


class CancelIn(Strict):
    """Why an alert ends, and optionally the revision the officer acted on."""

    reason: CancelReason
    note: str | None = Field(default=None, max_length=500)
    revision: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)


class SubmitIn(Strict):
    """Optionally, the revision the drafter submits, as GET showed it."""

    revision: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)


class ReviewIn(Strict):
    """An approver's return to draft or rejection: the revision reviewed, and why (the
    drafter sees the reason)."""

    revision: StrictInt = Field(ge=1, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("reason")
    @classmethod
    def _said(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("give the reason the drafter will read")
        return reason.strip()


class AlertListQuery(Strict):
    """Which of the agency's alerts to list: by state (any of them; all if none), a page at a
    time, newest first, continuing from `cursor` (the `next` of the page before)."""

    state: list[AlertState] = Field(default_factory=list, max_length=6)
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=40)


class AreasAudienceIn(Strict):
    """Areas not stored anywhere, to count their audience while an alert is drafted; a Test or
    Exercise alert reaches only testers."""

    areas: list[AreaIn] = Field(min_length=1, max_length=MAX_AREAS)
    status: AlertStatus = "Actual"


class PreviewQuery(Strict):
    """The stored alert a preview is for, if any: its page link is then the alert's own."""

    alert: int | None = Field(default=None, ge=1, le=2**31 - 1)


class AreaCountOut(Out):
    """How many an area reaches."""

    subscribers: int
    locations: int


class AudienceOut(Out):
    """How many an alert reaches, in all and per area (a subscriber in two areas counts once
    in the total)."""

    subscribers: int
    locations: int
    areas: list[AreaCountOut]


class ChildOut(Out):
    """A missing child, as stored."""

    name: str
    age: int | None = None
    description: str | None = None
    photo_url: str | None = None


class SuspectOut(Out):
    """A suspected abductor, as stored."""

    name: str | None = None
    description: str | None = None


class VehicleOut(Out):
    """The suspect vehicle, as stored."""

    make: str | None = None
    model: str | None = None
    color: str | None = None
    plate: str | None = None
    plate_state: str | None = None


class LastSeenOut(Out):
    """When and where the child was last seen, and which way they were heading, as stored."""

    at: datetime.datetime | None = None
    place: str | None = None
    direction: str | None = None


class AreaOut(Out):
    """One area, as stored."""

    polygon: str | None = None
    circle: str | None = None
    geojson: dict[str, Any] | None = None
    same: str | None = None
    description: str | None = None


class AlertContentOut(Out):
    """An alert's content as stored: shown as it is, never checked against today's rules."""

    status: str
    expires: datetime.datetime
    areas: list[AreaOut]
    children: list[ChildOut]
    suspects: list[SuspectOut]
    vehicle: VehicleOut | None
    last_seen: LastSeenOut | None
    contact_phone: str
    texts: dict[str, str]


class AlertOut(Out):
    """An alert as officers see it. `revision` changes with every edit of its content; an
    approval names the revision the approver reviewed."""

    id: int
    identifier: str
    agency: str
    status: AlertStatus
    state: AlertState
    revision: int
    version: int
    msg_type: Literal["Alert", "Update", "Cancel"]
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    expires: datetime.datetime
    cancel_reason: CancelReason | None
    # Why an approver returned or rejected it; kept until the next submit.
    review_note: str | None = None
    audience: AudienceOut | None
    content: AlertContentOut


class PhotoOut(Out):
    """What became of one child's photo: stored, and served at `url` (Haven's own copy, on
    its public URL), or not used, with the reason in `code` and `message`."""

    child: int  # the child's place in the alert's children, from 0
    name: str
    source_url: str
    status: Literal["stored", "not_used"]
    url: str | None = None
    media_type: str | None = None
    size: int | None = None
    digest: str | None = None  # SHA-256, hex
    code: str | None = None
    message: str | None = None


class ApprovalOut(AlertOut):
    """An approved alert, and what became of each child's photo: a photo Haven could not
    fetch is `not_used`, and the alert went out without it."""

    photos: list[PhotoOut]


class LanguageMessageOut(Out):
    """What one language's subscribers receive for a version: the SMS and its segments, and
    the title and body of other channels."""

    sms: str
    segments: int
    title: str
    body: str


class UpdateOut(AlertOut):
    """An updated alert; for an active one, what each language's subscribers will receive,
    and, when the update changes the children, what became of each child's photo."""

    messages: dict[str, LanguageMessageOut]
    photos: list[PhotoOut] = Field(default_factory=list)


class AuditEntryOut(Out):
    """One transition."""

    at: datetime.datetime
    officer: str | None
    officer_id: int | None
    action: str
    changes: dict[str, Any]


class AuditOut(Out):
    """An alert's audit trail, oldest first."""

    entries: list[AuditEntryOut]


class VersionDeliveriesOut(Out):
    """One version's deliveries: the total, and counts by channel ("sms", "apprise") and status."""

    version: int
    total: int
    by_channel: dict[str, dict[str, int]]
    remaining: int = 0  # pending or sending
    rate_per_minute: float | None = None  # deliveries done per minute since its first send
    eta_seconds: float | None = None  # expected seconds until the rest is sent


class DeliveriesOut(Out):
    """An alert's delivery progress."""

    alert_id: int
    versions: list[VersionDeliveriesOut]
    first_sent_at: datetime.datetime | None
    last_sent_at: datetime.datetime | None
    # The newest version still sending (or the newest once all are sent): its pace.
    remaining: int = 0
    rate_per_minute: float | None = None
    eta_seconds: float | None = None


class OfficerRefOut(Out):
    """An officer, by id and name."""

    id: int
    name: str | None


class AlertSummaryOut(Out):
    """One alert in a list: enough to find it and to know what waits for whom.
    `can_approve`: the caller may approve it now (an approver, it is pending, and under the
    two-person rule they wrote none of it)."""

    id: int
    state: AlertState
    status: AlertStatus
    revision: int
    headline: str
    created_at: datetime.datetime
    created_by: OfficerRefOut
    submitted_at: datetime.datetime | None
    sent_at: datetime.datetime | None
    expires: datetime.datetime
    review_note: str | None
    can_approve: bool


class AlertListOut(Out):
    """A page of alerts, newest first; `next` continues the list (null on the last page)."""

    alerts: list[AlertSummaryOut]
    next: str | None


class AreaAudienceOut(Out):
    """How many subscribers one area reaches."""

    subscribers: int


class AreasAudienceOut(Out):
    """How many subscribers the areas reach together (each once), per area, and per language;
    `outside_jurisdiction` is the details of the 422 creating an alert with these areas would
    give (with its `message`), or null."""

    subscribers: int
    areas: list[AreaAudienceOut]
    languages: dict[str, int]
    outside_jurisdiction: dict[str, Any] | None


class PreviewMessageOut(Out):
    """The SMS one language's subscribers would receive, exactly as sent, and its cost."""

    language: str
    subscribers: int
    sms: str
    characters: int
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]


class PreviewOut(Out):
    """The SMS per language the audience speaks (English always), and the audience in all."""

    subscribers: int
    messages: list[PreviewMessageOut]


class CheckOut(Out):
    """The draft passed every check creating it makes."""

    ok: bool
