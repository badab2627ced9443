// An image output's int8 range: u8 over exactly [0, 1] (scale 1/255, zero point 0), so the INT8 model's output
// rounds where its 8-bit pixels are rounded and the output's own quantization step costs nothing. Small graphs of
// srq's graph API, quantized with tiles of real photos and run on onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { DataType } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../src-core/onnx/types.ts';
import { cutCalibrationTiles, rasterToTensor } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { Weights } from './helpers/weights.ts';

const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const calibration = cutCalibrationTiles(photos, { count: 16, tileSize: 16, seed: 3 });
const probe = rasterToTensor(cutCalibrationTiles(photos, { count: 1, tileSize: 16, seed: 11 })[0]!);
const runner = (b: Uint8Array) => createNodeRunner(b, { threads: 1 });

/** A 1×1 conv 3 → 12 whose output channel 4c + k is `gain` · input channel c (a sub-pixel conv's layout), then ×2 DepthToSpace. */
function subPixel(gain: number, tail: (w: Weights, y: string) => NodeProto[] = () => []): ModelProto {
  const w = new Weights();
  const weights = Array.from({ length: 12 * 3 }, (_, i) => (Math.floor(Math.floor(i / 3) / 4) === i % 3 ? gain : 0));
  const nodes = [
    makeNode('Conv', ['input', w.constant('w', [12, 3, 1, 1], weights), w.constant('b', [12], Array(12).fill(0))], ['conv'], {}, 'conv'),
    makeNode('DepthToSpace', ['conv'], ['d2s'], { blocksize: attr.int(2) }),
    ...tail(w, 'd2s'),
  ];
  const out = nodes.at(-1)!.output![0]!;
  return makeModel(makeGraph({
    name: 'output-range', nodes, inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, null, null])],
    outputs: [makeValueInfo(out, DataType.FLOAT, [1, 3, null, null])], initializers: w.list,
  }));
}

async function run(m: ModelProto): Promise<Float32Array> {
  const r = await runner(encodeModel(m));
  try {
    return (await r.run(probe.data, probe.dims)).data;
  } finally {
    await r.release();
  }
}

const pixel = (v: number) => Math.min(255, Math.max(0, Math.round(v * 255)));

describe('an image output\'s int8 range', () => {
  it('is exactly [0, 1] before the output\'s DepthToSpace: the INT8 pixels are the FP32 pixels', async () => {
    const m = subPixel(1);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, equalization: false, gptq: false, biasCorrection: false });
    expect(result.params.get('conv')).toMatchObject({ scale: Math.fround(1 / 255), zeroPoint: 0 });
    const [float, int8] = [await run(m), await run(result.model)];
    const differ = float.filter((v, i) => pixel(v) !== pixel(int8[i]!)).length;
    expect(differ).toBe(0);
  });

  it('is [0, 255] before a ×1/255 (srq\'s rewrite of a [0, 255] model): the same pixels', async () => {
    const m = subPixel(255, (w, y) => [makeNode('Mul', [y, w.constant('inv255', [], [1 / 255])], ['out'])]);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, equalization: false, gptq: false, biasCorrection: false });
    // 1 up to float32's rounding of 1/255 (the range's top is 1/k).
    expect(result.params.get('conv')!.scale).toBeCloseTo(1, 6);
    expect(result.params.get('conv')!.zeroPoint).toBe(0);
    const [float, int8] = [await run(m), await run(result.model)];
    expect(float.filter((v, i) => pixel(v) !== pixel(int8[i]!)).length).toBe(0);
  });

  it('stays calibrated where the output does not look like an image (values up to 3)', async () => {
    const result = await quantizeStatic(subPixel(3), { tiles: calibration, createRunner: runner, equalization: false, gptq: false, biasCorrection: false });
    expect(result.params.get('conv')!.scale).toBeGreaterThan(2 / 255);
  });
});
