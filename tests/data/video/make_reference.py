"""Build every test video and record Meta's vPDQ of it in reference.json beside this script.

Run from the repository root with a Python that has Meta's `vpdq` (0.2.5, the `video`
dependency group; it links this machine's FFmpeg libraries):

    .venv/bin/python tests/data/video/make_reference.py

Each video is built twice in separate folders; the script stops unless both builds have the
same bytes. It records, per video: the ffmpeg that built it, its SHA-256, MD5, size, codec,
container, size in pixels, frame rate (the stream's avg_frame_rate, which vpdq uses), frame
count, duration, and vpdq.computeHash(path, seconds_per_hash=1): each sampled frame's PDQ hex,
quality, timestamp and frame number.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

import vpdq  # type: ignore[import-not-found]  # noqa: E402

from tests import videos  # noqa: E402

SECONDS_PER_HASH = 1.0


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a video's first video stream and container."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_read_frames"
            ":format=format_name,duration",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    stream, container = info["streams"][0], info["format"]
    rate = stream["avg_frame_rate"]
    if rate in ("0/0", "0/1"):
        rate = stream["r_frame_rate"]
    num, den = (int(x) for x in rate.split("/"))
    return {
        "codec": stream["codec_name"],
        "container": container["format_name"],
        "width": stream["width"],
        "height": stream["height"],
        "frame_rate": rate,
        "fps": num / den,
        "frames": int(stream["nb_read_frames"]),
        "duration": float(container["duration"]),
    }


def describe(name: str, path: Path) -> dict[str, Any]:
    """One video's entry in reference.json."""
    data = path.read_bytes()
    features = sorted(
        vpdq.computeHash(str(path), seconds_per_hash=SECONDS_PER_HASH),
        key=lambda f: f.frame_number,
    )
    return {
        "file": path.name,
        "variant_of": videos.VARIANTS.get(name),
        "ffmpeg": videos.ffmpeg_version(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "size": len(data),
        **probe(path),
        "features": [
            {
                "pdq": f.hex,
                "quality": f.quality,
                "timestamp": f.timestamp,
                "frame": f.frame_number,
            }
            for f in features
        ],
    }


def render(reference: dict[str, Any]) -> str:
    """reference.json's text: indented, one feature a line."""
    lines = ["{"]
    head = {k: v for k, v in reference.items() if k != "videos"}
    lines += [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append(' "videos": {')
    entries = []
    for name, entry in reference["videos"].items():
        fields = [
            f"   {json.dumps(k)}: {json.dumps(v)}" for k, v in entry.items() if k != "features"
        ]
        features = ",\n".join(f"    {json.dumps(f)}" for f in entry["features"])
        fields.append(f'   "features": [\n{features}\n   ]')
        entries.append(f"  {json.dumps(name)}: {{\n" + ",\n".join(fields) + "\n  }")
    lines.append(",\n".join(entries))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Build, check, hash and record every test video."""
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        entries = {}
        for name in videos.NAMES:
            path = videos.build_video(name, Path(first))
            again = videos.build_video(name, Path(second))
            if path.read_bytes() != again.read_bytes():
                sys.exit(f"{path.name}: two builds differ; ffmpeg's output is not reproducible")
            entries[name] = describe(name, path)
            entry = entries[name]
            print(
                f"{entry['file']:15} {entry['codec']:5} {entry['width']}x{entry['height']} "
                f"{entry['frame_rate']:>10} fps {entry['duration']:6.2f} s "
                f"{entry['size']:8} bytes {len(entry['features'])} hashes"
            )
    reference = {
        "vpdq": importlib.metadata.version("vpdq"),
        "seconds_per_hash": SECONDS_PER_HASH,
        "videos": entries,
    }
    out = Path(__file__).resolve().parent / "reference.json"
    out.write_text(render(reference))
    json.loads(out.read_text())  # still JSON
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
