"""Signal types Haven serves that python-threatexchange lacks: the MD5 of a photo file; and
the name Haven gives a vPDQ signal (threatexchange's own `vpdq` type carries the signal)."""

from __future__ import annotations

import hashlib
import json
import pathlib
import random
import re

from threatexchange.content_type.content_base import ContentType
from threatexchange.content_type.photo import PhotoContent
from threatexchange.signal_type import signal_base

_MD5 = re.compile(r"^[0-9a-f]{32}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def vpdq_digest(signal_str: str) -> str:
    """The value Haven names a vPDQ signal by (in its feed and in feedback): the SHA-256 hex
    digest of the signal's canonical spelling, `json.dumps` of "<pdq hex>,<quality>,<seconds
    to 3 decimals>" strings. A digest (64 hex) is returned as it is.

    Raises ValueError when `signal_str` is neither a vPDQ signal string nor a digest.
    """
    text = signal_str.strip()
    if _DIGEST.match(text.lower()):
        return text.lower()
    frames = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(frames, list) or not frames:
        raise ValueError("a vPDQ signal is a non-empty JSON array of frame strings")
    canonical = []
    for frame in frames:
        pdq, quality, seconds = str(frame).split(",")  # another count: ValueError
        canonical.append(f"{pdq.strip().lower()},{int(quality)},{float(seconds):.3f}")
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


class PhotoMD5Signal(
    signal_base.SimpleSignalType,
    signal_base.BytesHasher,
    signal_base.CanGenerateRandomSignal,
):
    """The MD5 of a photo file's bytes: matches only the very same file.

    python-threatexchange has an MD5 for videos (`video_md5`) but none for photos, and the
    StopNCII protocol has no image MD5 type, so without this type image MD5s never reach a
    platform. Named `photo_md5`.
    """

    @classmethod
    def get_name(cls) -> str:
        """`photo_md5`, fixed: the CLI and HMA store fetched data under this name."""
        return "photo_md5"

    @classmethod
    def get_content_types(cls) -> list[type[ContentType]]:
        """Photos only."""
        return [PhotoContent]

    @classmethod
    def get_index_cls(cls) -> type[signal_base.TrivialSignalTypeIndex]:  # type: ignore[type-arg]
        """Exact matching: a dictionary lookup."""
        return signal_base.TrivialSignalTypeIndex

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        """The hash lower-cased, or ValueError if it is not 32 hexadecimal characters."""
        normalized = signal_str.strip().lower()
        if not _MD5.match(normalized):
            raise ValueError(f"{signal_str!r} is not a valid MD5 hash")
        return normalized

    @classmethod
    def hash_from_file(cls, path: pathlib.Path) -> str:
        """The file's MD5, read in blocks."""
        digest = hashlib.md5()  # noqa: S324 - the feed's algorithm, not a security use
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
        return digest.hexdigest()

    @classmethod
    def hash_from_bytes(cls, bytes_: bytes) -> str:
        """The bytes' MD5."""
        return hashlib.md5(bytes_).hexdigest()  # noqa: S324 - the feed's algorithm

    @classmethod
    def get_random_signal(cls) -> str:
        """A random MD5, for tests and demos."""
        return f"{random.randrange(16**32):032x}"

    @staticmethod
    def get_examples() -> list[str]:
        """Example values (the second is the MD5 of no bytes)."""
        return ["cab08b36195edb1a1231d2d09fa450e0", "d41d8cd98f00b204e9800998ecf8427e"]
