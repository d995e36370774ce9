// Module worker that hashes one file, off the page's main thread.
//
// Contract (started by hasher.js; one job per worker):
//   in:  {type: "hash", file: File, media: "image" | "video"}
//   out: {type: "progress", stage: "md5" | "pdq" | "vpdq", done, total}   (any number)
//        {type: "result", result}                                 (hasher.js documents it)
//        {type: "error", code, message}                           (instead of a result)
// Hashes only, never bytes: this worker posts hashes and counts, never file
// contents or pixels, and makes no network request. Leave it that way.
//
// A worker obeys the CSP sent with its own script: serve this file with
// script-src 'self' 'wasm-unsafe-eval' (MD5 is WebAssembly); see docs/hashing.md.

import { decodeImage, pdqFromBitmap } from "./image.js";
import { md5OfBlob } from "./md5.js";
import { orientationOf } from "./orientation.js";

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
  if (media === "video") return hashVideo(file, progress);
  // Start decoding at once: the browser decodes on its own threads while MD5 runs. The
  // orientation tag is read meanwhile too (orientationOf never rejects).
  const decoding = decodeImage(file);
  decoding.catch(() => {}); // handled below, after MD5
  const orienting = orientationOf(file);
  const md5 = await md5OfBlob(file, { onProgress: progress("md5") });
  const orientation = await orienting;
  try {
    const pdq = pdqFromBitmap(await decoding, { orientation, onProgress: progress("pdq") });
    return { media, size: file.size, md5, ...pdq };
  } catch (error) {
    // Undecodable (e.g. HEIC in Chromium) or too large for a canvas. The MD5 still
    // identifies the exact file; only the perceptual hash is missing.
    const decodeError = String(error?.message ?? error);
    return {
      media,
      size: file.size,
      md5,
      pdq: null,
      quality: null,
      width: null,
      height: null,
      orientation,
      stored: null,
      decodeError,
    };
  }
}

async function hashVideo(file, progress) {
  // MD5 streams through the file while the browser decodes it on its own threads; the
  // two take turns on this thread. An MD5 failure ends the job at once.
  const md5ing = md5OfBlob(file, { onProgress: progress("md5") });
  const fingerprinting = import("./video.js") // the demuxer loads only for videos
    .then(({ vpdqOfVideo }) => vpdqOfVideo(file, { onProgress: progress("vpdq") }))
    .catch((error) => {
      // Undecodable here (a codec or container this browser lacks, a damaged file): the
      // MD5 still identifies the exact file; only the video fingerprint is missing.
      progress("vpdq")(0, 0); // this part of the work is over
      const decodeError = String(error?.message ?? error);
      return { vpdq: null, frames: null, fps: null, width: null, height: null, decodeError };
    });
  const [md5, video] = await Promise.all([md5ing, fingerprinting]);
  return { media: "video", size: file.size, md5, ...video };
}
