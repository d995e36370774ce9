"""Anonymous routes: requests that must leave no trace of who sent them.

Haven never stores or logs a Take It Down submitter's address, user agent or cookies.
Anonymity is decided by the request's path, before routing, so it also covers requests that
match no route (a 404 under /takedown/, a 405 on a withdraw URL): their paths can hold a case
number as well. For an anonymous request the access log omits the client address and the
concrete path, the response forbids caching and referrers, and no cookie but the language
choice may be set.

`anonymous(bp)` marks a blueprint whose routes must all lie under `ANONYMOUS_PREFIXES`; a guard
test checks that they do.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, request

ANONYMOUS_BLUEPRINTS: set[str] = set()
ALLOWED_COOKIES = frozenset({"lang"})
# Take It Down pages and API, the files their pages fetch, the language picker, and the
# subscription pages (a phone number typed there is as private). No trailing slash where a
# path without one exists too ("/takedown" redirects; "/lang" is a 404 that is still ours).
ANONYMOUS_PREFIXES = (
    "/takedown",
    "/api/v1/takedown",
    "/static/",
    "/lang",
    "/alerts/subscribe",
    "/alerts/unsubscribe",
    "/alerts/channels/",
)
ANONYMOUS_PATHS = frozenset({"/"})  # the front page: families pass it on their way to Take It Down


def anonymous(bp: Blueprint) -> Blueprint:
    """Mark a blueprint as anonymous; see the module docstring for what that means."""
    ANONYMOUS_BLUEPRINTS.add(bp.name)
    return bp


def anonymous_prefix(path: str) -> str | None:
    """The anonymous prefix `path` lies under ("/" for the front page), or None.

    Repeated slashes and letter case are folded first: Werkzeug redirects
    `/api/v1//takedown/...` to the clean path, and that first request must be anonymous too.
    """
    path = re.sub(r"/{2,}", "/", path).lower()
    if path in ANONYMOUS_PATHS:
        return path
    return next((p for p in ANONYMOUS_PREFIXES if path.startswith(p)), None)


def is_anonymous_request() -> bool:
    """Whether the current request is anonymous: by its path, or (belt and braces) because it
    was routed to an anonymous blueprint."""
    if anonymous_prefix(request.path) is not None:
        return True
    return request.blueprint is not None and any(
        part in ANONYMOUS_BLUEPRINTS for part in request.blueprints
    )


def _no_tracking(response: Response) -> Response:
    if not is_anonymous_request():
        return response
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0].strip()
        if name not in ALLOWED_COOKIES:
            raise RuntimeError(f"anonymous route tried to set cookie {name!r}")
    if not request.path.startswith("/static/"):  # the same files for everyone: cacheable
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Guard every anonymous response, routed or not, against tracking."""
    app.extensions["haven.privacy"] = ANONYMOUS_BLUEPRINTS
    app.after_request(_no_tracking)
