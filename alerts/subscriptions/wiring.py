"""What the subscription blueprints take from the app: providers, flood limits, URL policy,
and threads for work that must not hold up the response.

Tests (and other callers) may put their own providers in `app.extensions["haven.sms"]` and
`app.extensions["haven.channels"]`; otherwise the settings choose them, once per app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app, request
from sqlalchemy.orm import Session

from alerts.providers import (
    ChannelProvider,
    SmsProvider,
    make_channel_provider,
    make_sms_provider,
)
from alerts.subscriptions.channels import UrlPolicy
from alerts.subscriptions.service import Limits
from alerts.vonage import make_vonage_provider
from haven.db import get_session
from haven.settings import get_settings

log = logging.getLogger(__name__)

BACKGROUND = "haven.subscriptions.background"
_BACKGROUND_LOCK = threading.Lock()


def sms_provider() -> SmsProvider:
    """The app's SMS provider."""
    if "haven.sms" not in current_app.extensions:
        current_app.extensions["haven.sms"] = make_sms_provider(get_settings())
    provider: SmsProvider = current_app.extensions["haven.sms"]
    return provider


def vonage_provider() -> SmsProvider | None:
    """The provider replies to texts sent to a Vonage number go out with (None: Vonage is not
    configured to send)."""
    if "haven.sms.vonage" not in current_app.extensions:
        current_app.extensions["haven.sms.vonage"] = make_vonage_provider(get_settings())
    provider: SmsProvider | None = current_app.extensions["haven.sms.vonage"]
    return provider


def channel_provider() -> ChannelProvider:
    """The app's Apprise provider."""
    if "haven.channels" not in current_app.extensions:
        current_app.extensions["haven.channels"] = make_channel_provider(get_settings())
    provider: ChannelProvider = current_app.extensions["haven.channels"]
    return provider


def limits() -> Limits:
    """The flood limits in force."""
    return Limits.from_settings(get_settings())


def url_policy() -> UrlPolicy:
    """Where channels may point."""
    return UrlPolicy.from_settings(get_settings())


def client() -> str:
    """Who is asking, for flood limits only (hashed by the throttle, never stored)."""
    return request.remote_addr or "unknown"


class AppThreads:
    """Work run after the response, in a few threads of this process, each piece in an app
    context of its own with its own database session (alerts/subscriptions/unsubscribe.py
    texts codes this way, so that the page takes as long whether or not one is sent).

    Work still queued when the process ends is lost; a person then asks again.
    """

    def __init__(self, app: Flask, *, workers: int = 2) -> None:
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="haven-bg")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, work: Callable[[Session], None]) -> None:
        """Run `work(session)` in one of the threads."""
        with self._idle:
            self._busy += 1
        self._pool.submit(self._run, work)

    def _run(self, work: Callable[[Session], None]) -> None:
        try:
            with self._app.app_context():
                work(get_session())
        except Exception as exc:  # a thread has no one else to tell
            # The type only: a database error's message quotes its parameters (a number).
            log.error("background work failed: %s", type(exc).__name__)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no work is queued or running; False if `timeout` seconds pass first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)


def background() -> AppThreads:
    """The app's background threads, started on first use."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with _BACKGROUND_LOCK:
        if BACKGROUND not in app.extensions:
            app.extensions[BACKGROUND] = AppThreads(app)
    threads: AppThreads = app.extensions[BACKGROUND]
    return threads
