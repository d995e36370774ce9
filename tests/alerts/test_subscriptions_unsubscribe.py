"""Unsubscribing on the web: a number, a one-time code by SMS (through the twilio client and
FakeTwilio), then the code. Nothing says whether a number gets alerts until the right code is
typed back; the right code ends everything the number gets, as STOP does."""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.models import Subscriber, SubscriberLocation, Verification
from alerts.subscriptions import service, tokens, wiring
from haven.db import get_session, utcnow, write
from tests.alerts.test_dispatch import approve, dispatch
from tests.alerts.test_subscriptions_web import (
    HAVEN_NUMBER,
    HAVEN_NUMBER_LINK,
    PHONE,
    ask_for_code,
    enter_code,
    hidden,
    last_code,
)
from tests.factories import audience_count, catalog_text
from tests.fakes.twilio_server import FakeTwilio

OTHER = "+13125550102"  # subscribed too, and stays so
UNKNOWN = "+13125550177"  # never subscribed
SECRET = "test-secret"  # tests.conftest.make_settings


@pytest.fixture
def settings_overrides(fake_twilio: FakeTwilio) -> dict[str, object]:
    return {**fake_twilio.settings(from_number=HAVEN_NUMBER)}


def settle(app: Flask) -> None:
    """Wait until the background threads have texted every code they were given."""
    threads = app.extensions.get(wiring.BACKGROUND)
    if threads is not None:
        assert threads.wait_idle(20), "background work did not finish"


def subscribe(client: FlaskClient, fake: FakeTwilio, phone: str = PHONE, **fields: Any) -> None:
    """Subscribe `phone` through the web form and its code."""
    page = ask_for_code(client, phone=phone, **fields)
    assert page.status_code == 200, page.get_data(as_text=True)
    done = enter_code(client, page, last_code(fake, phone))
    assert done.status_code == 200, done.get_data(as_text=True)


def ask_to_unsubscribe(
    client: FlaskClient, phone: str = PHONE, *, environ: dict[str, str] | None = None, **data: str
) -> Any:
    """Fill in the unsubscribe form as a person would and send it."""
    form = client.get("/alerts/unsubscribe").get_data(as_text=True)
    fields = {"form_token": hidden(form, "form_token"), "phone": phone, **data}
    return client.post("/alerts/unsubscribe", data=fields, environ_base=environ or {})


def confirm(client: FlaskClient, page: Any, code: str) -> Any:
    text = page.get_data(as_text=True)
    return client.post(
        "/alerts/unsubscribe/verify",
        data={
            "form_token": hidden(text, "form_token"),
            "pending": hidden(text, "pending"),
            "code": code,
        },
    )


def unsubscribe_code(app: Flask, fake: FakeTwilio, phone: str = PHONE) -> str:
    """The code in the last text to `phone` (the one asked for last), in any language."""
    settle(app)
    texts = texts_to(fake, phone)
    assert texts, f"nothing was texted to {phone}"
    match = re.match(r"(\d{6})\b", texts[-1])
    assert match, f"the last text has no code: {texts[-1]}"
    return match[1]


def texts_to(fake: FakeTwilio, phone: str) -> list[str]:
    return [m.body for m in fake.messages if m.to == phone]


def state(app: Flask, phone: str = PHONE) -> tuple[str | None, list[tuple[str | None, bool]]]:
    """The subscriber's status and its places (ZIP code, in the audience)."""
    with app.app_context():
        session = get_session()
        found = session.scalar(select(Subscriber).where(Subscriber.phone == phone))
        if found is None:
            return None, []
        rows = session.execute(
            select(SubscriberLocation.zip, SubscriberLocation.active)
            .where(SubscriberLocation.subscriber_id == found.id)
            .order_by(SubscriberLocation.id)
        )
        return found.status, [(z, a) for z, a in rows]


def same_page(html: str) -> str:
    """A page without what differs from request to request: signed tokens, the last digits."""
    html = re.sub(r'name="(form_token|pending)" value="[^"]*"', r'name="\1" value=""', html)
    return re.sub(r"ending in \d{4}", "ending in ####", html)


# The form


def test_the_form_works_without_javascript_and_sets_no_cookie(client: FlaskClient) -> None:
    page = client.get("/alerts/unsubscribe")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<form id="unsubscribe" class="card" method="post"' in html
    assert 'name="phone"' in html
    assert f"You can also text STOP to {HAVEN_NUMBER_LINK}, or reply STOP" in html
    assert "Set-Cookie" not in page.headers


def test_the_subscribe_page_links_to_unsubscribe(client: FlaskClient) -> None:
    html = client.get("/alerts/subscribe").get_data(as_text=True)
    assert '<a href="/alerts/unsubscribe" id="unsubscribe-link">Unsubscribe</a>' in html


