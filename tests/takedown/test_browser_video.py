"""Video fingerprints (vPDQ) made in headless Chromium, against Meta's reference.

Everything goes through the product modules in static/takedown/hashing/ (hashFile() in its
worker unless a test says otherwise). The videos are built by ffmpeg at test time
(tests/videos.py); the reference is Meta's vpdq 0.2.5 on the same bytes
(tests/data/video/reference.json). Matching is python-threatexchange's vPDQ rule
(`match_percent`): distinct frames of quality >= 50, Hamming distance <= 31.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import StaticServer, open_harness
from tests.videos import (
    NAMES,
    VARIANTS,
    Frame,
    match_percent,
    recorded,
    reference,
)

pytestmark = pytest.mark.browser

SAME_VIDEO_MIN_PERCENT = 90.0  # the browser's vPDQ against Meta's, both ways
VARIANT_MIN_PERCENT = 80.0  # a re-encoded copy against the original's reference, both ways
MEDIA_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm"}
FFMPEG = ("ffmpeg", "-nostdin", "-loglevel", "error", "-y")


def md5_hex(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def frames_of(result: dict[str, Any]) -> list[Frame]:
    return [Frame(f["pdq"], f["quality"], f["timestamp"]) for f in result["vpdq"]]


def url_of(server: StaticServer, path: Path) -> str:
    return server.url("/scratch/" + path.relative_to(server.mounts["/scratch/"]).as_posix())


def hash_video(page: Page, server: StaticServer, path: Path) -> dict[str, Any]:
    """hashFile() of a video under the scratch folder: {result | error, progress, seconds}."""
    started = time.monotonic()
    outcome: dict[str, Any] = page.evaluate(
        "([url, name, type]) => harness.hashUrl(url, name, type)",
        [url_of(server, path), path.name, MEDIA_TYPES[path.suffix]],
    )
    outcome["seconds"] = time.monotonic() - started
    return outcome


@pytest.fixture(scope="module")
def module_page(chromium: Browser, static_server: StaticServer) -> Iterator[Page]:
    page = open_harness(chromium, static_server)
    yield page
    page.close()


@pytest.fixture(scope="module")
def browser_results(
    module_page: Page,
    static_server: StaticServer,
    video_file: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Any]]:
    """hashFile() of every test video, once for the module; figures printed and saved."""
    outcomes = {name: hash_video(module_page, static_server, video_file(name)) for name in NAMES}
    assert all("error" not in o for o in outcomes.values()), outcomes
    results = {name: {**o["result"], "seconds": o["seconds"]} for name, o in outcomes.items()}
    figures = []
    for name, result in results.items():
        original = VARIANTS.get(name, name)
        same = match_percent(frames_of(result), reference(name))
        to_original = match_percent(frames_of(result), reference(original))
        # Each browser frame against the reference frame of the same second, in bits.
        by_time = {f"{f.timestamp:.3f}": f.pdq for f in reference(name)}
        distances = [
            hamming(f.pdq, by_time[f"{f.timestamp:.3f}"])
            for f in frames_of(result)
            if f"{f.timestamp:.3f}" in by_time
        ]
        figures.append(
            {
                "video": name,
                "frames_decoded": result["frames"],
                "frames_hashed": len(result["vpdq"]),
                "reference_frames": len(reference(name)),
                "max_bits_from_reference": max(distances, default=None),
                "match_same_percent": same,
                "match_original_percent": to_original if name in VARIANTS else None,
                "seconds": round(result["seconds"], 2),
            }
        )
    report = tmp_path_factory.mktemp("vpdq-report") / "vpdq_figures.json"
    report.write_text(json.dumps(figures, indent=1))
    print(
        "\nvideo: frames decoded/hashed, most bits from Meta's frame, "
        "browser vs Meta (query%, compared%), seconds"
    )
    for f in figures:
        to_original = f["match_original_percent"]
        extra = f", vs original {to_original}" if to_original else ""
        print(
            f"  {f['video']}: {f['frames_decoded']}/{f['frames_hashed']}, "
            f"{f['max_bits_from_reference']} bits, {f['match_same_percent']}{extra}, "
            f"{f['seconds']} s"
        )
    print(f"figures: {report}")
    return results


@pytest.mark.parametrize("name", NAMES)
def test_browser_vpdq_matches_metas_reference_of_the_same_video_both_ways(
    browser_results: dict[str, dict[str, Any]], name: str
) -> None:
    query, compared = match_percent(frames_of(browser_results[name]), reference(name))
    assert query >= SAME_VIDEO_MIN_PERCENT
    assert compared >= SAME_VIDEO_MIN_PERCENT


@pytest.mark.parametrize("name", VARIANTS)
def test_browser_vpdq_of_a_re_encoded_copy_matches_the_originals_reference_while_md5s_differ(
    browser_results: dict[str, dict[str, Any]], name: str
) -> None:
    original = VARIANTS[name]
    query, compared = match_percent(frames_of(browser_results[name]), reference(original))
    assert query >= VARIANT_MIN_PERCENT
    assert compared >= VARIANT_MIN_PERCENT
    assert browser_results[name]["md5"] != browser_results[original]["md5"]


@pytest.mark.parametrize("name", NAMES)
def test_browser_samples_the_frames_meta_samples_at_the_same_times(
    browser_results: dict[str, dict[str, Any]], name: str
) -> None:
    result, facts = browser_results[name], recorded(name)
    timestamps = [f.timestamp for f in frames_of(result)]
    assert all(a < b for a, b in itertools.pairwise(timestamps))
    # Every sampled second of these videos differs from the one before, so no frame is
    # dropped as a repeat: the browser hashes exactly the frames Meta's tool hashes.
    assert [f"{t:.3f}" for t in timestamps] == [f"{f.timestamp:.3f}" for f in reference(name)]
    assert result["frames"] == facts["frames"]
    assert result["fps"] == pytest.approx(facts["fps"], rel=1e-9)
    assert (result["width"], result["height"]) == (facts["width"], facts["height"])
    assert result["md5"] == facts["md5"]
    assert all(isinstance(f.quality, int) and 0 <= f.quality <= 100 for f in frames_of(result))
    assert min(f.quality for f in frames_of(result)) >= 50


def test_reading_frames_through_a_canvas_gives_the_same_fingerprint(
    harness: Page, static_server: StaticServer, video_file: Callable[[str], Path]
) -> None:
    video = video_file("vp9")
    by_method = {
        pixels: harness.evaluate(
            "([url, name, type, pixels]) => harness.vpdqOnPage(url, name, type, pixels)",
            [url_of(static_server, video), video.name, "video/webm", pixels],
        )
        for pixels in ("copy", "canvas")
    }
    assert by_method["copy"]["vpdq"] == by_method["canvas"]["vpdq"]
    assert len(by_method["copy"]["vpdq"]) == len(reference("vp9"))


def _mpeg4_part2(source: Path, folder: Path) -> Path:
    """An MP4 of MPEG-4 Part 2 video (ffmpeg's own encoder), which Chromium cannot decode."""
    path = folder / "mpeg4-part2.mp4"
    subprocess.run(
        [*FFMPEG, "-i", str(source), "-t", "2", "-c:v", "mpeg4", "-an", str(path)], check=True
    )
    return path


def test_video_the_browser_cannot_read_still_gets_its_md5_with_no_vpdq_and_a_reason(
    harness: Page, video_file: Callable[[str], Path], tmp_path: Path
) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(random.Random(3).randbytes(3 * 1024 * 1024 + 17))
    foreign_codec = _mpeg4_part2(video_file("h264"), tmp_path)
    harness.set_input_files("#file", [str(noise), str(foreign_codec)])
    for index, path in enumerate((noise, foreign_codec)):
        outcome = harness.evaluate(f"harness.hashInput({index})")
        result = outcome["result"]
        assert result["md5"] == md5_hex(path), path.name
        assert result["size"] == path.stat().st_size
        assert (result["media"], result["vpdq"], result["frames"]) == ("video", None, None)
        assert result["decodeError"], path.name
        assert outcome["progress"][-1]["fraction"] == 1


def test_cancelling_a_long_video_stops_its_worker_and_gives_no_result(
    harness: Page, static_server: StaticServer, video_file: Callable[[str], Path]
) -> None:
    video = video_file("long")
    outcome = harness.evaluate(
        "([url, name, type]) => harness.hashUrlAndAbort(url, name, type, 'vpdq')",
        [url_of(static_server, video), video.name, "video/mp4"],
    )
    assert "result" not in outcome
    assert outcome["error"]["code"] == "aborted"
    assert outcome["progress"][-1]["fraction"] < 1
    harness.wait_for_function("() => true")  # let the worker's end reach Playwright
    deadline = time.monotonic() + 5
    while harness.workers and time.monotonic() < deadline:
        harness.wait_for_timeout(100)
    assert harness.workers == []
    harness.wait_for_timeout(500)
    assert harness.evaluate("window.progressAfterAbort") == 0


def test_video_progress_runs_from_0_to_1_through_the_decoding(
    harness: Page, static_server: StaticServer, video_file: Callable[[str], Path]
) -> None:
    outcome = hash_video(harness, static_server, video_file("long"))
    fractions = [p["fraction"] for p in outcome["progress"]]
    stages = {p["stage"] for p in outcome["progress"]}
    assert stages == {"md5", "vpdq"}
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1
    vpdq = [p for p in outcome["progress"] if p["stage"] == "vpdq"]
    assert len(vpdq) >= 30  # about one a hashed frame: the bar moves while frames decode
    assert vpdq[-1]["done"] == vpdq[-1]["total"] == recorded("long")["frames"]
