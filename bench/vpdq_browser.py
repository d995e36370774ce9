"""Video fingerprints (vPDQ) of long 1080p and 720p videos in headless Chromium.

Run from the repository root, after `make vendor` (15 to 30 minutes on a busy 2-core machine;
the first run also builds the videos, about 10 minutes more):

    .venv/bin/python -m bench.vpdq_browser [--cache DIR] [--runs 2] [--skip-long]

The videos are made by Debian's ffmpeg into a cache folder outside the repository (default
/tmp/haven-bench-vpdq, or $HAVEN_BENCH_VIDEO_CACHE; reused across runs, their names carry a
digest of the recipe): a minute of H.264 High at 25 fps (libx264 veryfast, CRF 21: photos
panning, with film-grain noise so that the bit rate is a phone camera's, about 9.5 Mb/s at
1080p), at 1920x1080 and 1280x720, each stream-copied ten times into a 10-minute MP4 (15,000
frames): the long files decode exactly like the minute, and their fingerprint is the minute's
ten times over. x264 puts a keyframe every 10 s and at cuts; a second 1080p minute has one
every second (`-g 25`).

Each video gets a fresh page of the test harness in Debian's headless Chromium, and:

- hashFile(), the page's entry point (hasher.js -> worker.js: MD5 and vPDQ together), of the
  file given to the page's file input; wall seconds, frames decoded and hashed, CPU seconds of
  Chromium's processes and of the renderer's threads (the decoder runs on the thread pool, the
  worker's JavaScript on its own thread), and memory (PSS, /proc/<pid>/smaps_rollup) sampled
  twice a second;
- baselines in the same run, in a module worker of the bench's own
  (bench/vpdq_split_worker.js, which imports the product's modules; nothing in the product is
  changed): decoding alone (WebCodecs VideoDecoder over every frame, each closed at once: the
  floor of any vPDQ in the browser) and MD5 alone. Ratios are against decoding alone;
- on the 1-minute clips, passes that add one part at a time (demuxing; copying sampled frames
  to RGBX; PDQ; the canvas fallback), each part timed around its call, and an experiment that
  decodes only the frames the sampled ones depend on;
- ffmpeg's own decoding of the clip, for scale.

Prints a markdown report. Nothing here is asserted in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.common import (
    CLOCK_TICKS,
    child_pids,
    describe_machine,
    exit_on_sigterm,
    markdown_table,
    process_cpu_seconds,
    report_header,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import WORKER_CSP, StaticServer, launch_chromium, open_harness  # noqa: E402

GOAL_SECONDS = 60.0  # a 10-minute 1080p video, hashed in the browser
DEFAULT_CACHE = Path(
    os.environ.get("HAVEN_BENCH_VIDEO_CACHE", Path(tempfile.gettempdir()) / "haven-bench-vpdq")
)
IMAGES = ROOT / "tests" / "data" / "pdq"
FPS = 25
SEGMENT_SECONDS = 60
REPEATS = 10  # minutes in a long video
SLIDES = (  # image, (x, y) of the pan as functions of t (s) in 0..15, as fractions of its room
    ("dih__bridge-1-original.jpg", "t/15", "0.5+0.5*sin(t/2)"),
    ("dih__bridge-3-rotate-180.jpg", "1-t/15", "0.5-0.5*sin(t/3)"),
    ("dih__bridge-5-flipx.jpg", "0.5+0.5*sin(t/2)", "t/15"),
    ("dih__bridge-6-flipy.jpg", "0.5-0.5*sin(t/3)", "1-t/15"),
)
ENCODER = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p")
FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y")
SAMPLE_SECONDS = 0.5  # memory and load sampling interval
MIB = 1024 * 1024
CLIP = "1080p, 1 min"
CLIP_KEYFRAMES = "1080p, 1 min, a keyframe each second"
LONG = "1080p, 10 min"
# Passes of the bench worker over the clips, each run in this order (see SPLIT_WORKER_JS).
SPLIT_MODES = {
    CLIP: ("demux", "decode", "copy", "copy+pdq", "canvas+pdq", "sparse+pdq", "pdq", "md5"),
    CLIP_KEYFRAMES: ("decode", "copy+pdq", "sparse+pdq"),
}
PDQ_REPEATS = 20  # PDQ of one frame, over and over, for its cost alone


# The videos


@dataclasses.dataclass(frozen=True)
class Video:
    """A benchmark video in the cache."""

    label: str
    path: Path
    width: int
    height: int
    minutes: int

    @property
    def megabytes(self) -> float:
        """Size in MB (10^6 bytes)."""
        return self.path.stat().st_size / 1e6


def segment_args(width: int, height: int, output: Path, *, keyint: int | None = None) -> list[str]:
    """ffmpeg arguments for one minute of panning photos with grain, `width` x `height`.

    x264 puts a keyframe every 250 frames (10 s) and at each cut, unless `keyint` says otherwise.
    """
    per_slide = SEGMENT_SECONDS * FPS // len(SLIDES)
    cover_w, cover_h = round(width * 1.25), round(height * 1.25)
    inputs: list[str] = []
    chains = []
    for i, (image, x, y) in enumerate(SLIDES):
        inputs += ["-framerate", str(FPS), "-i", str(IMAGES / image)]
        # Scale once, then repeat the frame: the pan is a crop, which costs almost nothing.
        chains.append(
            f"[{i}:v]scale={cover_w}:{cover_h}:force_original_aspect_ratio=increase,"
            f"crop={cover_w}:{cover_h},format=yuv420p,loop=loop={per_slide - 1}:size=1,"
            f"setpts=N/{FPS}/TB,crop={width}:{height}:x='(iw-ow)*({x})':y='(ih-oh)*({y})'[s{i}]"
        )
    joined = "".join(f"[s{i}]" for i in range(len(SLIDES)))
    chains.append(f"{joined}concat=n={len(SLIDES)}:v=1:a=0,noise=alls=6:allf=t,setsar=1[out]")
    return [
        *inputs,
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[out]",
        "-frames:v",
        str(SEGMENT_SECONDS * FPS),
        "-r",
        str(FPS),
        "-an",
        *ENCODER,
        *(("-g", str(keyint)) if keyint else ()),
        "-movflags",
        "+faststart",
        str(output),
    ]


def recipe_key(width: int, height: int, *, keyint: int | None = None) -> str:
    """A short digest of everything that makes a video, so a changed recipe rebuilds."""
    args = segment_args(width, height, Path("x"), keyint=keyint)
    recipe = json.dumps([args, REPEATS, _ffmpeg_version()])
    return hashlib.sha256(recipe.encode()).hexdigest()[:10]


def _ffmpeg_version() -> str:
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[0]


def make_videos(cache: Path, *, long: bool) -> list[Video]:
    """The 1-minute 1080p clips (keyframes every 10 s; every second), then (with `long`) the
    10-minute 1080p and 720p videos."""
    cache.mkdir(parents=True, exist_ok=True)

    def minute(width: int, height: int, keyint: int | None = None) -> Path:
        key = recipe_key(width, height, keyint=keyint)
        path = cache / f"minute-{height}p{f'-g{keyint}' if keyint else ''}-{key}.mp4"
        if not path.exists():
            _build(path, lambda out: segment_args(width, height, out, keyint=keyint))
        return path

    def ten_minutes(one: Path) -> Path:
        path = one.with_name(one.name.replace("minute-", "ten-minutes-"))
        if not path.exists():
            listing = one.with_suffix(".txt")
            listing.write_text(f"file '{one.name}'\n" * REPEATS)
            concat = ("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy")
            _build(path, lambda out: [*concat, "-movflags", "+faststart", str(out)])
        return path

    clip = minute(1920, 1080)
    videos = [
        Video(CLIP, clip, 1920, 1080, 1),
        Video(CLIP_KEYFRAMES, minute(1920, 1080, keyint=FPS), 1920, 1080, 1),
    ]
    if long:
        videos.append(Video(LONG, ten_minutes(clip), 1920, 1080, REPEATS))
        videos.append(Video("720p, 10 min", ten_minutes(minute(1280, 720)), 1280, 720, REPEATS))
    return videos


def _build(path: Path, args: Any) -> None:
    """Run ffmpeg into a temporary name beside `path`, then rename, so no run sees half a file."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    print(f"building {path} with ffmpeg ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    subprocess.run([*FFMPEG, *args(partial)], check=True)
    os.replace(partial, path)
    print(f"  {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def probe(path: Path) -> dict[str, Any]:
    """Codec, profile, frame count, frame rate and bit rate of the video stream (ffprobe)."""
    out = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json"),
            *("-show_entries", "stream=codec_name,profile,nb_frames,avg_frame_rate,bit_rate"),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stream: dict[str, Any] = json.loads(out)["streams"][0]
    return stream


def ffmpeg_decode_cpu(path: Path, threads: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ffmpeg decoding every frame of `path` and discarding it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        [*FFMPEG, "-threads", str(threads), "-i", str(path), "-map", "0:v", "-f", "null", "-"],
        check=True,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


# Chromium's processes


def descendants(root: int) -> list[int]:
    """Every process below `root` (Playwright's driver, Chromium and its children)."""
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [c for pid in frontier for c in child_pids(pid)]
        found += children
        frontier = children
    return found


def process_kind(pid: int) -> str | None:
    """Chromium's process type ("browser", "renderer", "gpu-process", "utility"), or None."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "chromium":
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    # Chromium rewrites its children's command line as one string of space-separated words.
    args = raw.split("\0") if raw.count("\0") > 1 else raw.split()
    types = [arg.removeprefix("--type=") for arg in args if arg.startswith("--type=")]
    return types[0] if types else "browser"


def pss_bytes(pid: int) -> int:
    """Proportional set size (shared pages divided among their users): sums across processes."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of `pid`: its name and user + system CPU seconds."""
    threads = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                name = (task / "comm").read_text().strip()
                stat = (task / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                threads[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return threads


# Renderer threads by name (Linux keeps 15 characters of it): the decoder runs on the thread
# pool, the hashing worker's JavaScript (demuxing, MD5, PDQ) on its own thread.
THREAD_NAMES = {"ThreadPoolForeg": "thread pool", "DedicatedWorker": "worker", "chromium": "page"}
MEMORY_KINDS = ("renderer", "browser", "gpu-process")  # and "other", then "all"


@dataclasses.dataclass
class Usage:
    """What Chromium's processes used during one measured call."""

    wall: float
    cpu: dict[str, float]  # CPU seconds by process kind
    threads: dict[str, float]  # CPU seconds of the renderers' threads, by THREAD_NAMES
    start_pss: dict[str, int]  # bytes by MEMORY_KINDS, "other" and "all", as the call began
    peak_pss: dict[str, int]  # the same, the peak of each while it ran
    quarters: list[int]  # peak of "all" in each quarter of the call
    load: tuple[float, float]  # mean and max 1-minute load average while it ran

    @property
    def cpu_total(self) -> float:
        """CPU seconds of every Chromium process."""
        return sum(self.cpu.values())


class ChromiumMeter:
    """Samples memory and load of this process's Chromium while a call runs; counts its CPU."""

    def __init__(self) -> None:
        self.pids: dict[int, str] = {}
        self.refresh()

    def refresh(self) -> None:
        """Find Chromium's processes again (renderers come and go with pages)."""
        found = {pid: process_kind(pid) for pid in descendants(os.getpid())}
        self.pids = {pid: kind for pid, kind in found.items() if kind is not None}

    def _pss(self) -> dict[str, int]:
        by_kind = dict.fromkeys((*MEMORY_KINDS, "other"), 0)
        for pid, kind in self.pids.items():
            key = kind if kind in MEMORY_KINDS else "other"
            by_kind[key] += pss_bytes(pid)
        by_kind["all"] = sum(by_kind.values())
        return by_kind

    def _threads(self) -> dict[tuple[int, int], tuple[str, float]]:
        return {
            (pid, tid): value
            for pid, kind in self.pids.items()
            if kind == "renderer"
            for tid, value in thread_cpu_seconds(pid).items()
        }

    def measure(self, call: Any) -> tuple[Any, Usage]:
        """Run `call()`, sampling meanwhile; (its result, the usage)."""
        self.refresh()
        cpu_before = {pid: process_cpu_seconds(pid) for pid in self.pids}
        threads_before = self._threads()
        threads_seen = dict(threads_before)  # a thread's last reading: workers end with the call
        samples: list[tuple[float, dict[str, int], float]] = []
        stop = threading.Event()

        def sample() -> None:
            while True:
                samples.append((time.monotonic(), self._pss(), os.getloadavg()[0]))
                threads_seen.update(self._threads())
                if stop.wait(SAMPLE_SECONDS):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.monotonic()
        sampler.start()
        try:
            result = call()
        finally:
            wall = time.monotonic() - started
            stop.set()
            sampler.join()
        threads_seen.update(self._threads())
        cpu: dict[str, float] = {}
        for pid, kind in self.pids.items():
            used = max(0.0, process_cpu_seconds(pid) - cpu_before[pid])
            cpu[kind] = cpu.get(kind, 0.0) + used
        threads: dict[str, float] = {}
        for key, (name, seconds) in threads_seen.items():
            label = THREAD_NAMES.get(name, "other")
            used = seconds - threads_before.get(key, (name, 0.0))[1]
            threads[label] = threads.get(label, 0.0) + max(0.0, used)
        peaks: dict[str, int] = {}
        for _, by_kind, _ in samples:
            for kind, size in by_kind.items():
                peaks[kind] = max(peaks.get(kind, 0), size)
        quarters = [0, 0, 0, 0]
        for at, by_kind, _ in samples:
            quarter = min(3, int(4 * (at - started) / wall)) if wall > 0 else 0
            quarters[quarter] = max(quarters[quarter], by_kind["all"])
        loads = [load for _, _, load in samples]
        return result, Usage(
            wall=wall,
            cpu=cpu,
            threads=threads,
            start_pss=samples[0][1],
            peak_pss=peaks,
            quarters=quarters,
            load=(statistics.mean(loads), max(loads)),
        )


# In the browser

# The bench's own module worker, served beside the harness; its header says what it times.
SPLIT_WORKER_JS = Path(__file__).with_name("vpdq_split_worker.js")

RUN_SPLIT_JS = """async ([mode, repeats]) => {
  const file = document.getElementById("file").files[0];
  const worker = new Worker("/bench/vpdq-split-worker.js", { type: "module" });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data));
      worker.onerror = (event) => reject(new Error(event.message || "worker failed"));
      worker.postMessage({ file, mode, repeats });
    });
  } finally {
    worker.terminate();
  }
}"""


def choose(page: Page, video: Video) -> None:
    """Give the video to the harness page's file input, as a person choosing it would."""
    page.set_input_files("#file", str(video.path))


def hash_file(page: Page) -> dict[str, Any]:
    """hashFile() of the chosen file, through the page's entry point and its worker."""
    outcome: dict[str, Any] = page.evaluate("harness.hashInput(0)")
    if "error" in outcome:
        raise RuntimeError(f"hashFile failed: {outcome['error']}")
    result: dict[str, Any] = outcome["result"]
    if result.get("vpdq") is None:
        raise RuntimeError(f"no vPDQ: {result.get('decodeError')}")
    return result


def split_pass(page: Page, mode: str) -> dict[str, Any]:
    """One pass of the bench worker over the chosen file in `mode`."""
    result: dict[str, Any] = page.evaluate(RUN_SPLIT_JS, [mode, PDQ_REPEATS])
    return result


# The run


@dataclasses.dataclass
class Measured:
    """A call's result and what Chromium used meanwhile."""

    result: dict[str, Any]
    usage: Usage


@dataclasses.dataclass
class Figures:
    """Everything measured for one video."""

    video: Video
    facts: dict[str, Any]
    layout: dict[str, Any]
    md5: Measured
    floor: Measured  # decoding alone
    whole: Measured  # hashFile()
    passes: dict[str, list[Measured]] = dataclasses.field(default_factory=dict)

    def wall(self, mode: str) -> float:
        """Median wall seconds of a pass."""
        return statistics.median(m.usage.wall for m in self.passes[mode])

    def cpu(self, mode: str) -> float:
        """Median CPU seconds (all of Chromium) of a pass."""
        return statistics.median(m.usage.cpu_total for m in self.passes[mode])

    def times(self, mode: str, step: str) -> list[float]:
        """Per-frame milliseconds of a step (pixels, pdq) over every run of a pass."""
        return [t for m in self.passes[mode] for t in m.result["times"][step]]


def measure(meter: ChromiumMeter, call: Callable[..., dict[str, Any]], *args: Any) -> Measured:
    """`call(*args)` under the meter."""
    result, usage = meter.measure(lambda: call(*args))
    return Measured(result, usage)


def main() -> None:
    """Build or reuse the videos, measure, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="video cache folder")
    parser.add_argument("--runs", type=int, default=2, help="runs of each pass on the clips")
    parser.add_argument("--skip-long", action="store_true", help="only the 1-minute clips")
    args = parser.parse_args()
    exit_on_sigterm()

    videos = make_videos(args.cache, long=not args.skip_long)
    load_start = os.getloadavg()
    clip = videos[0]
    native = {threads: ffmpeg_decode_cpu(clip.path, threads) for threads in (1, 0)}
    machine = describe_machine()

    figures: list[Figures] = []
    # The bench worker computes MD5 too (WebAssembly), so every script gets the worker's CSP.
    with (
        StaticServer({"/static/": ROOT / "static"}, csp=WORKER_CSP) as server,
        sync_playwright() as playwright,
    ):
        server.pages["/bench/vpdq-split-worker.js"] = SPLIT_WORKER_JS.read_bytes()
        browser = launch_chromium(playwright)
        version = browser.version
        meter = ChromiumMeter()
        for video in videos:
            print(f"measuring {video.label} ...", file=sys.stderr, flush=True)
            read_through(video.path)  # every run starts with the file in the page cache
            # A fresh page (and renderer) for each video, hashFile() first: its memory figures
            # owe nothing to the runs before.
            page = open_harness(browser, server)
            choose(page, video)
            whole = measure(meter, hash_file, page)
            print(f"  hashFile {whole.usage.wall:.0f} s", file=sys.stderr, flush=True)
            floor = measure(meter, split_pass, page, "decode")
            md5 = measure(meter, split_pass, page, "md5")
            layout = split_pass(page, "layout")
            found = Figures(video, probe(video.path), layout, md5, floor, whole)
            found.passes["decode"] = [floor]
            for run in range(args.runs):
                for mode in SPLIT_MODES.get(video.label, ()):
                    if mode == "decode" and run == 0:
                        continue  # measured above
                    measured = measure(meter, split_pass, page, mode)
                    found.passes.setdefault(mode, []).append(measured)
            figures.append(found)
            page.close()
        browser.close()
    load_end = os.getloadavg()
    # Everything measured, for a second look (a run of the long videos takes a while).
    raw = [dataclasses.asdict(f) for f in figures]
    (args.cache / "last-run.json").write_text(json.dumps(raw, default=str, indent=1))
    print(report(machine=machine, version=version, figures=figures, native=native))
    print(f"\nLoad average (1, 5, 15 min): {_loads(load_start)} at the start, ", end="")
    print(f"{_loads(load_end)} at the end.")


def read_through(path: Path) -> None:
    """Read a file once, so that the first measured run does not wait for the disk."""
    with path.open("rb") as stream:
        while stream.read(8 * MIB):
            pass


def report(
    *,
    machine: Any,
    version: str,
    figures: Sequence[Figures],
    native: dict[int, tuple[float, float]],
) -> str:
    """The markdown report."""
    by_label = {f.video.label: f for f in figures}
    clip = by_label[CLIP]
    lines = [
        report_header(
            "vPDQ in the browser",
            machine,
            [f"Chromium {version} headless; {' '.join(_ffmpeg_version().split()[:3])}"],
        ),
        "",
        markdown_table(
            ["video", "codec", "frames", "keyframes", "not referenced", "Mb/s", "MB"],
            [
                (
                    f.video.label,
                    f"{f.facts['codec_name']} {f.facts.get('profile', '')}",
                    int(f.facts["nb_frames"]),
                    f.layout["keys"],
                    f.layout["disposable"],
                    int(f.facts["bit_rate"]) / 1e6,
                    f.video.megabytes,
                )
                for f in figures
            ],
        ),
        "",
        "hashFile() (MD5 and vPDQ in the page's worker), decoding alone and MD5 alone:",
        "",
        markdown_table(
            [
                "video",
                "hashFile s",
                "frames",
                "hashes",
                "decoding alone s",
                "÷ decoding",
                "MD5 alone s",
                "hashFile CPU s",
                "decoding CPU s",
                "÷ decoding",
                "load",
            ],
            [
                (
                    f.video.label,
                    f.whole.usage.wall,
                    f.whole.result["frames"],
                    len(f.whole.result["vpdq"]),
                    f.floor.usage.wall,
                    f"{f.whole.usage.wall / f.floor.usage.wall:.2f}×",
                    f.md5.usage.wall,
                    f.whole.usage.cpu_total,
                    f.floor.usage.cpu_total,
                    f"{f.whole.usage.cpu_total / f.floor.usage.cpu_total:.2f}×",
                    f"{f.whole.usage.load[0]:.1f}",
                )
                for f in figures
            ],
        ),
        "",
        "CPU seconds of hashFile() in the renderer, by thread (decoding: the thread pool;",
        "demuxing, MD5 and PDQ: the worker):",
        "",
        markdown_table(
            ["video", "thread pool", "worker", "page", "other", "all Chromium"],
            [
                (
                    f.video.label,
                    *(f.whole.usage.threads.get(t, 0.0) for t in THREAD_COLUMNS),
                    f.whole.usage.cpu_total,
                )
                for f in figures
            ],
        ),
        "",
        "Memory of Chromium's processes (PSS, MiB) as each run began, and its peak (sampled",
        f"every {SAMPLE_SECONDS} s); the peak of the sum in each quarter of the run:",
        "",
        markdown_table(
            ["run", *MEMORY_KINDS, "other", "all", "all, by quarter"],
            [
                (
                    f"{name}, {f.video.label}",
                    *(_before_peak(usage, k) for k in (*MEMORY_KINDS, "other", "all")),
                    " / ".join(f"{mib(q):.0f}" for q in usage.quarters),
                )
                for f in figures
                for name, usage in (("hashFile", f.whole.usage), ("decoding", f.floor.usage))
            ],
        ),
    ]
    for f in figures:
        if len(f.passes) > 1:
            lines += ["", *split_table(f)]
    pdq_alone = statistics.median(clip.times("pdq", "pdq")[1:])
    lines.append(
        f"\nPDQ of one {clip.video.width}x{clip.video.height} frame alone (pdq.js, "
        f"{PDQ_REPEATS} times on the worker, the first left out): median {pdq_alone:.0f} ms."
    )
    decoded = clip.floor.result["frames"]
    for threads, (cpu, wall) in native.items():
        label = "one thread" if threads == 1 else "its default threads"
        lines.append(
            f"ffmpeg decoding {clip.video.label}, {label}: {wall:.1f} s wall, {cpu:.1f} s CPU "
            f"({cpu * 1000 / decoded:.1f} ms of CPU a frame)."
        )
    lines += ["", *checks(figures)]
    if LONG in by_label:
        long = by_label[LONG]
        seconds = long.whole.usage.wall
        met = "met" if seconds <= GOAL_SECONDS else "not met"
        lines.append(
            f"\n**Goal: a 10-minute 1080p video in ≤ {GOAL_SECONDS:.0f} s with bounded memory: "
            f"{seconds:.0f} s ({long.whole.usage.cpu_total:.0f} s of CPU), {met} in this run.**"
        )
    return "\n".join(lines)


THREAD_COLUMNS = ("thread pool", "worker", "page", "other")


def _before_peak(usage: Usage, kind: str) -> str:
    return f"{mib(usage.start_pss[kind]):.0f} → {mib(usage.peak_pss[kind]):.0f}"


def split_table(f: Figures) -> list[str]:
    """The passes over one video: wall, CPU, per sampled frame, and the steps' own times."""
    sampled = f.layout["sampled"]
    decode_wall, decode_cpu = f.wall("decode"), f.cpu("decode")
    rows = []
    for mode in f.passes:
        pixels = f.times(mode, "pixels") if "times" in f.passes[mode][0].result else []
        pdq = f.times(mode, "pdq") if "times" in f.passes[mode][0].result else []
        if mode == "pdq":
            continue
        rows.append(
            (
                mode,
                f.wall(mode),
                f"{f.wall(mode) / decode_wall:.2f}×",
                f.cpu(mode),
                f"{f.cpu(mode) / decode_cpu:.2f}×",
                f.cpu(mode) * 1000 / sampled,
                statistics.median(pixels) if pixels else "",
                statistics.median(pdq) if pdq else "",
                f.passes[mode][0].result.get("submitted", ""),
            )
        )
    runs = max(len(m) for m in f.passes.values())
    return [
        f"Passes over {f.video.label} ({f.layout['packets']} frames, {sampled} sampled; "
        f"median of {runs} runs):",
        "",
        markdown_table(
            [
                "pass",
                "wall s",
                "÷ decode",
                "CPU s",
                "÷ decode",
                "CPU ms per sampled frame",
                "read pixels ms",
                "PDQ ms",
                "frames decoded",
            ],
            rows,
        ),
    ]


def checks(figures: Sequence[Figures]) -> list[str]:
    """That the passes hash what hashFile() hashes, and ten minutes are a minute ten times."""
    lines = []
    by_label = {f.video.label: f for f in figures}
    for f in figures:
        product = [frame["pdq"] for frame in f.whole.result["vpdq"]]
        for mode in ("copy+pdq", "canvas+pdq", "sparse+pdq"):
            if mode in f.passes:
                same = dedupe(f.passes[mode][0].result["hashes"]) == product
                lines.append(f"- {f.video.label}, {mode}: the same hashes as hashFile(): {same}.")
    if LONG in by_label:
        minute = [frame["pdq"] for frame in by_label[CLIP].whole.result["vpdq"]]
        ten = [frame["pdq"] for frame in by_label[LONG].whole.result["vpdq"]]
        lines.append(
            f"- {LONG}: the 1-minute clip's hashes ten times: {dedupe(minute * REPEATS) == ten}."
        )
    return lines


def dedupe(hashes: list[str]) -> list[str]:
    """Hashes less each that repeats the one before (as the product drops them)."""
    return [h for i, h in enumerate(hashes) if i == 0 or h != hashes[i - 1]]


def mib(size: float) -> float:
    """Bytes as MiB."""
    return size / MIB


def _loads(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
