"""Building a dispatcher from settings: the providers, and the rate limit shared where needed."""

from __future__ import annotations

import datetime

import redis
from flask import Flask

from alerts.dispatch.bucket import LocalBucket, RedisBucket, TokenBucket
from alerts.dispatch.inflight import SEND_LOOP
from alerts.dispatch.service import Dispatcher
from alerts.providers import make_channel_provider, make_sms_provider
from alerts.subscriptions.channels import ChannelSender
from haven.settings import Settings


def make_bucket(settings: Settings) -> TokenBucket:
    """One process's limit, or one limit in Redis shared by every worker on every machine."""
    url = settings.redis_url or settings.broker_url
    if url and url.startswith("redis"):
        return RedisBucket(
            redis.Redis.from_url(url), "haven:sms-rate", settings.sms_rate_per_second
        )
    return LocalBucket(settings.sms_rate_per_second)


def notify(app: Flask) -> None:
    """Tell the workers an alert version is waiting: Celery gets a task at once (and the
    distributors' pushers, when a push is due); the in-process recorder is woken (it polls the
    outbox every fraction of a second anyway)."""
    runner = app.extensions.get("haven.dispatch_runner")
    if runner is not None:
        runner.wake(recorder=True)
    if "haven.celery" in app.extensions:
        from alerts.dispatch.tasks import record
        from alerts.distributors.tasks import kick_pushers_if_due

        record.delay()
        with app.extensions["haven.db"].sessions() as session:
            kick_pushers_if_due(app, session)


def make_dispatcher(settings: Settings) -> Dispatcher:
    """The dispatcher the settings describe."""
    return Dispatcher(
        sms=make_sms_provider(settings),
        channels=ChannelSender.from_settings(settings, make_channel_provider(settings)),
        bucket=make_bucket(settings),
        public_url=settings.public_url.rstrip("/"),
        segment_budget=settings.sms_segment_budget,
        batch=settings.dispatch_batch,
        lease=datetime.timedelta(seconds=settings.dispatch_lease_seconds),
        max_attempts=settings.dispatch_max_attempts,
        in_flight=settings.dispatch_in_flight,
    )


def warm_dispatch(app: Flask) -> None:
    """Pay now, when a worker starts, what the first alert would otherwise wait for: the
    county shapes SAME areas are cut from (seconds to load), the dispatcher and its
    providers, and the event loop SMS are sent from."""
    from geo.same import same_areas

    same_areas()
    get_dispatcher(app)
    SEND_LOOP.start()


def get_dispatcher(app: Flask) -> Dispatcher:
    """The app's dispatcher, built on first use."""
    if "haven.dispatcher" not in app.extensions:
        app.extensions["haven.dispatcher"] = make_dispatcher(app.extensions["haven.settings"])
    dispatcher: Dispatcher = app.extensions["haven.dispatcher"]
    return dispatcher
