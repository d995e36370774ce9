"""Benchmark the audience index against a plain vectorised shapely scan (10M locations).

Run from the repository root:  .venv/bin/python -m bench.geo_audience  [--points N] [--reps R]
Prints a markdown report: machine, build time, bytes per location, query p50/p99, baseline.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import zipcodes
from pyproj import Geod

from geo.index import AudienceIndex, unique_ids
from geo.same import same_areas, same_geometry

OUTSIDE_CONUS = {"AK", "HI", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW", "AA", "AE", "AP"}
RURAL_SHARE = 0.10
CLUSTER_CAP = 50.0
TARGET_VERTICES = 5_000


def main() -> None:
    """Generate the points and areas, time the index and the baseline, print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=60, help="timed index queries per area")
    parser.add_argument("--baseline-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--cluster-cap", type=float, default=CLUSTER_CAP, help="0 = uncapped (stress test)"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    started = time.perf_counter()
    lon, lat = population_points(rng, args.points, args.cluster_cap)
    location_ids = np.arange(args.points, dtype=np.int32)
    subscriber_ids = subscribers_for(rng, args.points)
    generated = time.perf_counter() - started

    started = time.perf_counter()
    index = AudienceIndex.build(location_ids, subscriber_ids, lon, lat)
    build_s = time.perf_counter() - started

    rows = []
    for name, area in bench_areas(rng).items():
        rows.append(measure(name, area, index, location_ids, lon, lat, args))

    print_report(args, index, generated, build_s, len(unique_ids(subscriber_ids)), rows)


def population_points(
    rng: np.random.Generator, count: int, cluster_cap: float = CLUSTER_CAP
) -> tuple[Any, Any]:
    """Gaussian clusters around ZIP centroids with Pareto sizes, plus uniform rural noise.

    Sizes are Pareto (alpha 1.1) capped at `cluster_cap` times the smallest: the largest
    cluster then holds about as many subscribers as the most populous real ZIP code would
    (~115,000 people at a ~3% sign-up rate). Uncapped (0), ten clusters hold ~18% of all
    points, ten times the densest real neighbourhood: a stress test, not a population.
    """
    everything: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    zips = [
        z
        for z in everything
        if z["zip_code_type"] == "STANDARD" and z["state"] not in OUTSIDE_CONUS
    ]
    centre_lat = np.array([float(z["lat"]) for z in zips])
    centre_lon = np.array([float(z["long"]) for z in zips])
    weight = rng.pareto(1.1, len(zips)) + 1.0
    if cluster_cap:
        weight = np.minimum(weight, cluster_cap)
    clustered = count - int(count * RURAL_SHARE)
    centre = rng.choice(len(zips), size=clustered, p=weight / weight.sum())
    spread_km = rng.lognormal(np.log(3.0), 0.6, len(zips))[centre]
    lat = centre_lat[centre] + rng.normal(0.0, 1.0, clustered) * spread_km / 111.0
    lon = centre_lon[centre] + rng.normal(0.0, 1.0, clustered) * spread_km / (
        111.0 * np.cos(np.radians(lat))
    )
    rural_lon, rural_lat = rural_points(rng, count - clustered)
    lon, lat = np.concatenate([lon, rural_lon]), np.concatenate([lat, rural_lat])
    order = rng.permutation(count)
    return lon[order], lat[order]


def rural_points(rng: np.random.Generator, count: int) -> tuple[Any, Any]:
    """Uniform points inside the 48 contiguous states and DC (rejection sampling)."""
    states = [
        same_geometry(area.code)
        for area in same_areas()
        if area.kind == "state" and area.state not in OUTSIDE_CONUS and area.code < "057000"
    ]
    conus = shapely.union_all(states)
    shapely.prepare(conus)
    xmin, ymin, xmax, ymax = conus.bounds
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < count:
        x, y = rng.uniform(xmin, xmax, 2 * count), rng.uniform(ymin, ymax, 2 * count)
        keep = shapely.contains_xy(conus, x, y)
        lon, lat = np.concatenate([lon, x[keep]]), np.concatenate([lat, y[keep]])
    return lon[:count], lat[:count]


def subscribers_for(rng: np.random.Generator, count: int) -> npt.NDArray[np.int32]:
    """Subscriber id of each location: 1-5 locations each, scattered over the map."""
    per_subscriber = rng.choice([1, 2, 3, 4, 5], size=count, p=[0.6, 0.25, 0.1, 0.03, 0.02])
    owners = np.repeat(np.arange(count, dtype=np.int32), per_subscriber)[:count]
    return owners[rng.permutation(count)]


def bench_areas(rng: np.random.Generator) -> dict[str, Any]:
    """Texas at 5,000 vertices, three metro counties as one MultiPolygon, a 20-vertex polygon."""
    texas_counties = [
        same_geometry(area.code)
        for area in same_areas()
        if area.kind == "county" and area.state == "TX" and area.code.startswith("0")
    ]
    # The union of the counties has sliver gaps; the largest part's outline is the state.
    parts = shapely.get_parts(shapely.union_all(texas_counties))
    outline = shapely.Polygon(parts[int(np.argmax(shapely.area(parts)))].exterior)
    texas = with_vertices(outline, TARGET_VERTICES)
    counties = shapely.MultiPolygon(
        [
            shapely.get_parts(same_geometry(code))[0]
            for code in ("017031", "048201", "004013")  # Cook IL, Harris TX, Maricopa AZ
        ]
    )
    geod = Geod(ellps="WGS84")
    azimuths = np.linspace(0.0, 360.0, 20, endpoint=False)
    radius_m = 40_000.0 * rng.uniform(0.8, 1.2, 20)
    ring_lon, ring_lat, _ = geod.fwd(np.full(20, -84.39), np.full(20, 33.75), azimuths, radius_m)
    hand_drawn = shapely.Polygon(np.column_stack([ring_lon, ring_lat])[::-1])
    return {
        f"Texas ({vertex_count(texas):,} vertices)": texas,
        "Cook + Harris + Maricopa (3-part MultiPolygon)": counties,
        "Atlanta, 20-vertex polygon (~40 km)": hand_drawn,
    }


def vertex_count(area: Any) -> int:
    """Distinct vertices: coordinates less the closing repeat of each ring."""
    rings = shapely.get_rings(shapely.get_parts(area))
    return int(shapely.get_num_coordinates(area)) - len(rings)


def with_vertices(polygon: Any, target: int) -> Any:
    """Simplify (bisecting the tolerance) or densify a polygon to about `target` vertices."""
    if shapely.get_num_coordinates(polygon) <= target:
        length = float(shapely.length(polygon))
        return shapely.segmentize(polygon, length / target)
    low, high = 0.0, 0.1
    for _ in range(40):
        middle = (low + high) / 2
        simpler = shapely.simplify(polygon, middle, preserve_topology=True)
        low, high = (
            (middle, high) if shapely.get_num_coordinates(simpler) > target else (low, middle)
        )
    return shapely.simplify(polygon, high, preserve_topology=True)


def measure(
    name: str,
    area: Any,
    index: AudienceIndex,
    location_ids: npt.NDArray[np.int32],
    lon: Any,
    lat: Any,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Time the index (locations only, and with distinct subscribers) and the plain scan."""
    locations, locations_cpu = timings(lambda: index.query(area), args.reps)
    audience, _ = timings(lambda: index.audience([area]), args.reps)

    def baseline() -> Any:
        prepared = shapely.from_wkb(shapely.to_wkb(area))
        shapely.prepare(prepared)
        return location_ids[shapely.intersects_xy(prepared, lon, lat)]

    scan, _ = timings(baseline, args.baseline_reps)
    found = np.sort(index.query(area).location_ids)
    expected = baseline()
    return {
        "area": name,
        "vertices": vertex_count(area),
        "locations": len(found),
        "subscribers": len(index.audience([area]).subscriber_ids),
        "query": locations,
        "query_cpu": locations_cpu,
        "audience": audience,
        "scan": statistics.median(scan),
        "identical": bool(np.array_equal(found, expected)),
    }


def timings(run: Callable[[], Any], reps: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds of each of `reps` runs, after a warm-up run.

    On a shared machine the wall clock includes time other processes took the core;
    the CPU time does not, so the two together show how noisy a run was.
    """
    run()
    wall, cpu = [], []
    for _ in range(reps):
        started, started_cpu = time.perf_counter(), time.thread_time()
        run()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.thread_time() - started_cpu) * 1000.0)
    return wall, cpu


