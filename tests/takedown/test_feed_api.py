"""Platforms poll the hash feed, bootstrap from the export, and report what they did."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from takedown.schemas import FeedPage
from takedown.service import PlatformCredentials
from tests.factories import bearer, create_platform, image_hashes, submit_case, video_hash

FEED = "/api/v1/feed/hashes"


def poll(client: FlaskClient, key: str, after: str = "0", limit: int = 1000) -> Any:
    response = client.get(FEED, query_string={"after": after, "limit": limit}, headers=bearer(key))
    assert response.status_code == 200, response.json
    FeedPage.model_validate(response.json)
    return response.json


def test_polling_from_the_last_cursor_sees_every_change_once_in_order(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    submitted = [submit_case(client, [video_hash()]) for _ in range(7)]
    seen: list[dict[str, Any]] = []
    after = "0"
    while True:
        page = poll(client, platform.api_key, after, limit=3)
        seen.extend(page["changes"])
        after = page["next"]
        if not page["has_more"]:
            break
    cursors = [int(c["cursor"]) for c in seen]
    assert cursors == sorted(set(cursors))
    assert len(seen) == len(submitted)
    assert poll(client, platform.api_key, after)["changes"] == []


def test_a_withdrawn_hash_reappears_as_a_tombstone(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    created = submit_case(client, [video_hash()])
    first = poll(client, platform.api_key)
    client.post(
        f"/api/v1/takedown/cases/{created['case_number']}/withdraw",
        headers={"X-Case-Pin": created["pin"]},
    )
    tombstone = poll(client, platform.api_key, first["next"])["changes"]
    assert [(c["value"], c["status"]) for c in tombstone] == [
        (first["changes"][0]["value"], "withdrawn")
    ]


def test_changes_carry_hour_grained_times(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    submit_case(client, [video_hash()])
    changed_at = poll(client, platform.api_key)["changes"][0]["changed_at"]
    assert changed_at.endswith(":00:00Z")


def test_an_unchanged_empty_poll_is_a_bodiless_304(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    submit_case(client, [video_hash()])
    last = poll(client, platform.api_key)["next"]
    first = client.get(FEED, query_string={"after": last}, headers=bearer(platform.api_key))
    again = client.get(
        FEED,
        query_string={"after": last},
        headers={**bearer(platform.api_key), "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    assert again.data == b""
    submit_case(client, [video_hash()])
    changed = client.get(
        FEED,
        query_string={"after": last},
        headers={**bearer(platform.api_key), "If-None-Match": first.headers["ETag"]},
    )
    assert changed.status_code == 200
    assert len(changed.json["changes"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"after": "-1"},
        {"after": "abc"},
        {"after": "9" * 30},
        {"limit": "0"},
        {"limit": "10001"},
        {"since": "1"},
    ],
)
def test_bad_cursors_and_limits_are_refused(
    client: FlaskClient, platform: PlatformCredentials, query: dict[str, str]
) -> None:
    response = client.get(FEED, query_string=query, headers=bearer(platform.api_key))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"


@pytest.mark.parametrize("headers", [{}, bearer("hvp_unknown"), {"Authorization": "Basic x"}])
def test_unknown_keys_get_401(client: FlaskClient, headers: dict[str, str]) -> None:
    assert client.get(FEED, headers=headers).status_code == 401


def test_a_revoked_platform_gets_401(app: Flask, client: FlaskClient) -> None:
    from click.testing import CliRunner

    from haven.cli import main

    credentials = create_platform(app, "Leaving")
    assert client.get(FEED, headers=bearer(credentials.api_key)).status_code == 200
    runner = CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url)})
    result = runner.invoke(main, ["platform", "revoke", "Leaving"])
    assert result.exit_code == 0, result.output
    assert client.get(FEED, headers=bearer(credentials.api_key)).status_code == 401


def test_the_family_sees_how_many_platforms_fetched_each_hash(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    created = submit_case(client, [video_hash()])
    other = create_platform(app, "Other")
    poll(client, platform.api_key)
    status = client.get(
        f"/api/v1/takedown/cases/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    ).json
    assert status["platforms"] == 2
    assert status["hashes"][0]["platforms_fetched"] == 1
    poll(client, other.api_key)
    status = client.get(
        f"/api/v1/takedown/cases/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    ).json
    assert status["hashes"][0]["platforms_fetched"] == 2


@pytest.mark.parametrize("compressed", [False, True])
def test_the_export_streams_every_active_hash_with_a_cursor_to_continue_from(
    client: FlaskClient, platform: PlatformCredentials, compressed: bool
) -> None:
    keep = submit_case(client, image_hashes(2))
    gone = submit_case(client, [video_hash()])
    client.post(
        f"/api/v1/takedown/cases/{gone['case_number']}/withdraw",
        headers={"X-Case-Pin": gone["pin"]},
    )
    headers = {**bearer(platform.api_key), "Accept-Encoding": "gzip" if compressed else "identity"}
    response = client.get(f"{FEED}/export", headers=headers)
    assert response.status_code == 200
    data = gzip.decompress(response.data) if compressed else response.data
    assert response.headers.get("Content-Encoding") == ("gzip" if compressed else None)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == keep["hashes"] == 4
    assert {line["status"] for line in lines} == {"active"}
    cursor = response.headers["Haven-Feed-Cursor"]
    assert poll(client, platform.api_key, cursor)["changes"] == []
    submit_case(client, [video_hash()])
    assert len(poll(client, platform.api_key, cursor)["changes"]) == 1


def test_the_latest_feedback_counts_and_each_platform_sees_only_its_own(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    created = submit_case(client, [video_hash()])
    value = poll(client, platform.api_key)["changes"][0]["value"]
    other = create_platform(app, "Other")
    for key, outcome, count in [
        (platform.api_key, "matched", 1),
        (platform.api_key, "removed", 2),
        (platform.api_key, "removed", 3),
        (other.api_key, "matched", 1),
    ]:
        response = client.post(
            "/api/v1/feed/feedback",
            json={"algorithm": "md5", "value": value, "outcome": outcome, "count": count},
            headers=bearer(key),
        )
        assert response.status_code == 204, response.json
    mine = client.get(
        "/api/v1/feed/feedback",
        query_string={"algorithm": "md5", "value": value},
        headers=bearer(platform.api_key),
    ).json
    assert mine == {
        "feedback": [{"algorithm": "md5", "value": value, "outcome": "removed", "count": 3}]
    }
    status = client.get(
        f"/api/v1/takedown/cases/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    ).json
    # One report per platform and hash: the latest replaces the earlier ones.
    assert status["hashes"][0]["feedback"] == {
        "removed": {"platforms": 1, "count": 3},
        "matched": {"platforms": 1, "count": 1},
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"algorithm": "md5", "value": "a" * 32, "outcome": "removed"}, 404),
        ({"algorithm": "md5", "value": "a" * 32, "outcome": "deleted"}, 422),
        ({"algorithm": "md5", "value": "a" * 31, "outcome": "removed"}, 422),
        ({"algorithm": "md5", "value": "a" * 32, "outcome": "removed", "count": 0}, 422),
        ({"algorithm": "md5", "value": "a" * 32, "outcome": "removed", "count": True}, 422),
        ({"algorithm": "md5", "value": "a" * 32, "outcome": "removed", "count": "3"}, 422),
    ],
)
def test_bad_feedback_is_refused(
    client: FlaskClient, platform: PlatformCredentials, body: dict[str, Any], status: int
) -> None:
    response = client.post("/api/v1/feed/feedback", json=body, headers=bearer(platform.api_key))
    assert response.status_code == status
