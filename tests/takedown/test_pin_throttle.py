"""Wrong PINs slow guessing and never lock a family out; a mistyped case number is caught first.

Tests that wait use a first wait of 1 s and sleep for the Retry-After the API gave; they assert
what is answered afterwards, never how long anything took. The others use long waits, so that a
slow machine never lets a wait run out between two requests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from babel.dates import format_date
from babel.units import format_unit
from flask import Flask
from flask.testing import FlaskClient

from haven.ratelimit import Backoff
from takedown import codes
from tests.factories import submit_case, video_hash

CASES = "/api/v1/takedown/cases"
WRONG = "AAAAA-AAAAA"
FAMILY = "127.0.0.1"
STRANGER = "203.0.113.66"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Two free wrong PINs per case and client, then a wait no test sits out.
    return {"pin_free_tries": 2, "pin_first_wait_seconds": 600}


# Two free wrong PINs, then 1 s, 2 s, 4 s...: for the tests that wait.
SHORT_WAITS = pytest.mark.parametrize(
    "settings_overrides", [{"pin_free_tries": 2, "pin_first_wait_seconds": 1}]
)


def status_of(
    client: FlaskClient, number: str, pin: str, *, address: str = FAMILY, query: str = ""
) -> Any:
    return client.get(
        f"{CASES}/{number}{query}",
        headers={"X-Case-Pin": pin},
        environ_base={"REMOTE_ADDR": address},
    )


def waits(response: Any) -> int:
    """The seconds a refused guess was told to wait (and checks the refusal's shape)."""
    assert response.status_code == 429, response.json
    assert response.json["error"]["code"] == "wait_to_retry"
    seconds = int(response.headers["Retry-After"])
    assert response.json["error"]["details"]["retry_after"] == seconds
    return seconds


def mistype(number: str) -> str:
    """`number` with its first character replaced: a typo its check character catches."""
    plain = codes.normalise(number)
    other = next(c for c in codes.ALPHABET if c != plain[0])
    return codes.display_case_number(other + plain[1:])


def test_the_backoff_doubles_after_the_free_tries_up_to_its_cap() -> None:
    backoff = Backoff(free=3, first_wait=2, max_wait=60)
    assert [backoff.wait_after(n) for n in range(1, 10)] == [0, 0, 2, 4, 8, 16, 32, 60, 60]


def test_the_default_backoff_allows_few_guesses_a_day() -> None:
    # The figures docs/takedown-page.md states for the defaults.
    assert Backoff(free=5, first_wait=2, max_wait=3600).most_per_window() == 38
    assert Backoff(free=20, first_wait=2, max_wait=3600).most_per_window() == 53


@SHORT_WAITS
def test_each_wrong_pin_after_the_free_ones_makes_the_next_try_wait_twice_as_long(
    client: FlaskClient,
) -> None:
    number = submit_case(client, [video_hash()])["case_number"]
    for _ in range(2):
        assert status_of(client, number, WRONG).status_code == 404
    told = [waits(status_of(client, number, WRONG))]
    for _ in range(2):
        time.sleep(told[-1])
        assert status_of(client, number, WRONG).status_code == 404
        told.append(waits(status_of(client, number, WRONG)))
    assert told == [1, 2, 4]


@SHORT_WAITS
def test_the_right_pin_after_the_wait_works_and_forgets_the_wrong_ones(
    client: FlaskClient,
) -> None:
    created = submit_case(client, [video_hash()])
    number, pin = created["case_number"], created["pin"]
    for _ in range(2):
        assert status_of(client, number, WRONG).status_code == 404
    time.sleep(waits(status_of(client, number, pin)))  # the right PIN waits too
    assert status_of(client, number, pin).status_code == 200
    # Forgotten: a wrong PIN now is the first again (else the third, and the next would wait).
    assert status_of(client, number, WRONG).status_code == 404
    assert status_of(client, number, pin).status_code == 200


def test_a_strangers_wrong_pins_never_make_the_family_wait(client: FlaskClient) -> None:
    created = submit_case(client, [video_hash()])
    number, pin = created["case_number"], created["pin"]
    for _ in range(2):
        assert status_of(client, number, WRONG, address=STRANGER).status_code == 404
    waits(status_of(client, number, WRONG, address=STRANGER))
    assert status_of(client, number, pin).status_code == 200  # the family, elsewhere
    waits(status_of(client, number, pin, address=STRANGER))  # the stranger still waits


@pytest.mark.parametrize(
    "settings_overrides", [{"pin_client_free_tries": 3, "pin_first_wait_seconds": 600}]
)
def test_one_client_guessing_at_many_cases_is_slowed_and_others_are_not(
    client: FlaskClient,
) -> None:
    numbers = [submit_case(client, [video_hash()])["case_number"] for _ in range(4)]
    for number in numbers[:3]:
        assert status_of(client, number, WRONG, address=STRANGER).status_code == 404
    waits(status_of(client, numbers[3], WRONG, address=STRANGER))
    assert status_of(client, numbers[3], WRONG).status_code == 404  # another client


@pytest.mark.parametrize(
    "settings_overrides", [{"pin_client_free_tries": 2, "pin_first_wait_seconds": 600}]
)
def test_a_client_cannot_clear_its_count_with_a_pin_it_knows(client: FlaskClient) -> None:
    own = submit_case(client, [video_hash()])
    other = submit_case(client, [video_hash()])["case_number"]
    assert status_of(client, other, WRONG, address=STRANGER).status_code == 404
    assert status_of(client, own["case_number"], own["pin"], address=STRANGER).status_code == 200
    assert status_of(client, other, WRONG, address=STRANGER).status_code == 404
    waits(status_of(client, other, WRONG, address=STRANGER))


def test_an_ipv6_client_is_counted_by_its_64_bit_prefix(client: FlaskClient) -> None:
    number = submit_case(client, [video_hash()])["case_number"]
    for host in ("1", "2"):
        assert status_of(client, number, WRONG, address=f"2001:db8:1:2::{host}").status_code == 404
    waits(status_of(client, number, WRONG, address="2001:db8:1:2:ffff::3"))
    assert status_of(client, number, WRONG, address="2001:db8:1:3::1").status_code == 404


def test_a_mistyped_case_number_gets_its_own_answer_before_any_lookup_and_costs_no_try(
    client: FlaskClient, pin_checks: list[str]
) -> None:
    created = submit_case(client, [video_hash()])
    for typo in (mistype(created["case_number"]), "ABC-DEF-GHJ", "ABCD", "K7M-3QT-9A0"):
        response = status_of(client, typo, created["pin"])
        assert response.status_code == 400, typo
        assert response.json["error"]["code"] == "case_number_mistyped"
    assert pin_checks == []  # no PIN was checked, so no case was looked up
    for _ in range(2):  # and no wrong PIN was counted: both free tries are left
        assert status_of(client, created["case_number"], WRONG).status_code == 404
    assert status_of(client, created["case_number"], WRONG).status_code == 429


def first_wait(seconds: int) -> bool:
    """Whether the wait left is the one the fifth wrong guess earned (60 s, less the seconds
    already gone by), not the doubled one a later count would earn (120 s)."""
    return 30 < seconds <= 60


def guess_concurrently(app: Flask, number: str, guesses: int) -> Counter[int]:
    """`guesses` wrong PINs for `number`, all released at once; their status codes."""
    start = threading.Barrier(guesses)

    def guess(_: int) -> int:
        client = app.test_client()
        start.wait()
        return int(status_of(client, number, WRONG).status_code)

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        return Counter(pool.map(guess, range(guesses)))


@pytest.mark.parametrize(
    "settings_overrides",
    [{"pin_free_tries": 5, "pin_first_wait_seconds": 60, "pin_client_free_tries": 1000}],
)
def test_concurrent_wrong_pins_get_no_more_judged_than_the_free_tries(
    app: Flask, client: FlaskClient
) -> None:
    created = submit_case(client, [video_hash()])
    statuses = guess_concurrently(app, created["case_number"], 40)
    assert statuses == Counter({404: 5, 429: 35}), statuses
    assert first_wait(waits(status_of(client, created["case_number"], created["pin"])))


@pytest.mark.redis
def test_concurrent_wrong_pins_counted_in_redis_get_no_more_judged_than_the_free_tries(
    database_url: str, redis_url: str
) -> None:
    from haven.app import create_app
    from tests.conftest import make_settings

    app = create_app(
        make_settings(
            database_url,
            redis_url=redis_url,
            pin_free_tries=5,
            pin_first_wait_seconds=60,
            pin_client_free_tries=1000,
        )
    )
    client = app.test_client()
    created = submit_case(client, [video_hash()])
    statuses = guess_concurrently(app, created["case_number"], 40)
    assert statuses == Counter({404: 5, 429: 35}), statuses
    assert first_wait(waits(status_of(client, created["case_number"], created["pin"])))
    app.extensions["haven.db"].dispose()


@pytest.mark.parametrize(
    ("lang", "catalog"), [("km", "km"), ("is", "is"), ("ckb", "ckb"), ("si", "si"), ("tl", "fil")]
)
def test_the_status_carries_its_dates_and_counts_written_by_babel_in_the_language_asked(
    client: FlaskClient, lang: str, catalog: str
) -> None:
    created = submit_case(client, [video_hash(), video_hash()])
    body = status_of(client, created["case_number"], created["pin"], query=f"?lang={lang}").json
    submitted = date.fromisoformat(body["submitted"][:10])
    assert body["text"]["lang"] == lang
    assert body["text"]["submitted"] == format_date(submitted, format="long", locale=catalog)
    assert body["text"]["withdrawn"] is None
    assert body["text"]["hashes"] == "2"
    assert body["text"]["platforms"] == body["text"]["platforms_fetched"] == "0"


def test_an_unknown_language_is_refused_naming_it(client: FlaskClient) -> None:
    created = submit_case(client, [video_hash()])
    response = status_of(client, created["case_number"], created["pin"], query="?lang=xx")
    assert response.status_code == 422
    assert "'xx' is not one of Haven's languages" in response.json["error"]["message"]


def test_the_wait_is_told_in_words_in_the_language_asked(client: FlaskClient) -> None:
    number = submit_case(client, [video_hash()])["case_number"]
    for _ in range(2):
        assert status_of(client, number, WRONG).status_code == 404
    refused = status_of(client, number, WRONG, query="?lang=ru")
    assert waits(refused) == 600
    assert refused.json["error"]["details"]["wait"] == "10 минут"
    assert format_unit(10, "duration-minute", length="long", locale="ru") == "10 минут"
