"""The immutable part of the audience index: locations sorted by grid cell, and its file form.

One snapshot file holds a JSON header and the arrays, each 64-byte aligned, so that every
process can map the same file read-only (np.memmap) and share its pages.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geo.grid import Floats, Grid, Int64s

ID_DTYPE = np.int32
"""Location and subscriber ids; ids must be below 2³¹ (switching to int64 costs 8 B a location)."""

Ids = npt.NDArray[np.int32]
Offsets = npt.NDArray[np.int32] | npt.NDArray[np.int64]

DEFAULT_CELLS_PER_LOCATION = 1.0
"""Grid density; measured on 10M clustered US points in docs/geo.md (4 B a location)."""

MAGIC = b"HAVENGEO"
FORMAT = 2
"""2 added `source`; files of other formats are refused (ValueError), so callers rebuild."""
_ALIGN = 64
_ARRAYS = ("offsets", "location_ids", "subscriber_ids", "lon", "lat")


@dataclass(frozen=True)
class Snapshot:
    """Points sorted by grid cell: cell c holds rows offsets[c]:offsets[c + 1] of every array."""

    def rows(self, runs: Int64s) -> tuple[Int64s, Int64s]:
        """Row ranges [starts, stops) holding the points of cell runs [first, end)."""
        return (
            self.offsets[runs[:, 0]].astype(np.int64),
            self.offsets[runs[:, 1]].astype(np.int64),
        )

    grid: Grid
    offsets: Offsets
    location_ids: Ids
    subscriber_ids: Ids
    lon: Floats
    lat: Floats
    as_of: str = ""
    """An opaque marker from the caller, e.g. the last database change the snapshot includes."""
    source: str = ""
    """An opaque name from the caller of where the points came from, e.g. a database's id."""

    def __len__(self) -> int:
        return len(self.location_ids)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the whole memory cost of the snapshot, bar a few hundred)."""
        return sum(self.nbytes_by_array().values())

    def nbytes_by_array(self) -> dict[str, int]:
        """Bytes held by each array, by name."""
        return {name: int(getattr(self, name).nbytes) for name in _ARRAYS}

    @classmethod
    def build(
        cls,
        location_ids: Ids,
        subscriber_ids: Ids,
        lon: Floats,
        lat: Floats,
        cells_per_location: float = DEFAULT_CELLS_PER_LOCATION,
        as_of: str = "",
        source: str = "",
    ) -> Snapshot:
        """Sort checked arrays (see check_points) by grid cell."""
        grid = Grid.fit(lon, lat, max(1, round(len(lon) * cells_per_location)))
        cell = grid.cell_of(lon, lat)
        order = np.argsort(cell)
        # int32 offsets (4 B a cell) while row numbers fit: below 2³¹ locations.
        counts = np.bincount(cell, minlength=grid.cells)
        offsets: Offsets = (
            np.zeros(grid.cells + 1, dtype=np.int32)
            if len(lon) < 2**31
            else np.zeros(grid.cells + 1, dtype=np.int64)
        )
        np.cumsum(counts, out=offsets[1:])
        return cls(
            grid=grid,
            offsets=offsets,
            location_ids=location_ids[order],
            subscriber_ids=subscriber_ids[order],
            lon=lon[order],
            lat=lat[order],
            as_of=as_of,
            source=source,
        )


def check_points(
    location_ids: npt.ArrayLike,
    subscriber_ids: npt.ArrayLike,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    unique: bool = True,
) -> tuple[Ids, Ids, Floats, Floats]:
    """Return the arrays as int32 ids and float64 coordinates, or raise ValueError.

    With unique=False a location id may repeat; callers then keep its last entry.
    """
    ids = _ids(location_ids, "location_ids")
    subs = _ids(subscriber_ids, "subscriber_ids")
    x = np.ascontiguousarray(lon, dtype=np.float64)
    y = np.ascontiguousarray(lat, dtype=np.float64)
    if not ids.ndim == subs.ndim == x.ndim == y.ndim == 1:
        raise ValueError("location arrays must be one-dimensional")
    if not len(ids) == len(subs) == len(x) == len(y):
        raise ValueError("location arrays must have the same length")
    if not bool(np.all((np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))):
        raise ValueError("coordinates must be finite, with |lon| <= 180 and |lat| <= 90")
    ordered = np.sort(ids)
    if unique and bool((ordered[1:] == ordered[:-1]).any()):
        raise ValueError("location_ids must be unique")
    return ids, subs, x, y


def _ids(values: npt.ArrayLike, name: str) -> Ids:
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integers")
    info = np.iinfo(ID_DTYPE)
    if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
        raise ValueError(f"{name} must fit in {np.dtype(ID_DTYPE).name}")
    return np.ascontiguousarray(array, dtype=ID_DTYPE)


def write_snapshot(snapshot: Snapshot, path: str | os.PathLike[str]) -> None:
    """Write the snapshot to `path` atomically: a temporary file, then os.replace."""
    target = Path(path)
    arrays = {name: np.ascontiguousarray(getattr(snapshot, name)) for name in _ARRAYS}
    # Array offsets count from the first aligned byte after the header.
    table: dict[str, dict[str, Any]] = {}
    at = 0
    for name, array in arrays.items():
        table[name] = {"dtype": array.dtype.str, "length": len(array), "at": at}
        at = _aligned(at + array.nbytes)
    meta = {
        "format": FORMAT,
        "as_of": snapshot.as_of,
        "source": snapshot.source,
        "grid": asdict(snapshot.grid),
    }
    header = json.dumps({**meta, "arrays": table}).encode()
    start = _aligned(len(MAGIC) + 8 + len(header))
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for name, array in arrays.items():
                out.write(b"\0" * (start + table[name]["at"] - out.tell()))
                out.write(array.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Map a snapshot file read-only; its pages are shared by every process that maps it."""
    with open(path, "rb") as source:
        magic = source.read(len(MAGIC))
        size = int.from_bytes(source.read(8), "little")
        if magic != MAGIC:
            raise ValueError(f"{path} is not a Haven geo snapshot")
        meta = json.loads(source.read(size))
    start = _aligned(len(MAGIC) + 8 + size)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has snapshot format {meta.get('format')}, expected {FORMAT}")
    arrays: dict[str, Any] = {}
    for name in _ARRAYS:
        spec = meta["arrays"][name]
        dtype, length = np.dtype(spec["dtype"]), int(spec["length"])
        if length == 0:
            arrays[name] = np.empty(0, dtype=dtype)
        else:
            at = start + int(spec["at"])
            mapped = np.memmap(path, dtype=dtype, mode="r", offset=at, shape=(length,))
            arrays[name] = mapped.view(np.ndarray)
    return Snapshot(
        grid=Grid(**meta["grid"]),
        as_of=str(meta["as_of"]),
        source=str(meta["source"]),
        **arrays,
    )


def _aligned(at: int) -> int:
    return -(-at // _ALIGN) * _ALIGN
