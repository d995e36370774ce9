"""Whether an alert area lies within an agency's jurisdiction, with a tolerance in kilometres."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer

_GEOD = Geod(ellps="WGS84")
TRANSFORMER_CACHE_SIZE = 64
"""Projections kept per thread: one pair per jurisdiction centre (in practice, per agency)."""

# pyproj Transformers are not safe to share between threads, so each thread keeps its own.
_local = threading.local()


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


@dataclass(frozen=True)
class AllowedArea:
    """A jurisdiction widened by the tolerance, projected once, for checking many areas.

    Build it with `allowed_area`, once per request, and use it in that thread only: its
    transformers and geometry are not shared across threads.
    """

    forward: Transformer
    backward: Transformer
    allowed: Any  # in metres, in the jurisdiction's azimuthal equidistant projection

    def outside(self, area: Any) -> Overhang:
        """The parts of `area` (lon/lat) outside the widened jurisdiction."""
        projected = shapely.difference(_project(area, self.forward), self.allowed)
        outside = _project(projected, self.backward)
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


def allowed_area(jurisdiction: Any, tolerance_km: float) -> AllowedArea:
    """`jurisdiction` (lon/lat) widened by tolerance_km on the ground in every direction.

    The tolerance is applied in metres, in an azimuthal equidistant projection centred on
    the jurisdiction, so it means the same distance on the ground in every direction.
    """
    if not math.isfinite(tolerance_km) or tolerance_km < 0.0:
        raise ValueError(f"tolerance_km must be a non-negative number, not {tolerance_km}")
    centre = shapely.centroid(jurisdiction)
    forward, backward = aeqd_transformers(
        float(shapely.get_y(centre)), float(shapely.get_x(centre))
    )
    allowed = _project(jurisdiction, forward)
    if tolerance_km > 0.0:
        allowed = shapely.buffer(allowed, tolerance_km * 1000.0, quad_segs=16)
    return AllowedArea(forward, backward, allowed)


def outside_jurisdiction(area: Any, jurisdiction: Any, tolerance_km: float) -> Overhang:
    """Return the parts of `area` farther than tolerance_km outside `jurisdiction`.

    For one area; to check several against one jurisdiction, build `allowed_area` once.
    The caller turns the result into words ("about N km² ... near lat,lon").
    """
    return allowed_area(jurisdiction, tolerance_km).outside(area)


def aeqd_transformers(lat: float, lon: float) -> tuple[Transformer, Transformer]:
    """Lon/lat to and from an azimuthal equidistant projection (metres) centred on lat,lon.

    Built once per centre and thread, then reused: building one costs about 10 ms.
    """
    cached: Callable[[float, float], tuple[Transformer, Transformer]] | None = getattr(
        _local, "aeqd", None
    )
    if cached is None:
        cached = _local.aeqd = functools.lru_cache(maxsize=TRANSFORMER_CACHE_SIZE)(_aeqd)
    return cached(lat, lon)


def transformer_cache_info() -> functools._CacheInfo:
    """Hits and misses of this thread's transformer cache."""
    aeqd_transformers(0.0, 0.0)  # makes sure this thread's cache exists
    info: functools._CacheInfo = _local.aeqd.cache_info()
    return info


def _aeqd(lat: float, lon: float) -> tuple[Transformer, Transformer]:
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs")
    return (
        Transformer.from_crs("EPSG:4326", local, always_xy=True),
        Transformer.from_crs(local, "EPSG:4326", always_xy=True),
    )


def _project(geometry: Any, transformer: Transformer) -> Any:
    def apply(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x), np.asarray(y)])

    return shapely.transform(geometry, apply)
