"""Synthetic hashes for the platform sandbox: made from generated noise, never from a person.

Each synthetic image is a random 256x256 RGB block pattern made with numpy, and its PDQ is
the image's own, computed by `pdqhash` (Meta's C++ PDQ). Its image MD5 is the MD5 of the pixel
bytes; a video MD5 is the MD5 of random bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pdqhash  # type: ignore[import-untyped]

HashKey = tuple[str, str, str]  # (media, algorithm, value)


@dataclasses.dataclass(frozen=True)
class SyntheticHashes:
    """Generated hashes, with PDQ qualities."""

    keys: list[HashKey]
    qualities: dict[HashKey, int | None]


def _pdq_of(image: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(image, dtype=np.uint8))
    return bytes(np.packbits(bits.astype(np.uint8))).hex(), int(quality)


def generate(count: int) -> SyntheticHashes:
    """`count` synthetic images (PDQ and MD5 each) and `count` synthetic videos (MD5)."""
    rng = np.random.default_rng()
    keys: list[HashKey] = []
    qualities: dict[HashKey, int | None] = {}
    for _ in range(count):
        blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = np.kron(blocks, np.ones((32, 32, 1), dtype=np.uint8))
        pdq = _pdq_of(image)
        pdq_key: HashKey = ("image", "pdq", pdq[0])
        md5_key: HashKey = ("image", "md5", hashlib.md5(image.tobytes()).hexdigest())  # noqa: S324
        video_key: HashKey = ("video", "md5", hashlib.md5(rng.bytes(4096)).hexdigest())  # noqa: S324
        for key in (pdq_key, md5_key, video_key):
            if key not in qualities:
                keys.append(key)
                qualities[key] = pdq[1] if key is pdq_key else None
    return SyntheticHashes(keys=keys, qualities=qualities)
