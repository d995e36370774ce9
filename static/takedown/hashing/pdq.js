// PDQ perceptual hash of an image, in plain JavaScript.
//
// Contract: pixels in, a 256-bit hash (64 hex characters) and a quality score
// (0-100) out. Pure computation: no DOM, no network, no storage, so it runs in a
// worker or on the page alike. Hashes only, never bytes: nothing here may send,
// keep or post the pixels anywhere; leave this module that way.
//
// An independent implementation of Meta's PDQ algorithm (facebook/ThreatExchange,
// pdq/cpp, BSD licence), written to reproduce the reference C++ bit for bit:
// every step the C++ does in 32-bit float is done here in float32 too (Math.fround
// or a Float32Array store after each operation), in the same order. Given the
// same RGB pixels the hash and quality equal the reference exactly; the only
// differences left in practice come from image decoders.
//
// Pipeline (docs/hashing.md): RGB -> luma -> Jarosz filter (two passes of box
// filters along rows, then columns) -> decimate to 64x64 at the centres ->
// quality from the 64x64 gradients -> 16x16 corner of a 2-D DCT -> one bit per
// coefficient: 1 when above the median.
//
// The filter runs as a stream over image rows: each column filter keeps only
// its window of rows, and the second pair of passes computes only the 64
// columns that decimation samples. Results are identical to filtering the
// whole image twice; memory is a few rows instead of two full float copies.

const fround = Math.fround;

/** Below this quality a PDQ hash is too weak to match safely (Meta's guidance). */
export const MIN_MATCHABLE_QUALITY = 50;

const MIN_HASHABLE_DIM = 5; // as the C++: smaller images hash to all zeros, quality 0
const OUT = 64; // side of the decimated image
const DCT_SIZE = 16; // side of the kept DCT corner

// Luma coefficients. The reference hashes (pdqhash 0.2.8) compute luma in
// float64 and round it to float32; a Float32Array store does the same.
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

// 16x64 DCT-II matrix, rows 1..16, float32 as in pdqhashing.cpp (dct_matrix_64).
const DCT_MATRIX = (() => {
  const m = new Float32Array(DCT_SIZE * OUT);
  const scale = fround(Math.sqrt(2 / OUT));
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < OUT; j++) {
      m[i * OUT + j] = scale * Math.cos((Math.PI / 2 / OUT) * (i + 1) * (2 * j + 1));
    }
  }
  return m;
})();

