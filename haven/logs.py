"""Logging set-up and Haven's own access log (which omits what anonymous routes must not keep)."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from haven.privacy import anonymous_prefix, is_anonymous_request

access_log = logging.getLogger("haven.access")

# A path argument with one of these names is a secret (an enrolment link's token, a
# subscription's confirm or stop token): such a request is logged by its route pattern
# (`/console/enrol/<token>`), never its path. tests/haven/test_logs.py fails when a route
# takes an argument that is in neither this set nor its list of known public arguments.
SECRET_ARGUMENTS = frozenset({"token"})


PACKAGES = ("haven", "alerts", "takedown", "geo")


def configure(level: str) -> None:
    """Send Haven's logs to stderr at `level`, once per process.

    Each package's logger gets the level itself, so whatever else configures the root logger
    (a Celery worker, gunicorn) neither silences nor floods Haven's own messages.
    """
    for name in PACKAGES:
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            logger.addHandler(handler)
        logger.setLevel(level.upper())


def init_app(app: Flask) -> None:
    """Log one line per request."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        # Anonymity is by path (haven/privacy.py), so it holds for static files, which anonymous
        # pages fetch, and for requests that matched no route (404, 405).
        if is_anonymous_request():
            # The route pattern, never the path (it may hold a case number); no address. An
            # unrouted request is logged by its anonymous prefix alone.
            if request.url_rule is not None:
                rule = request.url_rule.rule
            else:
                rule = f"<unrouted {anonymous_prefix(request.path) or '-'}>"
            access_log.info(
                "%s %s %s %.1fms", request.method, rule, response.status_code, elapsed_ms
            )
        else:
            access_log.info(
                "%s %s %s %s %.1fms",
                request.remote_addr,
                request.method,
                _loggable_path(),
                response.status_code,
                elapsed_ms,
            )
        return response


def _loggable_path() -> str:
    """This request's path, or its route pattern when the path holds a secret."""
    rule = request.url_rule
    if rule is not None and rule.arguments & SECRET_ARGUMENTS:
        return rule.rule
    return request.path