def test_the_pages_are_localized(client: FlaskClient) -> None:
    client.set_cookie("lang", "ar")
    html = client.get("/alerts/unsubscribe").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert catalog_text("ar", "Enter your mobile number. If it gets Haven AMBER Alerts") in html


# The right code


def test_the_right_code_ends_every_place_and_no_alert_reaches_the_number(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officers: dict[str, str]
) -> None:
    subscribe(client, fake_twilio, zips="60601 60614", lat="41.88", lon="-87.63", language="es")
    subscribe(client, fake_twilio, phone=OTHER)
    assert audience_count(client, officers["drafter"]) == 2

    page = ask_to_unsubscribe(client, "(312) 555-0101")
    assert page.status_code == 200
    assert "ending in 0101" in page.get_data(as_text=True)
    code = unsubscribe_code(app, fake_twilio)
    sent = [m for m in fake_twilio.messages if m.to == PHONE][-1]
    assert (sent.from_, sent.validity_period) == (HAVEN_NUMBER, 600)
    # In the language the subscriber chose for their messages.
    assert catalog_text("es", "%(code)s is your code to stop Haven AMBER Alerts.", 1) in sent.body

    done = confirm(client, page, code)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "You're unsubscribed" in done.get_data(as_text=True)
    status, places = state(app)
    assert status == "opted_out"
    assert places == [("60601", False), ("60614", False), (None, False)]
    # The last text is STOP's own confirmation, in the subscriber's language.
    assert texts_to(fake_twilio, PHONE)[-1] == (
        "Te diste de baja de Haven AMBER Alerts. Ya no te enviaremos mensajes. Responde START "
        "para volver a suscribirte."
    )
    before = len(texts_to(fake_twilio, PHONE))

    approve(client, officers)
    dispatch(app)
    assert [m for m in texts_to(fake_twilio, OTHER) if "ABC1234" in m], "the alert went out"
    assert len(texts_to(fake_twilio, PHONE)) == before
    assert state(app, OTHER)[0] == "active"


def test_unsubscribing_is_what_stop_does(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio, zips="60601 60614")
    page = ask_to_unsubscribe(client)
    assert confirm(client, page, unsubscribe_code(app, fake_twilio)).status_code == 200
    by_web = state(app)
    subscribe(client, fake_twilio, phone=OTHER, zips="60601 60614")
    with app.app_context():
        service.opt_out(session=get_session(), phone=OTHER)
    assert state(app, OTHER) == by_web


def test_a_code_works_once(app: Flask, client: FlaskClient, fake_twilio: FakeTwilio) -> None:
    subscribe(client, fake_twilio)
    page = ask_to_unsubscribe(client)
    code = unsubscribe_code(app, fake_twilio)
    assert confirm(client, page, code).status_code == 200
    again = confirm(client, page, code)
    assert again.status_code == 409
    assert "This code was used already" in again.get_data(as_text=True)


def test_a_newer_code_replaces_the_older_one(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio)
    first = ask_to_unsubscribe(client)
    first_code = unsubscribe_code(app, fake_twilio)
    second = ask_to_unsubscribe(client)
    second_code = unsubscribe_code(app, fake_twilio)
    if first_code != second_code:
        assert confirm(client, second, first_code).status_code == 422
        assert state(app)[0] == "active"
    assert confirm(client, second, second_code).status_code == 200
    assert first.status_code == 200
    assert state(app)[0] == "opted_out"


def test_a_code_to_unsubscribe_replaces_a_code_to_subscribe(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio, zips="60601")
    adding = ask_for_code(client, zips="60614")
    subscribe_code = last_code(fake_twilio)
    ask_to_unsubscribe(client)
    unsubscribe_code(app, fake_twilio)
    assert enter_code(client, adding, subscribe_code).status_code == 409
    assert state(app) == ("active", [("60601", True)])


def test_the_web_form_brings_an_unsubscribed_number_back(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officer: str
) -> None:
    subscribe(client, fake_twilio, zips="60601")
    page = ask_to_unsubscribe(client)
    assert confirm(client, page, unsubscribe_code(app, fake_twilio)).status_code == 200
    assert audience_count(client, officer) == 0
    subscribe(client, fake_twilio, zips="60614")
    assert state(app) == ("active", [("60601", True), ("60614", True)])


# Wrong, expired and spent codes change nothing