def print_report(
    args: argparse.Namespace,
    index: AudienceIndex,
    generated_s: float,
    build_s: float,
    subscribers: int,
    rows: list[dict[str, Any]],
) -> None:
    """Print the machine, the build figures and one table row per area, in markdown."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    print(f"## Geo audience benchmark, {datetime.date.today().isoformat()}\n")
    print(f"- machine: {os.cpu_count()} CPUs (nproc), {model}; Python {platform.python_version()}")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"  load average at the end (1, 5, 15 min): {load} (other work on the machine)")
    print(f"  numpy {np.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version})")
    print(
        f"- data: {args.points:,} locations of {subscribers:,} subscribers (ZIP-centred "
        f"clusters, Pareto sizes, {RURAL_SHARE:.0%} uniform rural), "
        f"generated in {generated_s:.1f} s"
    )
    print(f"- index build: {build_s:.2f} s (goal <= 10 s)")
    parts = ", ".join(
        f"{name} {size / args.points:.1f}" for name, size in index.nbytes_by_array().items()
    )
    print(
        f"- memory: {index.nbytes / args.points:.1f} bytes per location (goal <= 32), the nbytes "
        f"of every index array per location: {parts}"
    )
    print(
        f"- timings: one thread, {args.reps} runs per area (p50/p99), baseline median of "
        f"{args.baseline_reps}; baseline = prepared shapely.intersects_xy over all points\n"
    )
    print(
        "| area | vertices | locations | subscribers | query p50 / p99 (ms) "
        "| query CPU p50 (ms) | audience p50 / p99 (ms) | baseline scan (ms) | speed-up (p50) "
        "| identical |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        query, audience = row["query"], row["audience"]
        print(
            f"| {row['area']} | {row['vertices']:,} | {row['locations']:,} "
            f"| {row['subscribers']:,} | {_pct(query, 50):.1f} / {_pct(query, 99):.1f} "
            f"| {_pct(row['query_cpu'], 50):.1f} "
            f"| {_pct(audience, 50):.1f} / {_pct(audience, 99):.1f} | {row['scan']:.0f} "
            f"| {row['scan'] / _pct(query, 50):.0f}x | {'yes' if row['identical'] else 'NO'} |"
        )
    print(
        "\nquery = location ids and their subscriber ids (AudienceIndex.query); audience = "
        "query plus distinct subscribers (AudienceIndex.audience)."
    )


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


if __name__ == "__main__":
    main()
