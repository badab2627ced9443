import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cropImage, decodeImage } from '../src-core/image/index.ts';
import type { RasterImage } from '../src-core/image/index.ts';
import { lumaY, MetricInputError, mse, psnr, rgbToY, ssim, ssimPlanes } from '../src-core/metrics/index.ts';

// reference.json holds scikit-image 0.19.3 values for every pair (scripts/metrics-reference.py):
// peak_signal_noise_ratio (RGB, and on rgb2ycbcr Y) and structural_similarity(gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False, data_range=255) on Y and per RGB channel, after a border crop.
const fixtures = new URL('./fixtures/metrics/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('reference.json', fixtures), 'utf8'));
const load = (name: string) => decodeImage(new Uint8Array(readFileSync(new URL(name, fixtures))));

interface Pair {
  name: string;
  reference: string;
  reference_size: [number, number];
  test: string | null;
  crop: number;
  psnr_rgb: number | null; // null = identical images (Infinity)
  psnr_y: number | null;
  ssim_y: number;
  ssim_rgb: number;
}

const PSNR_TOLERANCE_DB = 0.01;
const SSIM_TOLERANCE = 0.001;

describe('PSNR and SSIM agree with scikit-image', () => {
  for (const p of reference.pairs as Pair[]) {
    it(`${p.name} (crop ${p.crop})`, () => {
      const [w, h] = p.reference_size;
      const ref = cropImage(load(p.reference), 0, 0, w, h); // the mod-cropped HR image
      const test = p.test === null ? ref : load(p.test);
      const rgb = psnr(ref, test, { crop: p.crop, channel: 'rgb' });
      const y = psnr(ref, test, { crop: p.crop, channel: 'y' });
      if (p.psnr_rgb === null || p.psnr_y === null) {
        expect(rgb).toBe(Infinity);
        expect(y).toBe(Infinity);
      } else {
        expect(Math.abs(rgb - p.psnr_rgb)).toBeLessThanOrEqual(PSNR_TOLERANCE_DB);
        expect(Math.abs(y - p.psnr_y)).toBeLessThanOrEqual(PSNR_TOLERANCE_DB);
      }
      expect(Math.abs(ssim(ref, test, { crop: p.crop }) - p.ssim_y)).toBeLessThanOrEqual(SSIM_TOLERANCE);
      expect(Math.abs(ssim(ref, test, { crop: p.crop, channel: 'rgb' }) - p.ssim_rgb)).toBeLessThanOrEqual(SSIM_TOLERANCE);
    });
  }

  it('the reference itself confirms skimage equals the BasicSR "valid" SSIM', () => {
    expect(reference.ssim_skimage_vs_basicsr_valid_max_abs_diff).toBeLessThan(1e-9);
  });
});

describe('closed-form cases', () => {
  const base = load('coffee-hr.png');
  // Add 1 to every sample (none is 255 in the chosen window, so nothing clips).
  const window = cropImage(base, 0, 0, 64, 48);
  const bright: RasterImage = { ...window, data: window.data.map((v) => v + 1) };

  it('an offset of one level gives MSE 1 and PSNR 20·log10(255)', () => {
    expect(window.data.every((v) => v < 255)).toBe(true);
    expect(mse(window, bright)).toBe(1);
    expect(psnr(window, bright)).toBeCloseTo(20 * Math.log10(255), 10);
  });

  it('on Y the same offset is 219/255 of a level (BT.601 studio range)', () => {
    const dy = (65.481 + 128.553 + 24.966) / 255;
    expect(psnr(window, bright, { channel: 'y' })).toBeCloseTo(10 * Math.log10(255 ** 2 / dy ** 2), 9);
  });

  it('Y of black, white and pure primaries', () => {
    expect(lumaY(0, 0, 0)).toBe(16);
    expect(lumaY(255, 255, 255)).toBeCloseTo(235, 12);
    expect(lumaY(255, 0, 0)).toBeCloseTo(16 + 65.481, 12);
    const y = rgbToY({ width: 2, height: 1, channels: 3, data: Uint8Array.of(0, 255, 0, 0, 0, 255) });
    expect(Array.from(y)).toEqual([16 + 128.553, 16 + 24.966].map((v) => expect.closeTo(v, 12)));
  });

  it('SSIM of an image with itself is 1; with a constant offset slightly below 1', () => {
    expect(ssim(window, window)).toBe(1);
    const s = ssim(window, bright);
    expect(s).toBeLessThan(1);
    expect(s).toBeGreaterThan(0.999);
  });

  it('SSIM of two flat planes reduces to the luminance term', () => {
    // σ = 0, so SSIM = (2·μx·μy + C1) / (μx² + μy² + C1).
    const n = 20;
    const a = new Float64Array(n * n).fill(100);
    const b = new Float64Array(n * n).fill(120);
    const c1 = (0.01 * 255) ** 2;
    expect(ssimPlanes(a, b, n, n)).toBeCloseTo((2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1), 12);
  });

  it('the border crop excludes exactly `crop` pixels per side', () => {
    // Corrupt only a 3-pixel frame: invisible with crop 3, visible with crop 2.
    const framed: RasterImage = { ...window, data: window.data.slice() };
    for (let y = 0; y < window.height; y++) {
      for (let x = 0; x < window.width; x++) {
        const inFrame = x < 3 || y < 3 || x >= window.width - 3 || y >= window.height - 3;
        if (inFrame) framed.data.fill(0, (y * window.width + x) * 3, (y * window.width + x) * 3 + 3);
      }
    }
    expect(psnr(window, framed, { crop: 3 })).toBe(Infinity);
    expect(ssim(window, framed, { crop: 3 })).toBe(1);
    expect(psnr(window, framed, { crop: 2 })).toBeLessThan(30);
  });
});

describe('input validation', () => {
  const a = cropImage(load('brick-hr.png'), 0, 0, 32, 32);

  it('rejects images of different sizes', () => {
    expect(() => psnr(a, cropImage(a, 0, 0, 31, 32))).toThrow(MetricInputError);
    expect(() => ssim(a, cropImage(a, 0, 0, 31, 32))).toThrow(/differ in size/);
  });

  it('rejects non-RGB images, naming the fix', () => {
    const grey: RasterImage = { width: 32, height: 32, channels: 1, data: new Uint8Array(32 * 32) };
    expect(() => psnr(grey, grey)).toThrow(/toRgb/);
  });

  it('rejects a crop that leaves too little for the 11x11 SSIM window', () => {
    expect(() => ssim(a, a, { crop: 11 })).toThrow(/leaves 10x10/);
    expect(ssim(a, a, { crop: 10 })).toBe(1);
    expect(() => psnr(a, a, { crop: 16 })).toThrow(MetricInputError);
    expect(() => psnr(a, a, { crop: -1 })).toThrow(/non-negative integer/);
  });
});

describe('scale', () => {
  it('computes SSIM and PSNR on a 2048x2048 pair (result checked, speed measured separately)', () => {
    // 4x4 tiling of a 512x512 photo, compared with a copy whose every channel is shifted by its
    // position modulo 7: SSIM must be high but below 1, and both metrics finite.
    const tile = decodeImage(new Uint8Array(readFileSync(new URL('../images/astronaut.png', import.meta.url))));
    const size = 2048;
    const big: RasterImage = { width: size, height: size, channels: 3, data: new Uint8Array(size * size * 3) };
    for (let y = 0; y < size; y++) {
      const src = (y % 512) * 512 * 3;
      for (let k = 0; k < 4; k++) big.data.set(tile.data.subarray(src, src + 512 * 3), (y * size + k * 512) * 3);
    }
    const other: RasterImage = { ...big, data: big.data.map((v, i) => Math.min(255, v + (i % 7))) };
    const s = ssim(big, other, { crop: 4 });
    expect(s).toBeGreaterThan(0.9);
    expect(s).toBeLessThan(1);
    expect(Number.isFinite(psnr(big, other, { crop: 4, channel: 'y' }))).toBe(true);
  });
});
