"""The vPDQ test videos (tests/videos.py) are a fair test, and their vPDQ matcher follows Meta's.

ffmpeg rebuilds every video to the bytes tests/data/video/reference.json describes; each
variant differs from its original in bytes yet matches it by Meta's reference; and frames that
ffmpeg extracts, hashed by pdqhash (Meta's C++ PDQ), agree with the reference. Without ffmpeg
these tests skip, and fail under CI=true. `pytest -s` prints the figures.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pdqhash  # type: ignore[import-untyped]  # Meta's C++ PDQ, via threatexchange
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import videos
from tests.conftest import require
from tests.videos import Frame, match_percent

VARIANT_MIN_PERCENT = 80.0  # a re-encoded copy must still match its original
CROSS_CHECK_MIN_PERCENT = 90.0  # another decode and PDQ of the same bytes
MAX_FRAME_DISTANCE = 10  # Meta's bar for another PDQ implementation on the same picture


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the videos this module builds (make_video reuses them afterwards)."""
    if not videos.ffmpeg_available():
        require("ffmpeg", "install Debian's ffmpeg (apt-get install ffmpeg)")
    return tmp_path_factory.mktemp("videos")


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes(), usedforsecurity=False).hexdigest()


def _pdq_hex(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return bytes(np.packbits(bits.astype(np.uint8))).hex(), int(quality)


def _frames_by_ffmpeg(name: str, path: Path, numbers: list[int]) -> list[Frame]:
    """The given decoded frames of a video, picked by ffmpeg's select filter, PDQ by pdqhash."""
    info = videos.recorded(name)
    width, height, fps = info["width"], info["height"], info["fps"]
    chosen = "+".join(f"eq(n,{n})" for n in numbers)
    raw = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-vf",
            f"select='{chosen}',format=rgb24",
            "-sws_flags",
            "area",  # as vpdq converts
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)
    assert len(pixels) == len(numbers)
    frames = []
    for n, rgb in zip(numbers, pixels, strict=True):
        pdq, quality = _pdq_hex(rgb)
        frames.append(Frame(pdq=pdq, quality=quality, timestamp=n / fps))
    return frames


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.mark.parametrize("name", videos.NAMES)
def test_each_video_builds_to_the_bytes_its_reference_describes(name: str, video_dir: Path) -> None:
    path = videos.make_video(name, video_dir)
    info = videos.recorded(name)
    assert path.name == info["file"]
    assert _digest(path, "sha256") == info["sha256"]
    assert path.stat().st_size == info["size"]


