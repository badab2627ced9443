// The tiled engine on the real default models (models/*.onnx) and real photos: the receptive field from
// the graph matches ORT's behaviour, and tiled output equals untiled output within 1 LSB.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, getMetadata } from '../src-core/onnx/model.ts';
import type { ModelProto } from '../src-core/onnx/types.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import { receptiveField } from '../src-core/tiling/receptive-field.ts';
import { planTiles } from '../src-core/tiling/tile-plan.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import { centreCrop, maxAbsDiff } from './fixtures/tiling/images.ts';
import { measureExtent } from './fixtures/tiling/measure.ts';

const cases = [
  { name: 'esrgan-slim-x2', radius: 10, tileSize: 40, photos: ['astronaut.png', 'rocket.jpg'] },
  { name: 'esrgan-slim-x4', radius: 10, tileSize: 40, photos: ['chelsea.png', 'brick.png'] },
  { name: 'esrgan-medium-x4', radius: 18, tileSize: 64, photos: ['coffee.png'] },
];

for (const c of cases) {
  const file = new URL(`../models/${c.name}.onnx`, import.meta.url);
  describe.runIf(existsSync(file))(c.name, () => {
    let model: ModelProto;
    let runner: Runner;
    let scale: number;
    beforeAll(async () => {
      const bytes = new Uint8Array(readFileSync(file));
      model = decodeModel(bytes);
      scale = Number(getMetadata(model, 'srq.scale'));
      runner = await createNodeRunner(bytes, { threads: 2 });
    });
    afterAll(async () => {
      await runner?.release();
    });

    it(`has receptive-field radius ${c.radius}, as measured in ORT`, async () => {
      const rf = receptiveField(model);
      expect(rf.scale).toBe(scale);
      expect(rf.radius).toBe(c.radius);
      const m = await measureExtent(runner, scale, 2 * rf.radius + 9);
      expect(rf.before).toBeGreaterThanOrEqual(m.before - 1e-9);
      expect(rf.after).toBeGreaterThanOrEqual(m.after - 1e-9);
      expect(m.radius).toBe(rf.radius);
    });

    it('tiled output equals untiled output within 1 LSB on real photos', async () => {
      const overlap = c.radius;
      for (const photo of c.photos) {
        const img = centreCrop(photo, 97, 75);
        expect(planTiles(97, 75, c.tileSize, overlap).length).toBeGreaterThanOrEqual(6);
        const ref = await upscaleImage(runner, img, { scale, overlap, tileSize: 97 });
        const tiled = await upscaleImage(runner, img, { scale, overlap, tileSize: c.tileSize });
        expect([tiled.width, tiled.height]).toEqual([97 * scale, 75 * scale]);
        expect(maxAbsDiff(tiled, ref)).toBeLessThanOrEqual(1);
      }
    });
  });
}
