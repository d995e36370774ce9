"""Signing in to the console in tests without a second factor: a session is opened directly,
as the sign-in page opens one once the password and factor are checked."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alerts.console.sessions import COOKIE, csrf_token_for, start_session
from alerts.models import Officer
from haven.auth import hash_secret
from haven.db import get_session, utcnow, write


def open_session(app: Flask, api_key: str) -> tuple[str, str]:
    """A console session for the officer with `api_key`: (session token, CSRF token)."""
    with app.app_context():
        session = get_session()
        officer = session.scalars(
            select(Officer).where(Officer.api_key_hash == hash_secret(api_key))
        ).one()
        with write(session):
            token = start_session(session=session, officer=officer, now=utcnow())
    return token, csrf_token_for(token, app.extensions["haven.settings"].secret_key)


def signed_in_client(app: Flask, api_key: str) -> tuple[FlaskClient, str]:
    """A test client signed in to the console as the officer with `api_key`, and the CSRF
    token its state-changing requests must carry (form field or X-CSRF-Token header)."""
    token, csrf = open_session(app, api_key)
    client = app.test_client()
    client.set_cookie(COOKIE, token, domain="localhost")
    return client, csrf
