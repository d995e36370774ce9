"""A uniform lon/lat grid over stored points, and the exact rasterisation of an area onto it.

Cells are numbered row-major (row = latitude band), so a run of cells along a row is a run of
consecutive cell ids, and, once points are sorted by cell, a contiguous slice of points.
Exactness argument: docs/geo.md, "Why the grid is exact".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

MARGIN_DEG = 1e-9
"""Cells are treated as this much larger on every side: about 0.1 mm, yet some 10⁴ times the
rounding error of computing a point's cell, so every point lies within its widened cell."""

_MIN_CELL_DEG = 1e-6
_MAX_SIDE = 1 << 15


@dataclass(frozen=True)
class Grid:
    """Cell (row, col) spans lon0 + col·cell_lon (+cell_lon) by lat0 + row·cell_lat (+cell_lat)."""

    lon0: float
    lat0: float
    cell_lon: float
    cell_lat: float
    cols: int
    rows: int

    @property
    def cells(self) -> int:
        """Number of cells."""
        return self.cols * self.rows

    @classmethod
    def fit(cls, lon: Floats, lat: Floats, target_cells: int) -> Grid:
        """A grid of about target_cells square (in degrees) cells over the points' bounding box."""
        if len(lon) == 0:
            return cls(0.0, 0.0, 1.0, 1.0, 1, 1)
        lon0, lat0 = float(lon.min()), float(lat.min())
        width = max(float(lon.max()) - lon0, _MIN_CELL_DEG)
        height = max(float(lat.max()) - lat0, _MIN_CELL_DEG)
        side = max(math.sqrt(width * height / max(target_cells, 1)), _MIN_CELL_DEG)
        cols = min(max(math.ceil(width / side), 1), _MAX_SIDE)
        rows = min(max(math.ceil(height / side), 1), _MAX_SIDE)
        return cls(lon0, lat0, width / cols, height / rows, cols, rows)

    def cell_of(self, lon: Floats, lat: Floats) -> Int64s:
        """The cell id of each point (points beyond the edges go to the nearest edge cell)."""
        col = np.clip(np.floor((lon - self.lon0) / self.cell_lon), 0, self.cols - 1)
        row = np.clip(np.floor((lat - self.lat0) / self.cell_lat), 0, self.rows - 1)
        return row.astype(np.int64) * self.cols + col.astype(np.int64)

    def _col(self, lon: Floats) -> Int64s:
        return np.floor((lon - self.lon0) / self.cell_lon).astype(np.int64)

    def _row(self, lat: Floats) -> Int64s:
        return np.floor((lat - self.lat0) / self.cell_lat).astype(np.int64)


@dataclass(frozen=True)
class Raster:
    """Runs of cells [start, stop) along rows: wholly inside the area, or touching its boundary."""

    inside: Int64s
    boundary: Int64s


def rasterise(grid: Grid, geometry: Any, prepared: Any) -> Raster:
    """Classify the cells under a (Multi)Polygon; `prepared` is a prepared copy of it.

    A cell touches the boundary if its box, widened by MARGIN_DEG, may meet any edge; those
    cells' points must be tested one by one. Every other run of cells along a row lies wholly
    inside or wholly outside, and one exact point test at a cell centre says which.
    """
    empty = Raster(np.empty((0, 2), np.int64), np.empty((0, 2), np.int64))
    if bool(shapely.is_empty(geometry)):
        return empty
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    pad = 2.0 * MARGIN_DEG
    col_lo, col_hi = grid._col(np.array([xmin - pad, xmax + pad]))
    row_lo, row_hi = grid._row(np.array([ymin - pad, ymax + pad]))
    col_lo, col_hi = max(int(col_lo), 0), min(int(col_hi), grid.cols - 1)
    row_lo, row_hi = max(int(row_lo), 0), min(int(row_hi), grid.rows - 1)
    if col_lo > col_hi or row_lo > row_hi:
        return empty
    width, height = col_hi - col_lo + 1, row_hi - row_lo + 1

    marked = np.zeros(height * width, dtype=bool)
    cols, rows = _edge_cells(grid, geometry, (col_lo, col_hi, row_lo, row_hi))
    marked[(rows - row_lo) * width + (cols - col_lo)] = True

    # Runs of equal marks along each row; column 0 of every row always starts a run.
    starts_here = np.ones((height, width), dtype=bool)
    by_row = marked.reshape(height, width)
    starts_here[:, 1:] = by_row[:, 1:] != by_row[:, :-1]
    local = np.flatnonzero(starts_here)
    length = np.diff(local, append=height * width)
    row, col = np.divmod(local, width)
    first = (row + row_lo) * grid.cols + (col + col_lo)
    runs = np.column_stack([first, first + length])
    is_boundary = marked[local]

    free = ~is_boundary
    centre_lon = grid.lon0 + (col[free] + col_lo + 0.5) * grid.cell_lon
    centre_lat = grid.lat0 + (row[free] + row_lo + 0.5) * grid.cell_lat
    covered = np.asarray(shapely.intersects_xy(prepared, centre_lon, centre_lat), dtype=bool)
    return Raster(inside=runs[free][covered], boundary=runs[is_boundary])


