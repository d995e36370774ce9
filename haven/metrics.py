"""Prometheus metrics for the operator at `GET /metrics`: what Haven did, and what is behind.

Two kinds of metric:

- Events (HTTP requests, case submissions, feed polls, send latency) are counters and
  histograms kept in process memory. Under several gunicorn workers or Celery workers, set
  `PROMETHEUS_MULTIPROC_DIR` to an empty folder, the same for every process on the host and
  wiped before they start; each scrape then sums every process's files (prometheus_client's
  multiprocess mode). Without it, a scrape sees only the process that answered it.
- Backlogs (deliveries by channel and status, the dispatch queue, each platform's feed lag,
  each distributor's pushes) are read from the database at scrape time, so every process
  answers the same.

Privacy: labels are route templates, methods, statuses, channel kinds, SMS provider names, and
platform and distributor names.
Never a client address, a user agent, a concrete path, or a case number.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, request, request_finished
from flask import request_started as request_started_signal
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from haven.db import Database, utcnow
from haven.errors import json_error
from haven.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

# Event metrics live in a registry of Haven's own, so a scrape shows Haven's metrics only.
EVENTS = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "haven_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=EVENTS,
)
HTTP_SECONDS = Histogram(
    "haven_http_request_duration_seconds",
    "Time from a request's arrival to its response (the first byte of a streamed body).",
    ["method", "route"],
    registry=EVENTS,
)
CASE_SUBMISSIONS = Counter(
    "haven_takedown_case_submissions",
    "Take It Down case submissions, by outcome (accepted, refused, rate_limited, failed).",
    ["outcome"],
    registry=EVENTS,
)
FEED_POLLS = Counter(
    "haven_feed_polls",
    "Feed pages served to a platform (native feed and StopNCII API), by platform.",
    ["platform"],
    registry=EVENTS,
)
SEND_SECONDS = Histogram(
    "haven_dispatch_send_seconds",
    "Time a provider took to take (or refuse) one message, by channel (sms, apprise).",
    ["channel"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=EVENTS,
)

DISTRIBUTOR_PUSHES = Counter(
    "haven_distributor_pushes",
    "Attempts to push CAP to a secondary distributor, by distributor and outcome (sent, "
    "retry, failed).",
    ["distributor", "outcome"],
    registry=EVENTS,
)

SMS_PROVIDER_SENDS = Counter(
    "haven_sms_provider_sends",
    "SMS handed to a provider where several share the traffic, by provider and outcome "
    "(accepted, retry, failed, error: its client raised).",
    ["provider", "outcome"],
    registry=EVENTS,
)
SMS_PROVIDER_SWITCHES = Counter(
    "haven_sms_provider_switches",
    "Times an SMS provider lost priority to another (errors or slow acceptance), by the "
    "provider that lost it and the one that gained it.",
    ["from_provider", "to_provider"],
    registry=EVENTS,
)
SMS_PROVIDER_PRIORITY = Gauge(
    "haven_sms_provider_priority",
    "Each SMS provider's priority (its share of new messages, in percent of the total).",
    ["provider"],
    registry=EVENTS,
    multiprocess_mode="mostrecent",
)

UNMATCHED = "<unmatched>"  # the route label of a request no rule matched: never its path

bp = Blueprint("metrics", __name__)


def count_feed_poll(*, platform: str) -> None:
    """Count one feed page served to a platform (an organisation, never a person)."""
    FEED_POLLS.labels(platform=platform).inc()


def count_push(*, distributor: str, outcome: str) -> None:
    """Count one push attempt to a distributor (an organisation, never a person)."""
    DISTRIBUTOR_PUSHES.labels(distributor=distributor, outcome=outcome).inc()


def count_provider_send(*, provider: str, outcome: str) -> None:
    """Count one message handed to an SMS provider among several, by its outcome."""
    SMS_PROVIDER_SENDS.labels(provider=provider, outcome=outcome).inc()


def count_provider_switch(*, from_provider: str, to_provider: str) -> None:
    """Count one move of priority from one SMS provider to another."""
    SMS_PROVIDER_SWITCHES.labels(from_provider=from_provider, to_provider=to_provider).inc()


def set_provider_priority(*, provider: str, priority: int) -> None:
    """Show an SMS provider's priority now."""
    SMS_PROVIDER_PRIORITY.labels(provider=provider).set(priority)


