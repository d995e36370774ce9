"""Whether an alert area lies within an agency's jurisdiction, with a tolerance in kilometres.

Two questions, two methods of `AllowedArea`: `outside` is plain geometry (every part of an
area beyond the jurisdiction plus the tolerance); `on_other_land` keeps of that only the land
of other counties and states, which is what an agency may not alert. Open water and land
outside every US county do not count: Cook County's outline stops at the Lake Michigan shore,
and a circle around downtown Chicago reaches over the lake (docs/geo.md, "Jurisdiction").
But every part of an area must reach the jurisdiction, plus the tolerance (`apart`): water
far from it, or Canada, is no agency's to alert.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod, Transformer

from geo.covered_counties import counties_near, county_codes
from geo.same import normalise_same, same_areas

_GEOD = Geod(ellps="WGS84")
MAX_EDGE_DEG = 0.01
"""Edges are cut into pieces at most this long (about 1 km) before projecting, so that a
straight edge in lon/lat (as GeoJSON and CAP mean it) stays within 2 cm of a straight edge
in the projection; a 30 km county line would otherwise bow by up to 16 m."""
CLIP_MARGIN_M = 0.01
"""How far `AllowedArea.clip` keeps away from the land it cuts off (1 cm: the projection's
round trip moves a point by nanometres)."""
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
    counties: tuple[str, ...] = ()
    """For `AllowedArea.on_other_land`: the SAME codes (0SSCCC) of the other jurisdictions'
    counties whose land the part covers, in code order (docs/geo.md says which count)."""
    distance_km: float | None = None
    """For `AllowedArea.apart`: how far the part comes to the jurisdiction at its nearest."""

    @property
    def is_empty(self) -> bool:
        """True when the area lies wholly within the jurisdiction (plus tolerance), or for
        `on_other_land`, when what lies beyond is water or land outside every US county."""
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
    projected: Any  # the jurisdiction itself, in the same projection
    own: frozenset[str] = frozenset()  # the jurisdiction's own counties (0SSCCC)

    def outside(self, area: Any) -> Overhang:
        """The parts of `area` (lon/lat) outside the widened jurisdiction: plain geometry, with
        the area's vertices projected as they are (unlike `on_other_land`)."""
        projected = _project(area, self.forward)
        return _overhang(_project(self._beyond(projected), self.backward))

    def on_other_land(self, area: Any) -> Overhang:
        """The parts of `area` outside the widened jurisdiction that lie on the land of other
        counties and states: empty when the area is acceptable.

        Exact, in the jurisdiction's projection: the county outlines are the bundled ones,
        unsimplified, and a point on the widened jurisdiction's boundary is inside. Water,
        marine zones and land outside every US county (Canada, Mexico) are left out, and so
        are the jurisdiction's own counties (a state's counties reach a little past the
        state's coarser outline).
        """
        beyond = self._beyond(self._metres(area))
        if shapely.is_empty(beyond):
            return _overhang(beyond)  # the usual case, and the fast one: no county is read
        land = self._other_land(_project(beyond, self.backward), beyond)
        if not land:
            return _overhang(_polygonal(None))
        parts = [part for _, part in land]
        geometry = _project(_polygonal(shapely.union_all(parts)), self.backward)
        # Neighbouring outlines overlap along shared lines: name the counties as CAP does,
        # and for a part too small for that rule, the county holding most of it.
        named = [code for code in county_codes(geometry) if code not in self.own]
        if not named:
            named = [land[int(np.argmax(shapely.area(parts)))][0]]
        return _overhang(geometry, counties=tuple(named))

    def apart(self, area: Any) -> Overhang:
        """The polygons of `area` that do not reach the widened jurisdiction (none of their
        ground lies within the tolerance of it): empty when every polygon reaches it.

        A polygon touching the widened jurisdiction's boundary reaches it. `distance_km` is
        the distance from the nearest of these polygons to the jurisdiction itself.
        """
        polygons = shapely.get_parts(area)
        projected = shapely.get_parts(self._metres(area))
        away = ~shapely.intersects(projected, self.allowed)
        if not away.any():
            return _overhang(_polygonal(None))
        geometry = _polygons(polygons[away])
        metres = float(shapely.distance(shapely.union_all(projected[away]), self.projected))
        return dataclasses.replace(_overhang(geometry), distance_km=metres / 1000.0)

    def reaching(self, area: Any) -> Any | None:
        """The polygons of `area` that reach the widened jurisdiction (those `apart` leaves
        out), as one (Multi)Polygon; None when none does."""
        polygons = shapely.get_parts(area)
        near = shapely.intersects(shapely.get_parts(self._metres(area)), self.allowed)
        if not near.any():
            return None
        return area if near.all() else _polygons(polygons[near])

    def fix(self, area: Any) -> Any | None:
        """What a one-click fix offers: `area` clipped off other jurisdictions' land (`clip`),
        without the polygons that do not reach the jurisdiction (`apart`); None when nothing
        is left. It passes both checks."""
        clipped = self.clip(area)
        return None if clipped is None else self.reaching(clipped)

    def clip(self, area: Any) -> Any | None:
        """`area` without the land of other counties and states outside the jurisdiction
        itself (not its widened outline): the first step of `fix`. Water and land outside
        every county are kept. None when nothing is left.

        The cut keeps CLIP_MARGIN_M away from that land, so that the result passes
        `on_other_land` despite the rounding of the projection's round trip, at any tolerance.
        """
        projected = self._metres(area)
        land = self._other_land(area, projected)
        if not land:
            return area
        cut = shapely.difference(shapely.union_all([part for _, part in land]), self.projected)
        if shapely.is_empty(cut) or float(shapely.area(cut)) == 0.0:
            return area
        cut = shapely.buffer(cut, CLIP_MARGIN_M, quad_segs=1, join_style="mitre")
        clipped = _polygonal(shapely.difference(projected, cut))
        return None if shapely.is_empty(clipped) else _project(clipped, self.backward)

    def _metres(self, geometry: Any) -> Any:
        return _to_metres(geometry, self.forward)

    def _beyond(self, projected: Any) -> Any:
        return shapely.difference(projected, self.allowed)

    def _other_land(self, area: Any, projected: Any) -> list[tuple[str, Any]]:
        """Other counties' land under `area` (lon/lat; `projected`, the same in metres):
        (code, projected part) for each county with land there, in code order."""
        land = []
        for code, outline in counties_near(area, leave_out=self.own):
            part = shapely.intersection(projected, self._metres(outline))
            polygonal = _polygonal(part)
            if not shapely.is_empty(polygonal) and float(shapely.area(polygonal)) > 0.0:
                land.append((code, polygonal))
        return land


