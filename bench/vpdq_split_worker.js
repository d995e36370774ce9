// The parts of vPDQ in the browser, timed apart (bench/vpdq_browser.py; not a product file).
//
// A module worker that imports the product's modules (the vendored demuxer, pdq.js, md5.js).
// Its decoding loop is video.js's: the same demuxer, decoder, sampling rule (frame n of the
// decoder's output when n % floor(fps) == 0) and backpressure. Message {file, mode, repeats};
// modes:
//   md5         md5.js over the file
//   demux       every packet read from the file, nothing decoded
//   layout      (not timed) keyframes, and H.264 frames no other frame refers to
//   decode      every frame decoded and closed unread: the floor of vPDQ in the browser
//   copy        and each sampled frame copied to RGBX (VideoFrame.copyTo, the product's way)
//   copy+pdq    and hashed by pdq.js: the product's work without MD5
//   canvas+pdq  sampled frames drawn on a canvas and read back in stripes (its fallback)
//   sparse+pdq  an experiment: only the frames the sampled ones need are decoded (planOf)
//   pdq         one frame's PDQ, `repeats` times over, with nothing else running

import {
  ALL_FORMATS, BlobSource, EncodedPacketSink, Input,
} from "/static/vendor/mediabunny/mediabunny.min.js";
import { createPdqHasher } from "/static/takedown/hashing/pdq.js";
import { md5OfBlob } from "/static/takedown/hashing/md5.js";

const MAX_DECODE_QUEUE = 16;
const MAX_WAITING_FRAMES = 2;
const READ_CACHE_BYTES = 8 * 1024 * 1024;
const STRIPE_ROWS = 256;

self.onmessage = async ({ data: { file, mode, repeats } }) => {
  try {
    self.postMessage(await run(file, mode, repeats));
  } catch (error) {
    self.postMessage({ error: String(error?.stack ?? error) });
  }
};

async function run(file, mode, repeats) {
  const started = performance.now();
  if (mode === "md5") return { md5: await md5OfBlob(file), ms: performance.now() - started };
  const source = new BlobSource(file, { maxCacheSize: READ_CACHE_BYTES });
  const input = new Input({ source, formats: ALL_FORMATS });
  try {
    const track = await input.getPrimaryVideoTrack();
    const { averagePacketRate: fps } = await track.computePacketStats();
    const config = await track.getDecoderConfig();
    if (mode === "demux") {
      let packets = 0;
      for await (const packet of new EncodedPacketSink(track).packets()) packets++;
      return { packets, ms: performance.now() - started };
    }
    if (mode === "pdq") return await pdqAlone(track, config, repeats);
    const plan = await planOf(track, config, fps);
    if (mode === "layout") {
      const { keys, disposable, needed, sampled } = plan;
      return { packets: plan.packets.length, keys, disposable, needed, sampled };
    }
    const result = await decode(track, config, plan, mode);
    return { ms: performance.now() - started, ...result };
  } finally {
    input.dispose();
  }
}

// Bytes of the NAL unit lengths in an H.264 (AVCC) stream; 0 for other codecs.
function nalLengthSize(config) {
  const d = config.description;
  if (!/^avc[13]/.test(config.codec) || !d) return 0;
  const bytes = ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
    : new Uint8Array(d);
  return (bytes[4] & 3) + 1;
}

// Whether any other frame may refer to this one: H.264 slices with nal_ref_idc > 0.
function isReference(data, lengthSize) {
  if (!lengthSize) return true;
  let slices = 0;
  for (let p = 0; p + lengthSize < data.length;) {
    let size = 0;
    for (let k = 0; k < lengthSize; k++) size = size * 256 + data[p + k];
    const header = data[p + lengthSize];
    const type = header & 0x1f;
    if (type >= 1 && type <= 5) {
      slices++;
      if (header & 0x60) return true;
    }
    p += lengthSize + size;
  }
  return slices === 0;
}

// Which frames are sampled (by presentation order, as the decoder would output them), and
// for "sparse": which the sampled ones need. A frame is needed when it is sampled, or when it
// is a reference frame followed, before the next keyframe in decoding order, by a sampled
// one. Nothing else is decoded: frames no one refers to, and the rest of a keyframe's group
// after its last sampled frame. (Open GOPs, whose frames refer across a keyframe, would need
// more care.)
async function planOf(track, config, fps) {
  const frameMod = Math.max(1, Math.floor(fps));
  const lengthSize = nalLengthSize(config);
  const packets = [];
  for await (const packet of new EncodedPacketSink(track).packets()) {
    packets.push({
      us: packet.microsecondTimestamp,
      key: packet.type === "key",
      reference: isReference(packet.data, lengthSize),
    });
  }
  const shown = packets.map((p) => p.us).filter((us) => us >= 0).sort((a, b) => a - b);
  const rank = new Map(shown.map((us, n) => [us, n]));
  const isSampled = packets.map((p) => p.us >= 0 && rank.get(p.us) % frameMod === 0);
  const wanted = new Array(packets.length).fill(false);
  let ahead = false;
  for (let i = packets.length - 1; i >= 0; i--) {
    ahead ||= isSampled[i];
    wanted[i] = isSampled[i] || (ahead && packets[i].reference);
    if (packets[i].key) ahead = false;
  }
  return {
    frameMod, rank, isSampled, wanted, packets,
    keys: packets.filter((p) => p.key).length,
    disposable: packets.filter((p) => !p.reference).length,
    needed: wanted.filter(Boolean).length,
    sampled: isSampled.filter(Boolean).length,
  };
}

