"""Enrolment in the console through its one-time link: a password and an authenticator app
(TOTP); links that are unknown, expired or spent, and bad passwords or codes, change nothing."""

from __future__ import annotations

import datetime
import html
import re
import time

import pyotp
import segno
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.console.sessions import COOKIE
from alerts.models import AuditEntry, Officer
from alerts.service import issue_enrolment
from haven.db import get_session, utcnow, write
from tests.factories import create_agency, create_officer

PASSWORD = "correct horse battery"


def enrolment_token(app: Flask, name: str, agency: str = "Chicago PD") -> str:
    """A new enrolment link's token for an officer."""
    with app.app_context():
        return issue_enrolment(session=get_session(), agency_name=agency, name=name, hours=24)


def new_officer(app: Flask, name: str = "Drafter", *, approver: bool = False) -> str:
    """Chicago PD (created if need be) with an officer `name`; their enrolment token."""
    with app.app_context():
        from alerts import store

        if store.get_agency_by_name(session=get_session(), name="Chicago PD") is None:
            create_agency(app)
    create_officer(app, name=name, approver=approver)
    return enrolment_token(app, name)


def form_value(page: str, name: str) -> str:
    """The value of the form field `name` in a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no field {name}"
    return html.unescape(found[1])


def pre_csrf(page: str) -> str:
    """The CSRF token a sign-in or enrolment form carries before a session exists (it goes
    with the pre-session cookie the same answer gave the client)."""
    return form_value(page, "pre_csrf_token")


def totp_secret(page: str) -> str:
    """The TOTP key shown on an enrolment page."""
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page)
    assert found
    return found[1]


def enrol_with_app(client: FlaskClient, token: str) -> str:
    """Enrol through the page with PASSWORD and an authenticator app; the TOTP secret."""
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    secret = totp_secret(page)
    done = client.post(
        f"/console/enrol/{token}",
        data={
            "state": form_value(page, "state"),
            "pre_csrf_token": pre_csrf(page),
            "password": PASSWORD,
            "password_again": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert done.headers["Location"] == "/console/sign-in?enrolled=1"
    return secret


def actions(app: Flask) -> list[tuple[str, dict[str, object]]]:
    """The sign-in events of the audit trail, oldest first."""
    with app.app_context():
        rows = get_session().scalars(
            select(AuditEntry).where(AuditEntry.alert_id.is_(None)).order_by(AuditEntry.id)
        )
        return [(row.action, row.changes) for row in rows]


def officer_row(app: Flask, name: str = "Drafter") -> Officer:
    with app.app_context():
        officer = get_session().scalars(select(Officer).where(Officer.name == name)).one()
        get_session().expunge(officer)
        return officer


def test_an_officer_enrols_with_an_authenticator_app_once(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    page = client.get(f"/console/enrol/{token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'autocomplete="new-password"' in text
    assert 'autocomplete="one-time-code"' in text
    assert "otpauth://totp/" in text

    secret = enrol_with_app(client, token)

    officer = officer_row(app)
    assert officer.totp_secret == secret
    assert officer.password_hash
    assert officer.password_hash.startswith("$argon2id$")
    assert PASSWORD not in officer.password_hash
    assert officer.enrolment_hash is None
    assert actions(app) == [("enrolled", {}), ("factor_added", {"factor": "totp"})]
    spent = client.get(f"/console/enrol/{token}")
    assert spent.status_code == 404
    assert "used already" in spent.get_data(as_text=True)


def test_the_enrolment_page_shows_the_apps_key_as_a_qr_code_and_as_text(app: Flask) -> None:
    page = app.test_client().get(f"/console/enrol/{new_officer(app)}").get_data(as_text=True)
    secret = totp_secret(page)
    found = re.search(
        r'<div class="totp-qr" id="totp-qr" role="img" '
        r'aria-label="QR code for your authenticator app" data-uri="([^"]+)">'
        r"(<svg .*?</svg>)</div>",
        page,
    )
    assert found, "no QR code with an accessible name"
    uri = html.unescape(found[1])
    assert uri == pyotp.TOTP(secret).provisioning_uri(
        name="Drafter (Chicago PD)", issuer_name="Haven"
    )
    # The code is segno's for that very URI, drawn inline (the CSP allows no data: image).
    expected = segno.make(uri, micro=False).svg_inline(
        dark="#000", light="#fff", omitsize=True, svgclass=None, lineclass=None
    )
    assert found[2] == expected
    assert "<script" not in found[2]


def test_unknown_and_expired_links_get_a_clear_page_and_change_nothing(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    unknown = client.get("/console/enrol/hve_nothing")
    assert unknown.status_code == 404
    assert "not valid" in unknown.get_data(as_text=True)
    assert 'role="alert"' in unknown.get_data(as_text=True)
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    with app.app_context():
        session = get_session()
        with write(session):
            officer = session.scalars(select(Officer)).one()
            officer.enrolment_expires = utcnow() - datetime.timedelta(seconds=1)
    expired = client.post(
        f"/console/enrol/{token}",
        data={
            "state": form_value(page, "state"),
            "pre_csrf_token": pre_csrf(page),
            "password": PASSWORD,
            "password_again": PASSWORD,
            "code": pyotp.TOTP(totp_secret(page)).now(),
        },
    )
    assert expired.status_code == 410
    assert "has expired" in expired.get_data(as_text=True)
    assert officer_row(app).password_hash is None
    assert actions(app) == []
    assert client.get(f"/console/enrol/{token}").status_code == 410
    # A JSON caller gets the same refusal as JSON.
    refused = client.get(f"/console/enrol/{token}", headers={"Accept": "application/json"})
    assert refused.json is not None
    assert refused.json["error"]["code"] == "enrolment_expired"


def test_a_bad_password_or_code_keeps_the_link_and_the_key(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    secret, state = totp_secret(page), form_value(page, "state")
    good = {
        "state": state,
        "pre_csrf_token": pre_csrf(page),
        "password": PASSWORD,
        "password_again": PASSWORD,
    }
    wrong_code = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    cases = [
        ({**good, "password": "short", "password_again": "short"}, "too short"),
        ({**good, "password_again": PASSWORD + "!", "code": "1"}, "not the same"),
        ({**good, "password": "Drafter" + " " * 6, "password_again": "Drafter" + " " * 6},
         "must not be your name"),
        ({**good, "code": wrong_code}, "That code is wrong"),
        ({**good, "state": state[:-2] + "xx", "code": pyotp.TOTP(secret).now()}, "too long"),
    ]  # fmt: skip
    for data, says in cases:
        refused = client.post(f"/console/enrol/{token}", data=data)
        assert refused.status_code == 422, data
        text = refused.get_data(as_text=True)
        assert says in text
        assert 'role="alert"' in text
        assert officer_row(app).password_hash is None
    # The page keeps the key the officer already gave their app (a forged state does not).
    again = client.post(f"/console/enrol/{token}", data=cases[0][0]).get_data(as_text=True)
    assert totp_secret(again) == secret
    assert actions(app) == []
    assert client.get(f"/console/enrol/{token}").status_code == 200


def test_an_officer_signs_in_with_password_and_code_then_out(app: Flask) -> None:
    token = new_officer(app)
    client = app.test_client()
    secret = enrol_with_app(client, token)
    form = client.get("/console/sign-in").get_data(as_text=True)
    first = client.post(
        "/console/sign-in",
        data={"agency": "Chicago PD", "name": "Drafter", "password": PASSWORD,
              "next": "/console/alerts/new", "pre_csrf_token": pre_csrf(form)},
    )  # fmt: skip
    assert first.status_code == 200
    text = first.get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in text
    # The code that enrolled is spent: the next one is accepted (one step either side is).
    later = pyotp.TOTP(secret).at(time.time() + 30)
    signed = client.post(
        "/console/sign-in/factor",
        data={"state": form_value(text, "state"), "code": later, "pre_csrf_token": pre_csrf(text)},
    )
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/console/alerts/new"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # on loopback, over plain HTTP
    session_cookie = client.get_cookie(COOKIE)
    assert session_cookie is not None
    assert client.get("/console/").status_code == 200
    assert actions(app)[-1] == ("sign_in", {"factor": "totp"})

    home = client.get("/console/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', home)
    assert csrf
    forged = client.post("/console/sign-out", data={"csrf_token": "x" * 64})
    assert forged.status_code == 403
    assert "did not come from the console" in forged.get_data(as_text=True)
    assert client.get("/console/").status_code == 200
    out = client.post("/console/sign-out", data={"csrf_token": csrf[1]})
    assert out.status_code == 302
    assert actions(app)[-1] == ("sign_out", {})
    assert client.get("/console/").status_code == 302
    # The session itself has ended: its cookie, kept, no longer signs anyone in.
    client.set_cookie(COOKIE, session_cookie.value, domain="localhost")
    assert client.get("/console/").status_code == 302
