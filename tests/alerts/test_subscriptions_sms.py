"""Subscribing by text message: Twilio's signed inbound webhook, keywords, replies in TwiML.

Every request is signed as Twilio signs it (twilio's RequestValidator, over HAVEN_PUBLIC_URL
and the form fields). Who is subscribed is checked through the officers' audience API.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from defusedxml import ElementTree as ET
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from alerts.models import Subscriber, SubscriberLocation
from alerts.subscriptions import service
from haven.db import get_session
from tests.factories import audience_count, catalog_text
from tests.fakes.twilio_server import FakeTwilio

PATH = "/webhooks/twilio/inbound"
PUBLIC_URL = "https://haven.example.org"
PHONE = "+13125550101"
OTHER = "+13125550102"
HAVEN_NUMBER = "+15005550006"


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {
        "public_url": PUBLIC_URL,
        **fake_twilio.settings(from_number=HAVEN_NUMBER),
    }


def sign(token: str, params: dict[str, str], url: str = PUBLIC_URL + PATH) -> str:
    """X-Twilio-Signature as Twilio computes it for this URL and these form fields."""
    return str(RequestValidator(token).compute_signature(url, params))


def text(client: FlaskClient, app: Flask, body: str, phone: str = PHONE, **headers: str) -> Any:
    """Post an incoming message, signed with the app's Twilio auth token."""
    params = {
        "From": phone,
        "To": HAVEN_NUMBER,
        "Body": body,
        "MessageSid": "SM" + "0" * 32,
        "AccountSid": app.extensions["haven.settings"].twilio_account_sid,
        "NumMedia": "0",
    }
    token = app.extensions["haven.settings"].twilio_auth_token
    return client.post(
        PATH, data=params, headers={"X-Twilio-Signature": sign(token, params), **headers}
    )