def _failing_ffmpeg(folder: Path) -> str:
    """A PATH on which ffmpeg always fails."""
    folder.mkdir()
    (folder / "ffmpeg").write_text("#!/bin/sh\nexit 1\n")
    (folder / "ffmpeg").chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_make_video_keeps_a_video_already_in_its_folder(
    video_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = videos.make_video("vp8", video_dir)
    monkeypatch.setattr(videos, "_BUILT", {})  # nothing but the folder to go by
    monkeypatch.setenv("PATH", _failing_ffmpeg(tmp_path / "bin"))
    assert videos.make_video("vp8", video_dir) == built


def test_make_video_copies_a_video_this_run_built_into_another_folder(
    video_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = videos.make_video("vp8", video_dir)
    monkeypatch.setenv("PATH", _failing_ffmpeg(tmp_path / "bin"))
    copy = videos.make_video("vp8", tmp_path / "elsewhere")
    assert copy == tmp_path / "elsewhere" / built.name
    assert copy.read_bytes() == built.read_bytes()


def test_make_video_replaces_a_file_of_other_bytes(video_dir: Path, tmp_path: Path) -> None:
    built = videos.make_video("vp8", video_dir)
    damaged = tmp_path / built.name
    damaged.write_bytes(built.read_bytes()[:-1])
    assert videos.make_video("vp8", tmp_path) == damaged
    assert _digest(damaged, "sha256") == videos.recorded("vp8")["sha256"]


def test_make_video_refuses_bytes_other_than_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not videos.ffmpeg_available():
        require("ffmpeg", "install Debian's ffmpeg (apt-get install ffmpeg)")
    # Another ffmpeg build, as far as the bytes go: the real one, plus a byte at the end.
    other = tmp_path / "bin"
    other.mkdir()
    real = subprocess.run(["sh", "-c", "command -v ffmpeg"], capture_output=True, text=True)
    (other / "ffmpeg").write_text(
        f'#!/bin/sh\n{real.stdout.strip()} "$@" || exit\n'
        'for out; do :; done\nif [ -f "$out" ]; then printf x >> "$out"; fi\n'
    )
    (other / "ffmpeg").chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(videos, "_BUILT", {})
    with pytest.raises(AssertionError) as refused:
        videos.make_video("vp8", tmp_path / "videos")
    message = str(refused.value)
    assert f"ffmpeg {videos.ffmpeg_version()} made different bytes than the reference" in message
    assert f"({videos.recorded('vp8')['ffmpeg']})" in message
    assert "vp8.webm" in message
    assert "regenerate with tests/data/video/make_reference.py" in message


@pytest.mark.parametrize("variant", sorted(videos.VARIANTS))
def test_each_variant_differs_in_bytes_from_its_original(variant: str, video_dir: Path) -> None:
    original = videos.VARIANTS[variant]
    a = videos.make_video(variant, video_dir)
    b = videos.make_video(original, video_dir)
    assert _digest(a, "md5") != _digest(b, "md5")
    assert videos.recorded(variant)["md5"] == _digest(a, "md5")


@pytest.mark.parametrize("variant", sorted(videos.VARIANTS))
def test_each_variants_reference_matches_its_originals(variant: str) -> None:
    original = videos.VARIANTS[variant]
    query, compared = match_percent(videos.reference(variant), videos.reference(original))
    print(
        f"\nvPDQ reference, {variant} vs {original}: query {query:.1f}%, compared {compared:.1f}%"
    )
    assert query >= VARIANT_MIN_PERCENT
    assert compared >= VARIANT_MIN_PERCENT


@pytest.mark.parametrize("name", videos.ORIGINALS)
def test_different_originals_do_not_match(name: str) -> None:
    for other in videos.ORIGINALS:
        if other != name:
            query, compared = match_percent(videos.reference(name), videos.reference(other))
            assert max(query, compared) < VARIANT_MIN_PERCENT, other


@pytest.mark.parametrize("name", videos.NAMES)
def test_each_reference_has_a_distinct_full_quality_hash_each_second(name: str) -> None:
    info = videos.recorded(name)
    frames = videos.reference(name)
    numbers = videos.reference_frame_numbers(name)
    step = max(1, int(info["fps"]))  # vpdq's frameMod at one hash a second
    assert numbers == list(range(0, info["frames"], step))
    assert [f.timestamp for f in frames] == pytest.approx([n / info["fps"] for n in numbers])
    assert all(f.quality == 100 for f in frames)
    assert len({f.pdq for f in frames}) == len(frames)


@pytest.mark.parametrize("name", videos.NAMES)
def test_frames_ffmpeg_extracts_hashed_by_pdqhash_match_the_reference(
    name: str, video_dir: Path
) -> None:
    path = videos.make_video(name, video_dir)
    reference = videos.reference(name)
    ours = _frames_by_ffmpeg(name, path, videos.reference_frame_numbers(name))
    distances = [_hamming(a.pdq, b.pdq) for a, b in zip(ours, reference, strict=True)]
    query, compared = match_percent(ours, reference)
    print(
        f"\nffmpeg + pdqhash vs vPDQ reference, {name}: query {query:.1f}%, "
        f"compared {compared:.1f}%, frame distances max {max(distances)}, "
        f"mean {sum(distances) / len(distances):.1f}"
    )
    assert query >= CROSS_CHECK_MIN_PERCENT
    assert compared >= CROSS_CHECK_MIN_PERCENT
    # The same pictures, not merely similar ones: a frame next to the sampled one is too far.
    assert max(distances) <= MAX_FRAME_DISTANCE


# match_percent, by the rule of python-threatexchange's brute vPDQ matcher.

HEX = st.integers(min_value=0, max_value=(1 << 256) - 1)
GOOD = st.integers(min_value=videos.QUALITY_THRESHOLD, max_value=100)
POOR = st.integers(min_value=0, max_value=videos.QUALITY_THRESHOLD - 1)


def _frame(value: int, quality: int = 100, timestamp: float = 0.0) -> Frame:
    return Frame(pdq=f"{value:064x}", quality=quality, timestamp=timestamp)


def _frames(values: list[int], quality: int = 100) -> list[Frame]:
    return [_frame(v, quality, float(i)) for i, v in enumerate(values)]


FRAMES = st.lists(st.builds(_frame, HEX, GOOD), min_size=1, max_size=20)


@given(FRAMES)
def test_a_list_matches_itself_entirely(frames: list[Frame]) -> None:
    assert match_percent(frames, frames) == (100.0, 100.0)


LOW_HALF = st.integers(min_value=0, max_value=(1 << 128) - 1)


@given(st.lists(LOW_HALF, min_size=1, max_size=10), st.lists(LOW_HALF, min_size=1, max_size=10))
def test_lists_of_distant_hashes_match_nothing(low: list[int], other: list[int]) -> None:
    # Hashes whose top halves are all zeros and all ones differ in at least 128 bits.
    high = [v | (((1 << 128) - 1) << 128) for v in other]
    assert match_percent(_frames(low), _frames(high)) == (0.0, 0.0)


@given(FRAMES, FRAMES, st.lists(st.builds(_frame, HEX, POOR), max_size=10))
def test_frames_of_low_quality_are_ignored(
    query: list[Frame], compared: list[Frame], poor: list[Frame]
) -> None:
    # Poor frames of new hashes, on either side, change nothing.
    fresh = [f for f in poor if f.pdq not in {g.pdq for g in query + compared}]
    expected = match_percent(query, compared)
    assert match_percent(query + fresh, compared) == expected
    assert match_percent(query, compared + fresh) == expected
    assert match_percent(fresh, query) == (0.0, 0.0)


@given(FRAMES, FRAMES, st.data())
def test_repeated_hashes_count_once(
    query: list[Frame], compared: list[Frame], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(query), max_size=10))
    assert match_percent(query + repeats, compared) == match_percent(query, compared)
    assert match_percent(compared, query + repeats) == match_percent(compared, query)


def test_frames_match_within_31_bits_and_each_side_counts_its_own_share() -> None:
    zero = 0
    near = (1 << 31) - 1  # 31 bits from zero
    far = (1 << 32) - 1  # 32 bits from zero
    elsewhere = ((1 << 128) - 1) << 128
    query = _frames([zero, elsewhere, elsewhere ^ 1, elsewhere ^ 3])
    assert match_percent(query, _frames([near])) == (25.0, 100.0)
    assert match_percent(query, _frames([far])) == (0.0, 0.0)
    assert match_percent(query, _frames([near, far, far << 64])) == (25.0, 100 / 3)


# Hashes a few bits from one of a few far-apart ones: some pairs match, some do not.
NEAR_HASH = st.builds(
    lambda base, bits: base ^ sum(1 << b for b in set(bits)),
    st.sampled_from([0, ((1 << 128) - 1) << 128, int("5" * 64, 16)]),
    st.lists(st.integers(min_value=0, max_value=255), max_size=40),
)
ANY_QUALITY = st.integers(min_value=0, max_value=100)
NEAR_FRAMES = st.lists(st.builds(_frame, NEAR_HASH, ANY_QUALITY), min_size=1, max_size=12)


@given(NEAR_FRAMES, NEAR_FRAMES)
def test_match_percent_agrees_with_threatexchanges_brute_matcher(
    query: list[Frame], compared: list[Frame]
) -> None:
    try:
        from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
        from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature
    except ImportError as exc:
        require("vpdq", f"threatexchange's vpdq extension needs it: {exc}")

    def compact(frames: list[Frame]) -> list[VpdqCompactFeature]:
        return [VpdqCompactFeature(f.pdq, f.quality, f.timestamp) for f in frames]

    try:
        theirs = match_VPDQ_hash_brute(
            compact(query), compact(compared), videos.QUALITY_THRESHOLD, videos.DISTANCE_THRESHOLD
        )
    except ZeroDivisionError:  # a side with no frame left, which match_percent scores 0
        assert match_percent(query, compared) == (0.0, 0.0)
        return
    expected = (theirs.query_match_percent, theirs.compared_match_percent)
    assert match_percent(query, compared) == expected


def test_a_signal_string_reads_back_as_its_frames() -> None:
    frames = [_frame(0xF8, 100, 0.0), _frame(0xA1 << 200, 57, 0.9676333665847778)]
    signal = videos.to_signal(frames)
    assert signal == f'["{0xF8:064x},100,0.000", "{0xA1 << 200:064x},57,0.968"]'
    assert videos.parse_signal(signal) == [frames[0], _frame(0xA1 << 200, 57, 0.968)]


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        ('{"a": 1}', "a vPDQ signal is a JSON array"),
        ('["00,1,0.0"]', "not a PDQ hash"),
        (f'["{0:064x},100"]', "not a vPDQ feature"),
        (f'["{0:063x}g,1,0"]', "not a PDQ hash"),
        (f'["{0:064x},high,0"]', "invalid literal"),
        ("[", "Expecting value"),
    ],
)
def test_a_string_that_is_not_a_signal_is_refused(signal: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        videos.parse_signal(signal)