// Per sampled frame: "decode" closes it unread; "copy" copies it to RGBX; "copy+pdq" and
// "sparse+pdq" also hash it; "canvas+pdq" draws it and reads it back in stripes, then hashes.
function frameWork(mode) {
  const times = { pixels: [], pdq: [] };
  const hashes = [];
  let buffer = null;
  let canvas = null;
  let context = null;
  const work = async (frame) => {
    const { width, height } = frame.visibleRect;
    if (mode === "canvas+pdq") {
      let read = 0;
      let pdq = 0;
      let t = performance.now();
      if (!canvas) {
        canvas = new OffscreenCanvas(width, height);
        context = canvas.getContext("2d", { willReadFrequently: true, alpha: false });
      }
      context.drawImage(frame, 0, 0, width, height);
      const hasher = createPdqHasher(width, height);
      for (let top = 0; top < height; top += STRIPE_ROWS) {
        const rows = Math.min(STRIPE_ROWS, height - top);
        const data = context.getImageData(0, top, width, rows).data;
        const t1 = performance.now();
        read += t1 - t;
        hasher.addRGBARows(data, rows);
        t = performance.now();
        pdq += t - t1;
      }
      hashes.push(hasher.finish().hash);
      times.pixels.push(read);
      times.pdq.push(pdq + performance.now() - t);
      return;
    }
    const t0 = performance.now();
    if (buffer?.length !== width * height * 4) buffer = new Uint8Array(width * height * 4);
    await frame.copyTo(buffer, { format: "RGBX", colorSpace: "srgb" });
    const t1 = performance.now();
    times.pixels.push(t1 - t0);
    if (mode === "copy") return;
    const hasher = createPdqHasher(width, height);
    hasher.addRGBARows(buffer, height);
    hashes.push(hasher.finish().hash);
    times.pdq.push(performance.now() - t1);
  };
  return { work, times, hashes };
}

async function decode(track, config, plan, mode) {
  const sparse = mode === "sparse+pdq";
  const { work, times, hashes } = frameWork(mode);
  let frames = 0;
  let submitted = 0;
  let waiting = 0;
  let chain = Promise.resolve();
  let failure = null;
  let wake = null;
  const wakeUp = () => {
    wake?.();
    wake = null;
  };
  const decoder = new VideoDecoder({
    output(frame) {
      if (frame.timestamp < 0) return frame.close();
      const n = sparse ? plan.rank.get(frame.timestamp) : frames;
      frames++;
      if (n % plan.frameMod !== 0 || mode === "decode") return frame.close();
      waiting++;
      chain = chain.then(async () => {
        try {
          await work(frame);
        } catch (error) {
          failure ??= error;
        } finally {
          frame.close();
          waiting--;
          wakeUp();
        }
      });
    },
    error: (error) => {
      failure ??= error;
      wakeUp();
    },
  });
  decoder.addEventListener("dequeue", wakeUp);
  decoder.configure(config);
  const busy = () => decoder.decodeQueueSize > MAX_DECODE_QUEUE || waiting > MAX_WAITING_FRAMES;
  let index = 0;
  for await (const packet of new EncodedPacketSink(track).packets()) {
    if (failure) break;
    if (sparse && !plan.wanted[index++]) continue;
    submitted++;
    decoder.decode(packet.toEncodedVideoChunk());
    while (busy() && !failure) await new Promise((resolve) => (wake = resolve));
  }
  if (!failure) await decoder.flush();
  await chain;
  decoder.close();
  if (failure) throw failure;
  return { frames, submitted, sampled: plan.sampled, times, hashes };
}

// PDQ of the first frame, `repeats` times on this thread with nothing else running.
async function pdqAlone(track, config, repeats) {
  let first = null;
  let failure = null;
  const decoder = new VideoDecoder({
    output: (frame) => (first ? frame.close() : (first = frame)),
    error: (error) => (failure = error),
  });
  decoder.configure(config);
  let count = 0;
  for await (const packet of new EncodedPacketSink(track).packets()) {
    decoder.decode(packet.toEncodedVideoChunk());
    if (++count === 8) break;
  }
  await decoder.flush();
  decoder.close();
  if (failure || !first) throw failure ?? new Error("no frame");
  const { width, height } = first.visibleRect;
  const buffer = new Uint8Array(width * height * 4);
  await first.copyTo(buffer, { format: "RGBX", colorSpace: "srgb" });
  first.close();
  const pdq = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    const hasher = createPdqHasher(width, height);
    hasher.addRGBARows(buffer, height);
    hasher.finish();
    pdq.push(performance.now() - t);
  }
  return { times: { pixels: [], pdq } };
}
