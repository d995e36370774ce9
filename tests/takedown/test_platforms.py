"""What families and operators see of platforms is true; platforms get key rotation, rate
limits and a sandbox."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from haven.cli import main
from haven.db import get_session, utcnow
from takedown.service import PlatformCredentials, rotate_platform
from tests.factories import bearer, create_platform, image_hashes, submit_case, video_hash

FEED = "/api/v1/feed/hashes"
SANDBOX_FEED = "/api/v1/sandbox/feed/hashes"
STOPNCII = "/stopncii/v1/FetchHashes"
SANDBOX_STOPNCII = "/stopncii/sandbox/v1/FetchHashes"


def stopncii_headers(platform: PlatformCredentials) -> dict[str, str]:
    return {
        "x-functions-key": platform.stopncii_fetch_function_key,
        "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key,
    }


def case_status(client: FlaskClient, created: dict[str, Any]) -> Any:
    response = client.get(
        f"/api/v1/takedown/cases/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    )
    assert response.status_code == 200, response.json
    return response.json


def fetched_by_algorithm(status: Any) -> dict[tuple[str, str], int]:
    return {(h["media"], h["algorithm"]): h["platforms_fetched"] for h in status["hashes"]}


def haven_cli(app: Flask, **env: str) -> CliRunner:
    return CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url), **env})


# Fetch accounting


def test_a_stopncii_poll_counts_only_the_hashes_that_route_served(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    created = submit_case(client, [*image_hashes(1), video_hash()])
    response = client.get(STOPNCII, headers=stopncii_headers(platform))
    assert response.status_code == 200, response.json
    assert {r["signalType"] for r in response.json["hashRecords"]} == {"ImagePDQ", "VideoMD5"}
    assert fetched_by_algorithm(case_status(client, created)) == {
        ("image", "md5"): 0,  # StopNCII has no image MD5 type: never served, never counted
        ("image", "pdq"): 1,
        ("video", "md5"): 1,
    }
    client.get(FEED, headers=bearer(platform.api_key))
    assert set(fetched_by_algorithm(case_status(client, created)).values()) == {1}


def test_a_stopncii_poll_does_not_count_an_image_md5_changed_before_its_cursor(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    first = submit_case(client, image_hashes(1))
    second = submit_case(client, [video_hash()])  # a later cursor than the image MD5
    assert client.get(STOPNCII, headers=stopncii_headers(platform)).status_code == 200
    assert fetched_by_algorithm(case_status(client, first))[("image", "md5")] == 0
    assert fetched_by_algorithm(case_status(client, second))[("video", "md5")] == 1


# Feedback


def test_feedback_through_both_apis_counts_once_and_the_latest_outcome_wins(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    created = submit_case(client, image_hashes(1))
    pdq = next(
        h["value"] for h in case_status(client, created)["hashes"] if h["algorithm"] == "pdq"
    )
    native = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "pdq", "value": pdq, "outcome": "matched"},
        headers=bearer(platform.api_key),
    )
    assert native.status_code == 204, native.json
    for _ in range(2):  # the same report sent twice through StopNCII counts once
        stopncii = client.post(
            "/stopncii/v1/SubmitFeedback",
            json={"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked"}]},
            headers=stopncii_headers(platform),
        )
        assert stopncii.status_code == 200, stopncii.json
    hashes = case_status(client, created)["hashes"]
    feedback = next(h["feedback"] for h in hashes if h["algorithm"] == "pdq")
    assert feedback == {"removed": {"platforms": 1, "count": 1}}
    native_again = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "pdq", "value": pdq, "outcome": "removed"},
        headers=bearer(platform.api_key),
    )
    assert native_again.status_code == 204
    hashes = case_status(client, created)["hashes"]
    feedback = next(h["feedback"] for h in hashes if h["algorithm"] == "pdq")
    assert feedback == {"removed": {"platforms": 1, "count": 1}}


# haven platform list


def test_platform_list_shows_last_poll_protocol_lag_and_feedback(
    app: Flask, client: FlaskClient
) -> None:
    native = create_platform(app, "Native Co")
    stopncii = create_platform(app, "Stop Co")
    both = create_platform(app, "Both Co")
    create_platform(app, "Idle Co")
    submit_case(client, [video_hash(), video_hash()])
    value = client.get(FEED, headers=bearer(native.api_key)).json["changes"][0]["value"]
    client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "md5", "value": value, "outcome": "removed"},
        headers=bearer(native.api_key),
    )
    client.get(STOPNCII, headers=stopncii_headers(stopncii))
    client.get(STOPNCII, headers=stopncii_headers(both))
    client.get(FEED, query_string={"limit": 1}, headers=bearer(both.api_key))
    submit_case(client, image_hashes(1))  # 2 changes; StopNCII serves only the PDQ
    result = haven_cli(app).invoke(main, ["platform", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert {n: r["protocol"] for n, r in rows.items()} == {
        "Native Co": "native",
        "Stop Co": "stopncii",
        "Both Co": "both",
        "Idle Co": "none",
    }
    assert {n: r["lag_changes"] for n, r in rows.items()} == {
        "Native Co": 2,
        "Stop Co": 1,
        "Both Co": 3,  # measured on its native cursor, which is one page behind
        "Idle Co": 4,
    }
    assert rows["Idle Co"]["last_poll"] is None
    assert rows["Native Co"]["last_poll"] is not None
    assert rows["Native Co"]["lag_oldest_age_seconds"] >= 0
    assert rows["Native Co"]["feedback"] == {"removed": 1}
    assert rows["Stop Co"]["feedback"] == {}
    table = haven_cli(app).invoke(main, ["platform", "list"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["NAME", "KIND", "LAST"]
    native_line = next(line for line in lines if line.startswith("Native Co"))
    assert "native" in native_line
    assert "removed 1" in native_line


# Key rotation


def test_rotate_prints_new_credentials_and_the_old_ones_work_for_the_grace_period(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    result = haven_cli(app, HAVEN_PLATFORM_KEY_GRACE_HOURS="2").invoke(
        main, ["platform", "rotate", platform.name, "--json"]
    )
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)
    assert new["api_key"] != platform.api_key
    expires = datetime.datetime.fromisoformat(new["previous_keys_expire"])
    assert datetime.timedelta(hours=1.9) < expires - utcnow() <= datetime.timedelta(hours=2)
    rotated = PlatformCredentials(
        platform.name,
        new["api_key"],
        new["stopncii_subscription_key"],
        new["stopncii_fetch_function_key"],
    )
    for keys in (platform, rotated):
        assert client.get(FEED, headers=bearer(keys.api_key)).status_code == 200
        assert client.get(STOPNCII, headers=stopncii_headers(keys)).status_code == 200


def test_old_credentials_stop_once_the_grace_period_is_over(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    with app.app_context():
        # Rotated 25 hours ago with the default 24-hour grace: the old keys have expired.
        rotated = rotate_platform(
            session=get_session(),
            name=platform.name,
            grace=datetime.timedelta(hours=24),
            now=utcnow() - datetime.timedelta(hours=25),
        )
    assert client.get(FEED, headers=bearer(platform.api_key)).status_code == 401
    assert client.get(STOPNCII, headers=stopncii_headers(platform)).status_code == 401
    assert client.get(FEED, headers=bearer(rotated.api_key)).status_code == 200
    assert client.get(STOPNCII, headers=stopncii_headers(rotated)).status_code == 200


def test_rotating_an_unknown_platform_is_a_one_line_error(app: Flask) -> None:
    result = haven_cli(app).invoke(main, ["platform", "rotate", "Nobody"])
    assert result.exit_code == 1
    assert "No platform is named 'Nobody'" in result.output


# The sandbox


@pytest.fixture
def sandbox(app: Flask) -> PlatformCredentials:
    result = haven_cli(app).invoke(main, ["platform", "add", "Builder", "--sandbox", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sandbox"] is True
    return PlatformCredentials(
        "Builder",
        data["api_key"],
        data["stopncii_subscription_key"],
        data["stopncii_fetch_function_key"],
        sandbox=True,
    )


def add_sandbox_hashes(app: Flask, count: int) -> None:
    result = haven_cli(app).invoke(main, ["platform", "sandbox-hashes", "--count", str(count)])
    assert result.exit_code == 0, result.output
    assert f"added {3 * count} sandbox hashes" in result.output


@pytest.mark.parametrize(
    ("url", "which"),
    [(FEED, "sandbox"), (STOPNCII, "sandbox"), (SANDBOX_FEED, "real"), (SANDBOX_STOPNCII, "real")],
)
def test_a_key_on_the_other_kind_of_feed_gets_403(
    client: FlaskClient,
    platform: PlatformCredentials,
    sandbox: PlatformCredentials,
    url: str,
    which: str,
) -> None:
    keys = sandbox if which == "sandbox" else platform
    headers = bearer(keys.api_key) if "/api/" in url else stopncii_headers(keys)
    response = client.get(url, headers=headers)
    assert response.status_code == 403
    assert response.json["error"]["code"] in ("sandbox_key", "not_a_sandbox_key")


def test_sandbox_and_real_feeds_never_share_a_hash(
    app: Flask, client: FlaskClient, platform: PlatformCredentials, sandbox: PlatformCredentials
) -> None:
    real_case = submit_case(client, [*image_hashes(2), video_hash()])
    real = {h["value"] for h in case_status(client, real_case)["hashes"]}
    add_sandbox_hashes(app, 4)
    submit_case(client, [video_hash()])
    real |= {c["value"] for c in client.get(FEED, headers=bearer(platform.api_key)).json["changes"]}

    native = client.get(SANDBOX_FEED, headers=bearer(sandbox.api_key)).json["changes"]
    assert len(native) == 12
    assert {(c["media"], c["algorithm"]) for c in native} == {
        ("image", "pdq"),
        ("image", "md5"),
        ("video", "md5"),
    }
    synthetic = {c["value"] for c in native}
    export = client.get(f"{SANDBOX_FEED}/export", headers=bearer(sandbox.api_key))
    assert {json.loads(line)["value"] for line in export.data.decode().splitlines()} == synthetic
    stopncii = client.get(SANDBOX_STOPNCII, headers=stopncii_headers(sandbox)).json
    assert len(stopncii["hashRecords"]) == 8  # PDQ and video MD5 only
    assert {r["hashValue"] for r in stopncii["hashRecords"]} <= synthetic

    real_feed = {
        c["value"] for c in client.get(FEED, headers=bearer(platform.api_key)).json["changes"]
    }
    real_export = client.get(f"{FEED}/export", headers=bearer(platform.api_key)).data.decode()
    real_stopncii = client.get(STOPNCII, headers=stopncii_headers(platform)).json
    assert real_feed == real
    assert not synthetic & real_feed
    assert not synthetic & {json.loads(line)["value"] for line in real_export.splitlines()}
    assert not synthetic & {r["hashValue"] for r in real_stopncii["hashRecords"]}
    assert len(real) == 6  # 2 images (PDQ, MD5), 2 videos


def test_a_sandbox_platform_cannot_watch_the_real_feed_grow(
    app: Flask, client: FlaskClient, platform: PlatformCredentials, sandbox: PlatformCredentials
) -> None:
    add_sandbox_hashes(app, 1)
    before = client.get(SANDBOX_FEED, headers=bearer(sandbox.api_key))
    submit_case(client, [*image_hashes(3), video_hash()])
    after = client.get(SANDBOX_FEED, headers=bearer(sandbox.api_key))
    export = client.get(f"{SANDBOX_FEED}/export", headers=bearer(sandbox.api_key))
    assert after.headers["Haven-Feed-Last"] == before.headers["Haven-Feed-Last"]
    assert export.headers["Haven-Feed-Cursor"] == before.headers["Haven-Feed-Last"]
    real = client.get(FEED, headers=bearer(platform.api_key))
    assert int(real.headers["Haven-Feed-Last"]) > int(after.headers["Haven-Feed-Last"])


def test_sandbox_pdqs_are_well_formed_with_a_quality_and_feedback_stays_in_the_sandbox(
    app: Flask, client: FlaskClient, platform: PlatformCredentials, sandbox: PlatformCredentials
) -> None:
    add_sandbox_hashes(app, 1)
    changes = client.get(SANDBOX_FEED, headers=bearer(sandbox.api_key)).json["changes"]
    pdq = next(c["value"] for c in changes if c["algorithm"] == "pdq")
    assert len(pdq) == 64
    assert int(pdq, 16) >= 0
    body = {"algorithm": "pdq", "value": pdq, "outcome": "removed"}
    sandboxed = client.post(
        "/api/v1/sandbox/feed/feedback", json=body, headers=bearer(sandbox.api_key)
    )
    assert sandboxed.status_code == 204, sandboxed.json
    real = client.post("/api/v1/feed/feedback", json=body, headers=bearer(platform.api_key))
    assert real.status_code == 404  # not a hash of the real feed
    with app.app_context():
        from takedown import store

        assert store.fetch_platform_cursors(session=get_session()) == [(0, 0)]  # real only


def test_families_count_only_real_platforms(
    client: FlaskClient, platform: PlatformCredentials, sandbox: PlatformCredentials
) -> None:
    created = submit_case(client, [video_hash()])
    assert case_status(client, created)["platforms"] == 1
