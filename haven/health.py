"""Liveness and readiness: `GET /healthz` answers 200 when the database is reachable;
`GET /readyz` answers 200 only when every registered component is ready to serve, and 503
with the state of each while one is loading, behind or unavailable.

The components: the audience index ("audience"), the rate-limit counter store ("counters":
memory, or Redis) and, when HAVEN_BROKER_URL is set, the Celery broker ("broker"). Liveness
stays the database's alone: a process whose Redis is down should be taken out of rotation,
not restarted."""

from __future__ import annotations

import enum
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from haven.db import get_session
from haven.errors import json_error

bp = Blueprint("health", __name__)


class Readiness(enum.StrEnum):
    """A component's readiness, as /readyz reports it."""

    LOADING = "loading"
    READY = "ready"
    BEHIND = "behind"
    UNAVAILABLE = "unavailable"  # an outside service it needs does not answer


ReadinessCheck = Callable[[Session], Readiness]
"""Says whether a component is ready, quickly: it must not wait for a long load."""


def add_readiness_check(app: Flask, *, name: str, check: ReadinessCheck) -> None:
    """Make `/readyz` answer 503 unless `check` says READY."""
    app.extensions.setdefault("haven.readiness", {})[name] = check


def check_readiness(*, app: Flask, session: Session) -> tuple[Readiness, dict[str, Readiness]]:
    """Every component's readiness, and the whole process's: the first not READY, if any."""
    checks: dict[str, ReadinessCheck] = app.extensions.get("haven.readiness", {})
    states = {name: check(session) for name, check in checks.items()}
    waiting = [state for state in states.values() if state is not Readiness.READY]
    return (waiting[0] if waiting else Readiness.READY), states


@bp.get("/healthz")
def healthz() -> Response:
    """200 when the database answers, 503 when it does not."""
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return json_error(503, "database_unavailable", "The database is not reachable.")
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when every component is ready, 503 while one is loading or behind."""
    state, states = check_readiness(app=current_app, session=get_session())
    code = 200 if state is Readiness.READY else 503
    return jsonify(state=state.value, components={k: v.value for k, v in states.items()}), code
