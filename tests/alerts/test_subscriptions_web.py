"""Subscribing on the web: a plain form, a one-time code by SMS (through the twilio client and
FakeTwilio), then the code. Pending people are never in the audience. The pages name the number
to text JOIN to, as configured, or say nothing of it."""

from __future__ import annotations

import datetime
import html as html_module
import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.models import Subscriber, SubscriberLocation, Verification
from haven.db import get_session, write
from haven.i18n import LANGUAGES
from haven.settings import Settings
from tests.conftest import make_settings
from tests.factories import audience_count, catalog_text
from tests.fakes.twilio_server import FakeTwilio

PHONE = "+13125550101"
HAVEN_NUMBER = "+15005550006"
STOPPED = "+13125550199"  # Twilio refuses it with 21610: it texted STOP
# How the pages show HAVEN_NUMBER: a tappable sms: link, isolated left to right.
HAVEN_NUMBER_LINK = (
    '<bdi dir="ltr" class="sms-number"><a href="sms:+15005550006">(500) 555-0006</a></bdi>'
)
NO_TWILIO = {"twilio_account_sid": None, "twilio_auth_token": None, "twilio_from_number": None}


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, fake_twilio: FakeTwilio
) -> dict[str, object]:
    """Twilio is the loopback fake; a test may change settings with indirect parametrization."""
    fake_twilio.error_for[STOPPED] = 21610
    return {
        **fake_twilio.settings(from_number=HAVEN_NUMBER),
        **getattr(request, "param", {}),
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


def test_a_number_that_texted_stop_is_told_where_to_text_start(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    page = ask_for_code(client, phone=STOPPED)
    assert page.status_code == 502
    assert f"text START to {HAVEN_NUMBER_LINK} first." in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"twilio_from_number": None, "twilio_messaging_service_sid": "MG" + "0" * 32}],
    indirect=True,
)
def test_without_a_number_to_name_a_stopped_number_is_told_to_reply_start(
    client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    page = ask_for_code(client, phone=STOPPED)
    assert page.status_code == 502
    html = page.get_data(as_text=True)
    assert "reply START to any of its messages first." in html
    assert "sms:" not in html


# The number to text JOIN to


def join_sentence(html: str) -> str | None:
    """The page's paragraph that says where to text JOIN, or None."""
    match = re.search(r'<p id="join-by-text">(.*?)</p>', html, re.S)
    return match[1] if match else None


def test_the_subscribe_page_names_the_number_to_text_join_as_a_link(
    client: FlaskClient,
) -> None:
    sentence = join_sentence(client.get("/alerts/subscribe").get_data(as_text=True))
    assert sentence == (
        "You can also subscribe by text message: send JOIN and your ZIP code to "
        f"{HAVEN_NUMBER_LINK}, for example JOIN 60601."
    )


def test_the_page_after_subscribing_names_the_number_to_text_join(
    client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    done = enter_code(client, ask_for_code(client), last_code(fake_twilio))
    sentence = join_sentence(done.get_data(as_text=True))
    assert sentence is not None
    assert f"text JOIN and its ZIP code to {HAVEN_NUMBER_LINK}, or fill in" in sentence


@pytest.mark.parametrize("settings_overrides", [{"sms_short_code": "72345"}], indirect=True)
def test_a_short_code_is_named_instead_of_the_from_number(client: FlaskClient) -> None:
    html = client.get("/alerts/subscribe").get_data(as_text=True)
    assert '<bdi dir="ltr" class="sms-number"><a href="sms:72345">72345</a></bdi>' in (
        join_sentence(html) or ""
    )
    assert "+15005550006" not in html
    assert "555-0006" not in html


def test_in_arabic_the_number_stays_isolated_left_to_right(client: FlaskClient) -> None:
    client.set_cookie("lang", "ar")
    sentence = join_sentence(client.get("/alerts/subscribe").get_data(as_text=True))
    assert sentence is not None
    before, _, after = sentence.partition(HAVEN_NUMBER_LINK)
    assert catalog_text("ar", "You can also subscribe by text message: send JOIN") in (
        before + after
    )
    assert after, "the link is inside the translated sentence"


@pytest.mark.parametrize(
    "settings_overrides",
    [
        pytest.param(NO_TWILIO, id="sms-to-the-log"),
        pytest.param(
            {**NO_TWILIO, "twilio_from_number": HAVEN_NUMBER, "sms_short_code": "72345"},
            id="numbers-but-no-credentials",
        ),
        pytest.param(
            {"twilio_from_number": None, "twilio_messaging_service_sid": "MG" + "0" * 32},
            id="messaging-service-only",
        ),
    ],
    indirect=True,
)
def test_without_a_number_to_name_the_pages_leave_the_sentence_out(client: FlaskClient) -> None:
    html = client.get("/alerts/subscribe").get_data(as_text=True)
    assert join_sentence(html) is None
    assert "sms:" not in html
    assert "send JOIN" not in html
    assert "To stop at any time, reply STOP to any of our text messages." in html


@pytest.mark.parametrize("settings_overrides", [NO_TWILIO], indirect=True)
def test_without_twilio_the_page_after_subscribing_says_to_fill_in_the_form(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="alerts.providers"):
        page = ask_for_code(client)
    # SMS go to the log without Twilio: the code is read from there.
    code = re.search(r"SMS to \+13125550101: (\d{6})", caplog.text)
    assert code
    html = enter_code(client, page, code[1]).get_data(as_text=True)
    assert "You're subscribed" in html
    assert join_sentence(html) is None
    assert "To add a place, fill in the form again." in html
    assert "sms:" not in html


def test_a_short_code_must_be_five_or_six_digits(sqlite_database: str) -> None:
    assert make_settings(sqlite_database, sms_short_code=" 72345 ").sms_short_code == "72345"
    assert make_settings(sqlite_database, sms_short_code="").sms_short_code is None
    for bad in ("1234", "1234567", "72-345", "+15005550006"):
        with pytest.raises(ValueError, match="short code"):
            Settings(database_url=sqlite_database, sms_short_code=bad)


# Hints


def script_strings(html: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="i18n-strings">(.*?)</script>', html)
    assert match
    strings: dict[str, str] = json.loads(match[1])
    return strings


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_location_hints_agree_in_every_language(client: FlaskClient, language: str) -> None:
    client.set_cookie("lang", language)
    html = client.get("/alerts/subscribe").get_data(as_text=True)
    hint = re.search(r'<p class="hint" id="locate-hint" hidden>(.*?)</p>', html)
    assert hint
    assert catalog_text(
        language, "Your browser asks you first. Your location fills in the"
    ) in html_module.unescape(hint[1])
    # What the script says once it has filled in a point names that point, as its legend
    # does ("Point 2"), never a place on the page.
    located = script_strings(html)["located"]
    assert "%(num)s" in located
    assert catalog_text(language, "Your location is filled in as Point") in located
    if language == "en":
        for words in (hint[1], located):
            assert not re.search(r"\b(above|below)\b", words)


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
