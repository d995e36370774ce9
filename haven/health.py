"""Liveness and readiness: `GET /healthz` answers 200 when the database is reachable."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from haven.db import get_session
from haven.errors import json_error

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 when the database answers, 503 when it does not."""
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return json_error(503, "database_unavailable", "The database is not reachable.")
    return jsonify(status="ok")