/** Box-filter window for one axis: computeJaroszFilterWindowSize in downscaling.cpp. */
export function jaroszWindowSize(oldDimension, newDimension = OUT) {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

/** Index sampled by decimateFloat for output cell `out` of `outCount`. */
function decimationIndex(out, inCount, outCount) {
  return Math.floor(((out + 0.5) * inCount) / outCount);
}

/**
 * One box filter along a vector (box1DFloat with stride 1): a running float sum,
 * shrinking windows at both edges. Reads `input[0..n)`, writes `output[0..n)`.
 */
function boxRow(input, output, n, window) {
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = n - window;
  const phase4 = half - 1;
  let sum = 0;
  let size = 0;
  let li = 0;
  let ri = 0;
  let oi = 0;
  for (let i = 0; i < phase1; i++) {
    sum = fround(sum + input[ri++]);
    size++;
  }
  for (let i = 0; i < phase2; i++) {
    sum = fround(sum + input[ri++]);
    size++;
    output[oi++] = sum / size;
  }
  for (let i = 0; i < phase3; i++) {
    sum = fround(sum + input[ri++]);
    sum = fround(sum - input[li++]);
    output[oi++] = sum / size;
  }
  for (let i = 0; i < phase4; i++) {
    sum = fround(sum - input[li++]);
    size--;
    output[oi++] = sum / size;
  }
}

/**
 * The same box filter along every column at once, fed one row at a time.
 * Each column's sum sees exactly the additions and subtractions of box1DFloat
 * in the same order, so results are identical; only `window + 1` rows are kept.
 */
class ColumnBox {
  constructor(numRows, numCols, window, emit) {
    const half = (window + 2) >> 1;
    this.numRows = numRows;
    this.numCols = numCols;
    this.ringRows = window + 1;
    this.ring = new Float32Array(this.ringRows * numCols);
    this.sums = new Float32Array(numCols);
    this.out = new Float32Array(numCols);
    this.phase1End = half - 1;
    this.phase2End = window; // phase1 + phase2
    this.phase4 = half - 1;
    this.window = window;
    this.size = 0;
    this.pushed = 0;
    this.emit = emit;
  }

  push(row) {
    const { numCols, sums, out, ring } = this;
    const k = this.pushed++;
    ring.set(row.subarray(0, numCols), (k % this.ringRows) * numCols);
    if (k < this.phase2End) {
      for (let j = 0; j < numCols; j++) sums[j] += row[j];
      this.size++;
      if (k < this.phase1End) return;
      const size = this.size;
      for (let j = 0; j < numCols; j++) out[j] = sums[j] / size;
    } else {
      const leftBase = ((k - this.window) % this.ringRows) * numCols;
      const size = this.size;
      for (let j = 0; j < numCols; j++) {
        const s = fround(fround(sums[j] + row[j]) - ring[leftBase + j]);
        sums[j] = s;
        out[j] = s / size;
      }
    }
    this.emit(out);
  }

  finish() {
    const { numCols, sums, out, ring } = this;
    for (let t = 0; t < this.phase4; t++) {
      const left = this.numRows - this.window + t;
      const leftBase = (left % this.ringRows) * numCols;
      this.size--;
      const size = this.size;
      for (let j = 0; j < numCols; j++) {
        const s = fround(sums[j] - ring[leftBase + j]);
        sums[j] = s;
        out[j] = s / size;
      }
      this.emit(out);
    }
  }
}

/**
 * Incremental PDQ over an image delivered as RGBA rows, top to bottom.
 * `addRGBARows(rgba, rowCount)` takes rows of `width * 4` bytes (canvas
 * ImageData layout; alpha ignored); `finish()` returns `{hash, quality}`.
 */
export function createPdqHasher(width, height) {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`bad image size ${width}x${height}`);
  }
  const tooSmall = width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM;
  const direct = width === OUT && height === OUT; // C++ skips the filter here
  const image64 = new Float32Array(OUT * OUT);
  const luma = new Float32Array(width);
  let rowsSeen = 0;
  let pushRow; // (luma row) => void
  let flush = () => {};

  if (direct) {
    pushRow = (row) => image64.set(row, rowsSeen * OUT);
  } else if (!tooSmall) {
    const windowAlongRows = jaroszWindowSize(width);
    const windowAlongCols = jaroszWindowSize(height);
    const sampleCols = Int32Array.from({ length: OUT }, (_, j) => decimationIndex(j, width, OUT));
    const sampleRows = Int32Array.from({ length: OUT }, (_, i) => decimationIndex(i, height, OUT));
    const rowPass1 = new Float32Array(width);
    const rowPass2 = new Float32Array(width);
    const sampled = new Float32Array(OUT);
    let emittedRow = 0;
    let nextOut = 0;
    // Second column pass, on the 64 sampled columns only; keep the sampled rows.
    const columns2 = new ColumnBox(height, OUT, windowAlongCols, (row) => {
      while (nextOut < OUT && sampleRows[nextOut] === emittedRow) {
        image64.set(row, nextOut * OUT);
        nextOut++;
      }
      emittedRow++;
    });
    // First column pass, full width; each finished row goes through the second row pass.
    const columns1 = new ColumnBox(height, width, windowAlongCols, (row) => {
      boxRow(row, rowPass2, width, windowAlongRows);
      for (let j = 0; j < OUT; j++) sampled[j] = rowPass2[sampleCols[j]];
      columns2.push(sampled);
    });
    pushRow = (row) => {
      boxRow(row, rowPass1, width, windowAlongRows);
      columns1.push(rowPass1);
    };
    flush = () => {
      columns1.finish();
      columns2.finish();
    };
  }

  return {
    width,
    height,
    addRGBARows(rgba, rowCount) {
      if (rowsSeen + rowCount > height || rgba.length < rowCount * width * 4) {
        throw new RangeError("more rows than the image has, or a short buffer");
      }
      if (tooSmall) {
        rowsSeen += rowCount;
        return;
      }
      for (let r = 0; r < rowCount; r++) {
        let p = r * width * 4;
        for (let x = 0; x < width; x++, p += 4) {
          luma[x] = rgba[p] * LUMA_R + rgba[p + 1] * LUMA_G + rgba[p + 2] * LUMA_B;
        }
        pushRow(luma);
        rowsSeen++;
      }
    },
    finish() {
      if (rowsSeen !== height) throw new RangeError(`got ${rowsSeen} of ${height} rows`);
      if (tooSmall) return { hash: "0".repeat(64), quality: 0 };
      flush();
      const quality = imageDomainQuality(image64);
      return { hash: bitsToHex(dct64To16(image64)), quality };
    },
  };
}

