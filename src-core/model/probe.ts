// Facts about an SR model measured by running it: its scale and border (out = scale·in − 2·border), which pixel
// range it expects, and how far an output pixel sees when the graph alone cannot tell. Each probe is a few runs
// on small synthetic images, so it costs little even on big models. Runtime-agnostic.
import type { RasterImage } from '../image/raster.ts';
import { resizeBicubicFloat } from '../image/resize.ts';
import { tileContext, upscaleImage } from '../tiling/upscale.ts';
import type { Runner, RunnerOutput } from '../runtime/runner.ts';

export class ModelProbeError extends Error {
  override name = 'ModelProbeError';
}

/** Probe sizes, (h, w) pairs: multiples of 16 so that models which pixel-unshuffle or pad to windows accept them. */
const SIZE_PAIRS: readonly (readonly [readonly [number, number], readonly [number, number]])[] = [
  [[32, 48], [64, 80]],
  [[64, 128], [128, 192]],
];

/**
 * A smooth synthetic photo stand-in, [1,3,h,w] in [0,1]: low-frequency waves plus soft-edged shapes, so that a
 * working SR model's output is close to a bicubic upscale of it (what inputRange compares against).
 */
export function probeImage(h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const wave = 0.18 * Math.sin((2 * Math.PI * x) / 29 + c) * Math.cos((2 * Math.PI * y) / 23 - c / 2);
        const disc = 0.2 / (1 + Math.exp(((x - w / 3) ** 2 + (y - h / 2) ** 2) ** 0.5 - h / 4));
        const ramp = 0.1 * (x / w) - 0.05 * (y / h);
        out[(c * h + y) * w + x] = 0.45 + wave + disc + ramp + 0.05 * c;
      }
    }
  }
  return out;
}

export interface MeasuredGeometry {
  scale: number;
  /** Output px lost on each side. */
  border: number;
  /** The (h, w) pairs that ran, for messages. */
  probed: string;
}

/** Runs the model at two sizes and solves out = scale·in − 2·border on both axes. */
export async function measureGeometry(runner: Runner, name: string): Promise<MeasuredGeometry> {
  let lastError: unknown;
  for (const [a, b] of SIZE_PAIRS) {
    let outA: number[];
    let outB: number[];
    try {
      outA = (await runner.run(probeImage(a[0], a[1]), [1, 3, a[0], a[1]])).dims;
      outB = (await runner.run(probeImage(b[0], b[1]), [1, 3, b[0], b[1]])).dims;
    } catch (e) {
      lastError = e;
      continue;
    }
    const probed = `${a[0]}×${a[1]} → ${outA.slice(2).join('×')}, ${b[0]}×${b[1]} → ${outB.slice(2).join('×')}`;
    if (outA.length !== 4 || outB.length !== 4 || outA[1] !== 3) {
      throw new ModelProbeError(`${name} gives an output of shape [${outA.join(', ')}] for input [1, 3, ${a.join(', ')}]; srq handles image models with an RGB output [1, 3, H, W]`);
    }
    const axis = (i: 0 | 1) => {
      const scale = (outB[2 + i]! - outA[2 + i]!) / (b[i] - a[i]);
      return { scale, border: (scale * a[i] - outA[2 + i]!) / 2 };
    };
    const [y, x] = [axis(0), axis(1)];
    if (y.scale !== x.scale || y.border !== x.border) {
      throw new ModelProbeError(`${name} scales height and width differently (${probed}); srq handles models that upscale both axes alike`);
    }
    if (!Number.isInteger(y.scale) || y.scale < 1) {
      throw new ModelProbeError(`${name} does not upscale by a whole factor (${probed}); srq handles integer scales ×1, ×2, ×3, …`);
    }
    if (!Number.isInteger(y.border) || y.border < 0) {
      throw new ModelProbeError(`${name} changes the image size in a way srq cannot tile (${probed}): out = ${y.scale}·in − ${2 * y.border}; srq handles out = s·in − 2b with a whole border b ≥ 0`);
    }
    return { scale: y.scale, border: y.border, probed };
  }
  const why = lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError);
  throw new ModelProbeError(`${name} did not run on [1, 3, H, W] float32 probe images (${why}); srq handles SR models with one NCHW RGB input of any size`);
}

export interface MeasuredRange {
  /** 1: the model takes RGB in [0, 1]; 255: in [0, 255]. */
  range: 1 | 255;
  /** PSNR (dB) of the model's output vs bicubic on a smooth image, fed each way: how clear the choice was. */
  psnr: { 1: number; 255: number };
  /** False when neither range gives an image-like output (an untrained model, or not an SR model). */
  conclusive: boolean;
}

/** Below this, an output is not an upscaled picture of the input (bicubic vs a good SR model scores ≥ 25 dB here). */
const IMAGE_LIKE_DB = 18;
/** [0, 255] must win by this much: a near-linear [0, 1] model also looks fine when fed ×255 and divided back. */
const RANGE_MARGIN_DB = 3;

