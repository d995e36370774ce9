"""The officers' console at /console/: sign-in, drafting, the approval queue, the alert page.

Every console action goes through the same service functions as the JSON API; the console's
scripts call the API itself, signed in by the session cookie and carrying the CSRF token
(alerts/console/sessions.py). docs/console.md describes the console, sign-in and roles.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from alerts.console.sessions import template_globals

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.app_context_processor
def _globals() -> dict[str, object]:
    return template_globals()


def init_app(app: Flask) -> None:
    """Register the console's routes."""
    # Importing the route modules attaches their views to `bp`.
    from alerts.console import alert_page, drafting, geodata, pages, signin  # noqa: F401

    app.register_blueprint(bp)
