"""Subscribing on the web: a plain form, a one-time code by SMS (through the twilio client and
FakeTwilio), then the code. Pending people are never in the audience."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.models import Subscriber, SubscriberLocation, Verification
from haven.db import get_session, write
from tests.factories import audience_count, catalog_text
from tests.fakes.twilio_server import FakeTwilio

PHONE = "+13125550101"
HAVEN_NUMBER = "+15005550006"
STOPPED = "+13125550199"  # Twilio refuses it with 21610: it texted STOP


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    fake_twilio.error_for[STOPPED] = 21610
    return {
        **fake_twilio.settings(from_number=HAVEN_NUMBER),
    }


def hidden(page: str, name: str) -> str:
    """The value of a hidden field of a page."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match[1]


def form_token(client: FlaskClient) -> str:
    return hidden(client.get("/alerts/subscribe").get_data(as_text=True), "form_token")


def ask_for_code(
    client: FlaskClient, *, environ: dict[str, str] | None = None, **fields: Any
) -> Any:
    """Fill in the form as a person would (no JavaScript) and send it."""
    data: dict[str, Any] = {
        "form_token": form_token(client),
        "phone": "(312) 555-0101",
        "zips": "60601",
        "lat": "",
        "lon": "",
        "language": "en",
    }
    data.update(fields)
    return client.post("/alerts/subscribe", data=data, environ_base=environ or {})


def last_code(fake: FakeTwilio, to: str = PHONE) -> str:
    message = [m for m in fake.messages if m.to == to][-1]
    # The six digits open the message in every language's wording.
    match = re.match(r"(\d{6})\b", message.body)
    assert match, message.body
    return match[1]


def enter_code(client: FlaskClient, page: Any, code: str) -> Any:
    text = page.get_data(as_text=True)
    return client.post(
        "/alerts/subscribe/verify",
        data={
            "form_token": hidden(text, "form_token"),
            "pending": hidden(text, "pending"),
            "code": code,
        },
    )


def subscriber(app: Flask, phone: str = PHONE) -> Subscriber | None:
    with app.app_context():
        return get_session().scalar(select(Subscriber).where(Subscriber.phone == phone))


def locations(app: Flask) -> list[tuple[str | None, bool]]:
    with app.app_context():
        rows = get_session().execute(
            select(SubscriberLocation.zip, SubscriberLocation.active).order_by(
                SubscriberLocation.id
            )
        )
        return [(z, a) for z, a in rows]


def test_the_form_works_without_javascript(client: FlaskClient) -> None:
    page = client.get("/alerts/subscribe")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<form id="subscribe" class="card" method="post"' in html
    for name in ("phone", "zips", "lat", "lon", "language", "form_token"):
        assert f'name="{name}"' in html
    assert "Msg&data rates may apply. Reply HELP for help, STOP to cancel." in html
    assert "Set-Cookie" not in page.headers


def test_the_form_is_localized(client: FlaskClient) -> None:
    client.set_cookie("lang", "ar")
    html = client.get("/alerts/subscribe").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert '<option value="ar" lang="ar" selected>' in html


def test_a_right_code_makes_the_subscription_active_and_puts_it_in_the_audience(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officer: str
) -> None:
    page = ask_for_code(client, zips="60601 60614", lat="41.88", lon="-87.63", language="es")
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "ending in 0101" in page.get_data(as_text=True)
    sent = fake_twilio.messages[-1]
    assert (sent.to, sent.from_, sent.validity_period) == (PHONE, HAVEN_NUMBER, 600)
    # The code and the confirmation come in the language chosen on the form.
    assert catalog_text("es", "%(code)s is your Haven AMBER Alerts code.", 1) in sent.body
    # Pending: known, but nowhere in the audience.
    found = subscriber(app)
    assert found is not None
    assert found.status == "pending"
    assert locations(app) == []
    assert audience_count(client, officer) == 0

    done = enter_code(client, page, last_code(fake_twilio))
    assert done.status_code == 200
    assert "You're subscribed" in done.get_data(as_text=True)
    found = subscriber(app)
    assert found is not None
    assert (found.status, found.language) == ("active", "es")
    assert locations(app) == [("60601", True), ("60614", True), (None, True)]
    assert audience_count(client, officer) == 1
    confirmation = fake_twilio.messages[-1].body
    assert catalog_text("es", "Haven AMBER Alerts: you'll get alerts for missing") in confirmation
    assert "HELP" in confirmation
    assert "STOP" in confirmation


def test_five_wrong_codes_lock_the_code_for_good(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officer: str
) -> None:
    page = ask_for_code(client)
    right = last_code(fake_twilio)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        answer = enter_code(client, page, wrong)
        assert answer.status_code == 422
        times = "time" if left == 1 else "times"
        assert f"You can try {left} more {times}." in answer.get_data(as_text=True)
    locked = enter_code(client, page, wrong)
    assert locked.status_code == 423
    assert "too many wrong tries" in locked.get_data(as_text=True)
    assert 'name="code"' not in locked.get_data(as_text=True)
    assert enter_code(client, page, right).status_code == 423
    found = subscriber(app)
    assert found is not None
    assert found.status == "pending"
    assert audience_count(client, officer) == 0


