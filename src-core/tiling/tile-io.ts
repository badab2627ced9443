// Moving pixels between 8-bit interleaved images and the model's NCHW float32 [0,1] tensors, one tile at a
// time, so the full output never exists as float32. Runtime-agnostic.
import type { RasterImage } from '../image/raster.ts';
import type { Tile } from './tile-plan.ts';

/**
 * The tile's window as a [1,3,h,w] float32 tensor in [0,1]; grey is replicated, alpha is skipped. Tiles are placed
 * on the image padded by `pad` px on every side (for models that lose a border), the padding repeating edge pixels.
 */
export function readWindow(img: RasterImage, tile: Tile, pad = 0): Float32Array {
  const { width, height, channels, data } = img;
  const w = tile.x.size;
  const h = tile.y.size;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  const grey = channels === 1;
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  const cols = pad > 0 ? Array.from({ length: w }, (_, col) => clamp(tile.x.start + col - pad, width) * channels) : undefined;
  for (let row = 0; row < h; row++) {
    const y = clamp(tile.y.start + row - pad, height);
    const rowStart = y * width * channels;
    let src = rowStart + (tile.x.start - pad) * channels;
    let dst = row * w;
    for (let col = 0; col < w; col++, src += channels, dst++) {
      if (cols) src = rowStart + cols[col]!;
      out[dst] = data[src]! / 255;
      out[dst + plane] = data[grey ? src : src + 1]! / 255;
      out[dst + 2 * plane] = data[grey ? src : src + 2]! / 255;
    }
  }
  return out;
}

/**
 * Writes the tile's core from the model output into `dst` (3 or 4 channels, alpha left alone), clamped to [0,1]
 * and rounded to the nearest 8-bit value. The output of a window of w px is scale·w − 2·border px wide; tiles sit
 * on the image padded by `pad` px, and only the part of the core inside the image is written.
 */
export function writeCore(dst: RasterImage, tile: Tile, output: Float32Array, scale: number, border = 0, pad = 0): void {
  const ow = tile.x.size * scale - 2 * border;
  const plane = ow * (tile.y.size * scale - 2 * border);
  const c = dst.channels;
  const data = dst.data;
  // In output px of the padded image; the image itself starts at `shift`.
  const shift = pad * scale;
  const x0 = Math.max(tile.x.coreStart * scale, shift);
  const x1 = Math.min(tile.x.coreEnd * scale, shift + dst.width);
  const y0 = Math.max(tile.y.coreStart * scale, shift);
  const y1 = Math.min(tile.y.coreEnd * scale, shift + dst.height);
  const ox = tile.x.start * scale + border;
  const oy = tile.y.start * scale + border;
  for (let y = y0; y < y1; y++) {
    let src = (y - oy) * ow + (x0 - ox);
    let d = ((y - shift) * dst.width + (x0 - shift)) * c;
    for (let x = x0; x < x1; x++, src++, d += c) {
      data[d] = toByte(output[src]!);
      data[d + 1] = toByte(output[src + plane]!);
      data[d + 2] = toByte(output[src + 2 * plane]!);
    }
  }
}

function toByte(v: number): number {
  // NaN falls through both comparisons to 0 | 0 = 0.
  const s = v * 255 + 0.5;
  return s >= 255 ? 255 : s > 0 ? s | 0 : 0;
}
