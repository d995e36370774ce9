"""Pure geometry for AMBER alerts: alert areas, subscriber locations and the audience index.

Imports no Flask and no database: it takes and returns shapely geometries and numpy arrays.
"""

from geo.areas import (
    AREA_KINDS,
    Area,
    AreaKind,
    check_area,
    parse_area,
    parse_cap_polygon,
    parse_geojson,
    to_cap_polygons,
)
from geo.circles import (
    MAX_CIRCLE_RADIUS_KM,
    enclosing_cap_circle,
    format_cap_circle,
    geodesic_circle,
    parse_cap_circle,
)
from geo.errors import AreaError, GeoError, LocationError
from geo.index import AreaCount, Audience, AudienceIndex, Matches, unique_ids
from geo.jurisdiction import Overhang, outside_jurisdiction
from geo.locations import MAX_LOCATIONS_PER_SUBSCRIBER, Location, point_location, zip_location
from geo.same import SameArea, lookup_same, normalise_same, same_areas, same_geometry

__all__ = [
    "AREA_KINDS",
    "MAX_CIRCLE_RADIUS_KM",
    "MAX_LOCATIONS_PER_SUBSCRIBER",
    "Area",
    "AreaCount",
    "AreaError",
    "AreaKind",
    "Audience",
    "AudienceIndex",
    "GeoError",
    "Location",
    "LocationError",
    "Matches",
    "Overhang",
    "SameArea",
    "check_area",
    "enclosing_cap_circle",
    "format_cap_circle",
    "geodesic_circle",
    "lookup_same",
    "normalise_same",
    "outside_jurisdiction",
    "parse_area",
    "parse_cap_circle",
    "parse_cap_polygon",
    "parse_geojson",
    "point_location",
    "same_areas",
    "same_geometry",
    "to_cap_polygons",
    "unique_ids",
    "zip_location",
]