/** PDQ of a whole RGBA image (e.g. canvas ImageData.data): `{hash, quality}`. */
export function pdqFromRGBA(rgba, width, height) {
  const hasher = createPdqHasher(width, height);
  hasher.addRGBARows(rgba, height);
  return hasher.finish();
}

/** pdqImageDomainQualityMetric: count significant gradients of the 64x64 image. */
function imageDomainQuality(a) {
  let gradientSum = 0;
  for (let i = 0; i < OUT - 1; i++) {
    for (let j = 0; j < OUT; j++) {
      const d = fround(fround(fround(a[i * OUT + j] - a[(i + 1) * OUT + j]) * 100) / 255);
      gradientSum += Math.abs(Math.trunc(d));
    }
  }
  for (let i = 0; i < OUT; i++) {
    for (let j = 0; j < OUT - 1; j++) {
      const d = fround(fround(fround(a[i * OUT + j] - a[i * OUT + j + 1]) * 100) / 255);
      gradientSum += Math.abs(Math.trunc(d));
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

/** dct64To16: B = D A Dt, keeping the 16x16 low-frequency corner (float sums, C++ order). */
function dct64To16(a) {
  const d = DCT_MATRIX;
  const t = new Float32Array(DCT_SIZE * OUT);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < OUT; j++) {
      let sum = 0;
      for (let k = 0; k < OUT; k++) sum = fround(sum + fround(d[i * OUT + k] * a[k * OUT + j]));
      t[i * OUT + j] = sum;
    }
  }
  const b = new Float32Array(DCT_SIZE * DCT_SIZE);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      let sum = 0;
      for (let k = 0; k < OUT; k++) sum = fround(sum + fround(t[i * OUT + k] * d[j * OUT + k]));
      b[i * DCT_SIZE + j] = sum;
    }
  }
  return b;
}

/**
 * pdqBuffer16x16ToBits + Hash256::format. Bit k = i*16+j is set when the
 * coefficient is above the median (Torben's median of 256 values is the 128th
 * smallest). Word i holds row i, bit j; the hex prints words 15 down to 0, four
 * digits each.
 */
function bitsToHex(coefficients) {
  const median = Float32Array.from(coefficients).sort()[127];
  let hex = "";
  for (let i = DCT_SIZE - 1; i >= 0; i--) {
    let word = 0;
    for (let j = 0; j < DCT_SIZE; j++) {
      if (coefficients[i * DCT_SIZE + j] > median) word |= 1 << j;
    }
    hex += word.toString(16).padStart(4, "0");
  }
  return hex;
}

/** Number of differing bits between two 64-hex-character PDQ hashes. */
export function hammingDistance(hexA, hexB) {
  if (hexA.length !== 64 || hexB.length !== 64) throw new RangeError("PDQ hashes are 64 hex digits");
  let distance = 0;
  for (let i = 0; i < 64; i += 8) {
    let x = parseInt(hexA.slice(i, i + 8), 16) ^ parseInt(hexB.slice(i, i + 8), 16);
    while (x) {
      x &= x - 1;
      distance++;
    }
  }
  return distance;
}
