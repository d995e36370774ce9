"""Make the EXIF-rotated test photos in this folder and their reference hashes.

Run from the repository root: `.venv/bin/python tests/data/pdq/rotated/make.py`.
Each orientation-N.jpg stores the reference photo (bridge-mods__aaa-orig.jpg, shrunk)
transformed so that its EXIF orientation N turns it back upright for a viewer: a phone's
sideways photo. reference.json records, from pdqhash (Meta's C++ PDQ) on Pillow's decode,
the hash of the pixels as stored (what python-threatexchange and HMA compute) and of the
picture upright (ImageOps.exif_transpose, as the browser shows it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pdqhash  # type: ignore[import-untyped]
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "bridge-mods__aaa-orig.jpg"
SIZE = (400, 251)  # small: these files are committed
ORIENTATION = 0x0112
# How to store the upright picture so that orientation N shows it upright again: the
# inverse of what ImageOps.exif_transpose does for N.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def pdq(image: Image.Image) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(image.convert("RGB"))))
    return bytes(np.packbits(bits.astype(np.uint8))).hex(), int(quality)


def main() -> None:
    upright = Image.open(SOURCE).convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    rows = []
    for orientation, transpose in STORE.items():
        path = HERE / f"orientation-{orientation}.jpg"
        stored = upright if transpose is None else upright.transpose(transpose)
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        stored.save(path, quality=80, exif=exif.tobytes())
        decoded = Image.open(path)
        shown = ImageOps.exif_transpose(decoded)
        assert shown.size == SIZE
        stored_pdq, stored_quality = pdq(decoded)
        upright_pdq, upright_quality = pdq(shown)
        rows.append(
            {
                "file": path.name,
                "orientation": orientation,
                "md5": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
                "stored_pdq": stored_pdq,
                "stored_quality": stored_quality,
                "upright_pdq": upright_pdq,
                "upright_quality": upright_quality,
                "width": SIZE[0],
                "height": SIZE[1],
            }
        )
    (HERE / "reference.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
