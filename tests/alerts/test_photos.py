"""Children's photos: fetched when an alert is approved, from a real HTTP server on loopback,
under the address policy of channel URLs, within a size cap and a time limit; served by Haven
at a URL naming their SHA-256; shown on the alert's page, in its CAP and its Atom entry, and in
the channel messages that can carry them. A photo Haven cannot use is reported to the officer
and the alert goes out without it. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from PIL import Image
from pydantic import ValidationError
from sqlalchemy import func, select

from alerts.atom import AtomEnclosure
from alerts.cap import CapResource, render_cap
from alerts.models import DispatchJob
from alerts.photo_fetch import sniff_image
from haven.db import get_session
from haven.settings import Settings
from tests.alerts.test_alert_pages import CAP, cap_of
from tests.alerts.test_alerts_api import act, draft
from tests.alerts.test_atom import ATOM, feed_of
from tests.alerts.test_cap import assert_valid_cap_and_ipaws, create_info, create_message
from tests.alerts.test_dispatch import dispatch, wait_for
from tests.alerts.test_subscriptions_channels import confirm, hook_url, mail_url, subscribe
from tests.factories import bearer
from tests.fakes.photo_server import ENDLESS_LIMIT, PhotoServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.tarpit import Tarpit
from tests.fakes.webhook_server import WebhookServer

HAVEN = "http://127.0.0.1:5000"  # the tests' public URL: Haven itself
PHOTO_SECONDS = 1.5
MAX_BYTES = 200_000
NAMES = ["Jane Doe", "John Doe", "Ann Doe", "Max Doe"]
LINK = re.compile(r"http://127\.0\.0\.1:5000(/alerts/channels/confirm/[\w-]+)")


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """Photos (and channels) may be on loopback, as the fakes are; a small cap, a short limit."""
    return {
        "allow_private_channel_hosts": True,
        "photo_fetch_seconds": PHOTO_SECONDS,
        "photo_max_bytes": MAX_BYTES,
        **getattr(request, "param", {}),
    }


def picture(kind: str = "JPEG", size: tuple[int, int] = (48, 32)) -> bytes:
    """A small image made now, in Pillow's format `kind`."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=kind)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def send_with_photos(
    client: FlaskClient, officers: dict[str, str], *urls: str, **overrides: Any
) -> dict[str, Any]:
    """Draft, submit and approve an alert whose children have these photo URLs; the answer
    to the approval."""
    children = [
        {"name": name, "age": 7, "photo_url": url} for name, url in zip(NAMES, urls, strict=False)
    ]
    alert = draft(client, officers["drafter"], children=children, **overrides)
    assert act(client, officers["drafter"], alert["id"], "submit").status_code == 200
    response = act(
        client, officers["approver"], alert["id"], "approve", {"revision": alert["revision"]}
    )
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def photo_audit(client: FlaskClient, officers: dict[str, str], alert_id: int) -> list[Any]:
    """The photo outcomes the alert's audit trail holds."""
    trail = client.get(f"/api/v1/alerts/{alert_id}/audit", headers=bearer(officers["drafter"]))
    return [e["changes"]["photos"] for e in trail.json["entries"] if e["action"] == "photos"]


def path_of(photo: dict[str, Any]) -> str:
    return str(photo["url"]).removeprefix(HAVEN)


# Fetching, storing, serving


