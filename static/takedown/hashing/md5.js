// Streaming MD5 of a File or Blob, with bounded memory.
//
// Contract: a Blob in, its MD5 as 32 lowercase hex digits out; progress is
// reported per chunk. At most two chunks are held at once (the one being hashed
// and the next being read), so a 2 GB video hashes in ~16 MiB of memory.
// Hashes only, never bytes: the chunks go to the hash function and nowhere
// else. Leave it that way.
//
// MD5 itself is hash-wasm (MIT, vendored into static/vendor/hash-wasm/ by
// static/build-vendor.mjs). Its UMD build, imported as a module, defines
// globalThis.hashwasm. It compiles WebAssembly, which a strict CSP allows only
// with script-src 'wasm-unsafe-eval' (in the worker's own CSP, see worker.js).

import "../../vendor/hash-wasm/md5.umd.min.js";

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** MD5 hex digest of `blob`; `onProgress(bytesDone, bytesTotal)` after each chunk. */
export async function md5OfBlob(blob, { chunkSize = DEFAULT_CHUNK_SIZE, onProgress } = {}) {
  let md5;
  try {
    md5 = await globalThis.hashwasm.createMD5();
  } catch (error) {
    // Typically a CSP without 'wasm-unsafe-eval' refusing WebAssembly.compile.
    throw Object.assign(new Error(`MD5 unavailable: ${error?.message ?? error}`), { code: "wasm_unavailable" });
  }
  md5.init();
  const total = blob.size;
  let offset = 0;
  let pending = total > 0 ? blob.slice(0, Math.min(chunkSize, total)).arrayBuffer() : null;
  onProgress?.(0, total);
  while (pending) {
    const chunk = new Uint8Array(await pending);
    if (chunk.byteLength === 0) throw new Error("file shrank while it was being read");
    offset += chunk.byteLength;
    // Start reading the next chunk before hashing this one: I/O and hashing overlap.
    pending = offset < total ? blob.slice(offset, Math.min(offset + chunkSize, total)).arrayBuffer() : null;
    md5.update(chunk);
    onProgress?.(offset, total);
  }
  return md5.digest("hex");
}
