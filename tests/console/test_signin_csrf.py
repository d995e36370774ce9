"""The forms posted before a session exists (sign-in, second factor, enrolment) carry a CSRF
token that goes with a cookie of their own: without it, with a wrong one, or with another
browser's, the form is refused like a form from another site and changes nothing, even from
a browser that sends neither Origin nor Sec-Fetch-Site (the test client sends neither)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from alerts.console.sessions import COOKIE, PRE_COOKIE
from tests.console.test_enrol import (
    PASSWORD,
    actions,
    enrol_with_app,
    form_value,
    new_officer,
    officer_row,
    pre_csrf,
    totp_secret,
)
from tests.console.test_signin import factor_form, password_form, password_step


class Form(NamedTuple):
    """A pre-session form as served to `client`: where it posts and what it sends."""

    client: FlaskClient
    url: str
    data: dict[str, str]


def sign_in_form(app: Flask) -> Form:
    """The password step's form, filled in with the right password."""
    client = app.test_client()
    enrol_with_app(client, new_officer(app))
    return Form(client, "/console/sign-in", password_form(client, password=PASSWORD))


def factor_step_form(app: Flask) -> Form:
    """The second step's form, with a right code the officer has not used."""
    client = app.test_client()
    secret = enrol_with_app(client, new_officer(app))
    _status, page = password_step(client)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    return Form(client, "/console/sign-in/factor", factor_form(page, code=code))


def enrol_form(app: Flask) -> Form:
    """The enrolment form, filled in with a good password and the app's current code."""
    client = app.test_client()
    token = new_officer(app)
    page = client.get(f"/console/enrol/{token}").get_data(as_text=True)
    data = {
        "state": form_value(page, "state"),
        "pre_csrf_token": pre_csrf(page),
        "password": PASSWORD,
        "password_again": PASSWORD,
        "code": pyotp.TOTP(totp_secret(page)).now(),
    }
    return Form(client, f"/console/enrol/{token}", data)


FORMS = {"sign-in": sign_in_form, "factor": factor_step_form, "enrol": enrol_form}


def another_browsers_token(app: Flask, form: Form) -> str:
    """A token another browser got with its own cookie, from the same kind of page."""
    other = app.test_client()
    url = form.url if form.url.startswith("/console/enrol/") else "/console/sign-in"
    return pre_csrf(other.get(url).get_data(as_text=True))


def without_token(app: Flask, form: Form) -> dict[str, str]:
    return {k: v for k, v in form.data.items() if k != "pre_csrf_token"}


def with_wrong_token(app: Flask, form: Form) -> dict[str, str]:
    token = form.data["pre_csrf_token"]
    return {
        **form.data,
        "pre_csrf_token": token[:-4] + ("0000" if token[-4:] != "0000" else "1111"),
    }


def with_another_browsers_token(app: Flask, form: Form) -> dict[str, str]:
    return {**form.data, "pre_csrf_token": another_browsers_token(app, form)}


def with_the_cookie_as_token(app: Flask, form: Form) -> dict[str, str]:
    cookie = form.client.get_cookie(PRE_COOKIE, path="/console/")
    assert cookie is not None
    return {**form.data, "pre_csrf_token": cookie.value}


TAMPERINGS: dict[str, Callable[[Flask, Form], dict[str, str]]] = {
    "missing": without_token,
    "wrong": with_wrong_token,
    "another browser's": with_another_browsers_token,
    "the cookie itself": with_the_cookie_as_token,
}


def assert_nothing_changed(app: Flask, form: Form, events_before: int) -> None:
    """No session, no audit entry, no enrolment: the refused form left no trace."""
    assert form.client.get_cookie(COOKIE) is None
    assert form.client.get("/console/").status_code == 302
    assert len(actions(app)) == events_before
    if form.url.startswith("/console/enrol/"):
        assert officer_row(app).password_hash is None
        assert form.client.get(form.url).status_code == 200


@pytest.mark.parametrize("tampering", TAMPERINGS)
@pytest.mark.parametrize("which", FORMS)
def test_a_pre_session_form_without_its_browsers_token_is_refused_and_changes_nothing(
    app: Flask, which: str, tampering: str
) -> None:
    form = FORMS[which](app)
    events_before = len(actions(app))
    refused = form.client.post(form.url, data=TAMPERINGS[tampering](app, form))
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "has expired or did not come from the console" in text
    assert 'role="alert"' in text
    assert_nothing_changed(app, form, events_before)
    # The same form with its own token still goes through: the refusal spent no code, no
    # challenge and no enrolment link.
    done = form.client.post(form.url, data=form.data)
    assert done.status_code == (200 if which == "sign-in" else 302), done.get_data(as_text=True)


@pytest.mark.parametrize("which", FORMS)
def test_a_form_whose_browser_lost_its_cookie_is_refused(app: Flask, which: str) -> None:
    form = FORMS[which](app)
    events_before = len(actions(app))
    form.client.delete_cookie(PRE_COOKIE, path="/console/")
    refused = form.client.post(form.url, data=form.data)
    assert refused.status_code == 403
    assert_nothing_changed(app, form, events_before)


@pytest.mark.parametrize("which", FORMS)
def test_a_json_caller_without_the_token_gets_the_csrf_error_as_json(
    app: Flask, which: str
) -> None:
    form = FORMS[which](app)
    refused = form.client.post(
        form.url, data=without_token(app, form), headers={"Accept": "application/json"}
    )
    assert refused.status_code == 403
    assert refused.json is not None
    assert refused.json["error"]["code"] == "csrf_failed"


def test_refused_sign_in_forms_are_not_counted_as_guesses(app: Flask) -> None:
    form = sign_in_form(app)
    wrong = {**without_token(app, form), "password": "wrong password!"}
    for _ in range(12):  # more than the officer's free wrong guesses from one browser
        assert form.client.post(form.url, data=wrong).status_code == 403
    assert [a for a, _ in actions(app) if a == "sign_in_failed"] == []
    assert form.client.post(form.url, data=form.data).status_code == 200


def test_the_pre_session_cookie_is_http_only_lax_short_lived_and_for_the_console(
    app: Flask,
) -> None:
    client = app.test_client()
    served = client.get("/console/sign-in")
    cookie = served.headers["Set-Cookie"]
    assert cookie.startswith(f"{PRE_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/console/", "Max-Age=3600"):
        assert attribute in cookie
    assert "Secure" not in cookie  # on loopback, over plain HTTP
    assert served.headers["Cache-Control"] == "no-store"
    value = cookie.split(";")[0].split("=", 1)[1]
    token = pre_csrf(served.get_data(as_text=True))
    assert value not in token  # the page holds an HMAC of the cookie, not the cookie
    # A second page keeps the browser's value, so two open tabs both work.
    again = client.get("/console/sign-in")
    assert pre_csrf(again.get_data(as_text=True)) == token
    app.extensions["haven.settings"].public_url = "https://haven.example"
    assert "Secure" in client.get("/console/sign-in").headers["Set-Cookie"]
