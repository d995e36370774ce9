"""vPDQ signal strings: strict parsing, the one canonical spelling, and the digest that names it.

A vPDQ hash (Meta's video PDQ) arrives as the signal string python-threatexchange's
`VPDQSignal` reads: a JSON array of `"<pdq hex>,<quality>,<seconds>"` frame strings. Haven
keeps one spelling of it, `json.dumps([f"{hex},{quality},{seconds:.3f}", ...])`, so that
two spellings of the same frames are one hash, and names it everywhere by the SHA-256 hex
digest of that spelling (64 characters, like every other hash value). Pure: no Flask, no
database.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import NoReturn

PDQ_HEX = re.compile(r"[0-9a-f]{64}")
_QUALITY = re.compile(r"[0-9]{1,3}")
# A frame string is about 80 characters; anything far longer than the frames allowed is
# refused before it is parsed.
_MAX_CHARS_PER_FRAME = 200
_JSON_KIND: dict[type, str] = {
    dict: "object",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def canonical_signal(value: str, *, max_frames: int, min_quality: int) -> str:
    """`value` in Haven's one spelling, or ValueError naming the frame and what is wrong.

    Checks: a JSON array of 1 to `max_frames` strings; each frame a 64-hex PDQ, an integer
    quality 0-100 and a finite timestamp >= 0 in seconds; timestamps strictly increasing
    (at the 3 decimals kept); at least one frame of quality `min_quality` or more.
    """
    if len(value) > max_frames * _MAX_CHARS_PER_FRAME:
        _refuse(f"a vpdq hash holds at most {max_frames} frames; this value is far too long")
    try:
        frames = json.loads(value, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        _refuse(
            'a vpdq value is a JSON array of frame strings "<pdq hex>,<quality>,<seconds>"; '
            "this one is not JSON"
        )
    if not isinstance(frames, list):
        _refuse(
            'a vpdq value is a JSON array of frame strings "<pdq hex>,<quality>,<seconds>"; '
            f"this one is a JSON {_JSON_KIND.get(type(frames), 'value')}"
        )
    if not frames:
        _refuse("a vpdq hash needs at least one frame; this array is empty")
    if len(frames) > max_frames:
        _refuse(f"a vpdq hash holds at most {max_frames} frames; this one has {len(frames)}")
    canonical: list[str] = []
    previous = -1.0
    best = -1
    for number, frame in enumerate(frames):
        pdq, quality, seconds = _frame(number, frame)
        if seconds <= previous:
            _refuse(
                f"vpdq frame {number}: timestamp {seconds:.3f} is not after the previous "
                f"frame's {previous:.3f} (timestamps must increase)"
            )
        previous = seconds
        best = max(best, quality)
        canonical.append(f"{pdq},{quality},{seconds:.3f}")
    if best < min_quality:
        _refuse(
            f"no frame of this vpdq hash has quality {min_quality} or more (the best is "
            f"{best}): this video's hash is too weak to match safely, so it would not help; "
            "it was not submitted"
        )
    return json.dumps(canonical)


def digest(canonical: str) -> str:
    """The SHA-256 hex digest of a canonical signal string: the hash's `value` everywhere."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def _frame(number: int, frame: object) -> tuple[str, int, float]:
    """(pdq hex, quality, seconds rounded to the millisecond) of one frame string."""
    if not isinstance(frame, str):
        _refuse(f'vpdq frame {number} is not a string "<pdq hex>,<quality>,<seconds>"')
    parts = [part.strip() for part in frame.split(",")]
    if len(parts) != 3:
        _refuse(
            f'vpdq frame {number} is not "<pdq hex>,<quality>,<seconds>" '
            f"(it has {len(parts)} comma-separated parts)"
        )
    pdq, quality_text, seconds_text = parts
    pdq = pdq.lower()
    if not PDQ_HEX.fullmatch(pdq):
        _refuse(f"vpdq frame {number}: its pdq hash is 64 hexadecimal characters")
    if not _QUALITY.fullmatch(quality_text):
        _refuse(
            f"vpdq frame {number}: quality {quality_text[:20]!r} is not an integer from 0 to 100"
        )
    quality = int(quality_text)
    if quality > 100:
        _refuse(f"vpdq frame {number}: quality {quality} is above 100")
    try:
        if "_" in seconds_text:  # float() reads "1_0" as 10; JSON numbers have no such form
            raise ValueError(seconds_text)
        seconds = float(seconds_text)
    except ValueError:
        _refuse(f"vpdq frame {number}: timestamp {seconds_text[:20]!r} is not a number of seconds")
    if not math.isfinite(seconds):
        _refuse(f"vpdq frame {number}: timestamp {seconds_text[:20]!r} is not a finite number")
    if seconds < 0 or seconds_text.startswith("-"):
        _refuse(f"vpdq frame {number}: timestamp {seconds_text[:20]} is negative")
    # Kept to the millisecond, as the canonical spelling writes it.
    return pdq, quality, float(f"{seconds:.3f}")


def _refuse(message: str) -> NoReturn:
    raise ValueError(message)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")
