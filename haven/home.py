"""The front page: Haven's two services, AMBER alerts and Take It Down, in the reader's language.

Anonymous, like the Take It Down pages it leads to: a family on its way there passes through.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from haven.privacy import anonymous

bp = anonymous(Blueprint("home", __name__))


@bp.get("/")
def index() -> str:
    """Where to go: the alerts out now, past alerts and subscribing; or taking pictures down."""
    return render_template("home.html")
