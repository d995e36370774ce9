"""Test videos for vPDQ, and Meta's reference hashes of them.

The videos are not committed: ffmpeg builds them at test time, byte for byte the same on the
same ffmpeg build, from the PDQ reference images in tests/data/pdq (slideshows that pan and
cross-fade, so consecutive seconds differ and every frame has full PDQ quality). Variants are
re-encodes of an original: another bitrate and size, another container, a trimmed start.

tests/data/video/reference.json holds, for each video, the SHA-256 of the bytes it was made
from and Meta's vPDQ of them (vpdq 0.2.5, one frame a second), written by
tests/data/video/make_reference.py. make_video() refuses bytes other than the recorded ones,
so a test never compares a video against the reference of different bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REPO_VIDEO_DATA = REPO / "tests" / "data" / "video"  # reference.json + make_reference.py
REFERENCE_JSON = REPO_VIDEO_DATA / "reference.json"
IMAGES = REPO / "tests" / "data" / "pdq"
FFMPEG = "ffmpeg"

# python-threatexchange's vPDQ matching rule (vpdq_util.py, vpdq_brute_matcher.py).
QUALITY_THRESHOLD = 50
DISTANCE_THRESHOLD = 31
_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Frame:
    """One vPDQ feature: a sampled frame's PDQ hash (64 hex), its quality (0-100) and time (s)."""

    pdq: str
    quality: int
    timestamp: float


@dataclass(frozen=True)
class _Slide:
    """An image shown for one stretch of a slideshow, the frame a window panning across it.

    `start` places the window in the image (scaled to cover 1.25 times the frame) as fractions
    (0..1) of the room it has to move in; `speed` is its motion, in frame widths a second.
    """

    image: str
    start: tuple[float, float]
    speed: tuple[float, float]


@dataclass(frozen=True)
class _Original:
    """A slideshow of images encoded by ffmpeg."""

    format: str  # ffmpeg muxer
    extension: str
    rate: Fraction  # frames per second
    frames: int
    width: int
    height: int
    encoder: tuple[str, ...]
    slides: tuple[_Slide, ...]


@dataclass(frozen=True)
class _Variant:
    """An original re-encoded (or re-muxed) by ffmpeg."""

    source: str
    format: str
    extension: str
    filters: str | None  # -vf, if any
    encoder: tuple[str, ...]


_X264 = ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-x264-params", "threads=1:asm=0")
_MP4 = ("-movflags", "+faststart")
_VPX = ("-pix_fmt", "yuv420p", "-auto-alt-ref", "0", "-lag-in-frames", "0")

