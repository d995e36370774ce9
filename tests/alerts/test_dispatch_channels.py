"""Channels cannot hurt each other, nor SMS: deliveries to channels run in batches and sender
threads of their own, and each send to a channel has a hard deadline that frees its thread.
A channel whose host accepts connections and never answers (a tarpit on loopback, its URL
asking Apprise to wait 15 minutes) delays no SMS, no other channel and no sign-up."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.dispatch.runner import DispatchRunner
from alerts.dispatch.setup import get_dispatcher
from alerts.models import Channel, Delivery
from alerts.subscribers import mark_unreachable
from haven.db import get_session, write
from tests.alerts.test_alerts_api import LOOP
from tests.alerts.test_dispatch import approve, wait_for
from tests.alerts.test_subscriptions_channels import confirm, hook_url, subscribe
from tests.factories import create_subscribers
from tests.fakes.tarpit import Tarpit
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.webhook_server import WebhookServer

PHONES = [f"+1312555{n:04d}" for n in range(800, 805)]
CONFIRM = re.compile(r"(/alerts/channels/confirm/[\w-]+)")


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, fake_twilio: FakeTwilio
) -> dict[str, object]:
    """Twilio is the loopback fake; channels may point at loopback; one sender of each kind."""
    return {
        **fake_twilio.settings(),
        "allow_private_channel_hosts": True,
        "subscription_channel_per_client_rate": "100/hour",
        "dispatch_senders": 1,
        "dispatch_channel_senders": 1,
        **getattr(request, "param", {}),
    }


@pytest.fixture
def senders(app: Flask) -> Iterator[DispatchRunner]:
    """The in-process dispatcher: one SMS sender and one channel sender."""
    runner = DispatchRunner(
        app,
        get_dispatcher(app),
        senders=1,
        channel_senders=1,
        idle_seconds=0.02,
        on_permanent=mark_unreachable,
    )
    runner.start()
    yield runner
    runner.stop()


def add_channel(app: Flask, client: FlaskClient, hooks: WebhookServer, path: str) -> int:
    """An active channel to `path` on the webhook server, confirmed through its message."""
    assert subscribe(client, hook_url(hooks, path)).status_code == 202
    link = CONFIRM.search(hooks.hooks[-1].json["message"])
    assert link
    assert confirm(client, link[1]).status_code == 200
    with app.app_context():
        channel_id = get_session().scalar(select(Channel.id).order_by(Channel.id.desc()))
    assert channel_id is not None
    return channel_id


def hang(app: Flask, channel_id: int, tarpit: Tarpit) -> None:
    """The channel's host now accepts connections and never answers."""
    url = f"json://127.0.0.1:{tarpit.port}/hook?cto=900&rto=900"
    with app.app_context():
        session = get_session()
        with write(session):
            session.execute(update(Channel).where(Channel.id == channel_id).values(url=url))


def statuses(app: Flask, channel_ids: list[int]) -> set[str]:
    with app.app_context():
        rows = get_session().scalars(
            select(Delivery.status).where(Delivery.channel_id.in_(channel_ids))
        )
        return set(rows)


def alerts_at(hooks: WebhookServer, path: str) -> int:
    return sum(h.path == path and "Jane Doe" in h.json["message"] for h in hooks.hooks)


@pytest.mark.parametrize("settings_overrides", [{"channel_send_seconds": 60.0}], indirect=True)
def test_sms_are_sent_while_a_channel_send_hangs(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    webhook_server: WebhookServer,
    tarpit: Tarpit,
    senders: DispatchRunner,
) -> None:
    hang(app, add_channel(app, client, webhook_server, "/hung"), tarpit)
    approve(client, officers)
    wait_for(lambda: tarpit.accepted == 1, timeout=5)  # its sender now waits on the tarpit
    create_subscribers(app, [(p, *LOOP) for p in PHONES])
    approve(client, officers)
    wait_for(lambda: sorted(m.to for m in fake_twilio.messages) == PHONES, timeout=5)
    assert tarpit.open == 1  # the channel's send still hangs: the SMS did not wait for it
    tarpit.stop()  # the host hangs up: the channel sender goes on


@pytest.mark.parametrize("settings_overrides", [{"channel_send_seconds": 0.2}], indirect=True)
def test_channels_that_never_answer_delay_no_other_channel_nor_sign_ups(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    webhook_server: WebhookServer,
    tarpit: Tarpit,
    senders: DispatchRunner,
) -> None:
    create_subscribers(app, [(p, *LOOP) for p in PHONES])
    hung = [add_channel(app, client, webhook_server, f"/hung{n}") for n in range(3)]
    add_channel(app, client, webhook_server, "/good")
    for channel_id in hung:
        hang(app, channel_id, tarpit)
    approve(client, officers)
    # Each hung send ends by its deadline (0.2 s), and the channels after them are delivered.
    wait_for(lambda: alerts_at(webhook_server, "/good") == 1, timeout=5)
    wait_for(lambda: tarpit.accepted == len(hung), timeout=5)
    wait_for(lambda: sorted(m.to for m in fake_twilio.messages) == PHONES, timeout=5)
    wait_for(lambda: tarpit.open == 0, timeout=1)  # no thread is left holding a connection
    # Not delivered, and not lost: each is to be tried again, or has failed, and says so.
    wait_for(lambda: statuses(app, hung) <= {"pending", "failed"}, timeout=5)

    # A new channel's sign-up sends its confirmation at once.
    response = subscribe(client, hook_url(webhook_server, "/new"))
    assert response.status_code == 202, response.json
    assert webhook_server.hooks[-1].path == "/new"
