"""Families submit, check and withdraw cases: hashes only, no account, no personal data."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from haven.db import get_session
from takedown import codes
from takedown.models import Case, FeedChange, Hash
from tests.factories import image_hashes, random_md5, random_pdq, submit_case, video_hash

CASES = "/api/v1/takedown/cases"


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model)) or 0


def status_of(client: FlaskClient, number: str, pin: str) -> Any:
    return client.get(f"{CASES}/{number}", headers={"X-Case-Pin": pin})


def test_a_case_is_created_with_a_number_and_a_pin(client: FlaskClient, app: Flask) -> None:
    created = submit_case(client, [*image_hashes(2), video_hash()])
    assert created["hashes"] == 5
    assert len(created["case_number"].replace("-", "")) == 9
    assert len(created["pin"].replace("-", "")) == 10
    assert count_rows(app, Hash) == 5
    assert count_rows(app, FeedChange) == 5


def test_hash_values_are_normalised_to_lower_case_and_duplicates_collapse(
    client: FlaskClient, app: Flask
) -> None:
    value = random_md5()
    created = submit_case(
        client,
        [
            {"media": "video", "algorithm": "md5", "value": value.upper()},
            {"media": "video", "algorithm": "md5", "value": value},
        ],
    )
    assert created["hashes"] == 1
    status = status_of(client, created["case_number"], created["pin"]).json
    assert [h["value"] for h in status["hashes"]] == [value]


def bad(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"media": "video", "algorithm": "md5", "value": random_md5()}, item]


@pytest.mark.parametrize(
    ("hashes", "field", "says"),
    [
        (bad({"media": "image", "algorithm": "md5", "value": "abc"}), "hashes.1", "32 hex"),
        (bad({"media": "image", "algorithm": "sha1", "value": "g" * 40}), "hashes.1", "40 hex"),
        (bad({"media": "image", "algorithm": "sha256", "value": "a" * 63}), "hashes.1", "64"),
        (
            bad({"media": "video", "algorithm": "pdq", "value": "a" * 64, "quality": 90}),
            "hashes.1",
            "not offered for videos",
        ),
        (bad({"media": "image", "algorithm": "pdq", "value": "a" * 64}), "hashes.1", "quality"),
        (
            bad({"media": "image", "algorithm": "pdq", "value": "a" * 64, "quality": 49}),
            "hashes.1",
            "too weak to match safely",
        ),
        (
            bad({"media": "image", "algorithm": "md5", "value": "a" * 32, "quality": 90}),
            "hashes.1",
            "pdq hashes only",
        ),
        (bad({"media": "audio", "algorithm": "md5", "value": "a" * 32}), "hashes.1.media", ""),
        (bad({"media": "image", "algorithm": "crc32", "value": "a" * 8}), "hashes.1.algorithm", ""),
        (
            bad({"media": "image", "algorithm": "md5", "value": "a" * 32, "name": "me.jpg"}),
            "hashes.1.name",
            "Extra inputs",
        ),
        (
            bad({"media": "image", "algorithm": "pdq", "value": "a" * 64, "quality": 101}),
            "hashes.1.quality",
            "",
        ),
        ([], "hashes", "at least 1"),
        (
            [{"media": "video", "algorithm": "md5", "value": random_md5()}] * 0 + ["x"],
            "hashes.0",
            "",
        ),
    ],
)
def test_an_invalid_hash_is_refused_naming_the_item_and_nothing_is_stored(
    client: FlaskClient, app: Flask, hashes: list[Any], field: str, says: str
) -> None:
    response = client.post(CASES, json={"hashes": hashes})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["message"].startswith(field)
    assert says in error["message"]
    assert count_rows(app, Case) == count_rows(app, Hash) == 0


@pytest.mark.parametrize(
    "body",
    [{"hashes": "md5"}, {"hashes": [], "email": "x@example.com"}, {}, [], "hashes", 7],
)
def test_wrong_shapes_are_refused(client: FlaskClient, body: Any) -> None:
    response = client.post(CASES, json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"


def test_more_hashes_than_a_case_may_hold_are_refused(client: FlaskClient) -> None:
    response = client.post(CASES, json={"hashes": [video_hash() for _ in range(101)]})
    assert response.status_code == 422
    assert "at most 100" in response.json["error"]["message"]


def test_status_shows_each_hash_as_active_with_no_platform_yet(client: FlaskClient) -> None:
    created = submit_case(client, image_hashes(1))
    response = status_of(client, created["case_number"], created["pin"])
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "active"
    assert body["case_number"] == created["case_number"]
    assert [h["status"] for h in body["hashes"]] == ["active", "active"]
    assert all(h["platforms_fetched"] == 0 and h["feedback"] == {} for h in body["hashes"])


def test_wrong_number_and_wrong_pin_give_the_same_404(client: FlaskClient) -> None:
    created = submit_case(client, [video_hash()])
    wrong_pin = status_of(client, created["case_number"], "AAAAA-AAAAA")
    # Well-formed (its check character matches) but no case's: a mistyped one is its own 400.
    unknown = codes.display_case_number(codes.new_case_number())
    wrong_number = status_of(client, unknown, created["pin"])
    assert wrong_pin.status_code == wrong_number.status_code == 404
    assert wrong_pin.json == wrong_number.json


def test_an_unknown_case_number_costs_one_pin_verification_like_a_known_one(
    client: FlaskClient, pin_checks: list[str]
) -> None:
    created = submit_case(client, [video_hash()])
    unknown = codes.display_case_number(codes.new_case_number())
    assert status_of(client, unknown, "AAAAA-AAAAA").status_code == 404
    assert status_of(client, created["case_number"], "AAAAA-AAAAA").status_code == 404
    # The Argon2 cost is paid either way (the timing itself is measured in `make security`).
    assert len(pin_checks) == 2
    assert pin_checks[0].split("$")[:4] == pin_checks[1].split("$")[:4]  # the same parameters


def test_withdrawing_turns_the_hashes_into_tombstones(client: FlaskClient, app: Flask) -> None:
    created = submit_case(client, image_hashes(1))
    response = client.post(
        f"{CASES}/{created['case_number']}/withdraw", headers={"X-Case-Pin": created["pin"]}
    )
    assert response.status_code == 200
    assert response.json["status"] == "withdrawn"
    assert {h["status"] for h in response.json["hashes"]} == {"withdrawn"}
    assert count_rows(app, FeedChange) == 4


def test_a_hash_another_active_case_holds_stays_active_after_withdrawal(
    client: FlaskClient, app: Flask
) -> None:
    shared = {"media": "image", "algorithm": "pdq", "value": random_pdq(), "quality": 80}
    first = submit_case(client, [shared, video_hash()])
    second = submit_case(client, [shared])
    client.post(f"{CASES}/{first['case_number']}/withdraw", headers={"X-Case-Pin": first["pin"]})
    still = status_of(client, second["case_number"], second["pin"]).json
    assert still["hashes"][0]["status"] == "active"
    # Two first appearances and one tombstone (the video only): the shared hash never left.
    assert count_rows(app, FeedChange) == 3


def test_withdrawing_twice_changes_nothing_more(client: FlaskClient, app: Flask) -> None:
    created = submit_case(client, [video_hash()])
    headers = {"X-Case-Pin": created["pin"]}
    for _ in range(2):
        assert (
            client.post(f"{CASES}/{created['case_number']}/withdraw", headers=headers).status_code
            == 200
        )
    assert count_rows(app, FeedChange) == 2


def test_a_withdrawn_hash_submitted_again_returns_to_the_feed(
    client: FlaskClient, app: Flask
) -> None:
    item = video_hash()
    first = submit_case(client, [item])
    client.post(f"{CASES}/{first['case_number']}/withdraw", headers={"X-Case-Pin": first["pin"]})
    again = submit_case(client, [item])
    assert (
        status_of(client, again["case_number"], again["pin"]).json["hashes"][0]["status"]
        == "active"
    )
    assert count_rows(app, FeedChange) == 3


@pytest.mark.parametrize("settings_overrides", [{"case_submit_rate": "100/minute;2/hour"}])
def test_every_limit_of_a_combined_rate_counts_not_only_the_first(client: FlaskClient) -> None:
    statuses = [client.post(CASES, json={"hashes": [video_hash()]}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("settings_overrides", [{"case_submit_rate": "3/minute"}])
def test_a_flood_of_submissions_from_one_address_is_rate_limited(client: FlaskClient) -> None:
    statuses = [client.post(CASES, json={"hashes": [video_hash()]}).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    other = client.post(
        CASES, json={"hashes": [video_hash()]}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert other.status_code == 201