_VIDEOS: dict[str, _Original | _Variant] = {
    # H.264 High in MP4, 25 fps, 10 s.
    "h264": _Original(
        format="mp4",
        extension="mp4",
        rate=Fraction(25),
        frames=250,
        width=640,
        height=360,
        encoder=(*_X264, "-preset", "veryfast", "-crf", "23", *_MP4),
        slides=(
            _Slide("dih__bridge-1-original.jpg", (0.0, 0.3), (0.0125, 0.0)),
            _Slide("dih__bridge-3-rotate-180.jpg", (1.0, 0.6), (-0.0125, 0.0)),
            _Slide("dih__bridge-6-flipy.jpg", (0.5, 0.0), (0.0, 0.008)),
        ),
    ),
    # VP8 in WebM, 30 fps, 6 s.
    "vp8": _Original(
        format="webm",
        extension="webm",
        rate=Fraction(30),
        frames=180,
        width=640,
        height=360,
        encoder=("-c:v", "libvpx", *_VPX, "-deadline", "good", "-cpu-used", "4", "-b:v", "800k"),
        slides=(
            _Slide("dih__bridge-2-rotate-90.jpg", (0.5, 0.3), (0.0, 0.008)),
            _Slide("dih__bridge-4-rotate-270.jpg", (0.3, 0.6), (0.0125, 0.0)),
        ),
    ),
    # VP9 in WebM at NTSC's 29.97 fps, 8 s.
    "vp9": _Original(
        format="webm",
        extension="webm",
        rate=Fraction(30000, 1001),
        frames=240,
        width=640,
        height=360,
        encoder=(
            "-c:v",
            "libvpx-vp9",
            *_VPX,
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-row-mt",
            "0",
            "-crf",
            "34",
            "-b:v",
            "0",
        ),
        slides=(
            _Slide("dih__bridge-5-flipx.jpg", (0.0, 0.5), (0.0125, 0.0)),
            _Slide("dih__bridge-7-flip-plus-1.jpg", (0.5, 0.6), (0.0, -0.008)),
        ),
    ),
    # A minute of H.264 in MP4, smaller and at 15 fps to build fast: eight slides of 7.5 s.
    "long": _Original(
        format="mp4",
        extension="mp4",
        rate=Fraction(15),
        frames=900,
        width=480,
        height=270,
        encoder=(*_X264, "-preset", "veryfast", "-crf", "24", *_MP4),
        slides=(
            _Slide("dih__bridge-1-original.jpg", (1.0, 0.5), (-0.0125, 0.0)),
            _Slide("dih__bridge-2-rotate-90.jpg", (0.5, 0.4), (0.0, 0.008)),
            _Slide("dih__bridge-3-rotate-180.jpg", (0.0, 0.5), (0.0125, 0.0)),
            _Slide("dih__bridge-4-rotate-270.jpg", (0.5, 0.6), (0.0, -0.008)),
            _Slide("dih__bridge-5-flipx.jpg", (0.2, 0.0), (0.008, 0.006)),
            _Slide("dih__bridge-6-flipy.jpg", (0.8, 1.0), (-0.008, -0.006)),
            _Slide("dih__bridge-7-flip-plus-1.jpg", (0.0, 0.3), (0.0125, 0.0)),
            _Slide("dih__bridge-8-flip-minus-1.jpg", (1.0, 0.7), (-0.0125, 0.0)),
        ),
    ),
    # Another bitrate and size: 426x240 at 250 kb/s.
    "h264-small": _Variant(
        source="h264",
        format="mp4",
        extension="mp4",
        filters="scale=426:240:flags=bicubic+accurate_rnd+full_chroma_int+bitexact,setsar=1",
        encoder=(*_X264, "-preset", "veryfast", "-b:v", "250k", *_MP4),
    ),
    # Another container, the same H.264 stream: QuickTime.
    "h264-mov": _Variant(
        source="h264",
        format="mov",
        extension="mov",
        filters=None,
        encoder=("-c:v", "copy"),
    ),
    # Another codec and container: the 29.97 fps VP9 WebM as H.264 MP4.
    "vp9-mp4": _Variant(
        source="vp9",
        format="mp4",
        extension="mp4",
        filters=None,
        encoder=(*_X264, "-preset", "veryfast", "-crf", "26", *_MP4),
    ),
    # The minute without its first 2.5 s, so its frames fall between the original's samples.
    "long-trim": _Variant(
        source="long",
        format="mp4",
        extension="mp4",
        filters="trim=start=2.5,setpts=PTS-STARTPTS",
        encoder=(*_X264, "-preset", "veryfast", "-crf", "24", *_MP4),
    ),
}

ORIGINALS: tuple[str, ...] = tuple(n for n, v in _VIDEOS.items() if isinstance(v, _Original))
VARIANTS: dict[str, str] = {n: v.source for n, v in _VIDEOS.items() if isinstance(v, _Variant)}
NAMES: tuple[str, ...] = tuple(_VIDEOS)

# Options for byte-for-byte reproducible output on one ffmpeg build: one thread everywhere,
# bit-exact scaling, no metadata, no encoder version or creation time in the container.
_GLOBAL = (
    # FFmpeg's own SIMD (swscale's above all) takes other paths on other CPUs: the plain C
    # code makes the same bytes on every x86 machine with this ffmpeg build.
    "-cpuflags",
    "0",
    "-nostdin",
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-filter_threads",
    "1",
    "-filter_complex_threads",
    "1",
)
_THREADS = ("-threads", "1")
_OUTPUT = (
    "-an",
    "-sn",
    "-dn",
    "-map_metadata",
    "-1",
    "-map_chapters",
    "-1",
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-threads",
    "1",
)
# Tagged as what the pixels are (BT.601, limited range), which is also how vpdq converts them.
_COLOUR = (
    "-colorspace",
    "smpte170m",
    "-color_primaries",
    "smpte170m",
    "-color_trc",
    "smpte170m",
    "-color_range",
    "tv",
)
_SCALE_FLAGS = "bicubic+accurate_rnd+full_chroma_int+bitexact"
_ZOOM = 1.25  # each image is scaled to cover 1.25 times the frame, the room its window pans in


def ffmpeg_available() -> bool:
    """Whether ffmpeg is on PATH (make_video also needs its libx264 and libvpx encoders)."""
    return shutil.which(FFMPEG) is not None


