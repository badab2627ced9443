// Moving pixels between 8-bit interleaved images and the model's NCHW float32 [0,1] tensors, one tile at a
// time, so the full output never exists as float32. Runtime-agnostic.
import type { RasterImage } from '../image/raster.ts';
import type { Tile } from './tile-plan.ts';

/** The tile's window as a [1,3,h,w] float32 tensor in [0,1]; grey is replicated, alpha is skipped. */
export function readWindow(img: RasterImage, tile: Tile): Float32Array {
  const { width, channels, data } = img;
  const w = tile.x.size;
  const h = tile.y.size;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  const grey = channels === 1;
  for (let row = 0; row < h; row++) {
    let src = ((tile.y.start + row) * width + tile.x.start) * channels;
    let dst = row * w;
    for (let col = 0; col < w; col++, src += channels, dst++) {
      out[dst] = data[src]! / 255;
      out[dst + plane] = data[grey ? src : src + 1]! / 255;
      out[dst + 2 * plane] = data[grey ? src : src + 2]! / 255;
    }
  }
  return out;
}

/**
 * Writes the tile's core from the model output ([1,3,h*scale,w*scale] of the window) into `dst`
 * (3 or 4 channels, alpha left alone), clamped to [0,1] and rounded to the nearest 8-bit value.
 */
export function writeCore(dst: RasterImage, tile: Tile, output: Float32Array, scale: number): void {
  const ow = tile.x.size * scale;
  const plane = ow * tile.y.size * scale;
  const c = dst.channels;
  const data = dst.data;
  const x0 = tile.x.coreStart * scale;
  const x1 = tile.x.coreEnd * scale;
  const y0 = tile.y.coreStart * scale;
  const y1 = tile.y.coreEnd * scale;
  const ox = tile.x.start * scale;
  const oy = tile.y.start * scale;
  for (let y = y0; y < y1; y++) {
    let src = (y - oy) * ow + (x0 - ox);
    let d = (y * dst.width + x0) * c;
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
