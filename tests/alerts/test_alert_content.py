"""Stored alerts are read as stored, never re-validated; updates merge texts per language and
tell every language group what changed. Dispatch runs through the real service functions
against the Twilio API on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from alerts.dispatch.service import record_next_job, send_due
from alerts.dispatch.setup import get_dispatcher
from alerts.models import Alert, AlertVersion
from alerts.sms import render_sms
from haven.db import get_session
from tests.alerts.test_alerts_api import LOOP, act, send
from tests.factories import bearer, create_subscribers
from tests.fakes.twilio_server import FakeTwilio

ALERTS = "/api/v1/alerts"
# Accepted once; today's input rules refuse each of these.
REFUSED_TODAY = {
    "contact_phone": "+15550100123",  # phonenumbers: not a valid number
    "texts": {"en": "Call 911. " * 150},  # 1,500 characters: over the 1,000 limit
    "children": [{"name": "Jane Doe", "age": 25}],  # over the age limit of 20
}


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    """Twilio is the loopback fake; three segments leave room for an update's news."""
    return {
        **fake_twilio.settings(),
        "sms_rate_per_second": 500.0,
        "sms_segment_budget": 3,
    }


def store_content(app: Flask, alert_id: int, **content: Any) -> None:
    """Overwrite what is stored for the alert and its versions, past the input rules."""
    with app.app_context():
        session = get_session()
        alert = session.get_one(Alert, alert_id)
        stored = {**alert.content, **content}
        session.execute(update(Alert).where(Alert.id == alert_id).values(content=stored))
        session.execute(
            update(AlertVersion).where(AlertVersion.alert_id == alert_id).values(content=stored)
        )
        session.commit()


def dispatch(app: Flask) -> None:
    """Record every queued version's deliveries and send them, as a worker does."""
    with app.app_context():
        session = get_session()
        while record_next_job(session=session, audience=app.extensions["haven.audience"]):
            pass
        while send_due(app=app, session=session, dispatcher=get_dispatcher(app)):
            pass


