// The page's entry point for hashing a chosen file on the device.
//
// Contract: `hashFile(file, {onProgress, signal})` resolves to
//   {media: "image", size, md5, pdq, quality, width, height, orientation, stored}
//       pdq/quality/width/height describe the picture upright, as it is shown (null, with
//       `decodeError`, when the browser cannot decode it); orientation is its EXIF
//       orientation as the browser applies it (1-8, 1 without one); stored is
//       {pdq, quality} of the pixels as the file stores them when orientation is not 1,
//       else null (orientation.js says why platforms need that one)
//   {media: "video", size, md5, vpdq, frames, fps, width, height}   vpdq: [{pdq, quality,
//       timestamp}] (one frame a second, video.js); vpdq, frames, fps, width and height
//       are null, with `decodeError`, when the browser cannot read or decode the video
// or rejects with a HashingError whose `code` the page maps to a translated text.
// The work runs in a same-origin module worker (worker.js), one per file.
// Hashes only, never bytes: the file goes to the worker by structured clone and
// only hashes come back; nothing here may upload, store or log the file. Leave
// this module that way.

import { MIN_MATCHABLE_QUALITY } from "./pdq.js";

export { MIN_MATCHABLE_QUALITY };

/** A hashing failure; `code` is one of the strings below, `message` is for logs only. */
export class HashingError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "HashingError";
    // "unsupported_media" | "worker_failed" | "wasm_unavailable" | "aborted" | "hash_failed"
    this.code = code;
  }
}

const VIDEO_EXTENSIONS = /\.(mp4|m4v|mov|webm|mkv|avi|3gp|wmv|mpe?g|ts|mts|m2ts|ogv)$/i;
const IMAGE_EXTENSIONS = /\.(jpe?g|png|gif|webp|bmp|avif|heic|heif|tiff?)$/i;

/** "image", "video" or null, from the MIME type the browser reports, else the file name. */
export function mediaKind(file) {
  if (file.type.startsWith("image/")) return "image";
  if (file.type.startsWith("video/")) return "video";
  if (IMAGE_EXTENSIONS.test(file.name ?? "")) return "image";
  if (VIDEO_EXTENSIONS.test(file.name ?? "")) return "video";
  return null;
}

/**
 * Hash `file` in a worker. `onProgress({stage, done, total, fraction})` is called
 * as bytes are hashed ("md5"), image rows are processed ("pdq") and video frames are
 * decoded ("vpdq"); `fraction` runs 0..1 over the whole job. `signal` (AbortSignal)
 * stops the worker at once (terminates it), however long the file.
 */
export function hashFile(file, { onProgress, signal } = {}) {
  const media = mediaKind(file);
  if (!media) return Promise.reject(new HashingError("unsupported_media", `not an image or video: ${file.type}`));
  if (signal?.aborted) return Promise.reject(new HashingError("aborted", "aborted"));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "haven-hashing" });
    const finish = (settle, value) => {
      worker.terminate();
      signal?.removeEventListener("abort", onAbort);
      settle(value);
    };
    const onAbort = () => finish(reject, new HashingError("aborted", "aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    const parts = { md5: 0, pdq: 0, vpdq: 0 }; // each stage's share done, 0..1
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") {
        parts[data.stage] = data.total > 0 ? data.done / data.total : 1;
        // Images: MD5 is the first half of the bar, PDQ the second. Videos: MD5 and vPDQ
        // run together, and decoding every frame takes far longer than reading the bytes.
        const fraction = media === "video" ? parts.md5 / 10 + (parts.vpdq * 9) / 10 : (parts.md5 + parts.pdq) / 2;
        onProgress?.({ stage: data.stage, done: data.done, total: data.total, fraction });
      } else if (data.type === "result") {
        finish(resolve, data.result);
      } else if (data.type === "error") {
        finish(reject, new HashingError(data.code, data.message));
      }
    };
    // Fires when the worker script cannot load (404, wrong MIME type, CSP) or throws.
    worker.onerror = (event) => {
      event.preventDefault();
      finish(reject, new HashingError("worker_failed", event.message || "hashing worker failed to start"));
    };
    worker.postMessage({ type: "hash", file, media });
  });
}