@functools.cache
def ffmpeg_version() -> str:
    """This machine's ffmpeg version, e.g. ``5.1.9-0+deb12u1``."""
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else out.splitlines()[0]


def filename(name: str) -> str:
    """The file name of a test video: its name and its container's extension."""
    return f"{name}.{_VIDEOS[name].extension}"


def make_video(name: str, directory: Path) -> Path:
    """The named test video in `directory`, built there by ffmpeg unless already present.

    Raises AssertionError when this ffmpeg makes bytes other than those reference.json
    describes (another ffmpeg or encoder build): its vPDQ would not be the reference's.
    """
    recorded = _recorded(name)
    path = directory / filename(name)
    if path.exists() and _sha256(path) == recorded["sha256"]:
        return path
    built = _BUILT.get(name)
    if built is not None and built.exists() and _sha256(built) == recorded["sha256"]:
        _copy_into(built, path)
        return path
    spec = _VIDEOS[name]
    source = make_video(spec.source, directory) if isinstance(spec, _Variant) else None
    _build(name, path, source)
    digest = _sha256(path)
    if digest != recorded["sha256"]:
        raise AssertionError(
            f"ffmpeg {ffmpeg_version()} made different bytes than the reference "
            f"({recorded['ffmpeg']}) for {filename(name)}: sha256 {digest}, "
            f"expected {recorded['sha256']}; "
            "regenerate with tests/data/video/make_reference.py"
        )
    _BUILT[name] = path
    return path


def build_video(name: str, directory: Path) -> Path:
    """Build the named video in `directory` (its original first, if missing), unchecked.

    For make_reference.py, which records what this builds; tests use make_video().
    """
    spec = _VIDEOS[name]
    source = None
    if isinstance(spec, _Variant):
        source = directory / filename(spec.source)
        if not source.exists():
            build_video(spec.source, directory)
    path = directory / filename(name)
    _build(name, path, source)
    return path


def reference(name: str) -> list[Frame]:
    """Meta's vPDQ of the named video (one frame a second), as reference.json records it."""
    return [
        Frame(pdq=f["pdq"], quality=f["quality"], timestamp=f["timestamp"])
        for f in _recorded(name)["features"]
    ]


def reference_frame_numbers(name: str) -> list[int]:
    """The decoded frames (0-based, in presentation order) the reference hashed."""
    return [f["frame"] for f in _recorded(name)["features"]]


def recorded(name: str) -> dict[str, Any]:
    """Everything reference.json holds about the named video except its features."""
    return {k: v for k, v in _recorded(name).items() if k != "features"}


def parse_signal(signal: str) -> list[Frame]:
    """A vPDQ signal string (JSON array of "hex,quality,timestamp") as frames.

    Raises ValueError when it is not one.
    """
    items = json.loads(signal)
    if not isinstance(items, list):
        raise ValueError("a vPDQ signal is a JSON array")
    frames = []
    for item in items:
        if not isinstance(item, str) or item.count(",") != 2:
            raise ValueError(f"not a vPDQ feature: {item!r}")
        pdq, quality, timestamp = item.split(",")
        if not _HEX.fullmatch(pdq):
            raise ValueError(f"not a PDQ hash: {pdq!r}")
        frames.append(Frame(pdq=pdq.lower(), quality=int(quality), timestamp=float(timestamp)))
    return frames


def to_signal(frames: list[Frame]) -> str:
    """Frames as the canonical vPDQ signal string (timestamps to 3 decimals)."""
    return json.dumps([f"{f.pdq},{f.quality},{f.timestamp:.3f}" for f in frames])


def match_percent(query: list[Frame], compared: list[Frame]) -> tuple[float, float]:
    """(query %, compared %) by python-threatexchange's brute vPDQ matcher.

    Each side keeps its frames of distinct hash (first of each), then those of quality >= 50.
    Query % is the share of them within Hamming distance 31 of some compared frame; compared %
    the converse. A side with no frame left scores 0 (the matcher would divide by zero).
    """
    left = [int(f.pdq, 16) for f in _quality_frames(query)]
    right = [int(f.pdq, 16) for f in _quality_frames(compared)]

    def share(these: list[int], those: list[int]) -> float:
        if not these:
            return 0.0
        hits = sum(any((a ^ b).bit_count() <= DISTANCE_THRESHOLD for b in those) for a in these)
        return hits * 100 / len(these)

    return share(left, right), share(right, left)


