"""The console's session cookie signs the console's scripts in to the JSON API; a
state-changing request without the session's CSRF token changes nothing."""

from __future__ import annotations

from flask import Flask

from tests.console.support import signed_in_client
from tests.factories import draft_body


def test_a_signed_in_console_drafts_through_the_api_with_its_csrf_token(
    app: Flask, officers: dict[str, str]
) -> None:
    client, csrf = signed_in_client(app, officers["drafter"])
    assert client.get("/console/").status_code == 200
    refused = client.post("/api/v1/alerts", json=draft_body())
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "csrf_failed"
    assert (
        client.post(
            "/api/v1/alerts", json=draft_body(), headers={"X-CSRF-Token": "x" * 64}
        ).status_code
        == 403
    )
    created = client.post("/api/v1/alerts", json=draft_body(), headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.json


def test_without_a_session_the_console_sends_the_officer_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in?next=/console/")