def test_an_expired_code_does_not_work(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    page = ask_for_code(client)
    with app.app_context():
        session = get_session()
        with write(session):
            past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
            session.execute(update(Verification).values(expires_at=past))
    answer = enter_code(client, page, last_code(fake_twilio))
    assert answer.status_code == 410
    assert "This code has expired" in answer.get_data(as_text=True)
    assert locations(app) == []


def test_a_newer_code_replaces_the_older_one(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    first = ask_for_code(client)
    first_code = last_code(fake_twilio)
    second = ask_for_code(client)
    assert enter_code(client, first, first_code).status_code == 409
    assert enter_code(client, second, last_code(fake_twilio)).status_code == 200


def test_a_code_works_once(app: Flask, client: FlaskClient, fake_twilio: FakeTwilio) -> None:
    page = ask_for_code(client)
    code = last_code(fake_twilio)
    assert enter_code(client, page, code).status_code == 200
    assert enter_code(client, page, code).status_code == 409
    assert locations(app) == [("60601", True)]


def test_the_code_is_stored_only_as_a_slow_hash(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    ask_for_code(client)
    code = last_code(fake_twilio)
    with app.app_context():
        stored = get_session().scalar(select(Verification.code_hash))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert code not in stored


def test_codes_to_one_number_are_limited_and_the_page_says_so(
    client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    for _ in range(3):
        assert ask_for_code(client).status_code == 200
    limited = ask_for_code(client)
    assert limited.status_code == 429
    assert "no more are sent for now" in limited.get_data(as_text=True)
    assert len(fake_twilio.messages) == 3


def test_codes_from_one_client_are_limited_and_the_page_says_so(
    client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    environ = {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(10):
        assert ask_for_code(client, environ=environ, phone=f"+1312555{n:04d}").status_code == 200
    limited = ask_for_code(client, environ=environ, phone="+13125550999")
    assert limited.status_code == 429
    assert "from this connection" in limited.get_data(as_text=True)
    # Another client is not held back.
    assert ask_for_code(client, environ={"REMOTE_ADDR": "203.0.113.10"}).status_code == 200
    assert len(fake_twilio.messages) == 11


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"phone": "12"}, "Please enter a US mobile number"),
        ({"phone": "+44 20 7946 0958"}, "Please enter a US mobile number"),
        ({"zips": "00000"}, "00000 isn&#39;t a US ZIP code we know"),
        ({"zips": "chicago"}, "&#34;chicago&#34; isn&#39;t a ZIP code"),
        ({"zips": ""}, "Please enter at least one ZIP code or point."),
        ({"zips": "60601 60602 60603 60604 60605 60606"}, "You can choose up to 5 places."),
        ({"zips": "", "lat": "95", "lon": "-87.6"}, "Please check the coordinates."),
        ({"zips": "", "lat": "abc", "lon": "-87.6"}, "Please check the coordinates."),
        ({"language": "xx"}, "Please choose a language"),
    ],
)
def test_a_bad_form_is_shown_again_with_its_values_and_no_code_is_sent(
    app: Flask,
    client: FlaskClient,
    fake_twilio: FakeTwilio,
    fields: dict[str, str],
    says: str,
) -> None:
    page = ask_for_code(client, **fields)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert says in html
    assert 'aria-invalid="true"' in html
    assert fake_twilio.messages == []
    assert subscriber(app) is None


def test_a_form_from_another_site_is_refused(client: FlaskClient, fake_twilio: FakeTwilio) -> None:
    data = {"form_token": form_token(client), "phone": PHONE, "zips": "60601", "language": "en"}
    refused = client.post("/alerts/subscribe", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 400
    forged = client.post("/alerts/subscribe", data={**data, "form_token": "forged"})
    assert forged.status_code == 400
    assert "sent from another site" in forged.get_data(as_text=True)
    assert fake_twilio.messages == []


def test_add_another_point_works_without_javascript(client: FlaskClient) -> None:
    page = ask_for_code(client, action="add_point", lat="41.88", lon="-87.63")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="lat-1"' in html
    assert 'value="41.88"' in html


def test_a_number_that_texted_stop_is_told_to_text_start(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    page = ask_for_code(client, phone=STOPPED)
    assert page.status_code == 502
    assert "text START to Haven first" in page.get_data(as_text=True)


def test_the_web_form_brings_an_opted_out_number_back_with_its_places(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officer: str
) -> None:
    enter_code(client, ask_for_code(client, zips="60601"), last_code(fake_twilio))
    from alerts.subscriptions.service import opt_out

    with app.app_context():
        opt_out(session=get_session(), phone=PHONE)
    assert audience_count(client, officer) == 0
    page = ask_for_code(client, zips="60614")
    assert enter_code(client, page, last_code(fake_twilio)).status_code == 200
    assert locations(app) == [("60601", True), ("60614", True)]
    assert audience_count(client, officer) == 1


def test_the_web_form_cannot_pass_five_places(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    enter_code(client, ask_for_code(client, zips="60601 60602 60603 60604"), last_code(fake_twilio))
    page = ask_for_code(client, zips="60605 60606")
    answer = enter_code(client, page, last_code(fake_twilio))
    assert answer.status_code == 422
    assert "already gets alerts for 4 places" in answer.get_data(as_text=True)
    assert len(locations(app)) == 4


def test_the_verify_page_without_the_form_says_to_start_again(client: FlaskClient) -> None:
    page = client.get("/alerts/subscribe/verify")
    assert page.status_code == 200
    assert "Please fill in the form again" in page.get_data(as_text=True)
    tampered = client.post("/alerts/subscribe/verify", data={"pending": "x", "code": "123456"})
    assert tampered.status_code == 400
