"""Haven's CAP in use: what it serves carries SAME codes on every area, and posting it back
gives a draft of the very same alert."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from lxml import etree

from tests.alerts.test_alerts_api import send
from tests.alerts.test_cap import assert_valid_cap_and_ipaws
from tests.factories import bearer

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
CHICAGO = ZoneInfo("America/Chicago")


def in_six_hours() -> str:
    """An expiry as an officer types it: whole seconds, local time (CAP keeps no fractions)."""
    moment = datetime.datetime.now(CHICAGO) + datetime.timedelta(hours=6)
    return moment.replace(microsecond=0).isoformat()


ALERT: dict[str, Any] = {
    "areas": [
        {"polygon": "41.75,-87.85 41.9,-87.85 41.9,-87.7 41.75,-87.85", "description": "West Side"},
        {"circle": "41.85,-87.92 3"},  # across the Cook-DuPage line
        {
            "geojson": {
                "type": "Polygon",
                "coordinates": [[[-88.3, 41.5], [-88.0, 41.5], [-88.0, 41.8], [-88.3, 41.5]]],
            },
            "description": "Southwest suburbs",
        },
        {"same": "017031", "description": "Cook County"},
    ],
    "children": [
        {"name": "Jane Doe", "age": 7, "description": "brown hair, red jacket"},
        {"name": "Sam Doe", "age": 3, "photo_url": "https://photos.example/sam.jpg"},
    ],
    "suspects": [{"name": "John Roe", "description": "white male, 40s"}, {"name": "Ann Roe"}],
    "texts": {"en": "Call 911.", "es": "Llame al 911.", "zh": "请拨打911。"},
}


def test_every_area_of_the_served_cap_carries_the_same_codes_of_its_counties(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers, expires=in_six_hours(), **ALERT)
    document = client.get(f"/alerts/{alert['id']}.cap").data
    assert_valid_cap_and_ipaws(document)
    for info in etree.fromstring(document).findall(f"{CAP}info"):
        codes = [
            [
                (g.findtext(f"{CAP}valueName"), g.findtext(f"{CAP}value"))
                for g in area.findall(f"{CAP}geocode")
            ]
            for area in info.findall(f"{CAP}area")
        ]
        assert codes == [
            [("SAME", "017031")],
            [("SAME", "017031"), ("SAME", "017043")],  # Cook and DuPage
            [("SAME", c) for c in ("017031", "017043", "017093", "017197")],  # and Kendall, Will
            [("SAME", "017031")],  # as given
        ]


def test_posting_havens_own_cap_back_gives_a_draft_of_the_same_alert(
    client: FlaskClient, officers: dict[str, str]
) -> None:
    alert = send(client, officers, expires=in_six_hours(), **ALERT)
    document = client.get(f"/alerts/{alert['id']}.cap").data
    response = client.post(
        "/api/v1/alerts/cap",
        data=document,
        content_type="application/cap+xml",
        headers=bearer(officers["drafter"]),
    )
    assert response.status_code == 201, response.json
    assert response.json["skipped"] == []
    imported, sent = dict(response.json["content"]), dict(alert["content"])
    # The same moment; CAP's <expires> may give it in another offset.
    assert instant(imported.pop("expires")) == instant(sent.pop("expires"))
    assert imported == sent
    assert imported["vehicle"]["plate"] == "ABC1234"


def instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)
