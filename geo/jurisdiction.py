"""Whether an alert area lies within an agency's jurisdiction, with a tolerance in kilometres."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Overhang:
    """The part of an area outside a jurisdiction: its geometry (lon/lat), size and a place."""

    geometry: Any
    area_km2: float
    near_lat: float | None
    near_lon: float | None

    @property
    def is_empty(self) -> bool:
        """True when the area lies wholly within the jurisdiction (plus tolerance)."""
        return bool(shapely.is_empty(self.geometry))


def outside_jurisdiction(area: Any, jurisdiction: Any, tolerance_km: float) -> Overhang:
    """Return the parts of `area` farther than tolerance_km outside `jurisdiction`.

    The tolerance is applied in metres, in an azimuthal equidistant projection centred on
    the jurisdiction, so it means the same distance on the ground in every direction.
    The caller turns the result into words ("about N km² ... near lat,lon").
    """
    if not math.isfinite(tolerance_km) or tolerance_km < 0.0:
        raise ValueError(f"tolerance_km must be a non-negative number, not {tolerance_km}")
    centre = shapely.centroid(jurisdiction)
    local = CRS.from_proj4(
        f"+proj=aeqd +lat_0={float(shapely.get_y(centre))} "
        f"+lon_0={float(shapely.get_x(centre))} +datum=WGS84 +units=m +no_defs"
    )
    forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    backward = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    allowed = _project(jurisdiction, forward)
    if tolerance_km > 0.0:
        allowed = shapely.buffer(allowed, tolerance_km * 1000.0, quad_segs=16)
    outside = _project(shapely.difference(_project(area, forward), allowed), backward)
    if shapely.is_empty(outside):
        return Overhang(outside, 0.0, None, None)
    area_m2, _ = _GEOD.geometry_area_perimeter(outside)
    parts = shapely.get_parts(outside)
    largest = parts[int(np.argmax(shapely.area(parts)))]
    near = shapely.point_on_surface(largest)
    return Overhang(
        geometry=outside,
        area_km2=abs(float(area_m2)) / 1e6,
        near_lat=float(shapely.get_y(near)),
        near_lon=float(shapely.get_x(near)),
    )


def _project(geometry: Any, transformer: Transformer) -> Any:
    def apply(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x), np.asarray(y)])

    return shapely.transform(geometry, apply)
