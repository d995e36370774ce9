"""Benchmark `geo.covered_counties.county_codes`: the SAME codes CAP gives a drawn area.

Run from the repository root:  .venv/bin/python -m bench.geo_counties  [--reps R]
Prints a markdown report: the index's first build, then per area its vertices, the counties
found and the median CPU time of a call (time.process_time, so a busy machine's other work
is not counted). The areas run from a 10 km circle to a state drawn county by county and the
NWS alert of 212 polygons (93,040 points) in tests/data/cap.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

import shapely

from bench.common import markdown_table
from geo.areas import parse_area, parse_cap_polygon
from geo.covered_counties import county_codes
from geo.errors import AreaError
from geo.same import same_areas, same_geometry

NWS = (
    Path(__file__).parents[1]
    / "tests/data/cap/noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
)


def main() -> None:
    """Build the index once, then time each area."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="timed calls per area")
    args = parser.parse_args()

    started = time.process_time()
    county_codes(parse_area("circle", "41.88,-87.63 1").geometry)
    build_s = time.process_time() - started

    rows = []
    for name, area in bench_areas().items():
        seconds = []
        for _ in range(args.reps):
            started = time.process_time()
            codes = county_codes(area)
            seconds.append(time.process_time() - started)
        vertices = int(shapely.get_num_coordinates(area))
        rows.append((name, f"{vertices:,}", len(codes), f"{statistics.median(seconds) * 1000:.1f}"))
    print(f"First call (loads the data, builds the index): {build_s:.2f} s CPU\n")
    print(markdown_table(["area", "vertices", "counties", "CPU ms (median)"], rows))


def bench_areas() -> dict[str, Any]:
    """The areas timed, smallest first."""
    texas = [a.code for a in same_areas() if a.kind == "county" and a.code.startswith("048")]
    return {
        "circle, 10 km, Chicago": parse_area("circle", "41.88,-87.63 10").geometry,
        "Cook County's outline": same_geometry("017031"),
        "Illinois's outline (SAME 017000)": same_geometry("017000"),
        "Texas's outline (SAME 048000)": same_geometry("048000"),
        "Texas, its 254 counties' union": shapely.union_all([same_geometry(c) for c in texas]),
        "NWS alert, 212 polygons' union": nws_area(),
    }


def nws_area() -> Any:
    """The union of the NWS alert's polygons (two self-intersect by a hair: repaired)."""
    polygons = []
    for text in re.findall(r"<polygon>([^<]+)</polygon>", NWS.read_text(encoding="utf-8")):
        try:
            polygons.append(parse_cap_polygon(text))
        except AreaError:
            points = [(float(p.split(",")[1]), float(p.split(",")[0])) for p in text.split()]
            polygons.append(shapely.make_valid(shapely.Polygon(points)))
    return shapely.union_all(polygons)


if __name__ == "__main__":
    main()
