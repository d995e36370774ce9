"""The audience index under change: updates, audiences of several areas, snapshots, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.index import AudienceIndex
from geo.same import same_geometry

from .strategies import expected_ids, sorted_ids, star_polygons

OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["add", "move", "remove"]), st.integers(1, 40), st.booleans()),
    max_size=12,
)


def _random_points(seed: int, count: int, area: Any) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = area.bounds
    return rng.uniform(xmin, xmax, count), rng.uniform(ymin, ymax, count)


@settings(max_examples=60, deadline=None)
@given(
    area=star_polygons(hole=True),
    seed=st.integers(0, 2**32 - 1),
    operations=OPERATIONS,
    compact_at=st.sampled_from([None, 5, 10_000]),
)
def test_adds_moves_and_removes_then_query_equals_brute_force(
    area: Any, seed: int, operations: list[tuple[str, int, bool]], compact_at: int | None
) -> None:
    rng = np.random.default_rng(seed)
    vertices = shapely.get_coordinates(area)
    lon, lat = _random_points(seed, 300, area)
    live = {i: (i % 17, x, y) for i, (x, y) in enumerate(zip(lon, lat, strict=True))}
    index = AudienceIndex.build(
        np.arange(300), np.arange(300) % 17, lon, lat, compact_at=compact_at
    )
    next_id = 300
    for kind, count, on_vertices in operations:
        known = np.array(sorted(live), dtype=np.int64)
        if kind == "remove":
            gone = rng.choice(known, size=min(count, len(known)), replace=False)
            index.remove(gone)
            for key in gone.tolist():
                del live[key]
            continue
        if kind == "add":
            ids = np.arange(next_id, next_id + count)
            next_id += count
        else:
            ids = rng.choice(known, size=min(count, len(known)), replace=False)
        x, y = _random_points(int(rng.integers(2**32)), len(ids), area)
        if on_vertices:  # place them exactly on the area's vertices
            picks = rng.integers(0, len(vertices), len(ids))
            x, y = vertices[picks, 0], vertices[picks, 1]
        index.upsert(ids, ids % 17, x, y)
        live.update({int(i): (int(i) % 17, a, b) for i, a, b in zip(ids, x, y, strict=True)})
    ids = np.array(list(live), dtype=np.int64)
    xs = np.array([v[1] for v in live.values()])
    ys = np.array([v[2] for v in live.values()])
    matches = index.query(area)
    np.testing.assert_array_equal(sorted_ids(matches), expected_ids(area, xs, ys, ids))
    np.testing.assert_array_equal(matches.subscriber_ids, matches.location_ids % 17)
    assert len(index) == len(live)


def test_a_location_moved_twice_is_found_only_where_it_is_now() -> None:
    index = AudienceIndex.build([1, 2], [10, 20], [-87.6, -87.7], [41.8, 41.9])
    chicago, springfield = shapely.box(-88, 41, -87, 42), shapely.box(-90, 39, -89, 40)
    index.upsert([1], [10], [-89.5], [39.5])
    index.upsert([1], [10], [-89.6], [39.6])
    assert index.query(chicago).location_ids.tolist() == [2]
    assert index.query(springfield).location_ids.tolist() == [1]
    index.remove([1, 999])
    assert len(index.query(springfield).location_ids) == 0
    assert len(index) == 1


def test_a_batch_naming_a_location_twice_keeps_its_last_entry() -> None:
    index = AudienceIndex.build([1], [10], [-87.6], [41.8])
    index.upsert([1, 2, 1], [10, 20, 11], [-89.5, -87.7, -89.6], [39.5, 41.9, 39.6])
    springfield = index.query(shapely.box(-90, 39, -89, 40))
    assert springfield.location_ids.tolist() == [1]
    assert springfield.subscriber_ids.tolist() == [11]
    assert len(index) == 2


def test_audience_can_be_limited_to_some_subscribers() -> None:
    index = AudienceIndex.build([1, 2, 3], [10, 20, 30], [-87.6, -87.7, -87.8], [41.8, 41.9, 41.7])
    audience = index.audience([shapely.box(-88, 41, -87, 42)], only=np.array([20, 30, 99]))
    assert audience.subscriber_ids.tolist() == [20, 30]
    assert audience.summary()["areas"] == [{"subscribers": 2, "locations": 2}]


def test_compaction_folds_the_delta_into_a_new_snapshot() -> None:
    index = AudienceIndex.build([1, 2], [10, 20], [-87.6, -87.7], [41.8, 41.9], compact_at=2)
    index.upsert([3, 4], [30, 40], [-87.5, -87.4], [41.7, 41.6])
    index.remove([1])  # the third pending change triggers the rebuild
    snapshot, delta = index._state
    assert delta.pending == 0
    assert sorted(snapshot.location_ids.tolist()) == [2, 3, 4]


def test_audience_counts_each_subscriber_and_location_once_across_areas() -> None:
    # Subscriber 1 has locations in both areas; location 12 lies where the areas overlap.
    ids = [11, 12, 13, 14, 15]
    subscribers = [1, 2, 1, 3, 4]
    lon = [-87.9, -87.5, -87.1, -87.1, -80.0]
    lat = [41.5, 41.5, 41.5, 41.6, 30.0]
    west, east = shapely.box(-88, 41, -87.4, 42), shapely.box(-87.6, 41, -87, 42)
    audience = AudienceIndex.build(ids, subscribers, lon, lat).audience([west, east])
    assert audience.summary() == {
        "subscribers": 3,
        "locations": 4,
        "areas": [{"subscribers": 2, "locations": 2}, {"subscribers": 3, "locations": 3}],
    }
    assert audience.subscriber_ids.tolist() == [1, 2, 3]
    assert isinstance(audience.subscriber_ids, np.ndarray)


def test_a_snapshot_file_round_trips_and_is_memory_mapped(tmp_path: Path) -> None:
    cook = same_geometry("017031")
    lon, lat = _random_points(5, 20_000, cook)
    ids = np.arange(len(lon), dtype=np.int32)
    built = AudienceIndex.build(ids, ids // 2, lon, lat)
    path = tmp_path / "audience.snap"
    built.save(path)
    opened = AudienceIndex.open(path)
    snapshot = opened._state[0]
    assert not snapshot.lon.flags.writeable  # read-only pages shared between processes
    assert len(opened) == len(built)
    assert opened.nbytes == built.nbytes
    for name in ("offsets", "location_ids", "subscriber_ids", "lon", "lat"):
        np.testing.assert_array_equal(getattr(snapshot, name), getattr(built._state[0], name))
    assert snapshot.grid == built._state[0].grid
    np.testing.assert_array_equal(sorted_ids(opened.query(cook)), expected_ids(cook, lon, lat, ids))
    assert [p.name for p in tmp_path.iterdir()] == ["audience.snap"]  # no temporary file left


def test_saving_merges_pending_changes_and_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "audience.snap"
    area = shapely.box(-88, 41, -87, 42)
    index = AudienceIndex.build([1, 2], [1, 2], [-87.6, -87.7], [41.8, 41.9], as_of="change 7")
    index.save(path)
    reader = AudienceIndex.open(path)
    assert reader.as_of == "change 7"
    index.upsert([3], [3], [-87.5], [41.5])
    index.remove([1])
    index.save(path, as_of="change 9")
    reopened = AudienceIndex.open(path)
    assert sorted(reopened.query(area).location_ids.tolist()) == [2, 3]
    assert reopened.as_of == "change 9"
    # A process that mapped the old file keeps reading it, whole, after the replace.
    assert sorted(reader.query(area).location_ids.tolist()) == [1, 2]


@pytest.mark.parametrize("as_of", ["", "7", "x" * 5000])
def test_the_header_length_never_shifts_the_arrays(tmp_path: Path, as_of: str) -> None:
    lon, lat = _random_points(1, 1000, shapely.box(-88, 41, -87, 42))
    ids = np.arange(1000, dtype=np.int32)
    AudienceIndex.build(ids, ids, lon, lat, as_of=as_of).save(tmp_path / "a.snap")
    opened = AudienceIndex.open(tmp_path / "a.snap")
    assert opened.as_of == as_of
    np.testing.assert_array_equal(np.sort(opened._state[0].location_ids), ids)
    np.testing.assert_array_equal(np.sort(opened._state[0].lon), np.sort(lon))


def test_an_empty_index_saves_and_opens(tmp_path: Path) -> None:
    AudienceIndex.build([], [], [], []).save(tmp_path / "empty.snap")
    assert len(AudienceIndex.open(tmp_path / "empty.snap")) == 0


def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.snap"
    path.write_bytes(b"PK\x03\x04 not ours at all")
    with pytest.raises(ValueError, match="not a Haven geo snapshot"):
        AudienceIndex.open(path)


@pytest.mark.parametrize(
    ("ids", "subscribers", "lon", "lat", "message"),
    [
        ([1, 2], [1, 2], [0.0, float("nan")], [0.0, 1.0], "finite"),
        ([1, 2], [1, 2], [0.0, 181.0], [0.0, 1.0], "finite"),
        ([1], [1, 2], [0.0], [0.0], "same length"),
        ([2**31], [1], [0.0], [0.0], "fit in int32"),
        ([1.5], [1], [0.0], [0.0], "integers"),
        ([[1]], [[1]], [[0.0]], [[0.0]], "one-dimensional"),
    ],
)
def test_bad_location_arrays_are_refused(
    ids: Any, subscribers: Any, lon: Any, lat: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AudienceIndex.build(ids, subscribers, lon, lat)
    index = AudienceIndex.build([], [], [], [])
    with pytest.raises(ValueError, match=message):
        index.upsert(ids, subscribers, lon, lat)


def test_duplicate_location_ids_are_refused_when_building() -> None:
    with pytest.raises(ValueError, match="unique"):
        AudienceIndex.build([1, 1], [1, 2], [0.0, 1.0], [0.0, 1.0])


def test_concurrent_queries_and_updates_give_the_same_answer() -> None:
    cook = same_geometry("017031")  # one object shared by every thread, never prepared
    lon, lat = _random_points(9, 50_000, cook)
    ids = np.arange(len(lon), dtype=np.int32)
    index = AudienceIndex.build(ids, ids, lon, lat, compact_at=300)
    expected = expected_ids(cook, lon, lat, ids)
    shapely.destroy_prepared(cook)  # expected_ids prepared it; the threads get it bare
    stop = threading.Event()

    def churn() -> None:  # locations far from Cook County join and leave meanwhile
        extra = 10_000_000
        while not stop.is_set():
            index.upsert(
                np.arange(extra, extra + 50),
                np.zeros(50, int),
                np.full(50, -100.0),
                np.full(50, 35.0),
            )
            index.remove(np.arange(extra, extra + 50, 2))
            extra += 50

    def ask(_: int) -> bool:
        return all(np.array_equal(sorted_ids(index.query(cook)), expected) for _ in range(15))

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert all(pool.map(ask, range(8)))
    finally:
        stop.set()
        writer.join()
