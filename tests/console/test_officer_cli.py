"""`haven officer add|reset|revoke|notify`, run as an operator would: a one-time enrolment
link besides the API key, a reset that signs the officer out and asks them to enrol again, a
revocation that ends key and sessions at once, and where approval notices go."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from alerts.models import OfficerCredential
from haven.cli import main
from haven.db import get_session
from tests.console.test_enrol import actions, enrol_with_app, officer_row
from tests.console.test_signin import sign_in
from tests.factories import bearer, create_agency

PUBLIC_URL = "https://haven.example.org"


@pytest.fixture
def haven(app: Flask) -> CliRunner:
    create_agency(app)
    return CliRunner(
        env={
            "HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url),
            "HAVEN_PUBLIC_URL": PUBLIC_URL,
        }
    )


def add(haven: CliRunner, *arguments: str) -> dict[str, str]:
    result = haven.invoke(main, ["officer", "add", "Chicago PD", "Drafter", "--json", *arguments])
    assert result.exit_code == 0, result.output
    added: dict[str, str] = json.loads(result.output)
    return added


def token_of(link: str) -> str:
    prefix = f"{PUBLIC_URL}/console/enrol/"
    assert link.startswith(prefix)
    return link.removeprefix(prefix)


def test_officer_add_prints_a_key_and_a_one_time_enrolment_link(
    haven: CliRunner, app: Flask
) -> None:
    added = add(haven)
    assert added["api_key"].startswith("hvo_")
    token = token_of(added["enrolment_link"])
    assert added["enrolment_expires"]
    client = app.test_client()
    assert client.get(f"/console/enrol/{token}").status_code == 200
    assert client.get("/api/v1/alerts/1", headers=bearer(added["api_key"])).status_code == 404
    officer = officer_row(app)
    assert token not in (officer.enrolment_hash or "")  # only its hash is kept
    plain = haven.invoke(main, ["officer", "add", "Chicago PD", "Second"])
    assert f"enrolment_link: {PUBLIC_URL}/console/enrol/hve_" in plain.output


def test_reset_signs_the_officer_out_and_asks_for_a_new_enrolment(
    haven: CliRunner, app: Flask
) -> None:
    added = add(haven)
    first = token_of(added["enrolment_link"])
    client = app.test_client()
    secret = enrol_with_app(client, first)
    sign_in(client, secret)
    assert client.get("/console/").status_code == 200

    result = haven.invoke(main, ["officer", "reset", "Chicago PD", "Drafter", "--json"])
    assert result.exit_code == 0, result.output
    second = token_of(json.loads(result.output)["enrolment_link"])
    assert client.get("/console/").status_code == 302  # signed out at once
    officer = officer_row(app)
    assert officer.password_hash is None
    assert officer.totp_secret is None
    with app.app_context():
        assert get_session().scalars(select(OfficerCredential)).all() == []
    assert client.get(f"/console/enrol/{first}").status_code == 404
    assert client.get(f"/console/enrol/{second}").status_code == 200
    # The API key is not a console factor: it keeps working.
    assert client.get("/api/v1/alerts/1", headers=bearer(added["api_key"])).status_code == 404
    assert ("factors_reset", {}) in actions(app)


def test_revoke_ends_the_key_the_sessions_and_the_link_at_once(
    haven: CliRunner, app: Flask
) -> None:
    added = add(haven)
    client = app.test_client()
    secret = enrol_with_app(client, token_of(added["enrolment_link"]))
    sign_in(client, secret)
    reset = haven.invoke(main, ["officer", "reset", "Chicago PD", "Drafter", "--json"])
    link = json.loads(reset.output)["enrolment_link"]
    result = haven.invoke(main, ["officer", "revoke", "Chicago PD", "Drafter"])
    assert result.exit_code == 0, result.output
    assert "revoked Drafter of Chicago PD" in result.output
    assert client.get("/console/").status_code == 302
    assert client.get("/api/v1/alerts/1", headers=bearer(added["api_key"])).status_code == 401
    assert client.get(f"/console/enrol/{token_of(link)}").status_code == 404
    again = haven.invoke(main, ["officer", "reset", "Chicago PD", "Drafter"])
    assert again.exit_code == 1
    assert "revoked" in again.output
    unknown = haven.invoke(main, ["officer", "revoke", "Chicago PD", "Nobody"])
    assert unknown.exit_code == 1
    assert "no officer named 'Nobody'" in unknown.output


@pytest.mark.parametrize(
    ("target", "stored"),
    [
        ("(312) 555-0142", "+13125550142"),
        ("+44 20 7946 0018", "+442079460018"),
        ("mailto://duty@example.org", "mailto://duty@example.org"),
        ("json://127.0.0.1:8080/notices", "json://127.0.0.1:8080/notices"),
    ],
)
def test_notify_takes_a_phone_number_or_an_apprise_url(
    haven: CliRunner, app: Flask, target: str, stored: str
) -> None:
    added = add(haven, "--approver", "--notify", target)
    assert added["notify"] == stored
    cleared = haven.invoke(main, ["officer", "notify", "Chicago PD", "Drafter", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    assert officer_row(app).notify_to is None
    again = haven.invoke(main, ["officer", "notify", "Chicago PD", "Drafter", target])
    assert again.exit_code == 0, again.output
    assert officer_row(app).notify_to == stored


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["12"], "neither a phone number nor an Apprise URL"),
        (["nosuchscheme://example.org"], "Apprise cannot use"),
        ([], "Give either a TARGET or --clear"),
        (["+13125550142", "--clear"], "Give either a TARGET or --clear"),
    ],
)
def test_a_bad_notify_target_is_refused_and_changes_nothing(
    haven: CliRunner, app: Flask, arguments: list[str], says: str
) -> None:
    add(haven, "--notify", "+13125550142")
    result = haven.invoke(main, ["officer", "notify", "Chicago PD", "Drafter", *arguments])
    assert result.exit_code != 0
    assert says in result.output
    assert officer_row(app).notify_to == "+13125550142"
    refused = haven.invoke(main, ["officer", "add", "Chicago PD", "Other", "--notify", "12"])
    assert refused.exit_code == 1
    assert "neither a phone number" in refused.output
