"""The platforms' native API: the incremental hash feed, the full export, and feedback.

The same blueprint is registered twice: at /api/v1/feed for real platforms, and at
/api/v1/sandbox/feed for sandbox platforms, which see only synthetic hashes.
"""

from __future__ import annotations

import datetime
import json
import zlib
from collections.abc import Iterator
from functools import lru_cache

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from haven.auth import bearer_token
from haven.db import get_session
from haven.openapi import document
from haven.ratelimit import get_throttle
from haven.settings import get_settings
from haven.web import Strict, parse_json, parse_query
from takedown import service
from takedown.models import VPDQ, Platform
from takedown.schemas import (
    CursorQuery,
    FeedbackIn,
    FeedbackList,
    FeedbackOut,
    FeedbackQuery,
    FeedPage,
    as_dict,
)

bp = Blueprint("takedown_feed", __name__, url_prefix="/api/v1/feed")
SANDBOX_NAME, SANDBOX_PREFIX = "takedown_feed_sandbox", "/api/v1/sandbox/feed"


@bp.before_request
def _authenticate() -> None:
    platform = service.authenticate_platform(
        session=get_session(),
        credential="api_key",
        secret=bearer_token(),
        sandbox=request.blueprint == SANDBOX_NAME,
    )
    # Keyed by the platform, shared with its StopNCII routes: one budget per platform.
    get_throttle().limit_subject(get_settings().feed_rate_per_platform, "feed", str(platform.id))
    g.platform = platform


@bp.after_request
def _name_the_feed(response: Response) -> Response:
    """Answers carry `Haven-Instance` and `Haven-Feed-Last`, so that a client can tell a cursor
    from another Haven, or a feed restored to an earlier point, from a quiet feed."""
    platform: Platform | None = g.get("platform")
    if response.status_code in (200, 304) and platform is not None:
        instance, last = service.describe_feed(session=get_session(), platform=platform)
        response.headers["Haven-Instance"] = instance
        response.headers["Haven-Feed-Last"] = str(last)
    return response


def _platform() -> Platform:
    platform: Platform = g.platform
    return platform


@lru_cache(maxsize=1024)
def _iso(moment: datetime.datetime) -> str:
    # Feed times are whole hours, so a page repeats a handful of values thousands of times.
    return moment.isoformat().replace("+00:00", "Z")


@bp.get("/hashes")
@document(
    "Changes to the hash list after a cursor, in order. Poll again from `next`.",
    auth="platform",
    query=CursorQuery,
    responses={200: FeedPage, 304: "Nothing new since the ETag you sent."},
    tags=("feed",),
)
def hashes() -> Response:
    """A page of the feed; an unchanged empty poll answers 304 to If-None-Match."""
    query = parse_query(CursorQuery)
    batch = service.fetch_changes(
        session=get_session(),
        platform=_platform(),
        after=int(query.after),
        limit=query.limit,
    )
    # Written as text, as the export is: building a dict per change (through Row attribute
    # access) and then json.dumps costs ~9x as much on a 10,000-change page. Every field is
    # digits, a fixed word or lower-case hex, so nothing needs escaping; only a vpdq hash's
    # features (a JSON array as a string) are escaped, by json.dumps.
    features = batch.features
    changes = ",".join(
        f'{{"cursor":"{cursor}","media":"{media}","algorithm":"{algorithm}","value":"{value}",'
        f"{_features_field(features, hash_id) if algorithm == VPDQ else ''}"
        f'"status":"{status}","changed_at":"{_iso(changed_at)}"}}'
        for cursor, hash_id, media, algorithm, value, status, changed_at in batch.rows
    )
    more = "true" if batch.has_more else "false"
    body = f'{{"changes":[{changes}],"next":"{batch.next}","has_more":{more}}}'
    response = Response(body, mimetype="application/json")
    response.set_etag(f"{query.after}-{batch.next}-{len(batch.rows)}")
    response.make_conditional(request)
    return response


def _features_field(features: dict[int, str], hash_id: int) -> str:
    """`"features":"...",` for a vpdq hash: its frames, escaped as a JSON string."""
    found = features.get(hash_id)
    return "" if found is None else f'"features":{json.dumps(found)},'


class ExportQuery(Strict):
    """The export takes no parameters; ask for gzip with `Accept-Encoding: gzip`."""


@bp.get("/hashes/export")
@document(
    "Every active hash as NDJSON, for bootstrapping; continue polling from the "
    "`Haven-Feed-Cursor` header.",
    auth="platform",
    query=ExportQuery,
    responses={
        200: "NDJSON, one hash per line (a vpdq hash with its `features`); gzip when asked "
        "with Accept-Encoding."
    },
    tags=("feed",),
)
def export() -> Response:
    """Stream a snapshot of the active hashes."""
    parse_query(ExportQuery)
    cursor, rows = service.export_active(session=get_session(), platform=_platform())
    gzip = request.accept_encodings["gzip"] > 0

    def lines() -> Iterator[bytes]:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
        chunk: list[str] = []
        for batch, features in rows:
            for r in batch:
                chunk.append(
                    f'{{"media":"{r.media}","algorithm":"{r.algorithm}","value":"{r.value}",'
                    f"{_features_field(features, r.id) if r.algorithm == VPDQ else ''}"
                    f'"status":"active","changed_at":"{_iso(r.changed_at)}"}}\n'
                )
                if len(chunk) >= 2000:
                    data = "".join(chunk).encode()
                    chunk.clear()
                    yield compressor.compress(data) if compressor else data
            if features:  # vpdq lines are ~300 kB each: send them on, a batch at a time
                data = "".join(chunk).encode()
                chunk.clear()
                yield compressor.compress(data) if compressor else data
        data = "".join(chunk).encode()
        yield (compressor.compress(data) + compressor.flush()) if compressor else data

    response = Response(stream_with_context(lines()), mimetype="application/x-ndjson")
    response.headers["Haven-Feed-Cursor"] = str(cursor)
    if gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.post("/feedback")
@document(
    "Report what the platform did about a hash.",
    auth="platform",
    body=FeedbackIn,
    responses={204: "Recorded."},
    tags=("feed",),
)
def feedback() -> tuple[str, int]:
    """Record the platform's outcome for one hash; it replaces any earlier one."""
    service.record_feedback(
        session=get_session(), platform=_platform(), feedback=[parse_json(FeedbackIn)]
    )
    return "", 204


@bp.get("/feedback")
@document(
    "This platform's own feedback on one hash.",
    auth="platform",
    query=FeedbackQuery,
    responses={200: FeedbackList},
    tags=("feed",),
)
def own_feedback() -> Response:
    """Only the calling platform's feedback; other platforms' reports are not shown."""
    query = parse_query(FeedbackQuery)
    session = get_session()
    platform = _platform()
    hash_row = service.find_hash(
        session=session, platform=platform, algorithm=query.algorithm, value=query.value
    )
    mine = service.own_feedback(session=session, platform=platform, hash_ids=[hash_row.id])
    listing = FeedbackList(
        feedback=[
            FeedbackOut(algorithm=query.algorithm, value=query.value, outcome=outcome, count=n)
            for outcome, n in sorted(mine.get(hash_row.id, {}).items())
        ]
    )
    return jsonify(as_dict(listing))
