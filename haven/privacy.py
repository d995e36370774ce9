"""Anonymous routes: blueprints whose requests must leave no trace of who sent them.

Haven never stores or logs a Take It Down submitter's address, user agent or cookies. Marking a
blueprint anonymous makes the access log omit the client address and the concrete path (which
could hold a case number), and forbids it from setting any cookie but the language choice.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

ANONYMOUS_BLUEPRINTS: set[str] = set()
ALLOWED_COOKIES = frozenset({"lang"})


def anonymous(bp: Blueprint) -> Blueprint:
    """Mark a blueprint as anonymous; see the module docstring for what that means."""
    ANONYMOUS_BLUEPRINTS.add(bp.name)

    @bp.after_request
    def _no_tracking_cookies(response: Response) -> Response:
        for header in response.headers.getlist("Set-Cookie"):
            name = header.split("=", 1)[0].strip()
            if name not in ALLOWED_COOKIES:
                raise RuntimeError(f"anonymous route tried to set cookie {name!r}")
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp


def is_anonymous_request() -> bool:
    """Whether the current request was routed to an anonymous blueprint."""
    return request.blueprint is not None and any(
        part in ANONYMOUS_BLUEPRINTS for part in request.blueprints
    )


def init_app(app: Flask) -> None:
    """Nothing to bind yet; kept for symmetry with the other shell modules."""
    app.extensions["haven.privacy"] = ANONYMOUS_BLUEPRINTS
