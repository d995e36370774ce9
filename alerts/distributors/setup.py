"""Building a pusher from settings."""

from __future__ import annotations

import datetime

from flask import Flask

from alerts.distributors.service import Pusher
from alerts.distributors.webhook import HttpPoster
from alerts.subscriptions.channels import UrlPolicy
from haven.settings import Settings


def make_pusher(settings: Settings) -> Pusher:
    """The pusher the settings describe. A claim's lease outlasts a push several times over
    (its deadline, the rendering, the saves), and is never shorter than dispatch's."""
    deadline = settings.distributor_push_seconds
    return Pusher(
        # As the public CAP route has it, so that both render the same document.
        public_url=settings.public_url,
        policy=UrlPolicy.from_settings(settings),
        poster=HttpPoster(deadline=deadline),
        max_attempts=settings.distributor_max_attempts,
        lease=datetime.timedelta(seconds=max(settings.dispatch_lease_seconds, 3 * deadline)),
    )


def get_pusher(app: Flask) -> Pusher:
    """The app's pusher, built on first use."""
    if "haven.pusher" not in app.extensions:
        app.extensions["haven.pusher"] = make_pusher(app.extensions["haven.settings"])
    pusher: Pusher = app.extensions["haven.pusher"]
    return pusher
