// vPDQ of a video file, inside the browser: the PDQ of one frame per second.
//
// Contract: a video Blob in, `{vpdq: [{pdq, quality, timestamp}], frames, fps, width,
// height}` out, or a rejection (VideoError) when this browser cannot read the container or
// decode the codec. Hashes only, never bytes: frames are converted to RGB in this
// process, hashed and closed at once; nothing here may send or keep file data or pixels.
// Leave it that way.
//
// Meta's vPDQ (facebook/ThreatExchange vpdq, filehasher.cpp), step for step:
// - fps is the stream's average frame rate as ffmpeg gives it (avg_frame_rate: frames /
//   duration from the container; see frameRate below);
// - frameMod = max(1, floor(fps)): output frame n (0-based, presentation order, as the
//   decoder emits them) is hashed when n % frameMod == 0, with timestamp n / fps;
// - each hashed frame is converted to RGB at the video's own size (no rotation, no
//   pixel-aspect scaling: ffmpeg's sws_scale of the coded picture) and PDQ-hashed.
// Haven also drops a frame whose hash equals the previous kept frame's: vPDQ matching
// compares sets of distinct hashes, so this changes no match and shortens the upload.
//
// Decoding is the browser's own (WebCodecs VideoDecoder); demuxing is mediabunny
// (MPL-2.0, vendored into static/vendor/mediabunny/ by static/build-vendor.mjs), which
// reads the Blob in slices (a bounded cache) rather than all at once. Memory stays
// bounded whatever the length: at most MAX_DECODE_QUEUE chunks wait in the decoder and
// MAX_WAITING_FRAMES frames wait to be hashed, every VideoFrame is closed as soon as it is
// hashed or skipped, and one RGB buffer is reused for every frame.

import {
  ALL_FORMATS,
  BlobSource,
  EncodedPacketSink,
  Input,
  IsobmffInputFormat,
} from "../../vendor/mediabunny/mediabunny.min.js";
import { pdqOfCanvas } from "./image.js";
import { createPdqHasher } from "./pdq.js";

const SECONDS_PER_HASH = 1; // Meta's default
const MAX_DECODE_QUEUE = 16; // encoded chunks waiting in the decoder
const MAX_WAITING_FRAMES = 2; // decoded frames waiting to be hashed
const READ_CACHE_BYTES = 8 * 1024 * 1024; // the demuxer's slices of the file

/** The browser cannot demux or decode this video; `message` says why (for logs). */
export class VideoError extends Error {
  constructor(message) {
    super(message);
    this.name = "VideoError";
  }
}

/**
 * vPDQ of `blob`. `onProgress(framesDecoded, framesTotal)` is called about once per
 * hashed frame (framesTotal is what the container says, or duration x fps). `pixels`
 * chooses how frames become RGB ("auto", "copy" or "canvas": createFrameHasher below).
 */
export async function vpdqOfVideo(blob, { onProgress, pixels = "auto" } = {}) {
  if (typeof VideoDecoder === "undefined") throw new VideoError("this browser has no WebCodecs VideoDecoder");
  const input = new Input({ source: new BlobSource(blob, { maxCacheSize: READ_CACHE_BYTES }), formats: ALL_FORMATS });
  try {
    let track;
    try {
      track = await input.getPrimaryVideoTrack();
    } catch (error) {
      throw new VideoError(`unreadable container: ${error?.message ?? error}`);
    }
    if (!track) throw new VideoError("no video track, or a container this browser cannot read");
    const config = await track.getDecoderConfig();
    if (!config) throw new VideoError("a video codec this browser does not know");
    const { supported } = await VideoDecoder.isConfigSupported(config);
    if (!supported) throw new VideoError(`this browser cannot decode ${config.codec}`);
    const { fps, frameCount } = await frameRate(input, track);
    if (!(frameCount > 0 && fps > 0 && Number.isFinite(fps))) throw new VideoError("the video has no frames");
    return await decodeAndHash(track, config, { fps, frameCount, onProgress, pixels });
  } finally {
    input.dispose();
  }
}

/**
 * The frame rate ffmpeg calls the stream's avg_frame_rate, and the number of frames.
 * MP4/MOV: sample count / track duration, from the sample tables (read without touching
 * the frames). Matroska/WebM: ffmpeg takes 1 / DefaultDuration, which the timestamps'
 * lattice gives back exactly (block times are whole milliseconds, so frames / duration
 * would give 29.998 for 30); without a constant lattice, the average over the first
 * frames, as ffmpeg's probe does.
 */
async function frameRate(input, track) {
  if ((await input.getFormat()) instanceof IsobmffInputFormat) {
    const { packetCount, averagePacketRate } = await track.computePacketStats();
    return { fps: averagePacketRate, frameCount: packetCount };
  }
  const { underlyingFrameRate, averageFrameRate } = await track.computeFrameRateMetrics();
  const fps = underlyingFrameRate ?? averageFrameRate;
  const duration = (await track.getDurationFromMetadata()) ?? (await track.computeDuration());
  return { fps, frameCount: Math.max(1, Math.round(duration * fps)) };
}