def timed_send(channel: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a provider's send call to observe its duration as `channel`."""

    def decorate(send: Callable[P, R]) -> Callable[P, R]:
        @wraps(send)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            with SEND_SECONDS.labels(channel=channel).time():
                return send(*args, **kwargs)

        return timed

    return decorate


def counts_submissions(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view whose requests are case submissions: each is counted by its outcome."""
    view.__haven_case_submission__ = True  # type: ignore[attr-defined]
    return view


def _outcome(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "failed"
    return "refused" if status >= 400 else "accepted"


def _request_started(_app: Flask, **_extra: Any) -> None:
    g.metrics_started = time.perf_counter()


def _request_finished(app: Flask, response: Response, **_extra: Any) -> None:
    # The rule's template, never request.path: a concrete path may hold a case number.
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method
    HTTP_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        HTTP_SECONDS.labels(method=method, route=route).observe(time.perf_counter() - started)
    view = app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "__haven_case_submission__", False):
        CASE_SUBMISSIONS.labels(outcome=_outcome(response.status_code)).inc()


class BacklogCollector:
    """Reads what is waiting from the database at scrape time (a prometheus_client Collector)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterable[Metric]:
        """The backlog gauges, from one read-only session."""
        # Imported here: the shell must not import the domains at module load.
        from alerts.dispatch import store as dispatch_store
        from alerts.distributors import store as distributor_store
        from takedown import store as takedown_store

        deliveries = GaugeMetricFamily(
            "haven_dispatch_deliveries",
            "Deliveries recorded, by channel kind and current status.",
            labels=["channel", "status"],
        )
        queue = GaugeMetricFamily(
            "haven_dispatch_queue_depth",
            "Dispatch work waiting: deliveries pending or being sent, and jobs to record.",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "haven_dispatch_oldest_due_seconds",
            "How long the oldest delivery due now has been waiting (0 when none is).",
        )
        lag = GaugeMetricFamily(
            "haven_feed_lag_changes",
            "Changes of the feed a platform reads (real or sandbox, by its route) not fetched yet.",
            labels=["platform"],
        )
        pushes = GaugeMetricFamily(
            "haven_distributor_deliveries",
            "CAP pushes to secondary distributors recorded, by distributor and current status.",
            labels=["distributor", "status"],
        )
        pending = GaugeMetricFamily(
            "haven_distributor_pending",
            "CAP pushes still to make (due, being made, or waiting out a backoff), by "
            "distributor not removed.",
            labels=["distributor"],
        )
        now = utcnow()
        with self.database.sessions() as session:
            waiting = 0
            for channel, status, count in dispatch_store.count_deliveries(session=session):
                deliveries.add_metric([channel, status], count)
                if status in ("pending", "sending"):
                    waiting += count
            queue.add_metric(["deliveries"], waiting)
            queue.add_metric(["jobs"], dispatch_store.count_pending_jobs(session=session))
            due_since = dispatch_store.get_oldest_due_at(session=session, now=now)
            oldest.add_metric([], _age(now, due_since))
            for platform, behind in takedown_store.count_feed_lag(session=session):
                lag.add_metric([platform], behind)
            for distributor, status, count in distributor_store.count_pushes(session=session):
                pushes.add_metric([distributor, status], count)
            for distributor, count in distributor_store.count_unfinished_by_name(session=session):
                pending.add_metric([distributor], count)
        yield from (deliveries, queue, oldest, lag, pushes, pending)


def _age(now: datetime.datetime, since: datetime.datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


class _Events:
    """This process's event metrics, for a scrape without multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return EVENTS.collect()


def scrape(database: Database) -> bytes:
    """Every metric in the text exposition format."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Sums the files of every process on the host (the class ships no type hints).
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Events())
    registry.register(BacklogCollector(database))
    return generate_latest(registry)


def _is_loopback_peer() -> bool:
    # The socket peer, as the server saw it: ProxyFix keeps the original REMOTE_ADDR aside.
    environ = request.environ
    original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    peer = original or environ.get("REMOTE_ADDR") or ""
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_proxied(settings: Settings) -> bool:
    # Behind a proxy on the same host every request arrives from loopback, so a loopback peer
    # proves nothing there.
    return settings.proxy_hops > 0 or any(
        h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")
    )


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: with a token, for its bearer; without one, for loopback only."""
    settings: Settings = current_app.extensions["haven.settings"]
    token = settings.metrics_token
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            return json_error(401, "unauthorized", "Send 'Authorization: Bearer <token>'.")
    elif not _is_loopback_peer() or _is_proxied(settings):
        return json_error(404, "not_found", "Not found.")
    database: Database = current_app.extensions["haven.db"]
    return Response(scrape(database), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Serve `/metrics` and count every request the app answers."""
    app.register_blueprint(bp)
    request_started_signal.connect(_request_started, app)
    request_finished.connect(_request_finished, app)
