"""Per-platform rate limits on the feed routes: a clear 429 with Retry-After."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from takedown.service import PlatformCredentials
from tests.factories import bearer, create_platform
from tests.takedown.test_platforms import FEED, STOPNCII, stopncii_headers


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"feed_rate_per_platform": "3/minute"}


def test_a_platform_over_its_rate_gets_a_429_with_retry_after(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    other = create_platform(app, "Other")
    assert client.get(FEED, headers=bearer(platform.api_key)).status_code == 200
    assert client.get(STOPNCII, headers=stopncii_headers(platform)).status_code == 200
    assert client.get(FEED, headers=bearer(platform.api_key)).status_code == 200
    for url, headers in ((FEED, bearer(platform.api_key)), (STOPNCII, stopncii_headers(platform))):
        refused = client.get(url, headers=headers)
        assert refused.status_code == 429
        assert refused.json["error"]["code"] == "rate_limited"
        assert "3 per 1 minute" in refused.json["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Keyed by platform: another platform, from the same address, is not held back.
    assert client.get(FEED, headers=bearer(other.api_key)).status_code == 200
