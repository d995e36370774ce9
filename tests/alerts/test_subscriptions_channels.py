"""Channel subscriptions: Apprise URLs confirmed through the channel itself, over real SMTP and
HTTP servers on loopback; URLs that would make Haven reach itself or a private network are
refused, when added and again before every message; every message carries its unsubscribe
link."""

from __future__ import annotations

import datetime
import logging
import re
import socket
from collections.abc import Sequence
from typing import Any

import apprise
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.models import Channel, Delivery, Subscriber, SubscriberLocation
from alerts.providers import Attachment, SendResult
from alerts.subscriptions.channels import (
    MAX_CONNECT_SECONDS,
    MAX_READ_SECONDS,
    ChannelSender,
    UrlPolicy,
    channel_stop_url,
    transport_safe_url,
)
from haven.db import get_session, write
from tests.alerts.test_alerts_api import act
from tests.alerts.test_dispatch import approve, dispatch
from tests.factories import audience_count
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import WebhookServer

API = "/api/v1/subscriptions/channels"
LINK = re.compile(r"http://127\.0\.0\.1:5000(/alerts/channels/confirm/[\w-]+)")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """The fakes listen on loopback, which only tests may allow."""
    return {"allow_private_channel_hosts": True}


def subscribe(client: FlaskClient, url: str, **body: Any) -> Any:
    return client.post(API, json={"url": url, "zips": ["60601"], "language": "en", **body})


def mail_url(server: SmtpServer) -> str:
    return f"mailto://127.0.0.1:{server.port}?from=haven@example.org&to=newsroom@example.org"


def hook_url(server: WebhookServer, path: str = "/hooks/haven") -> str:
    return f"json://127.0.0.1:{server.port}{path}"


