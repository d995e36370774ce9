"""The audience index: every subscriber location inside an alert area, exactly and fast.

A snapshot (points sorted by grid cell, possibly memory-mapped and shared between
processes) plus a small per-process delta: locations added or moved since the snapshot,
and the snapshot rows they hide. Queries read one immutable (snapshot, delta) pair, so they
run alongside updates; updates swap in a new pair under a lock. See docs/geo.md.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import shapely

from geo.grid import Floats, Int64s, rasterise
from geo.snapshot import (
    DEFAULT_CELLS_PER_LOCATION,
    Ids,
    Snapshot,
    check_points,
    read_snapshot,
    write_snapshot,
)

DEFAULT_COMPACT_AT = 20_000
"""Pending changes (delta points plus hidden rows) that trigger a rebuild of the snapshot."""

_FEW_IDS = 8

IntT = TypeVar("IntT", bound=np.integer[Any])

_EMPTY_IDS: Ids = np.empty(0, dtype=np.int32)


@dataclass(frozen=True)
class Matches:
    """Locations inside an area, each once, in no particular order, with their subscribers."""

    location_ids: Ids
    subscriber_ids: Ids


@dataclass(frozen=True)
class AreaCount:
    """How many distinct subscribers and locations one area reaches."""

    subscribers: int
    locations: int


@dataclass(frozen=True)
class Audience:
    """Everyone the areas reach together, each once, and the counts for each area."""

    subscriber_ids: Ids
    location_ids: Ids
    areas: tuple[AreaCount, ...]

    def summary(self) -> dict[str, Any]:
        """The counts the API returns: subscribers, locations and per-area counts."""
        return {
            "subscribers": len(self.subscriber_ids),
            "locations": len(self.location_ids),
            "areas": [{"subscribers": a.subscribers, "locations": a.locations} for a in self.areas],
        }


@dataclass(frozen=True)
class _Delta:
    """Live points changed since the snapshot, and sorted snapshot rows that no longer count."""

    location_ids: Ids
    subscriber_ids: Ids
    lon: Floats
    lat: Floats
    hidden: Int64s

    @property
    def pending(self) -> int:
        return len(self.location_ids) + len(self.hidden)


_NO_DELTA = _Delta(_EMPTY_IDS, _EMPTY_IDS, np.empty(0), np.empty(0), np.empty(0, np.int64))


class AudienceIndex:
    """Answers "which locations lie in this area?" (boundary included) for millions of points."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        compact_at: int | None = DEFAULT_COMPACT_AT,
        cells_per_location: float = DEFAULT_CELLS_PER_LOCATION,
    ) -> None:
        self._state: tuple[Snapshot, _Delta] = (snapshot, _NO_DELTA)
        self._lock = threading.Lock()
        self._compact_at = compact_at
        self._cells_per_location = cells_per_location

    @classmethod
    def build(
        cls,
        location_ids: npt.ArrayLike,
        subscriber_ids: npt.ArrayLike,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        *,
        cells_per_location: float = DEFAULT_CELLS_PER_LOCATION,
        compact_at: int | None = DEFAULT_COMPACT_AT,
        as_of: str = "",
        source: str = "",
    ) -> AudienceIndex:
        """Index locations given as parallel arrays (ids unique, below 2³¹; lon/lat in degrees).

        `as_of` and `source` are kept with the snapshot and saved with it: say which database
        the arrays come from and which of its changes they include, so a process that opens
        the file can tell whether it belongs to its database and which changes to apply after.
        """
        arrays = check_points(location_ids, subscriber_ids, lon, lat)
        snapshot = Snapshot.build(*arrays, cells_per_location, as_of, source)
        return cls(snapshot, compact_at=compact_at, cells_per_location=cells_per_location)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, compact_at: int | None = DEFAULT_COMPACT_AT
    ) -> AudienceIndex:
        """Map a snapshot written by save(); processes that open the same file share its pages."""
        return cls(read_snapshot(path), compact_at=compact_at)

    def save(self, path: str | os.PathLike[str], *, as_of: str | None = None) -> None:
        """Write the current locations (snapshot and delta merged) to `path`, atomically.

        `as_of` replaces the snapshot's marker in the file (the delta is included now).
        """
        snapshot, delta = self._state
        if delta.pending:
            snapshot = _merged(snapshot, delta, self._cells_per_location)
        if as_of is not None:
            snapshot = dataclasses.replace(snapshot, as_of=as_of)
        write_snapshot(snapshot, path)

    @property
    def as_of(self) -> str:
        """The marker given to build() or save(), e.g. the last database change included."""
        return self._state[0].as_of

    @property
    def source(self) -> str:
        """The name given to build(), e.g. the id of the database the points came from."""
        return self._state[0].source

    def __len__(self) -> int:
        snapshot, delta = self._state
        return len(snapshot) - len(delta.hidden) + len(delta.location_ids)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (snapshot and delta)."""
        return sum(self.nbytes_by_array().values())

    def nbytes_by_array(self) -> dict[str, int]:
        """Bytes held by each snapshot array, and by the delta's arrays together."""
        snapshot, delta = self._state
        arrays = (delta.location_ids, delta.subscriber_ids, delta.lon, delta.lat, delta.hidden)
        return {**snapshot.nbytes_by_array(), "delta": sum(int(a.nbytes) for a in arrays)}

    def query(self, area: Any) -> Matches:
        """Every location covered by a (Multi)Polygon in lon/lat, boundary included."""
        if shapely.get_type_id(area) not in (3, 6):
            raise ValueError(f"the audience of a {area.geom_type} is undefined; give a polygon")
        if bool(shapely.is_empty(area)):
            return Matches(_EMPTY_IDS, _EMPTY_IDS)
        # GEOS builds a prepared geometry's indexes lazily and not thread-safely, so each
        # call prepares its own copy rather than the caller's (possibly shared) object.
        prepared = shapely.from_wkb(shapely.to_wkb(area))
        shapely.prepare(prepared)
        snapshot, delta = self._state

        raster = rasterise(snapshot.grid, area, prepared)
        starts, stops = snapshot.rows(raster.inside)
        rows = _expand(*snapshot.rows(raster.boundary))
        rows = rows[_covers(prepared, snapshot.lon[rows], snapshot.lat[rows])]
        if len(delta.hidden):
            starts, stops = _split(starts, stops, delta.hidden)
            rows = rows[~np.isin(rows, delta.hidden)]
        fresh = _covers(prepared, delta.lon, delta.lat)
        return Matches(
            location_ids=_gather(
                snapshot.location_ids, starts, stops, rows, delta.location_ids[fresh]
            ),
            subscriber_ids=_gather(
                snapshot.subscriber_ids, starts, stops, rows, delta.subscriber_ids[fresh]
            ),
        )

    def audience(self, areas: Sequence[Any], *, only: Ids | None = None) -> Audience:
        """Everyone inside any of the areas, each once, with each area's own counts.

        With `only`, just the locations of those subscribers count (e.g. testers).
        """
        matches = [self.query(area) for area in areas]
        if only is not None:
            matches = [_among(m, only) for m in matches]
        subscribers = [unique_ids(m.subscriber_ids) for m in matches]
        counts = tuple(
            AreaCount(len(s), len(m.location_ids))
            for s, m in zip(subscribers, matches, strict=True)
        )
        if len(matches) == 1:
            return Audience(subscribers[0], matches[0].location_ids, counts)
        return Audience(
            subscriber_ids=unique_ids(np.concatenate([_EMPTY_IDS, *subscribers])),
            location_ids=unique_ids(
                np.concatenate([_EMPTY_IDS, *(m.location_ids for m in matches)])
            ),
            areas=counts,
        )

    def upsert(
        self,
        location_ids: npt.ArrayLike,
        subscriber_ids: npt.ArrayLike,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
    ) -> None:
        """Add locations, or move existing ones (same location id) to new coordinates.

        A change log may name a location twice in one batch: its last entry wins.
        """
        ids, subs, x, y = check_points(location_ids, subscriber_ids, lon, lat, unique=False)
        last = _last_entries(ids)
        ids, subs, x, y = ids[last], subs[last], x[last], y[last]
        with self._lock:
            snapshot, delta = self._state
            keep = ~np.isin(delta.location_ids, ids)
            self._swap(
                snapshot,
                _Delta(
                    location_ids=np.concatenate([delta.location_ids[keep], ids]),
                    subscriber_ids=np.concatenate([delta.subscriber_ids[keep], subs]),
                    lon=np.concatenate([delta.lon[keep], x]),
                    lat=np.concatenate([delta.lat[keep], y]),
                    hidden=_hide(snapshot, delta.hidden, ids),
                ),
            )

    def remove(self, location_ids: npt.ArrayLike) -> None:
        """Forget locations; ids that are not indexed are ignored."""
        ids = np.asarray(location_ids, dtype=np.int64).ravel()
        with self._lock:
            snapshot, delta = self._state
            keep = ~np.isin(delta.location_ids, ids)
            self._swap(
                snapshot,
                _Delta(
                    location_ids=delta.location_ids[keep],
                    subscriber_ids=delta.subscriber_ids[keep],
                    lon=delta.lon[keep],
                    lat=delta.lat[keep],
                    hidden=_hide(snapshot, delta.hidden, ids),
                ),
            )

    def compact(self) -> None:
        """Rebuild the snapshot with the delta folded in (seconds for 10 million locations)."""
        with self._lock:
            snapshot, delta = self._state
            if delta.pending:
                self._state = (_merged(snapshot, delta, self._cells_per_location), _NO_DELTA)

    def _swap(self, snapshot: Snapshot, delta: _Delta) -> None:
        """Publish a new state (caller holds the lock); rebuild if the delta has grown large."""
        if self._compact_at is not None and delta.pending > self._compact_at:
            self._state = (_merged(snapshot, delta, self._cells_per_location), _NO_DELTA)
        else:
            self._state = (snapshot, delta)