def _edge_cells(
    grid: Grid, geometry: Any, window: tuple[int, int, int, int]
) -> tuple[Int64s, Int64s]:
    """(col, row) of every window cell whose widened box may meet an edge of the geometry."""
    col_lo, col_hi, row_lo, row_hi = window
    rings = shapely.get_rings(shapely.get_parts(geometry))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    a, b = coords[:-1][same_ring], coords[1:][same_ring]

    # Drop edges whose bounding box misses the window (when the area reaches beyond it).
    pad = 2.0 * MARGIN_DEG
    west = grid.lon0 + col_lo * grid.cell_lon - pad
    east = grid.lon0 + (col_hi + 1) * grid.cell_lon + pad
    south = grid.lat0 + row_lo * grid.cell_lat - pad
    north = grid.lat0 + (row_hi + 1) * grid.cell_lat + pad
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    if xmin < west or xmax > east or ymin < south or ymax > north:
        low, high = np.minimum(a, b), np.maximum(a, b)
        near = (low[:, 0] <= east) & (high[:, 0] >= west)
        near &= (low[:, 1] <= north) & (high[:, 1] >= south)
        a, b = a[near], b[near]

    # Cut edges into pieces at most half a cell long along either axis, so that a piece's
    # widened bounding box spans at most two columns and two rows (most edges of a detailed
    # boundary are already that short and stay whole).
    step = b - a
    span = np.maximum(np.abs(step[:, 0]) / grid.cell_lon, np.abs(step[:, 1]) / grid.cell_lat)
    long = span > 0.5
    if bool(long.any()):
        pieces = np.ceil(span[long] * 2.0).astype(np.int64)
        edge = np.repeat(np.flatnonzero(long), pieces)
        index = np.arange(len(edge)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        total = np.repeat(pieces, pieces)
        t0, t1 = (index / total)[:, None], ((index + 1) / total)[:, None]
        p = np.concatenate([a[~long], a[edge] + step[edge] * t0])
        q = np.concatenate([b[~long], a[edge] + step[edge] * t1])
    else:
        p, q = a, b
    low, high = np.minimum(p, q), np.maximum(p, q)
    c0, c1 = grid._col(low[:, 0] - pad), grid._col(high[:, 0] + pad)
    r0, r1 = grid._row(low[:, 1] - pad), grid._row(high[:, 1] + pad)
    if bool(((c1 - c0) > 1).any() or ((r1 - r0) > 1).any()):
        raise AssertionError("an edge piece spans more than two cells; the grid is too fine")

    cols = np.stack([c0, c0, c0 + 1, c0 + 1], axis=1)
    rows = np.stack([r0, r0 + 1, r0, r0 + 1], axis=1)
    keep = (
        (cols <= c1[:, None])
        & (rows <= r1[:, None])
        & (cols >= col_lo)
        & (cols <= col_hi)
        & (rows >= row_lo)
        & (rows <= row_hi)
    )
    return cols[keep], rows[keep]
