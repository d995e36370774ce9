"""A StopNCII-compatible API, so platforms running python-threatexchange or Hasher-Matcher-
Actioner can use Haven by pointing their StopNCII client's `base_url_override` here.

Only the signals StopNCII defines are served: ImagePDQ and VideoMD5. Case numbers are a
family's secret, so `caseNumbers` is always empty. Registered twice: at /stopncii/v1 for real
platforms and at /stopncii/sandbox/v1 for sandbox platforms.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any, Literal

from flask import Blueprint, Response, g, jsonify, request
from pydantic import Field, StrictInt

from haven.auth import header_secret
from haven.db import get_session
from haven.errors import HavenError, Unauthorized
from haven.openapi import document
from haven.ratelimit import get_throttle
from haven.settings import get_settings
from haven.web import Out, Strict, parse_json, parse_query
from takedown import service, store
from takedown.models import ACTIVE, STOPNCII_SIGNALS, Platform
from takedown.schemas import FeedbackIn, check_hex

bp = Blueprint("stopncii", __name__, url_prefix="/stopncii/v1")
SANDBOX_NAME, SANDBOX_PREFIX = "stopncii_sandbox", "/stopncii/sandbox/v1"

SIGNALS = dict(zip(STOPNCII_SIGNALS, ("ImagePDQ", "VideoMD5"), strict=True))
TO_STOPNCII = {
    "matched": "PendingReview",
    "removed": "Blocked",
    "not_violating": "NotBlocked",
    "unable_to_action": "None",
}
FROM_STOPNCII = {"PendingReview": "matched", "Blocked": "removed", "NotBlocked": "not_violating"}


@bp.before_request
def _authenticate() -> None:
    session = get_session()
    sandbox = request.blueprint == SANDBOX_NAME
    by_subscription = service.authenticate_platform(
        session=session,
        credential="stopncii_subscription_key",
        secret=header_secret("Ocp-Apim-Subscription-Key"),
        sandbox=sandbox,
    )
    by_function = service.authenticate_platform(
        session=session,
        credential="stopncii_fetch_function_key",
        secret=header_secret("x-functions-key"),
        sandbox=sandbox,
    )
    if by_subscription.id != by_function.id:
        raise Unauthorized("The two keys belong to different platforms.")
    # The same budget as the platform's native feed routes.
    get_throttle().limit_subject(get_settings().feed_rate_per_platform, "feed", str(by_function.id))
    g.platform = by_function


def _platform() -> Platform:
    platform: Platform = g.platform
    return platform


def _token(cursor: int) -> str:
    return base64.urlsafe_b64encode(f"c{cursor}".encode()).decode().rstrip("=")


def _cursor_of(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not (text.startswith("c") and text[1:].isdigit() and len(text) <= 19):
        raise HavenError("nextPageToken is not one this API gave out.", code="bad_token")
    return int(text[1:])


class FetchQuery(Strict):
    """FetchHashes parameters, as the StopNCII API names them."""

    startTimestamp: int = Field(default=0, ge=0, le=2**33)
    pageSize: int = Field(default=800, ge=1, le=10_000)
    nextPageToken: str = Field(default="", max_length=40)


class CSPFeedbackOut(Out):
    """One of the calling platform's own reports."""

    feedbackValue: str
    tags: list[str]
    source: str


class HashRecordOut(Out):
    """A hash's latest state."""

    lastModtimestamp: int
    hashValue: str
    signalType: Literal["ImagePDQ", "VideoMD5"]
    hashStatus: Literal["Active", "Withdrawn"]
    caseNumbers: dict[str, str]
    CSPFeedbacks: list[CSPFeedbackOut]


class FetchHashesOut(Out):
    """A page of FetchHashes."""

    count: int
    nextPageToken: str | None
    nextSetTimestamp: int
    hasMoreRecords: bool
    hashRecords: list[HashRecordOut]


@bp.get("/FetchHashes")
@document(
    "StopNCII-compatible FetchHashes: ImagePDQ and VideoMD5 records, in change order.",
    auth="stopncii",
    query=FetchQuery,
    responses={200: FetchHashesOut},
    tags=("stopncii",),
)
def fetch_hashes() -> Response:
    """A page of hash records from `nextPageToken`, or from `startTimestamp`."""
    query = parse_query(FetchQuery)
    session = get_session()
    if query.nextPageToken:
        after = _cursor_of(query.nextPageToken)
    else:
        since = datetime.datetime.fromtimestamp(query.startTimestamp, datetime.UTC)
        after = service.first_cursor_since(session=session, since=since)
    platform = _platform()
    batch = service.fetch_changes(
        session=session,
        platform=platform,
        after=after,
        limit=query.pageSize,
        route=store.STOPNCII,
    )
    mine = service.own_feedback(
        session=session, platform=platform, hash_ids={r.hash_id for r in batch.rows}
    )
    records: list[dict[str, Any]] = [
        {
            "lastModtimestamp": int(r.changed_at.timestamp()),
            "hashValue": r.value,
            "signalType": SIGNALS[(r.media, r.algorithm)],
            "hashStatus": "Active" if r.status == ACTIVE else "Withdrawn",
            "caseNumbers": {},
            "CSPFeedbacks": [
                {"feedbackValue": TO_STOPNCII[outcome], "tags": [outcome], "source": platform.name}
                for outcome in sorted(mine.get(r.hash_id, {}))
            ],
        }
        for r in batch.rows
    ]
    return jsonify(
        count=len(records),
        nextPageToken=_token(batch.next),
        nextSetTimestamp=records[-1]["lastModtimestamp"] if records else query.startTimestamp,
        hasMoreRecords=batch.has_more,
        hashRecords=records,
    )


class HashFeedbackIn(Strict):
    """One report, as the StopNCII client sends it."""

    hashValue: str = Field(min_length=32, max_length=64)
    feedbackValue: Literal["PendingReview", "Blocked", "NotBlocked", "None"]
    tags: list[str] = Field(default_factory=list, max_length=20)


class SubmitFeedbackIn(Strict):
    """SubmitFeedback's body."""

    count: StrictInt | None = Field(default=None, ge=0)
    hashFeedbacks: list[HashFeedbackIn] = Field(min_length=1, max_length=1000)


class SubmitFeedbackOut(Out):
    """How many reports were recorded."""

    count: int


def _as_feedback(item: HashFeedbackIn) -> FeedbackIn | None:
    outcome = FROM_STOPNCII.get(item.feedbackValue)
    if outcome is None and "unable_to_action" in item.tags:
        outcome = "unable_to_action"
    if outcome is None:
        return None  # StopNCII's "None" only tags a hash; there is nothing to count
    algorithm = "pdq" if len(item.hashValue) == 64 else "md5"
    try:
        value = check_hex(algorithm, item.hashValue)
    except ValueError as exc:
        raise HavenError(f"hashValue {item.hashValue!r}: {exc}", code="invalid") from exc
    return FeedbackIn(algorithm=algorithm, value=value, outcome=outcome)


@bp.post("/SubmitFeedback")
@document(
    "StopNCII-compatible SubmitFeedback.",
    auth="stopncii",
    body=SubmitFeedbackIn,
    responses={200: SubmitFeedbackOut},
    tags=("stopncii",),
)
def submit_feedback() -> Response:
    """Record the platform's reports, all or none."""
    body = parse_json(SubmitFeedbackIn)
    items = [f for f in map(_as_feedback, body.hashFeedbacks) if f is not None]
    service.record_feedback(session=get_session(), platform=_platform(), feedback=items)
    return jsonify(count=len(items))
