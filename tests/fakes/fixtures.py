"""Pytest fixtures for the loopback fakes (`pytest_plugins = ["tests.fakes.fixtures"]`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.cap_receiver import CapReceiver
from tests.fakes.photo_server import PhotoServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.tarpit import Tarpit
from tests.fakes.twilio_server import FakeTwilio
from tests.fakes.vonage_server import FakeVonage
from tests.fakes.webhook_server import WebhookServer


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio Messages API on loopback, succeeding until told otherwise."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_vonage() -> Iterator[FakeVonage]:
    """A fake Vonage SMS API on loopback over TLS, succeeding until told otherwise."""
    with FakeVonage() as fake:
        yield fake


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback that keeps what it receives."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """An HTTP server on loopback that keeps what is POSTed to it."""
    with WebhookServer() as server:
        yield server


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    """A TCP server on loopback that accepts connections and never answers."""
    with Tarpit() as server:
        yield server


@pytest.fixture
def cap_receiver() -> Iterator[CapReceiver]:
    """A distributor's CAP receiver on loopback that keeps what is pushed to it."""
    with CapReceiver() as server:
        yield server


@pytest.fixture
def photo_server() -> Iterator[PhotoServer]:
    """An HTTP server on loopback for children's photos, some of them misbehaving."""
    with PhotoServer() as server:
        yield server
