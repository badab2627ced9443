// Bicubic resampling that reproduces MATLAB `imresize(img, ..., 'bicubic')` as ported by BasicSR
// (`basicsr/utils/matlab_functions.py`), the convention used to make LR images for SR benchmarks:
// Keys cubic with a = -0.5; when shrinking, the kernel is stretched by 1/scale (antialiasing);
// out-of-range taps mirror the edge pixels ("symmetric"); weights are normalised per output pixel;
// one rounding to uint8 at the very end.
//
// Difference from MATLAB itself: for uint8 input MATLAB rounds to uint8 between the two 1-D
// passes; BasicSR (and this code) keeps the intermediate in floating point, so a few pixels can
// differ by 1 from MATLAB's uint8 path.

import { ImageArgumentError } from './errors.ts';
import { assertRaster, cropImage } from './raster.ts';
import type { RasterImage } from './raster.ts';

export interface ResizeOptions {
  /** Widen the kernel when shrinking (MATLAB default). Default true. */
  antialias?: boolean;
}

/** Taps of a 1-D resampling: output i reads input indices[i*taps + k] with weights[i*taps + k]. */
interface Contributions {
  taps: number;
  indices: Int32Array;
  weights: Float64Array;
}

function cubic(x: number): number {
  const ax = Math.abs(x);
  const ax2 = ax * ax;
  const ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

function contributions(inLength: number, outLength: number, antialias: boolean): Contributions {
  const scale = outLength / inLength;
  const shrinkAA = scale < 1 && antialias;
  const kernelWidth = shrinkAA ? 4 / scale : 4;
  // MATLAB allocates ceil(width) + 2 taps; all-zero tap columns are dropped below.
  const p = Math.ceil(kernelWidth) + 2;
  const rawIdx = new Int32Array(outLength * p);
  const rawW = new Float64Array(outLength * p);
  for (let i = 0; i < outLength; i++) {
    // 1-based output coordinate x maps to input coordinate u so that pixel centres line up.
    const x = i + 1;
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let k = 0; k < p; k++) {
      const idx = left + k; // 1-based
      const d = u - idx;
      const w = shrinkAA ? scale * cubic(d * scale) : cubic(d);
      rawIdx[i * p + k] = mirror(idx - 1, inLength);
      rawW[i * p + k] = w;
      sum += w;
    }
    for (let k = 0; k < p; k++) rawW[i * p + k] /= sum;
  }
  // Drop tap columns that are zero for every output (MATLAB does the same; it only saves work).
  const keep: number[] = [];
  for (let k = 0; k < p; k++) {
    let any = false;
    for (let i = 0; i < outLength && !any; i++) any = rawW[i * p + k] !== 0;
    if (any) keep.push(k);
  }
  const taps = keep.length;
  const indices = new Int32Array(outLength * taps);
  const weights = new Float64Array(outLength * taps);
  for (let i = 0; i < outLength; i++) {
    keep.forEach((k, j) => {
      indices[i * taps + j] = rawIdx[i * p + k];
      weights[i * taps + j] = rawW[i * p + k];
    });
  }
  return { taps, indices, weights };
}

/** Half-sample symmetric reflection of a 0-based index into [0, n): -1 -> 0, n -> n-1, period 2n. */
function mirror(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

type Samples = Uint8Array | Float32Array;

/** Resamples along the vertical axis of an interleaved h×w×c image. */
function resizeRows(src: Samples, w: number, c: number, outH: number, con: Contributions): Float32Array {
  const rowLen = w * c;
  const out = new Float32Array(outH * rowLen);
  const acc = new Float64Array(rowLen);
  for (let y = 0; y < outH; y++) {
    acc.fill(0);
    for (let k = 0; k < con.taps; k++) {
      const wgt = con.weights[y * con.taps + k];
      if (wgt === 0) continue;
      const base = con.indices[y * con.taps + k] * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += wgt * src[base + i];
    }
    out.set(acc, y * rowLen);
  }
  return out;
}

/** Resamples along the horizontal axis of an interleaved h×w×c image. */
function resizeColumns(src: Samples, w: number, h: number, c: number, outW: number, con: Contributions): Float32Array {
  const out = new Float32Array(h * outW * c);
  const { taps, indices, weights } = con;
  for (let y = 0; y < h; y++) {
    const rowIn = y * w;
    const rowOut = y * outW * c;
    for (let x = 0; x < outW; x++) {
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let k = 0; k < taps; k++) s += weights[x * taps + k] * src[(rowIn + indices[x * taps + k]) * c + ch];
        out[rowOut + x * c + ch] = s;
      }
    }
  }
  return out;
}

