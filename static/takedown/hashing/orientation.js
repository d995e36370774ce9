// A photo's EXIF orientation, and how to undo it.
//
// Contract: `orientationOf(blob)` resolves to the EXIF orientation (1-8) that the browser
// applies when it decodes `blob` with imageOrientation "from-image", or 1 when there is
// none or the browser ignores it; it never rejects. `storedTransform(orientation, width,
// height)` is the 2-D canvas transform that draws the upright picture back as the file
// stores it. Hashes only, never bytes: the file's first bytes are read here to find the
// tag, and go nowhere else. Leave it that way.
//
// Why (docs/hashing.md, "Orientation"): the browser hashes the picture upright, as it is
// shown; Meta's reference, python-threatexchange and HMA hash the pixels as stored. A
// phone photo taken sideways is stored sideways with an orientation tag, and its two PDQ
// hashes are about 128 bits apart, so the page sends both.
//
// Which files: JPEG and PNG (eXIf chunk), whose orientation every current browser applies
// when decoding, and TIFF (Safari decodes it and applies the tag). Not WebP: Chromium
// ignores its EXIF orientation, so the pixels it hashes are already the stored ones. Not
// HEIC or AVIF: browsers orient them by the container's own boxes (irot/imir), and
// Pillow, which the platforms' tools use, cannot open them as stored.
// `createImageBitmap(blob, {imageOrientation: "none"})` is no way to get the stored
// pixels: current Chromium treats "none" as "from-image" (measured, docs/hashing.md).
//
// The tag is read with exifr (MIT, vendored into static/vendor/exifr/ by
// static/build-vendor.mjs), which reads only the first chunk of the file. It is imported
// on the first call, so that hashing a video never loads it.

const EXIFR = "../../vendor/exifr/full.esm.js";

const SIGNATURES = [
  [0xff, 0xd8, 0xff], // JPEG
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], // PNG
  [0x49, 0x49, 0x2a, 0x00], // TIFF, little-endian
  [0x4d, 0x4d, 0x00, 0x2a], // TIFF, big-endian
];

/** True when `blob` starts like a file whose EXIF orientation browsers apply. */
async function isOrientedFormat(blob) {
  const head = new Uint8Array(await blob.slice(0, 8).arrayBuffer());
  return SIGNATURES.some((signature) => signature.every((byte, i) => head[i] === byte));
}

/** The EXIF orientation the browser applies to `blob` (1-8), or 1. */
export async function orientationOf(blob) {
  try {
    if (!(await isOrientedFormat(blob))) return 1;
    const exifr = await import(EXIFR);
    const orientation = await exifr.orientation(blob);
    return Number.isInteger(orientation) && orientation >= 1 && orientation <= 8 ? orientation : 1;
  } catch {
    return 1; // damaged or unusual metadata: the upright hash is still made
  }
}

/** True for the orientations that turn the picture a quarter (width and height swap). */
export const swapsSides = (orientation) => orientation >= 5 && orientation <= 8;

/**
 * The canvas transform [a, b, c, d, e, f] (CanvasRenderingContext2D.setTransform) that
 * draws the upright picture onto a canvas of the stored size, `width` x `height` (the
 * stored sides), as the file stores it: the inverse of what the tag tells a viewer to do.
 * Each is a quarter turn and/or a mirror, so every pixel lands exactly on a pixel.
 */
export function storedTransform(orientation, width, height) {
  switch (orientation) {
    case 2: // shown mirrored left to right
      return [-1, 0, 0, 1, width, 0];
    case 3: // shown turned half a turn
      return [-1, 0, 0, -1, width, height];
    case 4: // shown mirrored top to bottom
      return [1, 0, 0, -1, 0, height];
    case 5: // shown mirrored along the main diagonal
      return [0, 1, 1, 0, 0, 0];
    case 6: // shown turned a quarter clockwise
      return [0, -1, 1, 0, 0, height];
    case 7: // shown mirrored along the other diagonal
      return [0, -1, -1, 0, width, height];
    case 8: // shown turned a quarter anticlockwise
      return [0, 1, -1, 0, width, 0];
    default:
      return [1, 0, 0, 1, 0, 0];
  }
}
