// The tiled engine on a synthetic SR net (real ORT, real photos): tiled == untiled, odd shapes, alpha,
// grey, progress, deadline and abort. test/tiling-models.test.ts repeats the key checks on the default models.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { splitAlpha, toRgb, type RasterImage } from '../src-core/image/raster.ts';
import { resizeBicubic } from '../src-core/image/resize.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner } from '../src-core/runtime/ort-web.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import { DeadlineError, ModelOutputShapeError } from '../src-core/tiling/errors.ts';
import { receptiveFieldRadius } from '../src-core/tiling/receptive-field.ts';
import { planAxis, planTiles, TilePlanError } from '../src-core/tiling/tile-plan.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import { centreCrop, loadImage, maxAbsDiff } from './fixtures/tiling/images.ts';
import { buildSyntheticSr } from './fixtures/tiling/synthetic-sr.ts';
import { encodeModel } from '../src-core/onnx/model.ts';

describe('tile plan', () => {
  it('covers every axis exactly once, keeps overlap px of context, and keeps windows inside and equal', () => {
    const problems: string[] = [];
    const check = (ok: boolean, what: string) => ok || problems.push(what);
    for (const tile of [8, 16, 33, 128]) {
      for (const overlap of [0, 1, 3, Math.floor((tile - 1) / 2)]) {
        for (let length = 1; length <= 300; length++) {
          const spans = planAxis(length, tile, overlap);
          const at = `length ${length} tile ${tile} overlap ${overlap}`;
          let next = 0;
          for (const s of spans) {
            check(s.size === Math.min(length, tile), `${at}: window size ${s.size}`);
            check(s.start >= 0 && s.start + s.size <= length, `${at}: window outside the image`);
            check(s.coreStart === next && s.coreEnd > s.coreStart, `${at}: cores do not tile the axis`);
            check(s.coreStart === 0 || s.coreStart - s.start >= overlap, `${at}: too little context before`);
            check(s.coreEnd === length || s.start + s.size - s.coreEnd >= overlap, `${at}: too little context after`);
            next = s.coreEnd;
          }
          check(next === length, `${at}: cores end at ${next}`);
          // As few windows as the overlap allows.
          const minimal = length <= tile ? 1 : Math.max(2, Math.ceil((length - 2 * overlap) / (tile - 2 * overlap)));
          check(spans.length === minimal, `${at}: ${spans.length} windows, ${minimal} would do`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('rejects a tile too small for its overlap, naming the fix', () => {
    expect(() => planTiles(100, 100, 20, 10)).toThrow(TilePlanError);
    expect(() => planTiles(100, 100, 20, 10)).toThrow(/use tileSize > 20/);
    expect(() => planTiles(100, 100, 64, -1)).toThrow(TilePlanError);
  });
});

describe('upscaleImage on a synthetic x2 net', () => {
  const model = buildSyntheticSr({ scale: 2, convsBefore: 3, convsAfter: 2 });
  const overlap = receptiveFieldRadius(model); // 5
  let runner: Runner;
  beforeAll(async () => {
    runner = await createNodeRunner(encodeModel(model), { threads: 2 });
  });
  afterAll(async () => {
    await runner.release();
  });
  const untiled = (img: RasterImage) =>
    upscaleImage(runner, img, { scale: 2, overlap, tileSize: Math.max(img.width, img.height) });

  it('tiled output equals untiled output within 1 LSB on real photos', async () => {
    expect(overlap).toBe(5);
    for (const name of ['astronaut.png', 'rocket.jpg', 'brick.png']) {
      const img = centreCrop(name, 101, 77);
      const ref = await untiled(img);
      const tiled = await upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32 });
      expect(planTiles(101, 77, 32, overlap).length).toBe(20);
      expect(tiled.width).toBe(202);
      expect(tiled.height).toBe(154);
      expect(tiled.channels).toBe(3);
      expect(maxAbsDiff(tiled, ref)).toBeLessThanOrEqual(1);
      // The model really changed the image: the output is not a plain nearest upscale of the input.
      let changed = 0;
      for (let y = 0; y < 154; y++) for (let x = 0; x < 202; x++) {
        for (let c = 0; c < 3; c++) {
          if (Math.abs(ref.data[(y * 202 + x) * 3 + c]! - img.data[((y >> 1) * 101 + (x >> 1)) * 3 + c]!) > 2) changed++;
        }
      }
      expect(changed).toBeGreaterThan(1000);
    }
  });

  it('shows seams when the overlap is smaller than the receptive field (the check has teeth)', async () => {
    // 84 = 2*3 + 3*26: three 32-px windows with exactly 3 px of context, 2 less than the radius.
    const img = centreCrop('gravel.png', 84, 84);
    const ref = await untiled(img);
    const tiled = await upscaleImage(runner, img, { scale: 2, overlap: 3, tileSize: 32 });
    expect(planAxis(84, 32, 3).map((s) => [s.start, s.coreStart])).toEqual([[0, 0], [26, 29], [52, 55]]);
    expect(maxAbsDiff(tiled, ref)).toBeGreaterThan(5);
  });

  it('handles odd, tiny and very thin images', async () => {
    const photo = loadImage('coffee.png');
    for (const [w, h] of [[1, 1], [2, 3], [7, 5], [31, 33], [2000, 3], [3, 300], [40, 1]] as const) {
      const img = centreCrop('coffee.png', Math.min(w, photo.width), h);
      const full = w > photo.width ? { ...img, width: w, data: stretch(img, w) } : img;
      const tiled = await upscaleImage(runner, full, { scale: 2, overlap, tileSize: 16 });
      expect([tiled.width, tiled.height]).toEqual([2 * w, 2 * h]);
      expect(maxAbsDiff(tiled, await untiled(full))).toBeLessThanOrEqual(1);
    }
  });

  it('grey input runs as RGB and returns RGB', async () => {
    const rgb = centreCrop('chelsea.png', 50, 40);
    const grey: RasterImage = { width: 50, height: 40, channels: 1, data: rgb.data.filter((_, i) => i % 3 === 1) };
    const out = await upscaleImage(runner, grey, { scale: 2, overlap, tileSize: 24 });
    expect(out.channels).toBe(3);
    expect(maxAbsDiff(out, await upscaleImage(runner, toRgb(grey), { scale: 2, overlap, tileSize: 24 }))).toBe(0);
  });

  it('keeps alpha: RGB as without alpha, alpha bicubically upscaled; opaque stays 255', async () => {
    const rgb = centreCrop('rocket.jpg', 50, 40);
    const rgba = new Uint8Array(50 * 40 * 4);
    for (let i = 0; i < 50 * 40; i++) {
      rgba.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      const x = i % 50;
      const y = Math.floor(i / 50);
      rgba[i * 4 + 3] = x < 10 ? 0 : Math.min(255, (x * 7 + y * 3) % 256); // transparent strip + ramps
    }
    const img: RasterImage = { width: 50, height: 40, channels: 4, data: rgba };
    const out = await upscaleImage(runner, img, { scale: 2, overlap, tileSize: 24 });
    expect(out.channels).toBe(4);
    const parts = splitAlpha(out);
    expect(maxAbsDiff(parts.rgb, await upscaleImage(runner, rgb, { scale: 2, overlap, tileSize: 24 }))).toBe(0);
    expect(maxAbsDiff(parts.alpha!, resizeBicubic(splitAlpha(img).alpha!, 100, 80))).toBe(0);
    expect(parts.alpha!.data[0]).toBe(0);

    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    const opaque = await upscaleImage(runner, img, { scale: 2, overlap, tileSize: 24 });
    expect(splitAlpha(opaque).alpha!.data.every((a) => a === 255)).toBe(true);
  });

  it('reports progress once per tile', async () => {
    const img = centreCrop('grass.png', 101, 77);
    const calls: [number, number][] = [];
    await upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32, onProgress: (d, t) => calls.push([d, t]) });
    expect(calls).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, 20]));
  });

  describe('deadline and abort, checked between tiles', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const img = centreCrop('grass.png', 101, 77);

    it('a deadline already passed runs no tile', async () => {
      let tiles = 0;
      const p = upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32, deadline: Date.now() - 1, onProgress: () => tiles++ });
      await expect(p).rejects.toBeInstanceOf(DeadlineError);
      await expect(p).rejects.toMatchObject({ tilesDone: 0, tilesTotal: 20 });
      expect(tiles).toBe(0);
    });

    it('a deadline that passes during tile 2 stops before tile 3', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const deadline = Date.now() + 60_000;
      let tiles = 0;
      const onProgress = (done: number) => {
        tiles = done;
        if (done === 2) vi.setSystemTime(deadline + 1); // "time passes" while tile 2 runs
      };
      const p = upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32, deadline, onProgress });
      await expect(p).rejects.toMatchObject({ name: 'DeadlineError', tilesDone: 2, tilesTotal: 20 });
      expect(tiles).toBe(2);
    });

    it('an abort signal stops before the next tile with the signal reason', async () => {
      const controller = new AbortController();
      let tiles = 0;
      const reason = new Error('client went away');
      const onProgress = (done: number) => {
        tiles = done;
        if (done === 1) controller.abort(reason);
      };
      await expect(
        upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32, signal: controller.signal, onProgress }),
      ).rejects.toBe(reason);
      expect(tiles).toBe(1);
    });
  });

  it('names a scale that does not match the model', async () => {
    const img = centreCrop('grass.png', 20, 20);
    await expect(upscaleImage(runner, img, { scale: 4, overlap })).rejects.toBeInstanceOf(ModelOutputShapeError);
    await expect(upscaleImage(runner, img, { scale: 4, overlap })).rejects.toThrow(/expected \[1, 3, 80, 80\].*scale 4, border 0/);
  });

  it('ORT-web gives the same tiled result as ORT-node', async () => {
    const web = await createWebRunner(encodeModel(model));
    try {
      const img = centreCrop('chelsea.png', 70, 45);
      const a = await upscaleImage(runner, img, { scale: 2, overlap, tileSize: 32 });
      const b = await upscaleImage(web, img, { scale: 2, overlap, tileSize: 32 });
      expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1);
    } finally {
      await web.release();
    }
  });
});

/** Repeats columns so a crop narrower than `w` becomes w wide (for thin test images wider than a photo). */
function stretch(img: RasterImage, w: number): Uint8Array {
  const out = new Uint8Array(w * img.height * img.channels);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < w; x++) {
    const sx = x % img.width;
    for (let c = 0; c < img.channels; c++) out[(y * w + x) * img.channels + c] = img.data[(y * img.width + sx) * img.channels + c]!;
  }
  return out;
}
