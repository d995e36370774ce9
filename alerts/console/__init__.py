"""The officers' console at /console/: sign-in, drafting, the approval queue, the alert page.

Every console action goes through the same service functions as the JSON API; the console's
scripts call the API itself, signed in by the session cookie and carrying the CSRF token
(alerts/console/sessions.py). docs/console.md describes the console, sign-in and roles.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, make_response, render_template, request

from alerts.console.sessions import set_pre_cookie, template_globals
from haven.errors import HavenError, json_error

bp = Blueprint("console", __name__, url_prefix="/console")
bp.after_request(set_pre_cookie)


@bp.app_context_processor
def _globals() -> dict[str, object]:
    return template_globals()


@bp.errorhandler(HavenError)
def _error_page(exc: HavenError) -> Response:
    """Console pages show an error as a page with its message; JSON callers get JSON."""
    if _wants_json():
        response = json_error(exc.status, exc.code, exc.message, exc.details)
    else:
        page = render_template("console/error.html", message=exc.message, status=exc.status)
        response = make_response(page, exc.status)
    if exc.retry_after > 0:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _wants_json() -> bool:
    return (
        request.path.endswith(".json")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def init_app(app: Flask) -> None:
    """Register the console's routes."""
    # Importing the route modules attaches their views to `bp`.
    from alerts.console import alert_page, drafting, enrol, geodata, pages, signin  # noqa: F401

    app.register_blueprint(bp)