def unique_ids(values: npt.NDArray[IntT]) -> npt.NDArray[IntT]:
    """Sorted distinct values. Sort-based: np.unique measured ~80x slower here (numpy 2.4)."""
    ordered = np.sort(values)
    first = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _covers(prepared: Any, lon: Floats, lat: Floats) -> npt.NDArray[np.bool_]:
    """Exact point-in-area test; intersects (unlike contains) is true on the boundary."""
    return np.asarray(shapely.intersects_xy(prepared, lon, lat), dtype=bool)


def _expand(starts: Int64s, stops: Int64s) -> Int64s:
    """All integers in the ranges [starts[i], stops[i]), in order."""
    lengths = stops - starts
    before = np.cumsum(lengths) - lengths
    shift: Int64s = np.repeat(starts - before, lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + shift


def _split(starts: Int64s, stops: Int64s, hidden: Int64s) -> tuple[Int64s, Int64s]:
    """Cut the sorted, disjoint ranges [starts, stops) around the hidden rows."""
    if not len(starts):
        return starts, stops
    at = np.searchsorted(starts, hidden, side="right") - 1
    inside = (at >= 0) & (hidden < stops[np.maximum(at, 0)])
    cut = hidden[inside]
    # Each hidden row h inside a range ends one piece at h and starts the next at h + 1.
    new_starts = np.sort(np.concatenate([starts, cut + 1]))
    new_stops = np.sort(np.concatenate([stops, cut]))
    keep = new_stops > new_starts
    return new_starts[keep], new_stops[keep]


def _gather(values: Ids, starts: Int64s, stops: Int64s, rows: Int64s, extra: Ids) -> Ids:
    """values in the ranges, then values[rows], then extra, as one array."""
    lengths = stops - starts
    if len(starts) * 64 > int(lengths.sum()):
        ranged = values[_expand(starts, stops)]
        return np.concatenate([ranged, values[rows], extra])
    # Few, long ranges: slicing is a plain memory copy per range.
    pieces = [values[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
    return np.concatenate([*pieces, values[rows], extra])


def _hide(snapshot: Snapshot, hidden: Int64s, ids: npt.NDArray[Any]) -> Int64s:
    """hidden plus the snapshot rows holding `ids`: one vectorised scan of the snapshot ids.

    O(N) per call (about 3 ms per id, or ~60-120 ms for a batch of hundreds, at 10 million
    locations), so callers should apply changes in batches; see docs/geo.md.
    """
    if not len(ids) or not len(snapshot):
        return hidden
    stored = snapshot.location_ids
    if len(ids) <= _FEW_IDS:
        # A comparison per id beats np.isin's table or sort for a handful of ids.
        found = stored == ids[0]
        for one in ids[1:]:
            found |= stored == one
    else:
        found = np.isin(stored, ids)
    return unique_ids(np.concatenate([hidden, np.flatnonzero(found).astype(np.int64)]))


def _merged(snapshot: Snapshot, delta: _Delta, cells_per_location: float) -> Snapshot:
    """A new snapshot of the live points: unhidden snapshot rows plus the delta."""
    live = np.ones(len(snapshot), dtype=bool)
    live[delta.hidden] = False
    return Snapshot.build(
        np.concatenate([snapshot.location_ids[live], delta.location_ids]),
        np.concatenate([snapshot.subscriber_ids[live], delta.subscriber_ids]),
        np.concatenate([snapshot.lon[live], delta.lon]),
        np.concatenate([snapshot.lat[live], delta.lat]),
        cells_per_location,
        snapshot.as_of,
        snapshot.source,
    )


def _last_entries(ids: Ids) -> Int64s:
    """Positions of the last entry of each distinct id, in id order."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    last = np.ones(len(ids), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=last[:-1])
    return order[last].astype(np.int64)


def _among(matches: Matches, subscribers: Ids) -> Matches:
    """The matches that belong to the given subscribers."""
    keep = np.isin(matches.subscriber_ids, subscribers)
    return Matches(matches.location_ids[keep], matches.subscriber_ids[keep])
