// esrgan-thick ('rrdn': 154 convolutions, MultiplyBeta and PixelShuffle<s>x custom layers, 0..1 range),
// every scale, against UpscalerJS on TF.js. TF.js's CPU backend is slow on this model, so one small
// input per scale (~3-6 s each on 2 cores).
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsModelFile, readTfjsModelFiles } from '../src-core/import/tfjs-files.ts';
import { getMetadata } from '../src-core/onnx/model.ts';
import {
  maxAbsDiff, nchwToNhwc, nhwcToNchw, randomValues, runOnnx, tfReady, upscalerjsModel, upscalerjsReference,
} from './fixtures/import/tf-helpers.ts';

const H = 12;
const W = 16;

beforeAll(tfReady);

describe.each([2, 3, 4, 8])('@upscalerjs/esrgan-thick x%i', (scale) => {
  it('matches UpscalerJS on TF.js within 1e-4', async () => {
    const m = upscalerjsModel('@upscalerjs/esrgan-thick', scale);
    const { model, scale: s, name } = await importTfjsModelFile(m.jsonPath);
    expect(s).toBe(scale);
    expect(name).toBe(`esrgan-thick-x${scale}`);
    expect(getMetadata(model, 'srq.source')).toBe(`@upscalerjs/esrgan-thick@${m.version}/models/x${scale}/model.json`);
    const ops = model.graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(154);
    expect(ops.filter((o) => o === 'DepthToSpace')).toHaveLength(1);
    expect(ops.at(-1)).toBe('Clip');

    const nhwc = randomValues(H * W * 3, 2000 + scale);
    const { data, dims } = await runOnnx(model, nhwcToNchw(nhwc, H, W, 3), [1, 3, H, W]);
    expect(dims).toEqual([1, 3, H * scale, W * scale]);
    const { modelJson, weights } = await readTfjsModelFiles(m.jsonPath);
    const ref = await upscalerjsReference(m, modelJson, weights, nhwc, [1, H, W, 3]);
    expect(maxAbsDiff(nchwToNhwc(data, 3, H * scale, W * scale), ref)).toBeLessThanOrEqual(1e-4);
    expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(0.5);
  });
});
