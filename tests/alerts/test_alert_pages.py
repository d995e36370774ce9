"""What the public and other alerting systems see: pages, CAP 1.2, Atom, and CAP import."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from alerts.models import Alert
from alerts.service import expire_alerts
from haven.db import get_session, utcnow
from tests.alerts.test_alerts_api import act, draft, send
from tests.alerts.test_cap import assert_valid_cap_and_ipaws
from tests.factories import bearer

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
DATA = Path(__file__).parent.parent / "data" / "cap"


def cap_of(client: FlaskClient, alert_id: int) -> Any:
    response = client.get(f"/alerts/{alert_id}.cap")
    assert response.status_code == 200
    assert response.mimetype == "application/cap+xml"
    assert_valid_cap_and_ipaws(response.data)
    return etree.fromstring(response.data)


def test_an_active_alert_is_listed_and_shown_with_its_area(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    listing = client.get("/alerts").get_data(as_text=True)
    assert "Jane Doe" in listing
    page = client.get(f"/alerts/{alert['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ABC1234" in html
    assert "<svg" in html
    assert 'role="img"' in html
    assert client.get(f"/a/{alert['id']}").headers["Location"].endswith(f"/alerts/{alert['id']}")


def test_drafts_and_test_alerts_are_never_public(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    unsent = draft(client, officers["drafter"])
    test_alert = send(client, officers, status="Test")
    for alert in (unsent, test_alert):
        assert client.get(f"/alerts/{alert['id']}").status_code == 404
        assert client.get(f"/alerts/{alert['id']}.cap").status_code == 404
    assert "Jane Doe" not in client.get("/alerts").get_data(as_text=True)


def test_the_cap_document_is_valid_ipaws_cap_with_one_info_per_language(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    root = cap_of(client, alert["id"])
    assert root.findtext(f"{CAP}msgType") == "Alert"
    infos = root.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["en-US", "es-US"]
    first = infos[0]
    assert first.findtext(f"{CAP}category") == "Rescue"
    assert first.findtext(f"{CAP}event") == "Child Abduction"
    assert first.find(f"{CAP}eventCode/{CAP}value").text == "CAE"
    parameters = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in first.findall(f"{CAP}parameter")
    }
    assert len(parameters["CMAMtext"]) <= 90
    assert len(parameters["CMAMlongtext"]) <= 360
    assert "ABC1234" in parameters["CMAMtext"]
    geocode = first.find(f"{CAP}area/{CAP}geocode")
    assert (geocode.findtext(f"{CAP}valueName"), geocode.findtext(f"{CAP}value")) == (
        "SAME",
        "017031",
    )
    assert infos[1].findtext(f"{CAP}instruction") == "Llame al 911 con cualquier información."


def test_updates_and_cancellations_reference_every_earlier_version(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    changed = act(
        client,
        officers["drafter"],
        alert["id"],
        "update",
        {"areas": [{"circle": "41.85,-87.75 5", "description": "West Side"}]},
    )
    assert changed.status_code == 200, changed.json
    updated = cap_of(client, alert["id"])
    assert updated.findtext(f"{CAP}msgType") == "Update"
    assert updated.findtext(f"{CAP}references").count(",") == 2  # one reference: v1
    assert updated.find(f"{CAP}info/{CAP}area/{CAP}circle").text == "41.85,-87.75 5"
    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    cancelled = cap_of(client, alert["id"])
    assert cancelled.findtext(f"{CAP}msgType") == "Cancel"
    assert len(cancelled.findtext(f"{CAP}references").split()) == 2
    assert "cancelled" in client.get(f"/alerts/{alert['id']}").get_data(as_text=True)


def test_the_atom_index_lists_active_alerts_with_their_cap_links(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    response = client.get("/alerts/feed.atom")
    assert response.mimetype == "application/atom+xml"
    feed = etree.fromstring(response.data)
    atom = "{http://www.w3.org/2005/Atom}"
    hrefs = [link.get("href") for link in feed.iter(f"{atom}link")]
    assert any(h.endswith(f"/alerts/{alert['id']}.cap") for h in hrefs)


def test_a_cap_amber_alert_becomes_a_draft(client: FlaskClient, officers: dict[str, str]) -> None:
    alert = send(client, officers)
    document = client.get(f"/alerts/{alert['id']}.cap").data
    response = client.post(
        "/api/v1/alerts/cap",
        data=document,
        content_type="application/cap+xml",
        headers=bearer(officers["drafter"]),
    )
    assert response.status_code == 201, response.json
    assert response.json["state"] == "draft"
    assert response.json["content"]["areas"][0]["same"] == "017031"
    assert response.json["content"]["contact_phone"] == "+18005551234"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (
            (
                DATA / "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
            ).read_bytes(),
            "not a child abduction",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;&lol;">]><alert>&lol2;</alert>',
            "DTD",
        ),
        (b"<alert><identifier>x</identifier>", "line 1"),
    ],
)
def test_a_bad_or_foreign_cap_document_is_refused_clearly_and_stores_nothing(
    app: Flask, client: FlaskClient, officers: dict[str, str], document: bytes, says: str
) -> None:
    response = client.post(
        "/api/v1/alerts/cap",
        data=document,
        content_type="application/cap+xml",
        headers=bearer(officers["drafter"]),
    )
    assert response.status_code == 422
    assert says in response.json["error"]["message"]
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Alert)) == 0


def public_views(client: FlaskClient, alert_id: int) -> dict[str, str]:
    """Every public view an alert appears in, as text."""
    return {
        path: client.get(path).get_data(as_text=True)
        for path in (
            f"/alerts/{alert_id}",
            f"/alerts/{alert_id}.cap",
            "/alerts/feed.atom",
            "/alerts",
        )
    }


def test_each_public_view_is_rendered_once_per_alert_version(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    cache = app.extensions["alerts.public_cache"]
    first = public_views(client, alert["id"])
    renders = cache.renders
    assert public_views(client, alert["id"]) == first
    assert cache.renders == renders
    spanish = client.get(f"/alerts/{alert['id']}", headers={"Accept-Language": "es"})
    assert spanish.get_data(as_text=True) != first[f"/alerts/{alert['id']}"]
    assert cache.renders == renders + 1


def test_an_update_cancellation_or_expiry_shows_at_once_in_every_cached_view(
    app: Flask, client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers)
    before = public_views(client, alert["id"])
    assert all("Jane Doe" in text for text in before.values())
    changed = act(
        client, officers["drafter"], alert["id"], "update", {"children": [{"name": "Ann Roe"}]}
    )
    assert changed.status_code == 200, changed.json
    updated = public_views(client, alert["id"])
    for path, text in updated.items():
        assert "Ann Roe" in text, path
        assert "Jane Doe" not in text, path
    assert f"urn:haven:alert:{alert['id']}:v2" in updated["/alerts/feed.atom"]

    act(client, officers["drafter"], alert["id"], "cancel", {"reason": "child_found"})
    cancelled = public_views(client, alert["id"])
    assert "This alert has been cancelled." in cancelled[f"/alerts/{alert['id']}"]
    assert "<msgType>Cancel</msgType>" in cancelled[f"/alerts/{alert['id']}.cap"]
    assert "Ann Roe" not in cancelled["/alerts"]
    # The feed keeps the cancellation for aggregators to withdraw the alert (test_atom.py).
    assert "Cancelled: AMBER Alert: Ann Roe" in cancelled["/alerts/feed.atom"]
    assert f"urn:haven:alert:{alert['id']}:v3" in cancelled["/alerts/feed.atom"]

    other = send(client, officers)
    assert "Jane Doe" in public_views(client, other["id"])["/alerts"]
    with app.app_context():
        session = get_session()
        row = session.get(Alert, other["id"])
        assert row is not None
        row.expires = utcnow() - datetime.timedelta(seconds=1)
        session.commit()
        assert expire_alerts(session=session) == 1
    expired = public_views(client, other["id"])
    assert "This alert has ended." in expired[f"/alerts/{other['id']}"]
    assert "Jane Doe" not in expired["/alerts"]
    assert "Jane Doe" not in expired["/alerts/feed.atom"]  # an expired alert leaves the feed
