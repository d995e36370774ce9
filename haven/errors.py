"""One error vocabulary: domain errors, and the handler that turns every error into JSON (and
a page that is not found, for a browser, into a page in the reader's language)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/stopncii/", "/webhooks/", "/healthz")


class HavenError(Exception):
    """A domain error: a status, a stable code and a message a person can act on."""

    status = 400
    code = "bad_request"
    retry_after = 0  # seconds; sent as Retry-After when set

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(HavenError):
    """The request is well-formed but its content is not acceptable."""

    status = 422
    code = "invalid"


class NotFound(HavenError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    status = 404
    code = "not_found"


class Unauthorized(HavenError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(HavenError):
    """Valid credentials, but not allowed to do this."""

    status = 403
    code = "forbidden"


class Conflict(HavenError):
    """The thing is not in a state that allows this."""

    status = 409
    code = "conflict"


class PreconditionRequired(HavenError):
    """The request must say which version of the thing it acts on (for example If-Match)."""

    status = 428
    code = "precondition_required"


class Locked(HavenError):
    """Too many failed attempts; try again later."""

    status = 423
    code = "locked"


class TooManyRequests(HavenError):
    """The caller is sending too fast."""

    status = 429
    code = "rate_limited"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, retry_after: int = 0
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after  # seconds; sent as Retry-After when set


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON shape of every API error."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def json_error(status: int, code: str, message: str, details: Any = None) -> Response:
    """A JSON error response."""
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    return response


def describe_validation_error(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A one-line message naming the first bad field, and the full list of problems."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in err["loc"]) or "body"
        problems.append({"field": location, "problem": err["msg"]})
    first = problems[0] if problems else {"field": "body", "problem": "invalid"}
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first['field']}: {first['problem']}{more}", problems


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == (
        "application/json"
    )


def init_app(app: Flask) -> None:
    """Register the handlers that make every API error JSON, and never a stack trace."""

    @app.errorhandler(HavenError)
    def _domain(exc: HavenError) -> Response:
        response = json_error(exc.status, exc.code, exc.message, exc.details)
        if exc.retry_after > 0:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        message, problems = describe_validation_error(exc)
        return json_error(422, "invalid", message, problems)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException | tuple[str, int]:
        if not _wants_json():
            if exc.code == 404:
                # A person's browser: a page in their language that fits a phone, not
                # Werkzeug's bare English one (blueprints may answer their own 404s).
                return render_template("not_found.html"), 404
            return exc
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response = json_error(status, code, exc.description or exc.name)
        # The exception's own headers are part of the answer: a 405's Allow, a 401's
        # WWW-Authenticate. Only its HTML Content-Type is not.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return json_error(500, "internal", "Something went wrong on our side. Please try again.")
