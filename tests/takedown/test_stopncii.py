"""Platforms running python-threatexchange use Haven through its own StopNCII client."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIISignalType,
)

from takedown.service import PlatformCredentials
from tests.factories import image_hashes, submit_case, video_hash


def stopncii_client(base: str, platform: PlatformCredentials) -> StopNCIIAPI:
    return StopNCIIAPI(
        platform.stopncii_subscription_key,
        platform.stopncii_fetch_function_key,
        additional_function_keys={
            StopNCIIEndpoint.SubmitFeedback: platform.stopncii_fetch_function_key
        },
        base_url_override=f"{base}/stopncii/v1",
    )


def submit_many(client: FlaskClient) -> tuple[set[str], set[str], list[dict[str, Any]]]:
    """Cases holding PDQ, image MD5 and video MD5 hashes; returns what StopNCII should serve."""
    cases = []
    pdq: set[str] = set()
    video: set[str] = set()
    for _ in range(3):
        hashes = [*image_hashes(30), *(video_hash() for _ in range(20))]
        cases.append(submit_case(client, hashes))
        pdq |= {h["value"] for h in hashes if h["algorithm"] == "pdq"}
        video |= {h["value"] for h in hashes if h["media"] == "video"}
    return pdq, video, cases


def test_the_threatexchange_client_fetches_every_record_across_many_pages(
    client: FlaskClient, live_server: str, platform: PlatformCredentials
) -> None:
    pdq, video, _cases = submit_many(client)
    api = stopncii_client(live_server, platform)
    records = {}
    pages = 0
    next_page = ""
    while True:
        result = api.fetch_hashes(page_size=17, next_page=next_page)
        pages += 1
        assert result.count == len(result.hashRecords)
        for record in result.hashRecords:
            records[(record.signalType, record.hashValue)] = record
        if not result.hasMoreRecords:
            break
        next_page = result.nextPageToken or ""
    assert pages >= (len(pdq) + len(video)) // 17
    assert {v for (s, v) in records if s == StopNCIISignalType.ImagePDQ} == pdq
    assert {v for (s, v) in records if s == StopNCIISignalType.VideoMD5} == video
    assert {r.hashStatus for r in records.values()} == {StopNCIICaseStatus.Active}
    assert all(r.caseNumbers == {} for r in records.values())


def test_the_iterator_resumes_from_a_timestamp_and_sees_withdrawals(
    client: FlaskClient, live_server: str, platform: PlatformCredentials
) -> None:
    created = submit_case(client, [video_hash()])
    api = stopncii_client(live_server, platform)
    first = [r for page in api.fetch_hashes_iter() for r in page.hashRecords]
    assert len(first) == 1
    client.post(
        f"/api/v1/takedown/cases/{created['case_number']}/withdraw",
        headers={"X-Case-Pin": created["pin"]},
    )
    later = [
        r
        for page in api.fetch_hashes_iter(start_timestamp=first[0].lastModtimestamp)
        for r in page.hashRecords
    ]
    assert later[-1].hashValue == first[0].hashValue
    assert later[-1].hashStatus == StopNCIICaseStatus.Withdrawn


def test_feedback_through_the_client_reaches_the_family_and_only_its_sender(
    app: Flask, client: FlaskClient, live_server: str, platform: PlatformCredentials
) -> None:
    from tests.factories import create_platform

    created = submit_case(client, image_hashes(1))
    api = stopncii_client(live_server, platform)
    record = next(
        r
        for page in api.fetch_hashes_iter()
        for r in page.hashRecords
        if r.signalType == StopNCIISignalType.ImagePDQ
    )
    api.submit_feedback(
        StopNCIISignalType.ImagePDQ, record.hashValue, StopNCIICSPFeedbackValue.Blocked
    )
    mine = next(
        r
        for page in api.fetch_hashes_iter()
        for r in page.hashRecords
        if r.hashValue == record.hashValue
    )
    assert [f.feedbackValue for f in mine.CSPFeedbacks] == [StopNCIICSPFeedbackValue.Blocked]
    other = stopncii_client(live_server, create_platform(app, "Other"))
    theirs = next(
        r
        for page in other.fetch_hashes_iter()
        for r in page.hashRecords
        if r.hashValue == record.hashValue
    )
    assert theirs.CSPFeedbacks == []
    status = client.get(
        f"/api/v1/takedown/cases/{created['case_number']}", headers={"X-Case-Pin": created["pin"]}
    ).json
    pdq = next(h for h in status["hashes"] if h["algorithm"] == "pdq")
    assert pdq["feedback"] == {"removed": {"platforms": 1, "count": 1}}


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({}, {}, 401),
        ({"x-functions-key": "nope", "Ocp-Apim-Subscription-Key": "nope"}, {}, 401),
        (None, {"nextPageToken": "!!notatoken"}, 400),
        (None, {"nextPageToken": "YWJj"}, 400),
        (None, {"pageSize": "0"}, 422),
        (None, {"startTimestamp": "-5"}, 422),
        (None, {"colour": "blue"}, 422),
    ],
)
def test_bad_keys_tokens_and_parameters_are_refused(
    live_server: str,
    platform: PlatformCredentials,
    headers: dict[str, str] | None,
    params: dict[str, str],
    status: int,
) -> None:
    if headers is None:
        headers = {
            "x-functions-key": platform.stopncii_fetch_function_key,
            "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key,
        }
    response = requests.get(
        f"{live_server}/stopncii/v1/FetchHashes", headers=headers, params=params, timeout=10
    )
    assert response.status_code == status
    assert "error" in response.json()


def test_keys_of_two_different_platforms_are_refused(
    app: Flask, live_server: str, platform: PlatformCredentials
) -> None:
    from tests.factories import create_platform

    other = create_platform(app, "Other")
    response = requests.get(
        f"{live_server}/stopncii/v1/FetchHashes",
        headers={
            "x-functions-key": platform.stopncii_fetch_function_key,
            "Ocp-Apim-Subscription-Key": other.stopncii_subscription_key,
        },
        timeout=10,
    )
    assert response.status_code == 401


@pytest.mark.parametrize("count", [False, True, "1", 1.0])
def test_submit_feedback_refuses_a_count_that_is_not_a_json_integer(
    client: FlaskClient, platform: PlatformCredentials, count: object
) -> None:
    hashed = video_hash()
    submit_case(client, [hashed])
    value = hashed["value"]
    response = client.post(
        "/stopncii/v1/SubmitFeedback",
        json={"count": count, "hashFeedbacks": [{"hashValue": value, "feedbackValue": "Blocked"}]},
        headers={
            "x-functions-key": platform.stopncii_fetch_function_key,
            "Ocp-Apim-Subscription-Key": platform.stopncii_subscription_key,
        },
    )
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith("count")
