"""GeoJSON written [lat, lon] instead of [lon, lat] is refused with a hint to swap it back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.areas import lies_in_us, parse_area, parse_geojson
from geo.errors import AreaError

LOOP = [[-87.9, 41.7], [-87.6, 41.7], [-87.6, 42.0], [-87.9, 42.0], [-87.9, 41.7]]
SAN_FRANCISCO = [[-122.5, 37.7], [-122.4, 37.7], [-122.4, 37.8], [-122.5, 37.7]]


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def swapped(ring: list[list[float]]) -> list[list[float]]:
    return [[lat, lon] for lon, lat in ring]


@pytest.mark.parametrize(
    "geojson",
    [
        pytest.param(polygon(swapped(LOOP)), id="Chicago: lands in Antarctica as given"),
        pytest.param(
            {"type": "Feature", "properties": {}, "geometry": polygon(swapped(LOOP))},
            id="in a Feature",
        ),
        pytest.param(
            {"type": "MultiPolygon", "coordinates": [[swapped(LOOP)]]}, id="a MultiPolygon"
        ),
        pytest.param(polygon(swapped(SAN_FRANCISCO)), id="a latitude of -122.5"),
    ],
)
def test_swapped_geojson_gets_a_hint_to_swap_it_back(geojson: dict[str, Any]) -> None:
    with pytest.raises(AreaError, match=r"look swapped: GeoJSON positions are \[longitude"):
        parse_area("geojson", geojson)


@pytest.mark.parametrize(
    "ring",
    [
        pytest.param(LOOP, id="Chicago"),
        pytest.param(SAN_FRANCISCO, id="San Francisco"),
        pytest.param(
            [[-87.3, 42.1], [-87.2, 42.1], [-87.2, 42.2], [-87.3, 42.1]], id="Lake Michigan"
        ),
        pytest.param([[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]], id="Paris"),
        pytest.param([[144.7, 13.4], [144.8, 13.4], [144.8, 13.5], [144.7, 13.4]], id="Guam"),
    ],
)
def test_honest_geojson_is_not_flagged(ring: list[list[float]]) -> None:
    assert parse_geojson(polygon(ring)).is_valid


def test_a_latitude_out_of_range_that_is_no_swap_is_refused_without_the_hint() -> None:
    with pytest.raises(AreaError, match=r"latitude 95\.0 is outside") as refused:
        parse_geojson(polygon([[-120.0, 95.0], [-119.0, 41.0], [-119.0, 42.0], [-120.0, 95.0]]))
    assert "swapped" not in str(refused.value)


@settings(max_examples=50, deadline=None)
@given(lon=st.floats(-123.0, -70.0), lat=st.floats(26.0, 48.0), size=st.floats(0.001, 0.5))
def test_any_small_square_in_the_lower_48_is_accepted_and_its_swap_refused(
    lon: float, lat: float, size: float
) -> None:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size]]
    ring.append(ring[0])
    as_given = parse_geojson(polygon(ring))  # on land or water, it is not flagged
    assert as_given.is_valid
    if lies_in_us(as_given):
        with pytest.raises(AreaError, match="look swapped"):
            parse_geojson(polygon(swapped(ring)))
