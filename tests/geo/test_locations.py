"""Subscriber locations: points and US ZIP codes, validated."""

from __future__ import annotations

import pytest

from geo.errors import LocationError
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER, Location, point_location, zip_location


def test_a_point_location_keeps_its_coordinates() -> None:
    assert point_location(41.88, -87.63) == Location(lat=41.88, lon=-87.63)
    assert point_location(-90, 180) == Location(lat=-90.0, lon=180.0)


def test_a_zip_code_resolves_to_its_centroid() -> None:
    location = zip_location("60601")
    assert location.zip_code == "60601"
    assert location.lat == pytest.approx(41.8858, abs=1e-4)
    assert location.lon == pytest.approx(-87.6181, abs=1e-4)


def test_a_zip_plus_four_resolves_to_the_five_digit_centroid() -> None:
    assert zip_location(" 60601-1234 ") == zip_location("60601")


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91, 0, "latitude 91.0 is outside"),
        (0, -180.5, "longitude -180.5 is outside"),
        (float("nan"), 0, "not a finite number"),
        (0, float("inf"), "not a finite number"),
        ("41.8", -87.6, "is not a number"),
        (True, -87.6, "is not a number"),
        (None, -87.6, "is not a number"),
    ],
)
def test_bad_points_are_refused(lat: object, lon: object, message: str) -> None:
    with pytest.raises(LocationError, match=message):
        point_location(lat, lon)


@pytest.mark.parametrize(
    ("zip_code", "message"),
    [
        ("00000", "not a known US ZIP code"),
        ("99999", "not a known US ZIP code"),
        ("6060", "is not a US ZIP code"),
        ("abcde", "is not a US ZIP code"),
        ("60601-12", "is not a US ZIP code"),
        ("", "is not a US ZIP code"),
    ],
)
def test_unknown_or_malformed_zip_codes_are_refused(zip_code: str, message: str) -> None:
    with pytest.raises(LocationError, match=message):
        zip_location(zip_code)


def test_a_subscriber_may_have_five_locations() -> None:
    assert MAX_LOCATIONS_PER_SUBSCRIBER == 5