def test_wrong_codes_change_nothing_and_the_fifth_spends_the_request(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, officer: str
) -> None:
    subscribe(client, fake_twilio, zips="60601 60614")
    page = ask_to_unsubscribe(client)
    right = unsubscribe_code(app, fake_twilio)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        answer = confirm(client, page, wrong)
        assert answer.status_code == 422
        times = "time" if left == 1 else "times"
        assert f"That code isn&#39;t right. You can try {left} more {times}." in (
            answer.get_data(as_text=True)
        )
        page = answer  # the page as it is now, with its own signed fields
    locked = confirm(client, page, wrong)
    assert locked.status_code == 423
    html = locked.get_data(as_text=True)
    assert "too many wrong tries" in html
    assert 'name="code"' not in html
    assert confirm(client, page, right).status_code == 423
    assert state(app) == ("active", [("60601", True), ("60614", True)])
    assert audience_count(client, officer) == 1


def test_five_wrong_codes_spend_every_request_for_the_number_whatever_the_number(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    # Two requests for one number are judged against the same newest code: the tries are
    # the number's, or each new request would bring five more guesses at that code.
    subscribe(client, fake_twilio)
    requests = {
        p: (ask_to_unsubscribe(client, p), ask_to_unsubscribe(client, p)) for p in (PHONE, UNKNOWN)
    }
    right = unsubscribe_code(app, fake_twilio)  # PHONE's newest code: the second request's
    wrong = "000000" if right != "000000" else "111111"
    answers: dict[str, list[Any]] = {}
    for phone, (first, second) in requests.items():
        page, seen = first, []
        for _ in range(5):
            page = confirm(client, page, wrong)
            seen.append(page)
        seen += [confirm(client, second, wrong), confirm(client, second, right)]
        answers[phone] = seen
    assert [a.status_code for a in answers[PHONE]] == [422, 422, 422, 422, 423, 423, 423]
    for known, unknown in zip(answers[PHONE], answers[UNKNOWN], strict=True):
        assert unknown.status_code == known.status_code
        assert same_page(unknown.get_data(as_text=True)) == same_page(known.get_data(as_text=True))
    assert state(app)[0] == "active"


def test_a_code_asked_for_more_than_ten_minutes_ago_has_expired(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio)
    page = ask_to_unsubscribe(client)
    code = unsubscribe_code(app, fake_twilio)
    pending = tokens.read_unsubscribe_token(SECRET, hidden(page.get_data(as_text=True), "pending"))
    assert pending is not None
    eleven_minutes_ago = pending.asked_at - datetime.timedelta(minutes=11)
    old = tokens.PendingUnsubscribe(pending.phone, pending.request_id, eleven_minutes_ago)
    answer = client.post(
        "/alerts/unsubscribe/verify",
        data={
            "form_token": hidden(page.get_data(as_text=True), "form_token"),
            "pending": tokens.unsubscribe_token(SECRET, old),
            "code": code,
        },
    )
    assert answer.status_code == 410
    assert "This code has expired" in answer.get_data(as_text=True)
    assert state(app)[0] == "active"


def test_a_code_past_its_stored_expiry_does_not_work(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio)
    page = ask_to_unsubscribe(client)
    code = unsubscribe_code(app, fake_twilio)
    with app.app_context():
        session = get_session()
        with write(session):
            past = utcnow() - datetime.timedelta(seconds=1)
            session.execute(update(Verification).values(expires_at=past))
    answer = confirm(client, page, code)
    assert answer.status_code == 410
    assert state(app)[0] == "active"


# The same answers whatever the number


def known_and_unknown(app: Flask, client: FlaskClient, fake: FakeTwilio) -> tuple[Any, Any]:
    subscribe(client, fake)
    known = ask_to_unsubscribe(client, PHONE)
    unknown = ask_to_unsubscribe(client, UNKNOWN)
    settle(app)
    return known, unknown


def test_a_number_that_gets_no_alerts_gets_the_same_page_and_no_text(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    known, unknown = known_and_unknown(app, client, fake_twilio)
    assert unknown.status_code == known.status_code == 200
    assert same_page(unknown.get_data(as_text=True)) == same_page(known.get_data(as_text=True))
    assert unknown.headers.get("Set-Cookie") is None
    assert texts_to(fake_twilio, UNKNOWN) == []
    assert len([b for b in texts_to(fake_twilio, PHONE) if "code to stop" in b]) == 1
    # Nothing is stored about the number either.
    assert state(app, UNKNOWN) == (None, [])


def test_wrong_codes_get_the_same_answers_whatever_the_number(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    known, unknown = known_and_unknown(app, client, fake_twilio)
    right = unsubscribe_code(app, fake_twilio)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        known, unknown = confirm(client, known, wrong), confirm(client, unknown, wrong)
        assert unknown.status_code == known.status_code
        assert same_page(unknown.get_data(as_text=True)) == same_page(known.get_data(as_text=True))
    assert known.status_code == 423


@pytest.mark.parametrize("was", ["pending", "opted_out"])
def test_a_number_that_gets_no_alerts_any_more_is_texted_nothing(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, was: str
) -> None:
    if was == "pending":
        ask_for_code(client, phone=PHONE)  # a code to subscribe, never typed back
    else:
        subscribe(client, fake_twilio)
        with app.app_context():
            service.opt_out(session=get_session(), phone=PHONE)
    before = fake_twilio.requests
    page = ask_to_unsubscribe(client)
    settle(app)
    assert page.status_code == 200
    assert fake_twilio.requests == before
    assert state(app)[0] == was


def test_the_page_does_not_wait_for_the_text(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio)
    texted = len(texts_to(fake_twilio, PHONE))
    # Twilio takes 5 s to answer, and records the text only then: had the page waited for
    # it, the text would be there when the page came back. Ordered, not timed.
    fake_twilio.latency = 5.0
    page = ask_to_unsubscribe(client)
    assert page.status_code == 200
    assert len(texts_to(fake_twilio, PHONE)) == texted, "the page waited for Twilio"
    assert unsubscribe_code(app, fake_twilio)


# Abuse


def test_requests_for_one_number_are_limited_and_the_page_says_so(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    for _ in range(3):
        assert ask_to_unsubscribe(client, UNKNOWN).status_code == 200
    limited = ask_to_unsubscribe(client, UNKNOWN)
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Codes have been asked for this number several times already." in html
    assert "reply STOP to any of our text messages" in html
    assert 'value="+13125550177"' in html  # the form keeps what was typed


def test_codes_to_subscribe_and_to_unsubscribe_share_the_limit_per_number(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    for _ in range(3):
        assert ask_for_code(client).status_code == 200
    assert ask_to_unsubscribe(client).status_code == 429
    settle(app)
    assert len(texts_to(fake_twilio, PHONE)) == 3


def test_requests_from_one_client_are_limited_and_the_page_says_so(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    environ = {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(10):
        assert ask_to_unsubscribe(client, f"+1312555{n:04d}", environ=environ).status_code == 200
    limited = ask_to_unsubscribe(client, "+13125550999", environ=environ)
    assert limited.status_code == 429
    assert "from this connection" in limited.get_data(as_text=True)
    # Another client is not held back.
    other = ask_to_unsubscribe(client, environ={"REMOTE_ADDR": "203.0.113.10"})
    assert other.status_code == 200


@pytest.mark.parametrize("phone", ["", "12", "+44 20 7946 0958", "(312) 555-01012"])
def test_a_number_the_form_does_not_take_is_shown_again_and_nothing_is_sent(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, phone: str
) -> None:
    page = ask_to_unsubscribe(client, phone)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "Please enter a US mobile number" in html
    assert 'aria-invalid="true"' in html
    settle(app)
    assert fake_twilio.requests == 0


def test_a_form_from_another_site_is_refused(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    subscribe(client, fake_twilio)
    before = fake_twilio.requests
    form = client.get("/alerts/unsubscribe").get_data(as_text=True)
    data = {"form_token": hidden(form, "form_token"), "phone": PHONE}
    cross = client.post("/alerts/unsubscribe", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 400
    forged = client.post("/alerts/unsubscribe", data={**data, "form_token": "forged"})
    assert forged.status_code == 400
    assert "sent from another site" in forged.get_data(as_text=True)
    # The code form too: a right code from another site changes nothing.
    page = ask_to_unsubscribe(client)
    code = unsubscribe_code(app, fake_twilio)
    text = page.get_data(as_text=True)
    refused = client.post(
        "/alerts/unsubscribe/verify",
        data={"form_token": "forged", "pending": hidden(text, "pending"), "code": code},
    )
    assert refused.status_code == 400
    assert state(app)[0] == "active"
    assert fake_twilio.requests == before + 1


def test_the_verify_page_without_the_form_says_to_start_again(client: FlaskClient) -> None:
    page = client.get("/alerts/unsubscribe/verify")
    assert page.status_code == 200
    assert "Please fill in the form again" in page.get_data(as_text=True)
    tampered = client.post("/alerts/unsubscribe/verify", data={"pending": "x", "code": "123456"})
    assert tampered.status_code == 400


def test_no_phone_number_reaches_the_log(
    app: Flask, client: FlaskClient, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(client, fake_twilio)
    subscribe(client, fake_twilio, phone=OTHER)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        page = ask_to_unsubscribe(client)
        confirm(client, page, "000000")
        assert confirm(client, page, unsubscribe_code(app, fake_twilio)).status_code == 200
        ask_to_unsubscribe(client, UNKNOWN)
        # A code Twilio refuses is logged, by Twilio's error code only.
        fake_twilio.error_for[OTHER] = 21211
        ask_to_unsubscribe(client, OTHER)
        settle(app)
    assert "unsubscribe code not sent: failed 21211" in caplog.text
    for digits in ("3125550101", "3125550102", "3125550177"):
        assert digits not in caplog.text
