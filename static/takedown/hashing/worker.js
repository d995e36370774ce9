// Module worker that hashes one file, off the page's main thread.
//
// Contract (started by hasher.js; one job per worker):
//   in:  {type: "hash", file: File, media: "image" | "video"}
//   out: {type: "progress", stage: "md5" | "pdq", done, total}   (any number)
//        {type: "result", result: {media, size, md5, pdq?, quality?, width?, height?}}
//        {type: "error", code, message}                           (instead of a result)
// Hashes only, never bytes: this worker posts hashes and counts, never file
// contents or pixels, and makes no network request. Leave it that way.
//
// A worker obeys the CSP sent with its own script: serve this file with
// script-src 'self' 'wasm-unsafe-eval' (MD5 is WebAssembly); see docs/hashing.md.

import { decodeImage, pdqFromBitmap } from "./image.js";
import { md5OfBlob } from "./md5.js";

self.onmessage = async ({ data }) => {
  if (data?.type !== "hash") return;
  try {
    self.postMessage({ type: "result", result: await hash(data.file, data.media) });
  } catch (error) {
    self.postMessage({
      type: "error",
      code: error?.code ?? "hash_failed",
      message: String(error?.message ?? error),
    });
  }
};

async function hash(file, media) {
  const progress = (stage) => (done, total) => self.postMessage({ type: "progress", stage, done, total });
  if (media === "video") {
    return { media, size: file.size, md5: await md5OfBlob(file, { onProgress: progress("md5") }) };
  }
  // Start decoding at once: the browser decodes on its own threads while MD5 runs.
  const decoding = decodeImage(file);
  decoding.catch(() => {}); // handled below, after MD5
  const md5 = await md5OfBlob(file, { onProgress: progress("md5") });
  try {
    return { media, size: file.size, md5, ...pdqFromBitmap(await decoding, { onProgress: progress("pdq") }) };
  } catch (error) {
    // Undecodable (e.g. HEIC in Chromium) or too large for a canvas. The MD5 still
    // identifies the exact file; only the perceptual hash is missing.
    const decodeError = String(error?.message ?? error);
    return { media, size: file.size, md5, pdq: null, quality: null, width: null, height: null, decodeError };
  }
}
