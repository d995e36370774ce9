"""Video hashes by vPDQ: strictly checked, spelt one way, named by a digest, and served with
their frames on the native feed and export only (never on the StopNCII-compatible API)."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from haven.db import get_session
from takedown.models import Case, FeedChange, Hash, HashFeatures
from takedown.schemas import CaseStatusOut, FeedPage
from takedown.service import FEED_PAGE_FEATURES_BYTES, PlatformCredentials
from tests.factories import (
    bearer,
    image_hashes,
    random_md5,
    random_pdq,
    random_vpdq,
    submit_case,
    video_hash,
    vpdq_hash,
)

CASES = "/api/v1/takedown/cases"
FEED = "/api/v1/feed/hashes"
STOPNCII = "/stopncii/v1"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model)) or 0


def signal(*frames: str) -> str:
    """A signal string of these frame strings, spelt as given."""
    return json.dumps(list(frames))


def digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def case_status(client: FlaskClient, created: dict[str, Any]) -> Any:
    response = client.get(
        f"{CASES}/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    )
    assert response.status_code == 200, response.json
    CaseStatusOut.model_validate(response.json)
    return response.json


def vpdq_of(status: Any) -> dict[str, Any]:
    (found,) = [h for h in status["hashes"] if h["algorithm"] == "vpdq"]
    return found  # type: ignore[no-any-return]


def poll(client: FlaskClient, key: str, after: str = "0", limit: int = 1000) -> Any:
    response = client.get(FEED, query_string={"after": after, "limit": limit}, headers=bearer(key))
    assert response.status_code == 200, response.json
    FeedPage.model_validate(response.json)
    return response.json


def stopncii_headers(platform: PlatformCredentials) -> dict[str, str]:
    return {
        "x-functions-key": platform.stopncii_fetch_function_key,
        "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key,
    }


def withdraw(client: FlaskClient, created: dict[str, Any]) -> None:
    response = client.post(
        f"{CASES}/{created['case_number']}/withdraw", headers={"X-Case-Pin": created["pin"]}
    )
    assert response.status_code == 200, response.json


# Bad input: a 4xx naming the problem, and nothing stored


def video(value: str, **more: Any) -> list[dict[str, Any]]:
    """A case of a video MD5 and this vPDQ (the second hash, hashes.1)."""
    item = {"media": "video", "algorithm": "vpdq", "value": value, **more}
    return [video_hash(), item]


@pytest.mark.parametrize(
    ("hashes", "says"),
    [
        pytest.param(
            video(signal(f"{PDQ},90,0", f"{PDQ[:63]},90,1")), "frame 1: its pdq", id="hex-63"
        ),
        pytest.param(
            video(signal(f"{'g' * 64},90,0")), "frame 0: its pdq hash is 64 hex", id="hex-g"
        ),
        pytest.param(
            video(signal(f"{PDQ},90,0", f"{PDQ},101,1")), "frame 1: quality 101", id="q-101"
        ),
        pytest.param(
            video(signal(f"{PDQ},-1,0")), "frame 0: quality '-1' is not an int", id="q-neg"
        ),
        pytest.param(video(signal(f"{PDQ},90.5,0")), "frame 0: quality '90.5'", id="q-float"),
        pytest.param(video(signal(f"{PDQ},high,0")), "frame 0: quality 'high'", id="q-word"),
        pytest.param(
            video(signal(f"{PDQ},90,0", f"{PDQ},90,2", f"{PDQ},90,1.5")),
            "frame 2: timestamp 1.500 is not after the previous frame's 2.000",
            id="ts-decreasing",
        ),
        pytest.param(
            video(signal(f"{PDQ},90,1", f"{PDQ},90,1.0004")),
            "frame 1: timestamp 1.000 is not after",
            id="ts-equal-at-3-decimals",
        ),
        pytest.param(
            video(signal(f"{PDQ},90,-0.5")), "frame 0: timestamp -0.5 is negative", id="ts-neg"
        ),
        pytest.param(
            video(signal(f"{PDQ},90,NaN")), "frame 0: timestamp 'NaN' is not a finite", id="ts-nan"
        ),
        pytest.param(
            video(signal(f"{PDQ},90,inf")), "frame 0: timestamp 'inf' is not a finite", id="ts-inf"
        ),
        pytest.param(
            video(signal(f"{PDQ},90,soon")), "frame 0: timestamp 'soon' is not a num", id="ts-word"
        ),
        pytest.param(
            video(signal(f"{PDQ},90")), 'frame 0 is not "<pdq hex>,<quality>,<sec', id="parts"
        ),
        pytest.param(video(json.dumps([[PDQ, 90, 0]])), "frame 0 is not a string", id="not-string"),
        pytest.param(
            video(random_vpdq(3601)), "at most 3600 frames; this one has 3601", id="frames"
        ),
        pytest.param(
            video(json.dumps({"0": f"{PDQ},90,0"})), "this one is a JSON object", id="object"
        ),
        pytest.param(video(json.dumps(f"{PDQ},90,0")), "this one is a JSON string", id="string"),
        pytest.param(video(f"[{PDQ},90,0]"), "this one is not JSON", id="not-json"),
        pytest.param(video("[]"), "at least one frame; this array is empty", id="empty"),
        pytest.param(
            video(random_vpdq(2), quality=90), "quality is not given for vpdq", id="quality"
        ),
        pytest.param(
            [video_hash(), {"media": "image", "algorithm": "vpdq", "value": random_vpdq(2)}],
            "vpdq is not offered for images",
            id="image",
        ),
        pytest.param(
            video(signal(f"{PDQ},49,0", f"{random_pdq()},12,1")),
            "no frame of this vpdq hash has quality 50 or more (the best is 49)",
            id="weak",
        ),
    ],
)
def test_a_bad_vpdq_is_refused_naming_the_problem_and_nothing_is_stored(
    client: FlaskClient, app: Flask, hashes: list[dict[str, Any]], says: str
) -> None:
    response = client.post(CASES, json={"hashes": hashes})
    assert response.status_code == 422, response.json
    message = response.json["error"]["message"]
    assert message.startswith("hashes.1"), message
    assert says in message, message
    assert count_rows(app, Case) == count_rows(app, Hash) == count_rows(app, HashFeatures) == 0


@pytest.mark.parametrize("settings_overrides", [{"case_max_vpdq_bytes": 20_000}])
def test_a_case_whose_vpdq_frames_take_more_bytes_than_allowed_is_refused(
    client: FlaskClient, app: Flask
) -> None:
    # ~81 bytes a frame: 150 + 150 frames are ~24,000 bytes; either video alone would fit.
    response = client.post(CASES, json={"hashes": [vpdq_hash(150), vpdq_hash(150)]})
    assert response.status_code == 422
    message = response.json["error"]["message"]
    assert message.startswith("hashes: ")
    assert "at most 20000 bytes of vpdq frames" in message
    assert count_rows(app, Hash) == 0
    assert submit_case(client, [vpdq_hash(150)])["hashes"] == 1


def test_an_hour_of_video_at_the_frame_limit_fits_in_one_request(
    client: FlaskClient, app: Flask
) -> None:
    # Three one-hour videos (3600 frames each) fit both the default per-case byte limit and
    # the default request size (the settings check that the one admits the other).
    created = submit_case(client, [vpdq_hash(3600) for _ in range(3)])
    assert created["hashes"] == 3
    assert count_rows(app, HashFeatures) == 3


# One spelling, one digest, one row


def test_two_spellings_of_the_same_frames_are_one_hash_with_one_digest(
    client: FlaskClient, app: Flask
) -> None:
    other = random_pdq()
    canonical = signal(f"{PDQ},100,0.000", f"{other},87,1.000", f"{PDQ},95,2.500")
    loose = (
        f'[ "{PDQ.upper()}, 100, 0" ,"{other},087,1.0",'
        f'\n"{PDQ},95,2.5000"]'  # upper-case hex, spaces, other decimals, a leading zero
    )
    first = submit_case(client, [{"media": "video", "algorithm": "vpdq", "value": loose}])
    both = submit_case(
        client,
        [
            {"media": "video", "algorithm": "vpdq", "value": canonical},
            {"media": "video", "algorithm": "vpdq", "value": loose},
        ],
    )
    assert both["hashes"] == 1  # the two spellings collapse within a case too
    assert count_rows(app, Hash) == count_rows(app, HashFeatures) == 1
    for created in (first, both):
        shown = vpdq_of(case_status(client, created))
        assert shown["media"] == "video"
        assert shown["value"] == digest(canonical)
        assert shown["features"] == canonical


def test_other_hashes_show_no_features_on_the_case_status(client: FlaskClient) -> None:
    created = submit_case(client, [*image_hashes(1), video_hash(), vpdq_hash()])
    shown = {h["algorithm"]: h for h in case_status(client, created)["hashes"]}
    assert {a: h["features"] is None for a, h in shown.items()} == {
        "md5": True,
        "pdq": True,
        "vpdq": False,
    }


# The native feed and export


def test_the_feed_delivers_vpdq_with_its_features_and_others_without(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    item = vpdq_hash(5)
    md5 = video_hash()
    submit_case(client, [md5, item])
    changes = poll(client, platform.api_key)["changes"]
    by_algorithm = {c["algorithm"]: c for c in changes}
    assert "features" not in by_algorithm["md5"]
    assert by_algorithm["md5"]["value"] == md5["value"]
    assert by_algorithm["vpdq"]["features"] == item["value"]
    assert by_algorithm["vpdq"]["value"] == digest(item["value"])
    assert by_algorithm["vpdq"]["media"] == "video"


def test_a_withdrawn_vpdq_reaches_the_feed_as_withdrawn_with_its_features(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    item = vpdq_hash()
    created = submit_case(client, [item])
    first = poll(client, platform.api_key)
    withdraw(client, created)
    (tombstone,) = poll(client, platform.api_key, first["next"])["changes"]
    assert tombstone["status"] == "withdrawn"
    assert tombstone["value"] == digest(item["value"])
    assert tombstone["features"] == item["value"]


@pytest.mark.parametrize("compressed", [False, True])
def test_the_export_streams_every_active_vpdq_with_its_features(
    client: FlaskClient, platform: PlatformCredentials, compressed: bool
) -> None:
    # More vPDQ hashes than the export reads features for at once, between other hashes.
    items = [vpdq_hash(2) for _ in range(40)]
    md5s = [video_hash() for _ in range(40)]
    submit_case(client, [h for pair in zip(md5s, items, strict=True) for h in pair])
    gone = submit_case(client, [vpdq_hash()])
    withdraw(client, gone)
    headers = {**bearer(platform.api_key), "Accept-Encoding": "gzip" if compressed else "identity"}
    response = client.get(f"{FEED}/export", headers=headers)
    assert response.status_code == 200
    data = gzip.decompress(response.data) if compressed else response.data
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == 80
    exported = {line["value"]: line.get("features") for line in lines}
    assert exported == {
        **{h["value"]: None for h in md5s},
        **{digest(h["value"]): h["value"] for h in items},
    }


@pytest.mark.parametrize(
    "settings_overrides",
    [{"max_request_bytes": 48 * 1024 * 1024, "case_max_vpdq_bytes": 40 * 1024 * 1024}],
)
def test_a_feed_page_ends_early_rather_than_carry_too_many_frames(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    # Hour-long videos (~290 kB of frames each), more than one page's budget of frames.
    count = FEED_PAGE_FEATURES_BYTES // (3600 * 81) + 5
    submit_case(client, [vpdq_hash(3600) for _ in range(count)])
    first = poll(client, platform.api_key, limit=10_000)
    assert first["has_more"] is True
    assert 0 < len(first["changes"]) < count
    assert sum(len(c["features"]) for c in first["changes"]) <= FEED_PAGE_FEATURES_BYTES
    rest = poll(client, platform.api_key, first["next"], limit=10_000)
    assert rest["has_more"] is False
    assert len(first["changes"]) + len(rest["changes"]) == count


# Feedback by digest


def test_feedback_by_digest_is_counted_on_the_case_status(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    item = vpdq_hash()
    created = submit_case(client, [item])
    value = poll(client, platform.api_key)["changes"][0]["value"]
    assert value == digest(item["value"])
    response = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "vpdq", "value": value.upper(), "outcome": "removed", "count": 2},
        headers=bearer(platform.api_key),
    )
    assert response.status_code == 204, response.json
    assert vpdq_of(case_status(client, created))["feedback"] == {
        "removed": {"platforms": 1, "count": 2}
    }
    mine = client.get(
        "/api/v1/feed/feedback",
        query_string={"algorithm": "vpdq", "value": value},
        headers=bearer(platform.api_key),
    ).json
    assert mine["feedback"] == [
        {"algorithm": "vpdq", "value": value, "outcome": "removed", "count": 2}
    ]


def test_feedback_naming_a_vpdq_by_its_frames_is_refused_asking_for_the_digest(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    item = vpdq_hash()
    submit_case(client, [item])
    response = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "vpdq", "value": item["value"], "outcome": "removed"},
        headers=bearer(platform.api_key),
    )
    assert response.status_code == 422
    unknown = client.post(
        "/api/v1/feed/feedback",
        json={"algorithm": "vpdq", "value": random_md5() * 2, "outcome": "removed"},
        headers=bearer(platform.api_key),
    )
    assert unknown.status_code == 404


# The StopNCII-compatible API


def test_stopncii_never_serves_a_vpdq_and_never_counts_it_fetched(
    client: FlaskClient, platform: PlatformCredentials
) -> None:
    item = vpdq_hash()
    created = submit_case(client, [*image_hashes(1), item, video_hash()])
    response = client.get(f"{STOPNCII}/FetchHashes", headers=stopncii_headers(platform))
    assert response.status_code == 200, response.json
    records = response.json["hashRecords"]
    assert sorted(r["signalType"] for r in records) == ["ImagePDQ", "VideoMD5"]
    assert digest(item["value"]) not in {r["hashValue"] for r in records}
    fetched = {
        (h["media"], h["algorithm"]): h["platforms_fetched"]
        for h in case_status(client, created)["hashes"]
    }
    assert fetched == {
        ("image", "md5"): 0,
        ("image", "pdq"): 1,
        ("video", "md5"): 1,
        ("video", "vpdq"): 0,  # never served by that route, so never counted
    }
    feedback = client.post(
        f"{STOPNCII}/SubmitFeedback",
        json={"hashFeedbacks": [{"hashValue": digest(item["value"]), "feedbackValue": "Blocked"}]},
        headers=stopncii_headers(platform),
    )
    assert feedback.status_code == 404
    assert vpdq_of(case_status(client, created))["feedback"] == {}
    poll(client, platform.api_key)
    assert vpdq_of(case_status(client, created))["platforms_fetched"] == 1


def test_a_platform_on_stopncii_alone_is_not_behind_on_vpdq_it_is_never_served(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    from click.testing import CliRunner

    from haven.cli import main

    submit_case(client, [video_hash()])
    assert (
        client.get(f"{STOPNCII}/FetchHashes", headers=stopncii_headers(platform)).status_code == 200
    )
    submit_case(client, [vpdq_hash()])
    runner = CliRunner(env={"HAVEN_DATABASE_URL": str(app.extensions["haven.db"].url)})
    listed = runner.invoke(main, ["platform", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["protocol"], row["lag_changes"]) == ("stopncii", 0)
    assert count_rows(app, FeedChange) == 2
