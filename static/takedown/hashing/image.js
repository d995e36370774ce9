// Decode an image file and compute its PDQ hash, inside the browser.
//
// Contract: an image Blob in, `{pdq, quality, width, height, orientation, stored}` out
// (`stored`: `{pdq, quality}` of the pixels as the file stores them, when its EXIF
// orientation is not 1; else null). Decoding uses
// the browser's own decoders (createImageBitmap + OffscreenCanvas, both available
// in workers). Hashes only, never bytes: the pixels stay in this process and are
// dropped once hashed; nothing here may send or store them. Leave it that way.
//
// Decode choices (docs/hashing.md explains the measurements behind them):
// - imageOrientation "from-image": EXIF orientation is applied, so a phone photo
//   is hashed upright, as it is displayed (and as a platform that re-encodes uploads
//   stores it). Meta's reference, python-threatexchange and HMA hash the pixels as
//   stored (Pillow does not rotate), so a photo with an orientation tag is hashed a
//   second time, drawn back as stored (orientation.js). Images without a tag are
//   hashed once.
// - colorSpaceConversion "none": raw decoded values, no ICC conversion, as Pillow.
// - premultiplyAlpha "none": opaque pixels keep their exact colour. The 2-D canvas
//   stores premultiplied colour, so fully transparent pixels read back as black
//   (Pillow's convert("RGB") keeps their hidden colour). See docs/hashing.md.

import { swapsSides, storedTransform } from "./orientation.js";
import { createPdqHasher } from "./pdq.js";

const STRIPE_ROWS = 256; // rows read back from the canvas at a time

/** Decode `blob` as the hashing pipeline expects; rejects when the browser cannot. */
export function decodeImage(blob) {
  return createImageBitmap(blob, {
    imageOrientation: "from-image",
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
}

/**
 * PDQ of a decoded (upright) image, and with an `orientation` other than 1 also the PDQ of
 * its pixels as stored: `{pdq, quality, width, height, orientation, stored}`. Closes
 * `bitmap`. Reads the pixels back in stripes so that memory stays near one copy of the
 * image; `onProgress(rows done, rows in all)` counts the rows of both passes.
 */
export function pdqFromBitmap(bitmap, { onProgress, orientation = 1 } = {}) {
  const { width, height } = bitmap;
  const rows = orientation === 1 ? height : 2 * height;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true, alpha: true });
  if (!context) {
    bitmap.close();
    throw new Error(`no canvas for a ${width}x${height} image`);
  }
  try {
    context.drawImage(bitmap, 0, 0);
    const upright = pdqOfCanvas(context, width, height, { onProgress: (done) => onProgress?.(done, rows) });
    let stored = null;
    if (orientation !== 1) {
      const [w, h] = swapsSides(orientation) ? [height, width] : [width, height];
      canvas.width = w; // clears the canvas and resets the context's state
      canvas.height = h;
      context.imageSmoothingEnabled = false; // quarter turns and mirrors: pixel for pixel
      context.setTransform(...storedTransform(orientation, w, h));
      context.drawImage(bitmap, 0, 0);
      context.resetTransform();
      stored = pdqOfCanvas(context, w, h, { onProgress: (done) => onProgress?.(height + done, rows) });
    }
    return { ...upright, width, height, orientation, stored };
  } finally {
    bitmap.close();
    canvas.width = 0; // release the backing store now rather than at GC
    canvas.height = 0;
  }
}

/**
 * PDQ of the top-left `width` x `height` pixels of a 2-D canvas context, read back in
 * stripes of rows (so only one stripe of RGBA is copied at a time): `{pdq, quality}`.
 * video.js uses it for each sampled frame.
 */
export function pdqOfCanvas(context, width, height, { onProgress } = {}) {
  const hasher = createPdqHasher(width, height);
  for (let top = 0; top < height; top += STRIPE_ROWS) {
    const rows = Math.min(STRIPE_ROWS, height - top);
    hasher.addRGBARows(context.getImageData(0, top, width, rows).data, rows);
    onProgress?.(top + rows, height);
  }
  const { hash, quality } = hasher.finish();
  return { pdq: hash, quality };
}