def reply(response: Any) -> str:
    """The text of the TwiML reply."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return " ".join(m.text or "" for m in root.iter("Message"))


def snapshot(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        session = get_session()
        subscribers = session.execute(
            select(Subscriber.phone, Subscriber.status, Subscriber.language).order_by(Subscriber.id)
        ).all()
        locations = session.execute(
            select(SubscriberLocation.zip, SubscriberLocation.active, SubscriberLocation.seq)
        ).all()
    return [tuple(r) for r in subscribers] + [tuple(r) for r in locations]


def subscriber(app: Flask, phone: str = PHONE) -> Subscriber | None:
    with app.app_context():
        return get_session().scalar(select(Subscriber).where(Subscriber.phone == phone))


def zips(app: Flask, phone: str = PHONE) -> list[str | None]:
    with app.app_context():
        return list(
            get_session().scalars(
                select(SubscriberLocation.zip)
                .join(Subscriber, Subscriber.id == SubscriberLocation.subscriber_id)
                .where(Subscriber.phone == phone, SubscriberLocation.active)
                .order_by(SubscriberLocation.id)
            )
        )


# Subscribing


def test_join_subscribes_with_the_carriers_confirmation(
    app: Flask, client: FlaskClient, officer: str
) -> None:
    answer = reply(text(client, app, "JOIN 60601"))
    assert answer == (
        "Haven AMBER Alerts: you'll get alerts for missing children near 60601. Msg frequency "
        "varies (usually under 5/month). Msg&data rates may apply. Reply HELP for help, STOP to "
        "cancel."
    )
    found = subscriber(app)
    assert found is not None
    assert (found.status, found.language) == ("active", "en")
    assert zips(app) == ["60601"]
    assert audience_count(client, officer) == 1


def test_amber_works_like_join_and_several_zips_fit_in_one_message(
    app: Flask, client: FlaskClient
) -> None:
    answer = reply(text(client, app, "  amber 60601 60614  "))
    assert "near 60601 and 60614." in answer
    assert zips(app) == ["60601", "60614"]


def test_later_zips_are_added_and_the_reply_names_them_all(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "JOIN 60601"))
    answer = reply(text(client, app, "join 60614, 60615"))
    assert "near 60601, 60614, and 60615." in answer
    assert zips(app) == ["60601", "60614", "60615"]


def test_a_known_zip_again_changes_nothing(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "JOIN 60601"))
    before = snapshot(app)
    answer = reply(text(client, app, "JOIN 60601"))
    assert answer == (
        "Haven AMBER Alerts: you already get alerts for 60601. Reply HELP for help, STOP to cancel."
    )
    assert snapshot(app) == before


def test_a_sixth_zip_is_refused_and_nothing_is_added(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "JOIN 60601 60602 60603 60604 60605"))
    before = snapshot(app)
    answer = reply(text(client, app, "JOIN 60606"))
    assert answer.startswith("Haven AMBER Alerts: you can get alerts for up to 5 places")
    assert "60601, 60602, 60603, 60604, and 60605" in answer
    assert "Nothing was added." in answer
    assert snapshot(app) == before


def test_six_zips_in_one_message_are_refused_whole(app: Flask, client: FlaskClient) -> None:
    answer = reply(text(client, app, "JOIN 60601 60602 60603 60604 60605 60606"))
    assert "up to 5 places" in answer
    assert zips(app) == []


def test_an_unknown_zip_is_named_and_nothing_is_added(app: Flask, client: FlaskClient) -> None:
    answer = reply(text(client, app, "JOIN 60601 00000"))
    assert answer == (
        "Haven AMBER Alerts: 00000 isn't a US ZIP code we know. Please check it, then reply JOIN "
        "and your 5-digit ZIP code, for example JOIN 60601."
    )
    assert subscriber(app) is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("JOIN", "reply JOIN and your 5-digit ZIP code"),
        ("JOIN chicago", '"chicago" isn\'t a ZIP code.'),
    ],
)
def test_join_without_a_zip_code_explains_what_to_send(
    app: Flask, client: FlaskClient, body: str, says: str
) -> None:
    assert says in reply(text(client, app, body))
    assert subscriber(app) is None


@pytest.mark.parametrize("body", ["HELP", "info", "hello there", "60601", ""])
def test_help_and_anything_unknown_get_the_help_text(
    app: Flask, client: FlaskClient, body: str
) -> None:
    answer = reply(text(client, app, body))
    assert answer.startswith("Haven AMBER Alerts: alerts about missing children")
    assert "Msg&data rates may apply. Reply STOP to cancel." in answer
    assert answer.endswith(f"More: {PUBLIC_URL}/alerts/subscribe")
    assert subscriber(app) is None


# Opting out and back in


@pytest.mark.parametrize(
    "word", ["STOP", "stop", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
)
def test_every_opt_out_word_removes_the_subscriber_from_the_audience(
    app: Flask, client: FlaskClient, officer: str, word: str
) -> None:
    reply(text(client, app, "JOIN 60601 60614"))
    reply(text(client, app, "JOIN 60602", phone=OTHER))
    assert audience_count(client, officer) == 2
    answer = reply(text(client, app, f"  {word} "))
    assert answer == (
        "You're unsubscribed from Haven AMBER Alerts. No more messages will be sent. "
        "Reply START to resubscribe."
    )
    found = subscriber(app)
    assert found is not None
    assert found.status == "opted_out"
    assert zips(app) == []
    assert audience_count(client, officer) == 1


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_start_restores_every_place(
    app: Flask, client: FlaskClient, officer: str, word: str
) -> None:
    reply(text(client, app, "JOIN 60601 60614"))
    reply(text(client, app, "STOP"))
    assert audience_count(client, officer) == 0
    answer = reply(text(client, app, word))
    assert "near 60601 and 60614." in answer
    assert "Msg&data rates may apply" in answer
    found = subscriber(app)
    assert found is not None
    assert found.status == "active"
    assert zips(app) == ["60601", "60614"]
    assert audience_count(client, officer) == 1


def test_an_opt_out_holds_until_start_and_join_counts_as_start(
    app: Flask, client: FlaskClient, officer: str
) -> None:
    reply(text(client, app, "JOIN 60601"))
    reply(text(client, app, "STOP"))
    reply(text(client, app, "HELP"))
    reply(text(client, app, "LANG es"))
    assert audience_count(client, officer) == 0
    reply(text(client, app, "JOIN 60614"))
    assert zips(app) == ["60601", "60614"]
    assert audience_count(client, officer) == 1


def test_stop_from_an_unknown_number_is_remembered(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "STOP"))
    found = subscriber(app)
    assert found is not None
    assert found.status == "opted_out"


def test_start_from_an_unknown_number_explains_how_to_join(app: Flask, client: FlaskClient) -> None:
    assert "reply JOIN and your 5-digit ZIP code" in reply(text(client, app, "START"))
    assert subscriber(app) is None


def test_the_dispatcher_can_opt_a_number_out(app: Flask, client: FlaskClient, officer: str) -> None:
    reply(text(client, app, "JOIN 60601"))
    with app.app_context():
        service.opt_out(session=get_session(), phone="(312) 555-0101")
    assert audience_count(client, officer) == 0
    found = subscriber(app)
    assert found is not None
    assert found.status == "opted_out"


# Languages


def test_lang_sets_the_language_and_later_replies_use_it(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "JOIN 60601"))
    answer = reply(text(client, app, "LANG español"))
    assert catalog_text("es", "Haven AMBER Alerts will write to you in") in answer
    assert "Español" in answer
    found = subscriber(app)
    assert found is not None
    assert found.language == "es"


def spanish_catalog(app: Flask, tmp_path: Path, messages: dict[str, str]) -> None:
    """Add a Spanish catalog holding `messages`, as `make translations` would compile one."""
    catalog = Catalog(locale="es")
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    folder = tmp_path / "translations" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as stream:
        write_mo(stream, catalog)
    app.extensions["babel"].translation_directories.append(str(tmp_path / "translations"))


HELP_EN = (
    "Haven AMBER Alerts: alerts about missing children near the places you choose. Reply JOIN "
    "and a ZIP code to add a place, or LANG and a language to change language (e.g. LANG es). "
    "Msg&data rates may apply. Reply STOP to cancel. More: %(url)s"
)
HELP_ES = (
    "Haven AMBER Alerts: alertas de niños desaparecidos. Responda JOIN y un código postal, o "
    "LANG y un idioma. Pueden aplicarse tarifas. Responda STOP para cancelar. Más: %(url)s"
)
LANG_EN = (
    "Haven AMBER Alerts will write to you in %(language)s from now on. Reply HELP for help, "
    "STOP to cancel."
)
LANG_ES = (
    "Haven AMBER Alerts le escribirá en %(language)s. Responda HELP para ayuda, STOP para cancelar."
)


def test_replies_come_in_the_subscribers_language_whatever_the_request_says(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    spanish_catalog(app, tmp_path, {HELP_EN: HELP_ES, LANG_EN: LANG_ES})
    assert reply(text(client, app, "HELP")).startswith("Haven AMBER Alerts: alerts about")
    assert reply(text(client, app, "LANG es")) == (
        "Haven AMBER Alerts le escribirá en Español. Responda HELP para ayuda, STOP para cancelar."
    )
    answer = reply(text(client, app, "HELP", **{"Accept-Language": "fr"}))
    assert answer == HELP_ES % {"url": f"{PUBLIC_URL}/alerts/subscribe"}
    # Another number, never asked, still gets English.
    assert reply(text(client, app, "HELP", phone=OTHER)).startswith("Haven AMBER Alerts: alerts")


def test_an_unknown_language_lists_the_codes(app: Flask, client: FlaskClient) -> None:
    answer = reply(text(client, app, "LANG klingon"))
    assert "reply LANG and one of these language codes: en, es, ar," in answer
    assert subscriber(app) is None


def test_the_language_chosen_before_joining_is_kept(app: Flask, client: FlaskClient) -> None:
    reply(text(client, app, "LANG vi"))
    reply(text(client, app, "JOIN 60601"))
    found = subscriber(app)
    assert found is not None
    assert (found.language, found.status) == ("vi", "active")


# Refused requests


def test_an_unsigned_request_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    before = snapshot(app)
    response = client.post(PATH, data={"From": PHONE, "Body": "JOIN 60601"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "tamper",
    ["wrong token", "other url", "body changed", "signed for the proxy's url"],
)
def test_a_wrongly_signed_request_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, tamper: str
) -> None:
    token = app.extensions["haven.settings"].twilio_auth_token
    params = {"From": PHONE, "Body": "JOIN 60601"}
    signature = {
        "wrong token": sign("0" * 32, params),
        "other url": sign(token, params, PUBLIC_URL + "/webhooks/twilio/other"),
        "body changed": sign(token, {**params, "Body": "HELP"}),
        # Behind a proxy, Twilio signs the public URL, not the one Haven is reached at.
        "signed for the proxy's url": sign(token, params, "http://localhost" + PATH),
    }[tamper]
    response = client.post(PATH, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert response.is_json
    assert snapshot(app) == []


@pytest.mark.parametrize("settings_overrides", [{"public_url": PUBLIC_URL}])
def test_without_an_auth_token_everything_is_refused_and_logged(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    params = {"From": PHONE, "Body": "JOIN 60601"}
    response = client.post(PATH, data=params, headers={"X-Twilio-Signature": sign("", params)})
    assert response.status_code == 403
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text
    assert snapshot(app) == []


@pytest.mark.parametrize(
    "params",
    [
        {"Body": "JOIN 60601"},
        {"From": PHONE},
        {"From": "", "Body": "JOIN 60601"},
        {"From": "not a number", "Body": "JOIN 60601"},
        {"From": "whatsapp:+13125550101", "Body": "JOIN 60601"},
        {"From": PHONE, "Body": "JOIN 60601 " + "x" * 1600},
    ],
)
def test_malformed_input_is_a_4xx_json_error_and_changes_nothing(
    app: Flask, client: FlaskClient, params: dict[str, str]
) -> None:
    token = app.extensions["haven.settings"].twilio_auth_token
    response = client.post(PATH, data=params, headers={"X-Twilio-Signature": sign(token, params)})
    assert 400 <= response.status_code < 500
    assert set(response.json["error"]) >= {"code", "message"}
    assert snapshot(app) == []


def test_a_sender_that_floods_gets_no_more_replies_but_can_still_stop(
    app: Flask, client: FlaskClient
) -> None:
    for _ in range(30):
        reply(text(client, app, "HELP"))
    assert reply(text(client, app, "HELP")) == ""
    assert "unsubscribed" in reply(text(client, app, "STOP"))


def test_messages_from_one_new_number_at_once_make_one_subscriber_with_at_most_five_places(
    app: Flask,
) -> None:
    zip_codes = [f"606{n:02d}" for n in range(1, 9)]  # eight messages, one ZIP code each

    def send(zip_code: str) -> int:
        status: int = text(app.test_client(), app, f"JOIN {zip_code}").status_code
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, zip_codes))
    assert statuses == [200] * 8
    with app.app_context():
        session = get_session()
        assert len(list(session.scalars(select(Subscriber.id)))) == 1
    assert len(zips(app)) == 5