def test_a_stored_alert_that_todays_rules_refuse_is_read_published_and_dispatched(
    app: Flask, client: FlaskClient, officers: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    create_subscribers(app, [("+13125550101", *LOOP)])
    alert_id = send(client, officers)["id"]
    store_content(app, alert_id, **REFUSED_TODAY)

    read = client.get(f"{ALERTS}/{alert_id}", headers=bearer(officers["drafter"]))
    assert read.status_code == 200, read.json
    assert read.get_json()["content"]["contact_phone"] == "+15550100123"
    assert len(read.get_json()["content"]["texts"]["en"]) == 1500
    assert (
        client.post(
            f"{ALERTS}/{alert_id}/audience", headers=bearer(officers["drafter"])
        ).status_code
        == 200
    )
    page = client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200
    assert "+15550100123" in page.text
    assert client.get("/alerts").status_code == 200
    cap = client.get(f"/alerts/{alert_id}.cap")
    assert cap.status_code == 200
    assert b"+15550100123" in cap.data
    assert client.get("/alerts/feed.atom").status_code == 200

    dispatch(app)
    assert [m.to for m in fake_twilio.messages] == ["+13125550101"]
    assert "+15550100123" in fake_twilio.messages[0].body

    # An update that changes something else keeps the stored values as they are.
    updated = act(
        client, officers["drafter"], alert_id, "update", {"last_seen": {"place": "Navy Pier"}}
    )
    assert updated.status_code == 200, updated.json
    assert updated.get_json()["content"]["contact_phone"] == "+15550100123"
    (child,) = updated.get_json()["content"]["children"]
    assert (child["name"], child["age"]) == ("Jane Doe", 25)
    dispatch(app)
    assert "Last seen: Navy Pier" in fake_twilio.messages[-1].body


FOUR = {
    "en": "Call 911 with any information.",
    "es": "Llame al 911 con cualquier dato.",
    "ar": "اتصلوا بالرقم 911",
    "tl": "Tumawag sa 911.",
}
PHONES = {"en": "+13125550101", "es": "+13125550102", "ar": "+13125550103", "tl": "+13125550104"}


@pytest.fixture
def four_languages(app: Flask, client: FlaskClient, officers: dict[str, str]) -> int:
    """An active alert with texts in en, es, ar and tl, and one subscriber per language,
    whose first messages have gone out."""
    for language, phone in PHONES.items():
        create_subscribers(app, [(phone, *LOOP)], language=language)
    alert_id: int = send(client, officers, texts=FOUR)["id"]
    dispatch(app)
    return alert_id


def last_to(fake: FakeTwilio, phone: str) -> str:
    return [m.body for m in fake.messages if m.to == phone][-1]


def test_an_update_of_the_spanish_text_keeps_the_others_and_tells_every_language(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    four_languages: int,
) -> None:
    news = "Vehiculo visto en la I-94 hacia el norte."
    response = act(client, officers["drafter"], four_languages, "update", {"texts": {"es": news}})
    assert response.status_code == 200, response.json
    assert response.get_json()["content"]["texts"] == {**FOUR, "es": news}

    dispatch(app)
    received = {language: last_to(fake_twilio, phone) for language, phone in PHONES.items()}
    assert received["en"] == (
        "UPDATE: AMBER Alert (Chicago PD)\n"
        "Missing: Jane Doe, age 7\n"
        "Plate: IL ABC1234\n"
        f"In Spanish: {news}\n"
        "Call 911 or +18005551234\n"
        f"http://127.0.0.1:5000/a/{four_languages}"
    )
    assert received["es"].startswith("ACTUALIZADA: Alerta AMBER (Chicago PD)\n")
    assert f"\n{news}\n" in received["es"]
    assert f"باللغة الإسبانية: {news}" in received["ar"]
    assert f"Sa Spanish: {news}" in received["tl"]
    for language, text in FOUR.items():  # nobody is sent the first alert's text again
        assert text not in received[language]

    # The answer said, per language, exactly what each group received.
    messages = response.get_json()["messages"]
    assert set(PHONES) <= set(messages)
    assert {language: messages[language]["sms"] for language in PHONES} == received
    assert messages["ar"]["segments"] <= 3


def test_news_written_in_several_languages_reaches_others_in_the_alerts_first_language(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    four_languages: int,
) -> None:
    texts = {"es": "Visto en la I-94.", "en": "Seen on I-94."}
    response = act(client, officers["drafter"], four_languages, "update", {"texts": texts})
    assert response.status_code == 200, response.json
    dispatch(app)
    assert "\nSeen on I-94.\n" in last_to(fake_twilio, PHONES["en"])
    assert "\nVisto en la I-94.\n" in last_to(fake_twilio, PHONES["es"])
    assert "Sa English: Seen on I-94." in last_to(fake_twilio, PHONES["tl"])
    assert "Visto" not in last_to(fake_twilio, PHONES["tl"])


def test_an_update_of_other_fields_names_them_in_each_language_and_keeps_every_text(
    app: Flask,
    client: FlaskClient,
    officers: dict[str, str],
    fake_twilio: FakeTwilio,
    four_languages: int,
) -> None:
    changes = {"areas": [{"circle": "41.8781,-87.6298 2"}], "vehicle": {"color": "red"}}
    response = act(client, officers["drafter"], four_languages, "update", changes)
    assert response.status_code == 200, response.json
    assert response.get_json()["content"]["texts"] == FOUR
    dispatch(app)
    english = last_to(fake_twilio, PHONES["en"])
    assert "Vehicle: red\nThe alert area has changed.\n" in english
    assert "El área de la alerta ha cambiado." in last_to(fake_twilio, PHONES["es"])
    assert "تغيّرت منطقة الإنذار." in last_to(fake_twilio, PHONES["ar"])
    assert "Nagbago ang lugar na saklaw ng alerto." in last_to(fake_twilio, PHONES["tl"])


def test_a_text_is_removed_only_by_an_explicit_null(
    client: FlaskClient, officers: dict[str, str], four_languages: int
) -> None:
    response = act(client, officers["drafter"], four_languages, "update", {"texts": {"tl": None}})
    assert response.status_code == 200, response.json
    assert response.get_json()["content"]["texts"] == {k: v for k, v in FOUR.items() if k != "tl"}
    refused = act(client, officers["drafter"], four_languages, "update", {"expires": None})
    assert refused.status_code == 422


@pytest.mark.usefixtures("app")
def test_an_update_that_cannot_fit_its_news_says_where_to_read_it(app: Flask) -> None:
    from tests.factories import draft_body

    before = draft_body(texts=FOUR)
    after = {**before, "texts": {**FOUR, "en": "Seen northbound. " * 20}}
    with app.app_context():
        text = render_sms(
            alert_content=after,
            previous_content=before,
            kind="update",
            agency="Chicago PD",
            language="en",
            link="http://h/a/1",
        )
    assert "Seen northbound" not in text
    assert "More new details at the link below.\n" in text
