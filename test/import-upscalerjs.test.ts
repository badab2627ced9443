// The UpscalerJS rdn packages (slim, medium, default-model) imported and run through onnxruntime-node must
// match what UpscalerJS computes with TF.js on the same [0,1] image, for every scale.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { importTfjsModelFile, readTfjsModelFiles } from '../src-core/import/tfjs-files.ts';
import { upscalerjsPackages } from '../src-core/import/upscalerjs.ts';
import { getMetadata } from '../src-core/onnx/model.ts';
import {
  maxAbsDiff, nchwToNhwc, nhwcToNchw, randomValues, runOnnx, tfReady, upscalerjsModel, upscalerjsReference,
} from './fixtures/import/tf-helpers.ts';

// Non-square on purpose: a swapped h/w or a wrong transpose cannot pass.
const H = 20;
const W = 24;

const cases: [string, number][] = [
  ...(['@upscalerjs/esrgan-slim', '@upscalerjs/esrgan-medium'] as const).flatMap((p) => [2, 3, 4, 8].map((s): [string, number] => [p, s])),
  ['@upscalerjs/default-model', 2],
];

beforeAll(tfReady);

describe.each(cases)('%s x%i', (pkg, scale) => {
  it('matches UpscalerJS on TF.js within 1e-4', async () => {
    const m = upscalerjsModel(pkg, scale);
    const { model, scale: s, name } = await importTfjsModelFile(m.jsonPath);
    expect(s).toBe(scale);
    expect(name).toBe(`${pkg.replace('@upscalerjs/', '')}-x${scale}`);
    expect(getMetadata(model, 'srq.scale')).toBe(String(scale));
    expect(getMetadata(model, 'srq.source')).toBe(
      `${pkg}@${m.version}/${pkg.endsWith('default-model') ? 'models/model.json' : `models/x${scale}/model.json`}`,
    );

    // Layer for layer: UpSampling2D stays a Resize (src-core/optimize can rewrite it later, exactly).
    expect(model.graph!.node!.map((n) => n.opType).slice(-3)).toEqual(['Resize', 'Conv', 'Clip']);

    const nhwc = randomValues(H * W * 3, 1000 + scale);
    const { data, dims } = await runOnnx(model, nhwcToNchw(nhwc, H, W, 3), [1, 3, H, W]);
    expect(dims).toEqual([1, 3, H * scale, W * scale]);

    const { modelJson, weights } = await readTfjsModelFiles(m.jsonPath);
    const ref = await upscalerjsReference(m, modelJson, weights, nhwc, [1, H, W, 3]);
    const diff = maxAbsDiff(nchwToNhwc(data, 3, H * scale, W * scale), ref);
    expect(diff).toBeLessThanOrEqual(1e-4);
    // Not trivially passing: the output is an image, not a constant.
    const min = Math.min(...ref);
    const max = Math.max(...ref);
    expect(max - min).toBeGreaterThan(0.5);
  });
});

describe('pixel ranges', () => {
  it('srq\'s table agrees with each package\'s own model definition', () => {
    for (const [pkg, { pixelRange }] of Object.entries(upscalerjsPackages)) {
      const m = upscalerjsModel(pkg, 2);
      expect(m.definition.inputRange, pkg).toEqual([0, pixelRange]);
      expect(m.definition.outputRange, pkg).toEqual([0, pixelRange]);
    }
  });

  it('default-model is esrgan-slim x2 (same topology and weights)', () => {
    const a = upscalerjsModel('@upscalerjs/default-model', 2);
    const b = upscalerjsModel('@upscalerjs/esrgan-slim', 2);
    expect(readFileSync(a.jsonPath, 'utf8')).toBe(readFileSync(b.jsonPath, 'utf8'));
  });
});
