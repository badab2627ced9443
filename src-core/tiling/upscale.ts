// Tiled super-resolution of a whole image with any Runner: split into fixed-size windows with real
// context around each core, run them one after another, write each core straight into the 8-bit output.
// Runtime-agnostic (Node, Deno, Workers, browsers).
import { assertRaster, type RasterImage } from '../image/raster.ts';
import { resizeBicubic } from '../image/resize.ts';
import type { Runner } from '../runtime/runner.ts';
import { DeadlineError, ModelOutputShapeError, TilingOptionsError } from './errors.ts';
import { readWindow, writeCore } from './tile-io.ts';
import { planTiles } from './tile-plan.ts';

export const DEFAULT_TILE_SIZE = 128;

export interface UpscaleOptions {
  /** The model's integer scale (its description's). */
  scale: number;
  /**
   * Output px the model loses on each side (out = scale·in − 2·border), from its description; default 0. The image
   * is padded by ceil(border / scale) px of repeated edge pixels so the output is exactly scale × the input.
   */
  border?: number;
  /** The model's description says tiles cannot reproduce its whole-image output: run one window. */
  wholeImage?: boolean;
  /** Model input window, in input px (square). Default 128. Larger = fewer tiles, more memory per run. */
  tileSize?: number;
  /**
   * A window of any shape, in px of the padded input, instead of tileSize (the edge's, from its memory budget:
   * src-edge/windows.ts). Taken as given; each side needs room for a core between two margins of context.
   */
  window?: { width: number; height: number };
  /**
   * Input px of real context kept on each side of a tile's core. Use receptiveFieldRadius(model): with
   * at least that much, tiled output equals untiled output; less gives seams. Required, because a guess
   * that is too small fails silently.
   */
  overlap: number;
  /** Called after each tile with (tiles done, tiles total). */
  onProgress?: (done: number, total: number) => void;
  /** Checked between tiles; an aborted signal throws its reason. */
  signal?: AbortSignal;
  /** Epoch ms (Date.now() clock). Checked between tiles; once passed, throws DeadlineError. */
  deadline?: number;
}

/**
 * Upscales `img` by `scale`. RGB runs through the model; grey is run as RGB (the output is RGB); RGBA's
 * alpha is upscaled bicubically and re-attached. The output never exists as float32: each tile's core
 * is converted to 8 bits as soon as it is computed.
 */
export async function upscaleImage(runner: Runner, img: RasterImage, opts: UpscaleOptions): Promise<RasterImage> {
  assertRaster(img, 'input image');
  const { scale, onProgress, signal, deadline } = opts;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new TilingOptionsError(`scale must be a positive integer (the model's srq.scale), got ${scale}`);
  }
  if (deadline !== undefined && !Number.isFinite(deadline)) {
    throw new TilingOptionsError(`deadline must be epoch milliseconds (e.g. Date.now() + 30000), got ${deadline}`);
  }
  const border = opts.border ?? 0;
  if (!Number.isInteger(border) || border < 0) {
    throw new TilingOptionsError(`border must be a whole number of output px >= 0 (the model's description), got ${border}`);
  }
  const pad = Math.ceil(border / scale);
  // A model that tiles cannot reproduce runs in one window over the whole (padded) image.
  const tileSize = opts.wholeImage ? Math.max(img.width, img.height) + 2 * pad : (opts.window ?? tileSizeFor(opts, opts.tileSize));
  const tiles = planTiles(img.width + 2 * pad, img.height + 2 * pad, tileSize, tileContext(opts));

  const outChannels = img.channels === 4 ? 4 : 3;
  const out: RasterImage = {
    width: img.width * scale,
    height: img.height * scale,
    channels: outChannels,
    data: new Uint8Array(img.width * scale * img.height * scale * outChannels),
  };

  for (let i = 0; i < tiles.length; i++) {
    signal?.throwIfAborted();
    if (deadline !== undefined && Date.now() > deadline) throw new DeadlineError(i, tiles.length);
    const tile = tiles[i]!;
    const dims = [1, 3, tile.y.size, tile.x.size];
    const result = await runner.run(readWindow(img, tile, pad), dims);
    checkOutputDims(result.dims, dims, scale, border);
    writeCore(out, tile, result.data, scale, border, pad);
    onProgress?.(i + 1, tiles.length);
  }

  if (outChannels === 4) attachAlpha(out, img);
  return out;
}

/** Smallest core a tile keeps between its two margins of context, in input px, when a size is asked for. */
export const MIN_TILE_CORE = 8;

/**
 * Input px of context a tile keeps on each side: the receptive-field radius, and at least the border the model
 * loses (a window's output covers its input minus border/scale px on each side).
 */
export function tileContext(g: { scale: number; border?: number; overlap: number }): number {
  return Math.max(g.overlap, Math.ceil((g.border ?? 0) / g.scale));
}

/**
 * The tile size used for a model (tiled, not wholeImage). An asked-for size is raised only as far as a core of
 * MIN_TILE_CORE px needs. The default is 128, or, for models that see farther than a 128² tile can hold with a
 * 64 px core (a 6-block RRDB needs 94 px each side), 2·context + 128.
 */
export function tileSizeFor(g: { scale: number; border?: number; overlap: number }, requested?: number): number {
  const context = tileContext(g);
  if (requested !== undefined) return Math.max(requested, 2 * context + MIN_TILE_CORE);
  return DEFAULT_TILE_SIZE >= 2 * context + 64 ? DEFAULT_TILE_SIZE : 2 * context + 128;
}

function checkOutputDims(got: readonly number[], input: readonly number[], scale: number, border: number): void {
  const want = [1, 3, input[2]! * scale - 2 * border, input[3]! * scale - 2 * border];
  if (got.length !== 4 || got.some((d, i) => d !== want[i])) {
    throw new ModelOutputShapeError(
      `model output is [${got.join(', ')}] for input [${input.join(', ')}], expected [${want.join(', ')}]; ` +
        `tile with the model's own description (scale ${scale}, border ${border}), e.g. from resolveModel`,
    );
  }
}

/** Fills the output's alpha channel from the input's, bicubically upscaled (skipped when fully opaque). */
function attachAlpha(out: RasterImage, img: RasterImage): void {
  const src = img.data;
  let opaque = true;
  for (let i = 3; i < src.length; i += 4) {
    if (src[i] !== 255) {
      opaque = false;
      break;
    }
  }
  const data = out.data;
  const n = out.width * out.height;
  if (opaque) {
    for (let i = 0; i < n; i++) data[i * 4 + 3] = 255;
    return;
  }
  const plane = new Uint8Array(img.width * img.height);
  for (let i = 0; i < plane.length; i++) plane[i] = src[i * 4 + 3]!;
  const alphaIn: RasterImage = { width: img.width, height: img.height, channels: 1, data: plane };
  const alpha = resizeBicubic(alphaIn, out.width, out.height).data;
  for (let i = 0; i < n; i++) data[i * 4 + 3] = alpha[i]!;
}