def _quality_frames(frames: list[Frame]) -> list[Frame]:
    # The matcher's order: dedupe (first frame of each hash), then drop low quality.
    seen: set[str] = set()
    unique = []
    for frame in frames:
        if frame.pdq not in seen:
            seen.add(frame.pdq)
            unique.append(frame)
    return [f for f in unique if f.quality >= QUALITY_THRESHOLD]


_BUILT: dict[str, Path] = {}  # verified builds of this process, copied rather than rebuilt


@functools.cache
def _reference_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE_JSON.read_text())
    return data


def _recorded(name: str) -> dict[str, Any]:
    if name not in _VIDEOS:
        raise KeyError(f"no test video named {name!r}; names: {', '.join(NAMES)}")
    videos: dict[str, dict[str, Any]] = _reference_file()["videos"]
    if name not in videos:
        raise KeyError(f"{name!r} is not in {REFERENCE_JSON}; run make_reference.py")
    return videos[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_into(source: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    shutil.copyfile(source, partial)
    os.replace(partial, path)


def _build(name: str, path: Path, source: Path | None) -> None:
    """Run ffmpeg for one video, writing beside `path` and renaming, so no reader sees half."""
    spec = _VIDEOS[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        if isinstance(spec, _Original):
            args = _original_args(spec)
        else:
            assert source is not None
            args = _variant_args(spec, source)
        subprocess.run(
            [FFMPEG, *_GLOBAL, *args, "-f", spec.format, partial],
            check=True,
            capture_output=True,
            text=True,
        )
        os.replace(partial, path)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"ffmpeg could not build {path.name}: {exc.stderr.strip()}") from exc
    finally:
        Path(partial).unlink(missing_ok=True)


def _original_args(spec: _Original) -> list[str]:
    """ffmpeg arguments for a slideshow: each image held, its window panning, cross-faded."""
    fade = round(spec.rate / 2)  # frames
    count = len(spec.slides)
    per_slide = math.ceil((spec.frames + (count - 1) * fade) / count)
    rate = f"{spec.rate.numerator}/{spec.rate.denominator}"
    cover_w, cover_h = round(spec.width * _ZOOM), round(spec.height * _ZOOM)
    inputs: list[str] = []
    chains = []
    for i, slide in enumerate(spec.slides):
        # A single image read at the output's rate, so its time base is 1/rate.
        inputs += [*_THREADS, "-flags:v", "+bitexact", "-framerate", rate, "-i"]
        inputs.append(str(IMAGES / slide.image))
        (x0, y0), (dx, dy) = slide.start, slide.speed
        seconds = f"n*{spec.rate.denominator}/{spec.rate.numerator}"
        x = f"(iw-ow)*{x0}+{dx * spec.width:g}*{seconds}"
        y = f"(ih-oh)*{y0}+{dy * spec.width:g}*{seconds}"
        # 4:4:4 until the end, so the window moves in steps of one pixel, not two.
        chains.append(
            f"[{i}:v]scale={cover_w}:{cover_h}:force_original_aspect_ratio=increase"
            f":force_divisible_by=2:flags={_SCALE_FLAGS},format=yuv444p,"
            f"loop=loop={per_slide - 1}:size=1,setpts=N,"
            f"crop={spec.width}:{spec.height}:x='{x}':y='{y}',setsar=1[s{i}]"
        )
    last = "s0"
    for i in range(1, count):
        offset = i * (per_slide - fade) / spec.rate
        chains.append(
            f"[{last}][s{i}]xfade=transition=fade:duration={float(fade / spec.rate):.6f}"
            f":offset={float(offset):.6f}[x{i}]"
        )
        last = f"x{i}"
    chains.append(f"[{last}]format=yuv420p[out]")
    return [
        *inputs,
        "-filter_complex",
        ";\n".join(chains),
        "-map",
        "[out]",
        "-frames:v",
        str(spec.frames),
        "-r",
        rate,
        *_THREADS,
        *_OUTPUT,
        *_COLOUR,
        *spec.encoder,
    ]


def _variant_args(spec: _Variant, source: Path) -> list[str]:
    """ffmpeg arguments to re-encode (or, without filters, re-mux) an original."""
    args = [*_THREADS, "-flags:v", "+bitexact", "-i", str(source), "-map", "0:v:0"]
    if spec.filters is not None:
        args += ["-vf", spec.filters]
    if "copy" not in spec.encoder:
        args += _COLOUR
    return [*args, *_THREADS, *_OUTPUT, *spec.encoder]
