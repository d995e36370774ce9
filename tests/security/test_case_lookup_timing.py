"""An unknown case number answers in the same time as a known one with a wrong PIN.

Measured, not assumed: hundreds of interleaved requests of each kind, compared with a
Mann-Whitney U test (rank-based, so a few scheduler hiccups do not decide it).
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from flask.testing import FlaskClient
from numpy.typing import NDArray

from takedown import codes
from tests.factories import submit_case, video_hash

SAMPLES = 300  # of each kind
WARM_UP = 30
# The red team measured z = 25 when the Argon2 verify was skipped for unknown numbers. Below
# this bound the two distributions are indistinguishable at any useful confidence.
MAX_ABS_Z = 4.0


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Hundreds of wrong PINs on one case without hitting the rate limit (each from an
    # address of its own, so no wrong PIN makes the next one wait either: see `elapsed`).
    return {
        "case_lookup_rate": "1000000/minute",
        "log_level": "WARNING",  # 1,200 access-log lines would bury the figure printed below
    }


def average_ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks 1..n of `values`, ties given the average of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    inverse = np.empty(len(values), dtype=np.intp)
    inverse[order] = np.arange(len(values))
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts)[inverse]
    bounds = np.r_[np.nonzero(starts)[0], len(values)]
    return 0.5 * (bounds[group] + bounds[group - 1] + 1)


def mann_whitney_z(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """The normal approximation's z of the Mann-Whitney U statistic of `a` against `b`
    (positive when `a` tends to be larger)."""
    n1, n2 = len(a), len(b)
    ranks = average_ranks(np.concatenate([a, b]))
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    spread = np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return float((u - mean) / spread)


def test_mann_whitney_z_tells_shifted_samples_apart_and_equal_ones_not() -> None:
    rng = np.random.default_rng(7)
    same = mann_whitney_z(rng.normal(0, 1, 300), rng.normal(0, 1, 300))
    shifted = mann_whitney_z(rng.normal(1, 1, 300), rng.normal(0, 1, 300))
    assert abs(same) < 3
    assert shifted > 10


def elapsed(client: FlaskClient, number: str, pin: str) -> float:
    # A fresh client address for each guess: its wrong-PIN counts start empty, so the PIN is
    # always checked (a guess made to wait would be a 429 and measure nothing).
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    started = time.perf_counter_ns()
    response = client.get(
        f"/api/v1/takedown/cases/{number}",
        headers={"X-Case-Pin": pin},
        environ_base={"REMOTE_ADDR": address},
    )
    took = time.perf_counter_ns() - started
    assert response.status_code == 404
    return float(took)


def test_an_unknown_case_number_takes_as_long_as_a_known_one_with_a_wrong_pin(
    client: FlaskClient,
) -> None:
    known = submit_case(client, [video_hash()])["case_number"]
    wrong_pin = "AAAAA-AAAAA"
    unknown: list[float] = []
    known_wrong: list[float] = []
    for i in range(WARM_UP + SAMPLES):
        # A fresh, well-formed unknown number each time, as an attacker would probe.
        kinds = [
            (unknown, codes.display_case_number(codes.new_case_number())),
            (known_wrong, known),
        ]
        random.shuffle(kinds)  # interleaved in random order: drift hits both kinds alike
        for samples, number in kinds:
            took = elapsed(client, number, wrong_pin)
            if i >= WARM_UP:
                samples.append(took)
    a, b = np.array(unknown), np.array(known_wrong)
    z = mann_whitney_z(a, b)
    print(
        f"\ncase lookup timing: unknown median {np.median(a) / 1e6:.2f} ms, known with a "
        f"wrong PIN median {np.median(b) / 1e6:.2f} ms, Mann-Whitney z = {z:.2f} "
        f"({SAMPLES} each)"
    )
    assert abs(z) < MAX_ABS_Z