/** Feeds one smooth image as [0, 1] and as [0, 255] and keeps the range whose output looks like its bicubic upscale. */
export async function measureInputRange(runner: Runner, geometry: { scale: number; border: number }): Promise<MeasuredRange> {
  const [h, w] = [48, 64];
  const image = probeImage(h, w);
  const { scale: s, border: b } = geometry;
  const reference = resizeBicubicFloat(image, { width: w, height: h, channels: 3 }, w * s, h * s);
  const score = async (range: 1 | 255): Promise<number> => {
    const input = range === 1 ? image : image.map((v) => v * 255);
    const out = await runner.run(input, [1, 3, h, w]);
    const [oh, ow] = [out.dims[2]!, out.dims[3]!];
    let sum = 0;
    let n = 0;
    // Skip a frame of 2·s px: edge handling differs between models and bicubic.
    const margin = 2 * s;
    for (let c = 0; c < 3; c++) {
      for (let y = margin; y < oh - margin; y++) {
        for (let x = margin; x < ow - margin; x++) {
          const v = Math.min(1, Math.max(0, out.data[(c * oh + y) * ow + x]! / range));
          const d = v - reference[(c * h * s + y + b) * w * s + x + b]!;
          sum += d * d;
          n++;
        }
      }
    }
    return n === 0 || !(sum >= 0) ? 0 : sum === 0 ? Infinity : 10 * Math.log10(n / sum);
  };
  const psnr = { 1: await score(1), 255: await score(255) };
  const range = psnr[255] > psnr[1] + RANGE_MARGIN_DB ? 255 : 1;
  return { range, psnr, conclusive: Math.max(psnr[1], psnr[255]) >= IMAGE_LIKE_DB };
}

/**
 * Change below which an output pixel counts as unaffected. Outside the receptive field ORT computes the same
 * values bit for bit (same inputs, same kernels), so anything above float noise is a real dependency.
 */
const UNAFFECTED = 1e-6;

/**
 * The receptive-field radius in input px, measured: perturb the centre pixel of a probe image and find the farthest
 * output pixel that moved. Used when the graph walk cannot follow an op (run-time sizes, attention windows). Grows
 * the probe until the change stays inside it; 1 px of margin covers a dependency the one bump did not show.
 */
export async function measureRadius(
  run: (input: Float32Array, dims: readonly number[]) => Promise<RunnerOutput>,
  geometry: { scale: number; border: number },
  name: string,
): Promise<number> {
  const { scale: s, border: b } = geometry;
  for (const n of [64, 128, 256]) {
    const base = probeImage(n, n);
    const c = n / 2;
    const bumped = base.slice();
    for (let ch = 0; ch < 3; ch++) bumped[(ch * n + c) * n + c] = 1 - bumped[(ch * n + c) * n + c]!;
    const [o1, o2] = [await run(base, [1, 3, n, n]), await run(bumped, [1, 3, n, n])];
    const [oh, ow] = [o1.dims[2]!, o1.dims[3]!];
    let reach = 0;
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const i = (ch * oh + y) * ow + x;
          if (!(Math.abs(o1.data[i]! - o2.data[i]!) <= UNAFFECTED)) {
            // Output px y sits at input coordinate (y + b + 0.5)/s − 0.5.
            const dy = Math.abs((y + b + 0.5) / s - 0.5 - c);
            const dx = Math.abs((x + b + 0.5) / s - 0.5 - c);
            reach = Math.max(reach, dy, dx);
          }
        }
      }
    }
    if (reach < c - b / s - 2) return Math.ceil(reach) + 1;
  }
  throw new ModelProbeError(`${name}: an output pixel depends on input pixels more than 128 px away (global ops?), so tiles cannot reproduce the whole-image result; srq tiles convolutional SR models`);
}

/**
 * Whether tiles with `overlap` px of context reproduce the whole image (within 1 LSB) on a probe image split into
 * at least 2×2 tiles. A measured radius is checked this way: models whose ops depend on where a tile starts
 * (attention windows anchored at the image origin) fail it, and then run on whole images.
 */
export async function tilesMatchWhole(runner: Runner, geometry: { scale: number; border: number; overlap: number }): Promise<boolean> {
  const pad = Math.ceil(geometry.border / geometry.scale);
  // Odd sizes, so tiles start off any power-of-two grid a model might align to.
  const tileSize = 2 * tileContext(geometry) + 37;
  const side = 2 * tileSize - 2 * pad + 11;
  // Uniform noise: where tiles and the whole image differ, detail shows it most (a smooth image can hide it).
  const data = new Uint8Array(side * side * 3);
  let seed = 12345;
  for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const img: RasterImage = { width: side, height: side, channels: 3, data };
  const whole = await upscaleImage(runner, img, { ...geometry, tileSize: side + 2 * pad });
  const tiled = await upscaleImage(runner, img, { ...geometry, tileSize });
  return whole.data.every((v, i) => Math.abs(v - tiled.data[i]!) <= 1);
}