def test_each_childs_photo_is_fetched_at_approval_and_served_by_haven_at_its_digest(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    images = {
        "/jane.jpg": (picture("JPEG"), "image/jpeg", "jpg"),
        "/john.png": (picture("PNG"), "image/png", "png"),
        "/ann.webp": (picture("WEBP"), "image/webp", "webp"),
        "/max.gif": (picture("GIF"), "image/gif", "gif"),
    }
    # What a server claims counts for nothing: the bytes say what they are.
    urls = [
        photo_server.add(path, data, "application/octet-stream")
        for path, (data, *_) in images.items()
    ]
    approved = send_with_photos(client, officers, *urls)
    assert approved["state"] == "active"
    alert_id = approved["id"]
    photos = approved["photos"]
    assert [(p["child"], p["name"], p["status"]) for p in photos] == [
        (n, name, "stored") for n, name in enumerate(NAMES)
    ]
    for photo, url, (data, media_type, extension) in zip(
        photos, urls, images.values(), strict=True
    ):
        digest = sha256(data)
        assert photo["source_url"] == url
        assert photo["url"] == f"{HAVEN}/alerts/{alert_id}/photos/{digest}.{extension}"
        assert (photo["media_type"], photo["size"], photo["digest"]) == (
            media_type,
            len(data),
            digest,
        )
        served = client.get(path_of(photo))
        assert served.status_code == 200
        assert served.data == data
        assert served.mimetype == media_type
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert served.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert served.headers["ETag"] == f'"{digest}"'
        again = client.get(path_of(photo), headers={"If-None-Match": f'"{digest}"'})
        assert again.status_code == 304
    assert sorted(photo_server.requests) == sorted(images)  # each fetched once
    [audited] = photo_audit(client, officers, alert_id)
    assert [(p["child"], p["status"], p["digest"]) for p in audited] == [
        (p["child"], "stored", p["digest"]) for p in photos
    ]


def test_the_page_shows_each_photo_with_alt_text_in_the_pages_language(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    url = photo_server.add("/jane.jpg", picture())
    approved = send_with_photos(client, officers, url)
    [photo] = approved["photos"]
    page = client.get(f"/alerts/{approved['id']}").get_data(as_text=True)
    assert f'<img src="{path_of(photo)}" alt="Photo of Jane Doe">' in page
    client.set_cookie("lang", "es")
    page = client.get(f"/alerts/{approved['id']}").get_data(as_text=True)
    assert f'<img src="{path_of(photo)}" alt="Foto de Jane Doe">' in page


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><title>Missing: Jane</title><img src=jane.jpg>"


@pytest.mark.parametrize(
    ("path", "body", "content_type", "code", "says"),
    [
        ("/missing.jpg", None, None, "photo_http", "answered HTTP 404 Not Found."),
        ("/page.jpg", HTML, "image/jpeg", "photo_not_image", "not a JPEG, PNG, WebP or GIF"),
        ("/drawing.svg", SVG, "image/svg+xml", "photo_not_image", "an SVG drawing"),
        (
            "/huge.jpg",
            b"\xff\xd8\xff" + bytes(MAX_BYTES),
            "image/jpeg",
            "photo_too_large",
            "at most 0.2 MB",
        ),
        ("http://no-such-host.invalid/jane.jpg", None, None, "photo_host", "cannot be found"),
    ],
)
def test_a_photo_haven_cannot_use_is_reported_and_the_alert_goes_out_without_it(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    photo_server: PhotoServer,
    path: str,
    body: bytes | None,
    content_type: str | None,
    code: str,
    says: str,
) -> None:
    good = photo_server.add("/john.jpg", picture())
    if body is not None and content_type is not None:
        bad = photo_server.add(path, body, content_type)
    else:
        bad = path if path.startswith("http") else photo_server.url + path
    approved = send_with_photos(client, officers, bad, good)

    assert (approved["state"], approved["version"]) == ("active", 1)
    jane, john = approved["photos"]
    assert (jane["status"], jane["code"], jane["source_url"]) == ("not_used", code, bad)
    assert says in jane["message"]
    assert jane["message"].endswith("The alert goes out without this photo.")
    assert jane["url"] is None
    assert john["status"] == "stored"  # one bad photo costs the other child nothing
    [audited] = photo_audit(client, officers, approved["id"])
    assert audited[0] == {key: value for key, value in jane.items() if value is not None}
    # Out all the same: queued for dispatch, public, with the one photo it has.
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(DispatchJob)) == 1
    page = client.get(f"/alerts/{approved['id']}").get_data(as_text=True)
    assert page.count("<img ") == 1
    infos = cap_of(client, approved["id"]).findall(f"{CAP}info")
    assert [len(info.findall(f"{CAP}resource")) for info in infos] == [1, 1]  # en, es


def test_a_photo_larger_than_the_cap_is_refused_having_read_little_more_than_the_cap(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    # JPEG bytes without end and without a Content-Length: only counting tells.
    approved = send_with_photos(client, officers, photo_server.url + "/endless.jpg")
    [photo] = approved["photos"]
    assert photo["code"] == "photo_too_large"
    assert "stopped reading" in photo["message"]
    time.sleep(0.2)
    # The cap and what the sockets' buffers held: nowhere near all the server would send.
    assert photo_server.streamed < ENDLESS_LIMIT // 8


@pytest.mark.parametrize("slow", ["tarpit", "/dribble.jpg", "/slow-headers.jpg"])
def test_a_slow_photo_server_holds_the_approval_no_longer_than_the_time_limit(
    client: FlaskClient,
    officers: dict[str, str],
    photo_server: PhotoServer,
    tarpit: Tarpit,
    slow: str,
) -> None:
    # The tarpit never answers. The others send a byte every 0.1 s, of the body or of a
    # header line, so that no single read ever waits long: only a deadline for the whole
    # download stops them.
    url = (
        f"http://127.0.0.1:{tarpit.port}/jane.jpg" if slow == "tarpit" else photo_server.url + slow
    )
    approved = send_with_photos(client, officers, url)
    [photo] = approved["photos"]
    assert (photo["status"], photo["code"]) == ("not_used", "photo_timeout")
    assert f"within {PHOTO_SECONDS:g} seconds" in photo["message"]
    assert approved["state"] == "active"
    wait_for(lambda: tarpit.open == 0, timeout=2)  # the connection is let go
    # Haven hung up at its deadline, long before a slow server was done (600 bytes, one per
    # 0.1 s): counted in bytes the server sent, not timed, so a busy machine cannot fail it.
    assert photo_server.dribbled < 600 // 4


@pytest.mark.parametrize(
    "settings_overrides", [{"allow_private_channel_hosts": False}], indirect=True
)
def test_a_photo_on_a_private_address_is_never_fetched(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    url = photo_server.add("/jane.jpg", picture())  # on loopback
    approved = send_with_photos(client, officers, url)
    [photo] = approved["photos"]
    assert (photo["status"], photo["code"]) == ("not_used", "photo_private")
    assert (
        "'127.0.0.1' is Haven itself or a private, loopback or reserved address"
        in (photo["message"])
    )
    assert photo_server.requests == []
    assert approved["state"] == "active"


def test_redirects_are_followed_and_each_checked_again(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    data = picture()
    photo_server.add("/jane.jpg", data)
    moved = photo_server.redirect("/moved.jpg", "/jane.jpg")
    # Loopback is allowed here, as in every test, but never Haven itself.
    inward = photo_server.redirect("/inward.jpg", f"{HAVEN}/alerts/feed.atom")
    haven = f"{HAVEN}/static/css/haven.css"
    approved = send_with_photos(client, officers, moved, inward, haven)
    followed, refused, own = approved["photos"]
    assert (followed["status"], followed["source_url"], followed["digest"]) == (
        "stored",
        moved,
        sha256(data),
    )
    assert (refused["status"], refused["code"]) == ("not_used", "photo_private")
    assert (own["status"], own["code"]) == ("not_used", "photo_private")


def test_a_photo_is_served_only_while_its_alert_is_public_and_shows_it(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    data = picture()
    url = photo_server.add("/jane.jpg", data)
    unsent = draft(client, officers["drafter"], children=[{"name": "Jane Doe", "photo_url": url}])
    assert photo_server.requests == []  # a draft fetches nothing
    test_alert = send_with_photos(client, officers, url, status="Test")
    [stored] = test_alert["photos"]
    assert stored["status"] == "stored"
    assert client.get(path_of(stored)).status_code == 404  # Test alerts have no public side
    assert client.get(f"/alerts/{unsent['id']}/photos/{sha256(data)}.jpg").status_code == 404

    actual = send_with_photos(client, officers, url)
    [photo] = actual["photos"]
    assert client.get(path_of(photo)).status_code == 200
    assert client.get(path_of(photo).replace(".jpg", ".png")).status_code == 404
    assert client.get(f"/alerts/{actual['id']}/photos/{'0' * 64}.jpg").status_code == 404
    assert (
        client.get(path_of(photo).replace(f"/{actual['id']}/", f"/{test_alert['id']}/")).status_code
        == 404
    )


def test_an_update_naming_a_new_photo_fetches_it_and_the_old_one_is_no_longer_served(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    old = send_with_photos(client, officers, photo_server.add("/jane.jpg", picture()))
    [before] = old["photos"]
    newer = picture("PNG", size=(60, 40))
    children = [{"name": "Jane Doe", "age": 7, "photo_url": photo_server.add("/jane.png", newer)}]
    updated = act(client, officers["drafter"], old["id"], "update", {"children": children})
    assert updated.status_code == 200, updated.json
    [after] = updated.json["photos"]
    assert (after["status"], after["digest"], after["media_type"]) == (
        "stored",
        sha256(newer),
        "image/png",
    )
    assert client.get(path_of(before)).status_code == 404
    assert client.get(path_of(after)).data == newer
    page = client.get(f"/alerts/{old['id']}").get_data(as_text=True)
    assert path_of(after) in page
    assert path_of(before) not in page
    # An update that leaves the children alone fetches nothing and reports nothing.
    texts = act(client, officers["drafter"], old["id"], "update", {"texts": {"en": "Call 911."}})
    assert texts.json["photos"] == []
    assert photo_server.requests == ["/jane.jpg", "/jane.png"]


# CAP and Atom


def test_the_cap_message_carries_each_photo_as_a_resource_in_every_language(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    data = picture()
    approved = send_with_photos(client, officers, photo_server.add("/jane.jpg", data))
    [photo] = approved["photos"]
    cap = cap_of(client, approved["id"])  # valid CAP 1.2 and IPAWS profile
    described = {}
    for info in cap.findall(f"{CAP}info"):
        [resource] = info.findall(f"{CAP}resource")
        described[info.findtext(f"{CAP}language")] = resource.findtext(f"{CAP}resourceDesc")
        assert resource.findtext(f"{CAP}mimeType") == "image/jpeg"
        assert resource.findtext(f"{CAP}size") == str(len(data))
        assert resource.findtext(f"{CAP}uri") == photo["url"]
        # CAP 1.2 names SHA-1 for <digest>.
        assert (
            resource.findtext(f"{CAP}digest")
            == hashlib.sha1(data, usedforsecurity=False).hexdigest()
        )
    assert described == {"en-US": "Photo of Jane Doe", "es-US": "Foto de Jane Doe"}


def test_a_cap_resource_renders_valid_and_one_cap_cannot_express_is_refused() -> None:
    resource = CapResource(
        "Photo of Jane Doe",
        "image/png",
        "https://haven.example/alerts/7/photos/ab.png",
        size=1234,
        digest="a" * 40,
    )
    document = render_cap(create_message(infos=[create_info(resources=[resource])]))
    assert_valid_cap_and_ipaws(document)
    [element] = etree.fromstring(document).iter(f"{CAP}resource")
    assert [child.tag.removeprefix(CAP) for child in element] == [
        "resourceDesc",
        "mimeType",
        "size",
        "uri",
        "digest",
    ]
    for change, message in (
        ({"digest": "b" * 64}, "not a SHA-1"),
        ({"uri": "/alerts/7/photos/ab.png"}, "not an absolute URL"),
        ({"mime_type": "png"}, "not a MIME type"),
        ({"description": " "}, "needs a description"),
    ):
        with pytest.raises(ValueError, match=message):
            CapResource(**{**resource.__dict__, **change})


def test_the_atom_entry_links_each_photo_as_an_enclosure(
    client: FlaskClient, officers: dict[str, str], photo_server: PhotoServer
) -> None:
    data = picture("GIF")
    approved = send_with_photos(client, officers, photo_server.add("/jane.gif", data))
    [photo] = approved["photos"]
    feed = feed_of(client)  # valid Atom
    [entry] = feed.findall(f"{ATOM}entry")
    enclosures = [
        dict(link.attrib) for link in entry.findall(f"{ATOM}link") if link.get("rel") == "enclosure"
    ]
    assert enclosures == [
        {"rel": "enclosure", "type": "image/gif", "length": str(len(data)), "href": photo["url"]}
    ]
    with pytest.raises(ValueError, match="not an absolute IRI"):
        AtomEnclosure("/alerts/7/photos/ab.gif", "image/gif", 10)


# Channel messages


def test_email_attaches_the_photo_ntfy_links_it_and_a_webhook_carries_the_page_link_only(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    photo_server: PhotoServer,
    webhook_server: WebhookServer,
    smtp_server: SmtpServer,
) -> None:
    # One loopback HTTP server plays two channels: ntfy (its JSON API, at its root) and a
    # JSON webhook (at /hooks/haven).
    ntfy = f"ntfy://127.0.0.1:{webhook_server.port}/amber-chicago"
    for url in (ntfy, hook_url(webhook_server), mail_url(smtp_server)):
        assert subscribe(client, url).status_code == 202
    messages = [h.json["message"] for h in webhook_server.hooks] + [smtp_server.mails[0].text]
    for text in messages:
        link = LINK.search(text)
        assert link, text
        assert confirm(client, link[1]).status_code == 200

    data = picture()
    confirmations = len(webhook_server.hooks)
    approved = send_with_photos(client, officers, photo_server.add("/jane.jpg", data))
    [photo] = approved["photos"]
    dispatch(app)

    alerts = [h for h in webhook_server.hooks[confirmations:]]
    [pushed] = [h.json for h in alerts if h.json.get("topic") == "amber-chicago"]
    assert "Jane Doe" in pushed["message"]
    assert (pushed["attach"], pushed["filename"]) == (photo["url"], "photo-1.jpg")
    [hooked] = [h.json for h in alerts if h.path == "/hooks/haven"]
    assert "Jane Doe" in hooked["message"]
    assert not hooked.get("attachments")
    mail = smtp_server.mails[-1]
    assert "Jane Doe" in mail.text
    [attached] = list(mail.message.iter_attachments())
    assert attached.get_content_type() == "image/jpeg"
    assert attached.get_filename() == "photo-1.jpg"
    assert attached.get_content() == data


# Recognising images


def test_images_are_recognised_by_their_first_bytes_only() -> None:
    assert sniff_image(picture("JPEG")) == "image/jpeg"
    assert sniff_image(picture("PNG")) == "image/png"
    assert sniff_image(picture("WEBP")) == "image/webp"
    assert sniff_image(picture("GIF")) == "image/gif"
    for other in (SVG, HTML, b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\xff\xd8"):
        assert sniff_image(other) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("photo_max_bytes", 10), ("photo_fetch_seconds", 0), ("photo_fetch_seconds", 60)],
)
def test_photo_limits_outside_their_range_are_refused_at_start(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]
