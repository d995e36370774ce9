"""Signing in to the console: a wrong password or code, a reused code, too many tries, an
idle session and a revoked officer all keep the officer out, with a clear page, and each
attempt goes into the audit trail (never the password, the code or the address)."""

from __future__ import annotations

import datetime
import json
import re
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from alerts.console.sessions import COOKIE
from alerts.models import OfficerSession
from alerts.service import revoke_officer
from haven.db import get_session, utcnow, write
from tests.console.test_enrol import (
    PASSWORD,
    actions,
    enrol_with_app,
    form_value,
    new_officer,
    pre_csrf,
)
from tests.factories import bearer


def password_form(client: FlaskClient, page: str | None = None, **fields: str) -> dict[str, str]:
    """The sign-in form's fields, its CSRF token taken from the page as a browser would (the
    page gives the client its pre-session cookie), and `fields`. `page` is a sign-in page the
    client opened earlier (a signed-in browser is not shown the form)."""
    page = page or client.get("/console/sign-in").get_data(as_text=True)
    return {"agency": "Chicago PD", "name": "Drafter", "pre_csrf_token": pre_csrf(page), **fields}


def password_step(
    client: FlaskClient,
    password: str = PASSWORD,
    *,
    name: str = "Drafter",
    next_url: str = "",
    page: str | None = None,
) -> tuple[int, str]:
    """The first step of signing in (on `page`, if given): its status and page."""
    answer = client.post(
        "/console/sign-in",
        data=password_form(client, page, name=name, password=password, next=next_url),
    )
    return answer.status_code, answer.get_data(as_text=True)


def factor_form(page: str, **fields: str) -> dict[str, str]:
    """The second-factor form's hidden fields from the password step's `page`, and `fields`."""
    return {"state": form_value(page, "state"), "pre_csrf_token": pre_csrf(page), **fields}


def sign_in(
    client: FlaskClient,
    secret: str,
    *,
    offset: int = 30,
    next_url: str = "",
    name: str = "Drafter",
    page: str | None = None,
) -> str:
    """Sign in with PASSWORD and the code `offset` seconds from now (on the sign-in `page`
    opened earlier, if given); where it leads."""
    status, page = password_step(client, next_url=next_url, name=name, page=page)
    assert status == 200, page
    code = pyotp.TOTP(secret).at(time.time() + offset)
    done = client.post("/console/sign-in/factor", data=factor_form(page, code=code))
    assert done.status_code == 302, done.get_data(as_text=True)
    return done.headers["Location"]


@pytest.fixture
def enrolled(app: Flask) -> tuple[FlaskClient, str]:
    """A client, and the TOTP secret of Chicago PD's enrolled officer "Drafter"."""
    client = app.test_client()
    return client, enrol_with_app(client, new_officer(app))


def test_the_sign_in_page_labels_its_fields_for_password_managers(client: FlaskClient) -> None:
    page = client.get("/console/sign-in").get_data(as_text=True)
    for expected in (
        '<label for="agency">',
        '<label for="name">',
        'autocomplete="username"',
        'autocomplete="current-password"',
    ):
        assert expected in page


