// Calibration data: square tiles cut from real images at seeded random positions, so a run repeats exactly.
import type { RasterImage } from '../image/raster.ts';
import { cropImage } from '../image/raster.ts';
import { readWindow } from '../tiling/tile-io.ts';
import { planAxis } from '../tiling/tile-plan.ts';

export class CalibrationError extends Error {
  override name = 'CalibrationError';
}

export interface CalibrationTile { data: Float32Array; dims: [1, 3, number, number] }

/** Mulberry32: small, fast, good enough to pick crop positions repeatably. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** NCHW float32 in [0,1] from a raster: the tiling engine's window reader over the whole image. */
export function rasterToTensor(img: RasterImage): CalibrationTile {
  const { width: w, height: h } = img;
  const whole = { x: planAxis(w, w, 0)[0]!, y: planAxis(h, h, 0)[0]! };
  return { data: readWindow(img, whole), dims: [1, 3, h, w] };
}

/**
 * `count` tiles of `tileSize`² spread over the images in turn (image i gets tiles i, i+n, ...), each at a seeded
 * random position. Crops are kept as small rasters; tensors are made one at a time by the caller.
 */
export function cutCalibrationTiles(
  images: readonly { name: string; image: RasterImage }[],
  opts: { count: number; tileSize: number; seed?: number },
): RasterImage[] {
  if (images.length === 0) throw new CalibrationError('no calibration images; pass --calib <dir|files> with PNG or JPEG photos');
  const usable = images.filter(({ image }) => image.width >= opts.tileSize && image.height >= opts.tileSize);
  if (usable.length === 0) {
    const sizes = images.map(({ name, image }) => `${name} ${image.width}×${image.height}`).join(', ');
    throw new CalibrationError(`every calibration image is smaller than one ${opts.tileSize}² tile (${sizes}); use larger images or a smaller --tile`);
  }
  const random = seededRandom(opts.seed ?? 1);
  const tiles: RasterImage[] = [];
  for (let i = 0; i < opts.count; i++) {
    const { image } = usable[i % usable.length]!;
    const x = Math.floor(random() * (image.width - opts.tileSize + 1));
    const y = Math.floor(random() * (image.height - opts.tileSize + 1));
    tiles.push(cropImage(image, x, y, opts.tileSize, opts.tileSize));
  }
  return tiles;
}
