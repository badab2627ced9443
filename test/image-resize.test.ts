import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cropImage,
  decodeImage,
  ImageArgumentError,
  joinAlpha,
  makeLowRes,
  resizeBicubic,
  resizeBicubicFloat,
  splitAlpha,
} from '../src-core/image/index.ts';
import type { RasterImage } from '../src-core/image/index.ts';

// Reference images come from scripts/metrics-reference.py: a vectorised numpy (float64) port of
// MATLAB/BasicSR imresize, itself cross-checked against PIL's float-mode BICUBIC (agrees to ~1e-5
// away from the edges; see pil_bicubic_vs_matlab_port in reference.json).
const fixtures = new URL('./fixtures/metrics/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('reference.json', fixtures), 'utf8'));
const load = (name: string) => decodeImage(new Uint8Array(readFileSync(new URL(name, fixtures))));

/** Largest absolute difference and number of differing samples. */
function compare(a: RasterImage, b: RasterImage): { max: number; differing: number } {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}

// Our intermediate is float32 (as BasicSR's torch code), the reference float64: a value within
// ~1e-5 of k + 0.5 may round the other way, so allow ±1 on a tiny fraction of samples.
function expectMatchesReference(ours: RasterImage, ref: RasterImage) {
  const { max, differing } = compare(ours, ref);
  expect(max).toBeLessThanOrEqual(1);
  expect(differing).toBeLessThanOrEqual(Math.ceil(ours.data.length * 0.001));
}

describe('resizeBicubic matches the MATLAB imresize reference', () => {
  for (const c of reference.resize) {
    it(`${c.name}: makeLowRes x${c.scale} mod-crops and downscales like BasicSR`, () => {
      const { hr, lr } = makeLowRes(load(c.hr), c.scale);
      expect([hr.width, hr.height]).toEqual(c.hr_size);
      expectMatchesReference(lr, load(c.lr));
    });

    it(`${c.name}: x${c.scale} upscale of the reference LR`, () => {
      const [w, h] = c.hr_size;
      expectMatchesReference(resizeBicubic(load(c.lr), w, h), load(c.up));
    });
  }

  for (const c of reference.resize_odd) {
    it(`non-integer, anisotropic resize to ${c.size.join('x')}`, () => {
      const [w, h] = c.size;
      expectMatchesReference(resizeBicubic(load(c.source), w, h), load(c.file));
    });
  }
});

describe('resizeBicubic properties', () => {
  const photo = load('chelsea-hr.png');

  it('keeps a constant image constant for any size (weights are normalised)', () => {
    const flat: RasterImage = { width: 37, height: 23, channels: 3, data: new Uint8Array(37 * 23 * 3).fill(173) };
    for (const [w, h] of [[100, 7], [5, 60], [1, 1], [37, 23], [74, 46], [12, 8]]) {
      const out = resizeBicubic(flat, w, h);
      expect(out.data.every((v) => v === 173)).toBe(true);
    }
  });

  it('handles images smaller than the kernel (edge mirroring wraps)', () => {
    const tiny: RasterImage = { width: 2, height: 1, channels: 1, data: Uint8Array.of(0, 255) };
    const up = resizeBicubic(tiny, 8, 3);
    expect([up.width, up.height]).toEqual([8, 3]);
    // Monotone ramp from dark to bright, symmetric about the middle.
    const row = Array.from(up.data.subarray(0, 8));
    for (let i = 0; i < 8; i++) expect(row[i] + row[7 - i]).toBe(255);
    expect(resizeBicubic(tiny, 1, 1).data[0]).toBe(128);
  });

  it('1-channel and 4-channel images resample each channel like the 3-channel path', () => {
    const rgb = resizeBicubic(photo, 61, 43);
    const channel = (img: RasterImage, c: number): RasterImage => ({
      width: img.width,
      height: img.height,
      channels: 1,
      data: img.data.filter((_, i) => i % img.channels === c),
    });
    for (let c = 0; c < 3; c++) expect(resizeBicubic(channel(photo, c), 61, 43)).toEqual(channel(rgb, c));

    const alpha = channel(photo, 1);
    const rgba = resizeBicubic(joinAlpha(photo, alpha), 61, 43);
    const split = splitAlpha(rgba);
    expect(split.rgb).toEqual(rgb);
    expect(split.alpha).toEqual(resizeBicubic(alpha, 61, 43));
  });

  it('same size returns an equal copy', () => {
    const out = resizeBicubic(photo, photo.width, photo.height);
    expect(out).toEqual(photo);
    expect(out.data).not.toBe(photo.data);
  });

  it('antialias: false shrinks with the narrow kernel (sharper, more aliasing)', () => {
    const aa = resizeBicubic(photo, 33, 27);
    const plain = resizeBicubic(photo, 33, 27, { antialias: false });
    expect(compare(aa, plain).max).toBeGreaterThan(10);
  });

  it('float variant (CHW and HWC) agrees with the 8-bit path before rounding', () => {
    const w = photo.width;
    const h = photo.height;
    const hwc = Float32Array.from(photo.data, (v) => v / 255);
    const chw = new Float32Array(w * h * 3);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) chw[c * w * h + i] = photo.data[i * 3 + c] / 255;
    const ref = resizeBicubic(photo, 90, 50);
    const outHwc = resizeBicubicFloat(hwc, { width: w, height: h, channels: 3 }, 90, 50, { layout: 'hwc' });
    const outChw = resizeBicubicFloat(chw, { width: w, height: h, channels: 3 }, 90, 50);
    let worst = 0;
    for (let i = 0; i < 90 * 50; i++) {
      for (let c = 0; c < 3; c++) {
        const want = ref.data[i * 3 + c];
        const a = outHwc[i * 3 + c] * 255;
        const b = outChw[c * 90 * 50 + i] * 255;
        expect(Math.abs(a - b)).toBeLessThan(1e-3);
        // Rounded and clamped, the float result must land on the 8-bit result (±1 at exact .5 ties).
        worst = Math.max(worst, Math.abs(Math.min(255, Math.max(0, Math.round(a))) - want));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('does not clamp in the float variant (bicubic overshoots at hard edges)', () => {
    const edge = Float32Array.of(0, 0, 0, 1, 1, 1);
    const out = resizeBicubicFloat(edge, { width: 6, height: 1, channels: 1 }, 24, 1);
    expect(Math.min(...out)).toBeLessThan(0);
    expect(Math.max(...out)).toBeGreaterThan(1);
  });

  it('rejects bad sizes and scales', () => {
    expect(() => resizeBicubic(photo, 0, 10)).toThrow(ImageArgumentError);
    expect(() => resizeBicubic(photo, 10.5, 10)).toThrow(/positive integers/);
    expect(() => makeLowRes(photo, 2.5)).toThrow(/positive integer/);
    expect(() => makeLowRes(cropImage(photo, 0, 0, 3, 3), 4)).toThrow(/smaller than the scale/);
    expect(() => resizeBicubicFloat(new Float32Array(5), { width: 2, height: 2, channels: 1 }, 4, 4)).toThrow(ImageArgumentError);
  });
});