def test_a_wrong_password_or_an_unknown_officer_is_refused_alike(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, _secret = enrolled
    for password, name in ((PASSWORD + "x", "Drafter"), (PASSWORD, "Nobody")):
        status, page = password_step(client, password, name=name)
        assert status == 401
        assert "The agency, name or password is wrong." in page
        assert 'role="alert"' in page
    assert client.get("/console/").status_code == 302
    failed = [changes for action, changes in actions(app) if action == "sign_in_failed"]
    assert failed == [{"step": "password"}, {"step": "password"}]
    assert PASSWORD not in json.dumps(actions(app))


def test_a_wrong_code_and_a_reused_code_are_refused(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    _status, page = password_step(client)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/console/sign-in/factor", data=factor_form(page, code=wrong))
    assert refused.status_code == 401
    assert "That code is wrong" in refused.get_data(as_text=True)
    assert actions(app)[-1] == ("sign_in_failed", {"step": "totp"})

    assert sign_in(client, secret) == "/console/"
    other = app.test_client()
    _status, page = password_step(other)
    reused = other.post("/console/sign-in/factor", data=factor_form(page, code=code))
    assert reused.status_code == 401
    assert "used already" in reused.get_data(as_text=True)
    assert other.get("/console/").status_code == 302
    assert code not in json.dumps(actions(app))


def test_sign_in_goes_on_only_to_a_console_page(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    assert sign_in(client, secret, next_url="/console/alerts/7") == "/console/alerts/7"
    for elsewhere in (
        "https://evil.example/console/",
        "//evil.example/console/",
        "/console//evil.example/",
        "/console/../api/v1/alerts",
        "/console/%2e%2e/api/v1/alerts",
        "/api/v1/alerts",
    ):
        page = app.test_client().get("/console/sign-in", query_string={"next": elsewhere})
        assert form_value(page.get_data(as_text=True), "next") == "/console/"


def test_too_many_wrong_passwords_must_wait(app: Flask, enrolled: tuple[FlaskClient, str]) -> None:
    client, _secret = enrolled
    statuses = []
    for _ in range(7):
        answer = client.post(
            "/console/sign-in", data=password_form(client, password="wrong password!")
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert int(answer.headers["Retry-After"]) > 0
    assert "Please wait" in answer.get_data(as_text=True)
    # While it waits, even the right password is not judged.
    assert password_step(client)[0] == 429


def test_a_session_idle_too_long_is_sent_to_sign_in(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    sign_in(client, secret)
    assert client.get("/console/").status_code == 200
    idle = datetime.timedelta(minutes=app.extensions["haven.settings"].console_idle_minutes)
    with app.app_context():
        session = get_session()
        with write(session):
            session.execute(update(OfficerSession).values(last_seen=utcnow() - idle))
    gone = client.get("/console/alerts/new")
    assert gone.status_code == 302
    assert gone.headers["Location"] == "/console/sign-in?next=/console/alerts/new"


def test_a_revoked_officer_is_out_at_once(app: Flask) -> None:
    client = app.test_client()
    token = new_officer(app)
    secret = enrol_with_app(client, token)
    sign_in(client, secret)
    assert client.get("/console/").status_code == 200
    with app.app_context():
        ended = revoke_officer(session=get_session(), agency_name="Chicago PD", name="Drafter")
    assert ended == 1
    assert client.get("/console/").status_code == 302
    assert password_step(app.test_client())[0] == 401
    assert actions(app)[-2:] == [
        ("revoked", {"sessions_ended": 1}),
        ("sign_in_failed", {"step": "password"}),
    ]


def test_the_cookie_is_secure_when_the_public_url_is_https(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    app.extensions["haven.settings"].public_url = "https://haven.example"
    _status, page = password_step(client)
    done = client.post(
        "/console/sign-in/factor",
        data=factor_form(page, code=pyotp.TOTP(secret).at(time.time() + 30)),
    )
    cookie = done.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_a_sign_in_form_posted_from_another_site_is_refused(
    enrolled: tuple[FlaskClient, str],
) -> None:
    client, _secret = enrolled
    answer = client.post(
        "/console/sign-in",
        data=password_form(client, password=PASSWORD),
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert "did not come from the console" in answer.get_data(as_text=True)


def test_the_api_key_of_a_revoked_officer_stops_working(app: Flask) -> None:
    new_officer(app)
    from tests.factories import create_officer

    key = create_officer(app, name="Second")
    client = app.test_client()
    assert client.get("/api/v1/alerts/1", headers=bearer(key)).status_code == 404
    with app.app_context():
        revoke_officer(session=get_session(), agency_name="Chicago PD", name="Second")
    assert client.get("/api/v1/alerts/1", headers=bearer(key)).status_code == 401


def open_sessions(app: Flask) -> list[int]:
    """The officer ids of the sessions not ended."""
    with app.app_context():
        rows = get_session().scalars(
            select(OfficerSession.officer_id).where(OfficerSession.ended_at.is_(None))
        )
        return list(rows)


def sign_out_form(page: str) -> str:
    """The CSRF token in a page's sign-out form (which must be there)."""
    found = re.search(
        r'<form[^>]*action="/console/sign-out">\s*<input type="hidden" name="csrf_token" '
        r'value="([0-9a-f]+)">',
        page,
    )
    assert found, "no sign-out form"
    return found[1]


def test_a_signed_in_officer_signs_out_from_the_page_header(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    sign_in(client, secret)
    page = client.get("/console/").get_data(as_text=True)
    assert "Signed in as <strong>Drafter</strong> of Chicago PD." in page
    assert ">Sign out</button>" in page
    csrf = sign_out_form(page)
    assert len(open_sessions(app)) == 1
    out = client.post("/console/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 302
    assert out.headers["Location"] == "/console/sign-in"
    assert client.get_cookie(COOKIE) is None
    assert open_sessions(app) == []
    assert client.get("/console/").status_code == 302
    assert "Sign out" not in client.get("/console/sign-in").get_data(as_text=True)


def test_the_sign_in_page_asks_a_signed_in_browser_whether_it_is_the_same_officer(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    sign_in(client, secret)
    answer = client.get("/console/sign-in", query_string={"next": "/console/alerts/new"})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "This browser is signed in as <strong>Drafter</strong> of Chicago PD." in page
    assert 'href="/console/alerts/new">Continue as Drafter</a>' in page
    assert "Not you?" in page
    assert page.count(">Sign out</button>") == 1
    client.post("/console/sign-out", data={"csrf_token": sign_out_form(page)})
    assert open_sessions(app) == []
    assert 'autocomplete="current-password"' in client.get("/console/sign-in").get_data(
        as_text=True
    )


def test_signing_in_as_another_officer_ends_the_first_officers_session(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    other_secret = enrol_with_app(app.test_client(), new_officer(app, "Second"))
    other_tab = client.get("/console/sign-in").get_data(as_text=True)
    sign_in(client, secret)
    first_cookie = client.get_cookie(COOKIE)
    assert first_cookie is not None
    sign_in(client, other_secret, name="Second", page=other_tab)
    assert len(open_sessions(app)) == 1
    assert "Signed in as <strong>Second</strong>" in client.get("/console/").get_data(as_text=True)
    assert [a for a, _ in actions(app)][-2:] == ["sign_out", "sign_in"]
    # The first officer's cookie, kept, no longer signs anyone in.
    stale = app.test_client()
    stale.set_cookie(COOKIE, first_cookie.value, domain="localhost")
    assert stale.get("/console/").status_code == 302


def test_a_strangers_wrong_passwords_do_not_make_the_officer_wait(
    app: Flask, enrolled: tuple[FlaskClient, str]
) -> None:
    client, secret = enrolled
    stranger = app.test_client()
    statuses = []
    for _ in range(8):
        answer = stranger.post(
            "/console/sign-in",
            data=password_form(stranger, password="wrong password!"),
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    # The officer's own browser, from its own address, is judged at once.
    assert sign_in(client, secret) == "/console/"