async function decodeAndHash(track, config, { fps, frameCount, onProgress, pixels }) {
  const frameMod = Math.max(1, Math.floor(SECONDS_PER_HASH * fps));
  const hasher = createFrameHasher({ pixels });
  const hashes = [];
  let frameNumber = 0; // decoder outputs so far, presentation order
  let hashing = Promise.resolve(); // sampled frames are hashed one after another, in order
  let waiting = 0; // sampled frames not hashed yet (each holds one of the decoder's frames)
  let failure = null;
  let wake = null; // resolves the wait for the decoder: on a dequeue, a hash or a failure
  const waitForDecoder = () => new Promise((resolve) => (wake = resolve));
  const wakeUp = () => {
    wake?.();
    wake = null;
  };
  const fail = (error) => {
    failure ??= error instanceof VideoError ? error : new VideoError(`decoding failed: ${error?.message ?? error}`);
    wakeUp();
  };

  const decoder = new VideoDecoder({
    output(frame) {
      // A negative timestamp marks a frame before the start (an edit list, say): ffmpeg
      // discards those, so they are not counted either.
      if (frame.timestamp < 0 || failure) return frame.close();
      const n = frameNumber++;
      if (n % frameMod !== 0) return frame.close(); // at once: decoders have few frames
      waiting++;
      hashing = hashing.then(async () => {
        try {
          if (failure) return;
          const { pdq, quality } = await hasher.hash(frame);
          if (hashes.at(-1)?.pdq !== pdq) hashes.push({ pdq, quality, timestamp: n / fps });
          onProgress?.(n + 1, Math.max(n + 1, frameCount));
        } catch (error) {
          fail(error);
        } finally {
          frame.close();
          waiting--;
          wakeUp();
        }
      });
    },
    error: fail,
  });
  decoder.addEventListener("dequeue", wakeUp);

  try {
    decoder.configure(config);
    const sink = new EncodedPacketSink(track);
    onProgress?.(0, frameCount);
    for await (const packet of sink.packets()) {
      if (failure) break;
      decoder.decode(packet.toEncodedVideoChunk());
      // Backpressure: let the decoder, and the hashing of its output, catch up before
      // reading more of the file.
      while ((decoder.decodeQueueSize > MAX_DECODE_QUEUE || waiting > MAX_WAITING_FRAMES) && !failure) {
        await waitForDecoder();
      }
    }
    if (!failure) await decoder.flush();
    await hashing;
    if (!failure) onProgress?.(frameNumber, frameNumber);
  } catch (error) {
    fail(error);
  } finally {
    if (decoder.state !== "closed") decoder.close();
    await hashing;
    hasher.release();
  }
  if (failure) throw failure;
  if (!hashes.length) throw new VideoError("no frame could be decoded");
  const { width, height } = hasher;
  return { vpdq: hashes, frames: frameNumber, fps, width, height };
}

/**
 * PDQ of VideoFrames, at their own size (the visible rectangle, unscaled, as ffmpeg's
 * sws_scale of the decoded picture). `pixels`: "copy" has WebCodecs convert the frame to
 * RGB into one reused buffer (VideoFrame.copyTo, format "RGBX"): no canvas, nothing left
 * for the garbage collector, a few milliseconds for 1080p. "canvas" draws the frame on an
 * OffscreenCanvas and reads it back in stripes, as image.js does: for browsers whose
 * copyTo cannot convert to RGB. It gives the same pixels in Chromium, but each read-back
 * leaves garbage that the worker's collector may keep for a long while (measured: +450 MB
 * over a minute of 1080p). "auto" (the default) uses "copy" where it works.
 */
function createFrameHasher({ pixels = "auto" } = {}) {
  let method = pixels;
  let buffer = null;
  let canvas = null;
  let context = null;
  const state = { width: 0, height: 0 };

  const copyWorks = (frame, width, height) => {
    try {
      // A browser that does not know the `format` option ignores it and would copy YUV.
      return frame.allocationSize({ format: "RGBX", colorSpace: "srgb" }) === width * height * 4;
    } catch {
      return false;
    }
  };

  return Object.assign(state, {
    async hash(frame) {
      const { width, height } = frame.visibleRect;
      state.width = width;
      state.height = height;
      if (method === "auto") method = copyWorks(frame, width, height) ? "copy" : "canvas";
      if (method === "copy") {
        if (buffer?.length !== width * height * 4) buffer = new Uint8Array(width * height * 4);
        await frame.copyTo(buffer, { format: "RGBX", colorSpace: "srgb" });
        const pdq = createPdqHasher(width, height);
        pdq.addRGBARows(buffer, height);
        const { hash, quality } = pdq.finish();
        return { pdq: hash, quality };
      }
      if (!canvas || canvas.width !== width || canvas.height !== height) {
        canvas = new OffscreenCanvas(width, height);
        context = canvas.getContext("2d", { willReadFrequently: true, alpha: false });
        if (!context) throw new VideoError(`no canvas for a ${width}x${height} video`);
      }
      context.drawImage(frame, 0, 0, width, height);
      return pdqOfCanvas(context, width, height);
    },
    release() {
      buffer = null;
      if (canvas) {
        canvas.width = 0; // release the backing store now rather than at GC
        canvas.height = 0;
      }
    },
  });
}