def _overhang(geometry: Any, counties: tuple[str, ...] = ()) -> Overhang:
    if shapely.is_empty(geometry):
        return Overhang(geometry, 0.0, None, None)
    area_m2, _ = _GEOD.geometry_area_perimeter(geometry)
    parts = shapely.get_parts(geometry)
    largest = parts[int(np.argmax(shapely.area(parts)))]
    near = shapely.point_on_surface(largest)
    return Overhang(
        geometry=geometry,
        area_km2=abs(float(area_m2)) / 1e6,
        near_lat=float(shapely.get_y(near)),
        near_lon=float(shapely.get_x(near)),
        counties=counties,
    )


def _polygonal(geometry: Any) -> Any:
    """The polygons of an overlay's result as one (Multi)Polygon, dropping the lines and
    points where shapes merely touch; an empty MultiPolygon for None."""
    if geometry is None:
        return shapely.MultiPolygon()
    if shapely.get_type_id(geometry) in (3, 6):
        return geometry
    polygons = [p for p in shapely.get_parts(geometry, recursive=True) if p.geom_type == "Polygon"]
    if len(polygons) == 1:
        return polygons[0]
    return shapely.MultiPolygon(polygons)


def _polygons(polygons: npt.NDArray[Any]) -> Any:
    """Polygons as one Polygon, or as a MultiPolygon when there are several."""
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(list(polygons))


def format_km2(km2: float) -> str:
    """An overhang's size in words, never "about 0.0 km²": "less than 0.1 km²", "about 3.2
    km²", "about 1,250 km²"."""
    if km2 < 0.1:
        return "less than 0.1 km²"
    if km2 < 100.0:
        return f"about {km2:.1f} km²"
    return f"about {km2:,.0f} km²"


def own_counties(codes: Sequence[str]) -> frozenset[str]:
    """The counties (0SSCCC) that SAME codes name: a county itself, or every county of a whole
    state (SS000). Unknown codes name none."""
    found: set[str] = set()
    for code in codes:
        key = normalise_same(code)
        if key.endswith("000"):
            found.update(_state_counties().get(key[1:3], ()))
        else:
            found.add(key)
    return frozenset(found)


@functools.cache
def _state_counties() -> dict[str, tuple[str, ...]]:
    counties: dict[str, list[str]] = {}
    for area in same_areas():
        if area.kind == "county" and area.state is not None and area.code[0] == "0":
            counties.setdefault(area.code[1:3], []).append(area.code)
    return {fips: tuple(codes) for fips, codes in counties.items()}


def allowed_area(
    jurisdiction: Any, tolerance_km: float, *, codes: Sequence[str] = ()
) -> AllowedArea:
    """`jurisdiction` (lon/lat) widened by tolerance_km on the ground in every direction.

    The tolerance is applied in metres, in an azimuthal equidistant projection centred on
    the jurisdiction, so it means the same distance on the ground in every direction.
    `codes` are the SAME codes the jurisdiction was made of, if any: their counties are the
    jurisdiction's own, never another's land (`on_other_land`).
    """
    if not math.isfinite(tolerance_km) or tolerance_km < 0.0:
        raise ValueError(f"tolerance_km must be a non-negative number, not {tolerance_km}")
    centre = shapely.centroid(jurisdiction)
    forward, backward = aeqd_transformers(
        float(shapely.get_y(centre)), float(shapely.get_x(centre))
    )
    projected = _to_metres(jurisdiction, forward)
    widened = projected
    if tolerance_km > 0.0:
        widened = shapely.buffer(projected, tolerance_km * 1000.0, quad_segs=16)
    return AllowedArea(forward, backward, widened, projected, own_counties(codes))


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


def _to_metres(geometry: Any, forward: Transformer) -> Any:
    """A lon/lat geometry in a projection, its long edges cut first (MAX_EDGE_DEG)."""
    return _project(shapely.segmentize(geometry, MAX_EDGE_DEG), forward)


def _project(geometry: Any, transformer: Transformer) -> Any:
    def apply(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x), np.asarray(y)])

    return shapely.transform(geometry, apply)