def channels(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        session = get_session()
        rows = session.execute(
            select(Channel.status, Subscriber.status)
            .join(Subscriber, Subscriber.id == Channel.subscriber_id)
            .order_by(Channel.id)
        )
        return [(c, s) for c, s in rows]


def active_locations(app: Flask) -> int:
    with app.app_context():
        rows = get_session().scalars(select(SubscriberLocation.id).where(SubscriberLocation.active))
        return len(list(rows))


def confirm(client: FlaskClient, path: str) -> Any:
    page = client.get(path)
    token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, page.get_data(as_text=True)
    return client.post(path, data={"form_token": token[1]})


def test_an_email_channel_is_confirmed_through_the_email(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer, officer: str
) -> None:
    response = subscribe(client, mail_url(smtp_server), zips=["60601", "60614"])
    assert response.status_code == 202, response.json
    assert response.json["status"] == "pending"
    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["newsroom@example.org"]
    assert mail.message["Subject"] == "Confirm your Haven AMBER Alerts subscription"
    assert "near 60601 and 60614" in mail.text
    link = LINK.search(mail.text)
    assert link, mail.text
    assert channels(app) == [("pending", "pending")]
    assert audience_count(client, officer) == 0

    # Opening the link (as a mail scanner would) confirms nothing.
    page = client.get(link[1])
    assert page.status_code == 200
    assert "Confirm</button>" in page.get_data(as_text=True)
    assert "mailto://127.0.0.1" in page.get_data(as_text=True)
    assert channels(app) == [("pending", "pending")]
    assert active_locations(app) == 0

    confirmed = confirm(client, link[1])
    assert confirmed.status_code == 200
    assert "Alerts confirmed" in confirmed.get_data(as_text=True)
    assert channels(app) == [("active", "active")]
    assert audience_count(client, officer) == 1
    # Confirming again changes nothing.
    assert "Alerts confirmed" in client.get(link[1]).get_data(as_text=True)
    assert confirm_post_without_page(client, link[1]) == 200
    assert audience_count(client, officer) == 1


def test_a_webhook_channel_is_confirmed_and_stopped_through_its_links(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer, officer: str
) -> None:
    response = subscribe(
        client, hook_url(webhook_server), zips=[], points=[{"lat": 41.88, "lon": -87.63}]
    )
    assert response.status_code == 202, response.json
    [hook] = webhook_server.hooks
    assert (hook.method, hook.path) == ("POST", "/hooks/haven")
    assert hook.json["title"] == "Confirm your Haven AMBER Alerts subscription"
    link = LINK.search(hook.json["message"])
    assert link
    assert confirm(client, link[1]).status_code == 200
    assert audience_count(client, officer) == 1
    with app.app_context():
        stored = get_session().scalar(select(Channel.url))
    assert stored is not None
    assert "redirect=no" in stored  # a public host cannot bounce Haven to a private one

    with app.app_context():
        channel_id = get_session().scalar(select(Channel.id))
        assert channel_id is not None
        stop = channel_stop_url(settings=app.extensions["haven.settings"], channel_id=channel_id)
    stop_path = stop.removeprefix("http://127.0.0.1:5000")
    page = client.get(stop_path)
    assert page.status_code == 200
    assert "Stop alerts</button>" in page.get_data(as_text=True)
    assert audience_count(client, officer) == 1  # a GET stops nothing
    stopped = confirm(client, stop_path)
    assert stopped.status_code == 200
    assert "Alerts stopped" in stopped.get_data(as_text=True)
    assert channels(app) == [("removed", "opted_out")]
    assert audience_count(client, officer) == 0
    # The confirmation link cannot bring it back.
    assert client.get(link[1]).status_code == 404
    assert confirm_post_without_page(client, link[1]) == 404
    assert audience_count(client, officer) == 0


def confirm_post_without_page(client: FlaskClient, path: str) -> int:
    token = re.search(
        r'name="form_token" value="([^"]+)"', client.get("/alerts/subscribe").get_data(as_text=True)
    )
    assert token
    return client.post(path, data={"form_token": token[1]}).status_code


def test_an_unconfirmed_channel_never_becomes_active(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer, officer: str
) -> None:
    subscribe(client, hook_url(webhook_server))
    link = LINK.search(webhook_server.hooks[0].json["message"])
    assert link
    for _ in range(3):
        client.get(link[1])
    # A POST without the page's form token (a cross-site form) confirms nothing either.
    client.post(link[1], data={})
    client.post(link[1], data={"form_token": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert channels(app) == [("pending", "pending")]
    assert audience_count(client, officer) == 0
    with app.app_context():
        session = get_session()
        with write(session):
            old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8)
            session.execute(update(Channel).values(created_at=old))
    assert client.get(link[1]).status_code == 410
    assert confirm_post_without_page(client, link[1]) == 410
    assert channels(app) == [("pending", "pending")]
    assert audience_count(client, officer) == 0


def test_a_wrong_link_is_404_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    assert client.get("/alerts/channels/confirm/not-a-token").status_code == 404
    assert client.get("/alerts/channels/stop/not-a-token").status_code == 404
    assert channels(app) == []


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_channel_that_refuses_the_confirmation_is_dropped(
    app: Flask, client: FlaskClient
) -> None:
    response = subscribe(client, f"json://127.0.0.1:{dead_port()}/hooks")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "channel_unreachable"
    assert channels(app) == [("removed", "pending")]
    assert active_locations(app) == 0


def test_the_url_is_never_logged(
    client: FlaskClient, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"json://haven:s3cretpass@127.0.0.1:{webhook_server.port}/hooks/tok3nInPath?:X-Key=k3y"
    # At INFO, Haven's production level (urllib3's DEBUG lines name every path they request).
    with caplog.at_level(logging.INFO):
        assert subscribe(client, url).status_code == 202
        subscribe(client, url.replace(str(webhook_server.port), str(dead_port())))
    assert "json://127.0.0.1" in caplog.text
    for secret in ("s3cretpass", "tok3nInPath", "k3y"):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "/etc/passwd",
        "http://example.org/hook",
        "https://example.org/hook",
        "windows://",
        "syslog://",
        "xml://127.0.0.1/x",
        "form://127.0.0.1/x",
        "gopher://127.0.0.1:25/x",
    ],
)
def test_schemes_off_the_allow_list_are_refused(app: Flask, client: FlaskClient, url: str) -> None:
    response = subscribe(client, url)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "channel_scheme"
    assert channels(app) == []


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://haven.example.org"}])
@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hooks",
        "jsons://localhost/hooks",
        "json://10.0.0.5/hooks",
        "json://192.168.1.20:9000/hooks",
        "json://172.16.0.1/hooks",
        "json://169.254.169.254/latest/meta-data",
        "json://100.64.0.1/hooks",
        "json://[::1]:8080/hooks",
        "json://[::ffff:127.0.0.1]/hooks",
        "json://[fd00::1]/hooks",
        "json://0.0.0.0/hooks",
        "json://2130706433/hooks",
        "ntfy://127.0.0.1/alerts",
        "ntfys://localhost/alerts",
        "mailto://user:pass@example.org?smtp=127.0.0.1&to=a@example.org",
        "mailtos://user:pass@10.1.2.3?to=a@example.org",
        "json://haven.example.org/api/v1/alerts",
        "json://haven.example.org:8443/api",
        # IPv4 inside IPv6: NAT64 (well-known and local-use), 6to4, Teredo, IPv4-compatible.
        "json://[64:ff9b::7f00:1]/hooks",
        "json://[64:ff9b::a00:5]/hooks",
        "json://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "json://[64:ff9b:1::5db8:d70e]/hooks",
        "json://[2002:7f00:1::1]/hooks",
        "json://[2002:c0a8:114::]/hooks",
        "json://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks",
        "json://[::7f00:1]/hooks",
        "json://[::a00:5]/hooks",
    ],
)
def test_urls_reaching_haven_or_a_private_network_are_refused(
    app: Flask, client: FlaskClient, url: str
) -> None:
    response = subscribe(client, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] in ("channel_private", "channel_host", "channel_url")
    assert channels(app) == []