/** Interleaved h×w×c samples -> interleaved outH×outW×c floats (no rounding, no clamping). */
function resizeInterleaved(src: Samples, w: number, h: number, c: number, outW: number, outH: number, antialias: boolean): Float32Array {
  const conH = contributions(h, outH, antialias);
  const conW = contributions(w, outW, antialias);
  // MATLAB resizes the dimension with the smaller scale first (ties: height first); it is also cheaper.
  if (outH / h <= outW / w) {
    return resizeColumns(resizeRows(src, w, c, outH, conH), w, outH, c, outW, conW);
  }
  return resizeRows(resizeColumns(src, w, h, c, outW, conW), outW, c, outH, conH);
}

function checkTargetSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageArgumentError(`resize target ${width}x${height} is invalid; width and height must be positive integers`);
  }
}

/**
 * Resizes an 8-bit image (1, 3 or 4 channels, every channel alike) to width×height with
 * MATLAB/BasicSR bicubic; result rounded half up and clamped to [0, 255].
 */
export function resizeBicubic(img: RasterImage, width: number, height: number, options: ResizeOptions = {}): RasterImage {
  assertRaster(img);
  checkTargetSize(width, height);
  if (width === img.width && height === img.height) {
    return { width, height, channels: img.channels, data: img.data.slice() };
  }
  const f = resizeInterleaved(img.data, img.width, img.height, img.channels, width, height, options.antialias ?? true);
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = Math.round(f[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { width, height, channels: img.channels, data: out };
}

/**
 * Float variant for model tensors: same kernel, no rounding or clamping. `layout` 'chw' is planar
 * (NCHW without N, as ONNX tensors are), 'hwc' interleaved. Returns a new array in the same layout.
 */
export function resizeBicubicFloat(
  data: Float32Array,
  size: { width: number; height: number; channels: number },
  width: number,
  height: number,
  options: ResizeOptions & { layout?: 'chw' | 'hwc' } = {},
): Float32Array {
  const { width: w, height: h, channels: c } = size;
  if (!Number.isInteger(c) || c < 1 || !Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || data.length !== w * h * c) {
    throw new ImageArgumentError(`float image of ${data.length} values does not match ${w}x${h}x${c}; pass the real size`);
  }
  checkTargetSize(width, height);
  const antialias = options.antialias ?? true;
  if ((options.layout ?? 'chw') === 'hwc') return resizeInterleaved(data, w, h, c, width, height, antialias);
  const out = new Float32Array(width * height * c);
  for (let ch = 0; ch < c; ch++) {
    const plane = data.subarray(ch * w * h, (ch + 1) * w * h);
    out.set(resizeInterleaved(plane, w, h, 1, width, height, antialias), ch * width * height);
  }
  return out;
}

/**
 * Makes an SR training/benchmark pair the BasicSR way: crop the HR image at the bottom/right to a
 * multiple of `scale` (mod crop), then bicubic-downscale it by exactly 1/scale.
 */
export function makeLowRes(hr: RasterImage, scale: number): { hr: RasterImage; lr: RasterImage } {
  assertRaster(hr, 'HR image');
  if (!Number.isInteger(scale) || scale < 1) {
    throw new ImageArgumentError(`scale must be a positive integer, got ${scale}`);
  }
  const w = hr.width - (hr.width % scale);
  const h = hr.height - (hr.height % scale);
  if (w === 0 || h === 0) {
    throw new ImageArgumentError(`HR image ${hr.width}x${hr.height} is smaller than the scale ${scale}; use a larger image`);
  }
  const cropped = w === hr.width && h === hr.height ? hr : cropImage(hr, 0, 0, w, h);
  return { hr: cropped, lr: resizeBicubic(cropped, w / scale, h / scale) };
}