def test_with_loopback_allowed_for_tests_havens_own_port_is_still_refused(
    app: Flask, client: FlaskClient
) -> None:
    response = subscribe(client, "json://127.0.0.1:5000/api/v1/alerts")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "channel_private"
    assert channels(app) == []


def test_confirmations_to_one_destination_are_limited(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer
) -> None:
    for _ in range(3):
        assert subscribe(client, hook_url(webhook_server)).status_code == 202
    limited = subscribe(client, hook_url(webhook_server))
    assert limited.status_code == 429
    assert limited.json["error"]["details"]["per"] == "destination"
    assert len(webhook_server.hooks) == 3
    assert subscribe(client, hook_url(webhook_server, "/other")).status_code == 202


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"zips": []}, "give 1 to 5 places"),
        ({"zips": ["60601", "60602", "60603", "60604", "60605", "60606"]}, "zips"),
        ({"zips": ["60601", "60602", "60603"], "points": [{"lat": 1, "lon": 2}] * 3}, "1 to 5"),
        ({"zips": ["00000"]}, "00000"),
        ({"points": [{"lat": 91, "lon": 0}]}, "points.0.lat"),
        ({"points": [{"lat": True, "lon": 0}]}, "points.0.lat"),
        ({"points": [{"lat": 41.8, "lon": "-87.6"}]}, "points.0.lon"),
        ({"language": "xx"}, "unsupported language"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_channel_request_is_refused_and_nothing_is_sent(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer, body: dict[str, Any], says: str
) -> None:
    response = subscribe(client, hook_url(webhook_server), **body)
    assert response.status_code == 422
    assert says in response.json["error"]["message"]
    assert webhook_server.hooks == []
    assert channels(app) == []


def stop_path(app: Flask, url: str) -> str:
    """The unsubscribe link of the channel with this (stored) URL, as a path."""
    with app.app_context():
        channel_id = get_session().scalar(select(Channel.id).where(Channel.url.contains(url)))
        assert channel_id is not None
        link = channel_stop_url(settings=app.extensions["haven.settings"], channel_id=channel_id)
    return link.removeprefix("http://127.0.0.1:5000")


def test_every_message_to_a_channel_carries_that_channels_unsubscribe_link(
    app: Flask,
    client: FlaskClient,
    webhook_server: WebhookServer,
    smtp_server: SmtpServer,
    officers: dict[str, str],
) -> None:
    for url in (hook_url(webhook_server), mail_url(smtp_server)):
        assert subscribe(client, url).status_code == 202
    hook_stop = stop_path(app, f"127.0.0.1:{webhook_server.port}")
    mail_stop = stop_path(app, f"127.0.0.1:{smtp_server.port}")
    [confirmation] = webhook_server.hooks
    [mail_confirmation] = smtp_server.mails
    # The confirmation carries it too: whoever did not ask can stop it there and then.
    assert confirmation.json["message"].endswith(
        f"Stop AMBER Alerts\nhttp://127.0.0.1:5000{hook_stop}"
    )
    assert mail_stop in mail_confirmation.text
    for text in (confirmation.json["message"], mail_confirmation.text):
        link = LINK.search(text)
        assert link
        assert confirm(client, link[1]).status_code == 200

    alert_id = approve(client, officers)
    dispatch(app)
    alert = webhook_server.hooks[-1]
    mail = smtp_server.mails[-1]
    assert "Jane Doe" in alert.json["message"]
    assert alert.json["message"].endswith(f"Stop AMBER Alerts\nhttp://127.0.0.1:5000{hook_stop}")
    assert "Jane Doe" in mail.text
    assert mail_stop in mail.text
    assert hook_stop not in mail.text  # each channel its own link

    # The link stops that channel: the update goes to the email only.
    assert confirm(client, hook_stop).status_code == 200
    updated = act(client, officers["drafter"], alert_id, "update", {"areas": [{"same": "017031"}]})
    assert updated.status_code == 200, updated.json
    dispatch(app)
    assert len(webhook_server.hooks) == 2
    assert len(smtp_server.mails) == 3
    assert "UPDATE" in smtp_server.mails[-1].text
    assert mail_stop in smtp_server.mails[-1].text


def test_an_alert_to_a_spanish_channel_ends_with_the_unsubscribe_link_in_spanish(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer, officers: dict[str, str]
) -> None:
    assert subscribe(client, hook_url(webhook_server), language="es").status_code == 202
    link = LINK.search(webhook_server.hooks[0].json["message"])
    assert link
    assert confirm(client, link[1]).status_code == 200
    approve(client, officers)
    dispatch(app)
    message = webhook_server.hooks[-1].json["message"]
    stop = stop_path(app, f"127.0.0.1:{webhook_server.port}")
    assert message.endswith(f"Detener las Alertas AMBER\nhttp://127.0.0.1:5000{stop}")


class RecordingChannels:
    """A channel provider that only keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def notify(
        self, *, url: str, title: str, body: str, attachments: Sequence[Attachment] = ()
    ) -> SendResult:
        self.sent.append((url, title, body))
        return SendResult("accepted", status="sent")


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://haven.example.org"}])
def test_a_channel_whose_host_now_resolves_to_a_private_address_is_not_sent_to(
    app: Flask,
    client: FlaskClient,
    webhook_server: WebhookServer,
    officers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A resolver under the test's control (public addresses are never connected to).
    resolves = {"hooks.test": "93.184.215.14", "haven.example.org": "93.184.215.15"}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo(resolves.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    confirmations = RecordingChannels()
    app.extensions["haven.channels"] = confirmations
    url = f"json://hooks.test:{webhook_server.port}/alerts?:X-Key=k3y"
    assert subscribe(client, url).status_code == 202
    [(_, _, body)] = confirmations.sent
    link = re.search(r"https://haven\.example\.org(/alerts/channels/confirm/[\w-]+)", body)
    assert link, body
    assert confirm(client, link[1]).status_code == 200

    # The name now points inside the network (here, at the webhook server on loopback, which
    # would receive the alert if Haven did not check again).
    resolves["hooks.test"] = "127.0.0.1"
    approve(client, officers)
    with caplog.at_level(logging.INFO):
        dispatch(app)
    assert webhook_server.hooks == []
    with app.app_context():
        status, code, reason = (
            get_session()
            .execute(select(Delivery.status, Delivery.error_code, Delivery.reason))
            .one()
        )
    assert (status, code) == ("failed", "channel_private")
    assert (
        reason
        == "channel_private: The host 'hooks.test' is a private, loopback or reserved address."
    )
    assert "json://hooks.test" in caplog.text
    assert "channel_private" in caplog.text
    assert "k3y" not in caplog.text
    assert channels(app) == [("active", "active")]  # DNS may change back; the channel stays


def controlled_resolver(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    """Names resolve as `names` says (anything else as usual): no test depends on real DNS."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo(names.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


EMBEDDED_PRIVATE = {
    "nat64.test": "64:ff9b::7f00:1",
    "nat64-local.test": "64:ff9b:1::a00:1",
    "sixtofour.test": "2002:a00:1::1",
    "teredo.test": "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "compatible.test": "::7f00:1",
}


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://haven.example.org"}])
@pytest.mark.parametrize("name", sorted(EMBEDDED_PRIVATE))
def test_names_resolving_to_ipv6_forms_of_private_addresses_are_refused(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    controlled_resolver(monkeypatch, EMBEDDED_PRIVATE)
    sent = app.extensions["haven.channels"] = RecordingChannels()
    response = subscribe(client, f"json://{name}/hooks")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "channel_private"
    assert channels(app) == []
    assert sent.sent == []


@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://haven.example.org"}])
@pytest.mark.parametrize(
    "url",
    [
        "json://[::ffff:5db8:d70f]/hooks",
        "json://[64:ff9b::5db8:d70f]/hooks",
        "json://[2002:5db8:d70f::1]/hooks",
    ],
)
def test_havens_own_public_address_is_refused_in_any_ipv6_form(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    controlled_resolver(monkeypatch, {"haven.example.org": "93.184.215.15"})
    sent = app.extensions["haven.channels"] = RecordingChannels()  # never a public address
    response = subscribe(client, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "channel_private"
    assert response.json["error"]["message"] == "A channel cannot point at Haven itself."
    assert channels(app) == []
    assert sent.sent == []


OWN_PORT_SPELLINGS = [
    "127.0.0.1",
    "127.0.0.2",
    "2130706433",
    "0.0.0.0",
    "localhost",
    "[::1]",
    "[::]",
    "[::ffff:7f00:1]",
    "[::ffff:0:0]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    "[::7f00:1]",
    "loopback6.test",
    "mapped.test",
    "unspecified.test",
]


@pytest.mark.parametrize("host", OWN_PORT_SPELLINGS)
def test_with_loopback_allowed_havens_own_port_is_refused_in_every_spelling(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    controlled_resolver(
        monkeypatch,
        {"loopback6.test": "::1", "mapped.test": "::ffff:127.0.0.1", "unspecified.test": "0.0.0.0"},
    )
    response = subscribe(client, f"json://{host}:5000/api/v1/alerts")
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "channel_private"
    assert channels(app) == []


def stored_url(app: Flask) -> str:
    with app.app_context():
        url = get_session().scalar(select(Channel.url))
    assert url is not None
    return url


def test_apprise_transport_arguments_are_held_to_havens_limits_when_a_channel_is_stored(
    app: Flask, client: FlaskClient, webhook_server: WebhookServer
) -> None:
    wide = "?rto=900&cto=900&verify=no&retry=10&wait=20&optional=yes&redirect=yes"
    response = subscribe(client, hook_url(webhook_server) + wide)
    assert response.status_code == 202, response.json
    assert len(webhook_server.hooks) == 1  # once: Apprise retried nothing
    plugin = apprise.Apprise.instantiate(stored_url(app))
    assert plugin.socket_connect_timeout == MAX_CONNECT_SECONDS
    assert plugin.socket_read_timeout == MAX_READ_SECONDS
    assert plugin.verify_certificate is True
    assert plugin.redirects is False
    assert (plugin.retry, plugin.wait, plugin.optional) == (0, 0.0, False)


def test_shorter_timeouts_than_havens_are_kept() -> None:
    plugin = apprise.Apprise.instantiate(transport_safe_url("json://hooks.test/x?cto=1.5&rto=2"))
    assert (plugin.socket_connect_timeout, plugin.socket_read_timeout) == (1.5, 2.0)


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("discord://123/abc?template=http://10.0.0.1/t.json", "template"),
        ("discord://123/abc?template=file:///etc/passwd", "template"),
        ("slack://T1/B1/C1?template=file:///etc/passwd", "template"),
        ("mailtos://u:p@example.org?to=a@example.org&pgppub=/etc/passwd", "pgppub"),
        ("mailtos://u:p@example.org?to=a@example.org&pgpprv=/etc/shadow", "pgpprv"),
        ("mailtos://u:p@example.org?to=a@example.org&wkd=yes", "wkd"),
    ],
)
def test_arguments_that_make_apprise_open_something_else_are_refused(
    app: Flask, client: FlaskClient, url: str, param: str
) -> None:
    response = subscribe(client, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "channel_param"
    assert param in response.json["error"]["message"]
    assert channels(app) == []


def test_a_stored_url_is_sent_to_with_its_transport_held_to_havens_limits() -> None:
    # A URL stored before these rules: it is sent to, never refused, but within the limits.
    stored = (
        "discord://123/abc?template=http://10.0.0.1/t.json&cto=900&rto=900&verify=no"
        "&retry=10&optional=yes"
    )
    provider = RecordingChannels()
    sender = ChannelSender(provider, UrlPolicy("https://haven.example.org"), "test-secret")
    result = sender.send(channel_id=7, url=stored, title="t", body="b", language="en")
    assert result.outcome == "accepted"
    [(sent, _, _)] = provider.sent
    assert "template" not in sent
    plugin = apprise.Apprise.instantiate(sent)
    assert plugin.socket_connect_timeout == MAX_CONNECT_SECONDS
    assert plugin.socket_read_timeout == MAX_READ_SECONDS
    assert plugin.verify_certificate is True
    assert (plugin.retry, plugin.optional) == (0, False)
    assert transport_safe_url(sent) == sent
