// The quantization simulation (src-core/quantize/simulation.ts): one float session that computes the static INT8
// model with any layers kept float, chosen per run by the layer mask. All zeros must be the float model, all ones
// the INT8 model as ORT runs it, on a default model and third-party architectures.
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { cutCalibrationTiles, rasterToTensor } from '../src-core/quantize/calibration-tiles.ts';
import { LAYER_MASK, simulationModel } from '../src-core/quantize/simulation.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { builtInPhotos } from '../src-core/package-root.node.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { layersOf } from '../src-core/validate/accuracy-aware.ts';

const factory = (bytes: Uint8Array, hints = {}) => createRunner('node', bytes, hints);
const tiles = cutCalibrationTiles(readImages(builtInPhotos('calibration')), { count: 8, tileSize: 64, seed: 3 });
const probe = rasterToTensor(cutCalibrationTiles(readImages(['images/chelsea.png']), { count: 1, tileSize: 64, seed: 9 })[0]!);

const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const rmse = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length);

describe('quantization simulation', () => {
  // Measured (RMSE on a 64² photo crop, [0,1] units): simulation vs INT8 / INT8 vs FP32 = 0.29 (slim-x4), 0.11 (RRDB),
  // 0.09 (waifu2x), 0.53 (x4fast: its PReLU-rewritten layers amplify each kernel's rounding ties; the same error size,
  // 1.005×). GPTQ's weights made INT8 closer to FP32, not the simulation to the kernels' rounding: before them 0.21 and
  // 0.44. Before weights fitted ORT's int16 pair sums (weight-rounding.ts) x4fast's was 0.81 and RRDB's 0.20: the
  // simulation never saturates.
  it.each([
    ['models/esrgan-slim-x4.onnx', 0.32],
    ['test/fixtures/corpus/rrdbnet-x4-6b.onnx', 0.15],
    ['test/fixtures/corpus/realesr-x4fast-pytorch.onnx', 0.57],
    ['test/fixtures/corpus/waifu2x-upconv7-x2.onnx', 0.11],
  ])('%s: all zeros = FP32, all ones = the INT8 model', async (path, closeness) => {
    const q = await quantizeStatic(readModelFile(path), { tiles, createRunner: factory });
    const layers = layersOf(q);
    const sim = await factory(encodeModel(simulationModel(q, layers)));
    const run = async (m: number) => (await sim.runOutputs(probe.data, probe.dims, [sim.outputName], { [LAYER_MASK]: { data: new Float32Array(layers.length).fill(m), dims: [layers.length] } }))[sim.outputName]!.data;
    const [zeros, ones] = [await run(0), await run(1)];
    const fp32 = await (await factory(encodeModel(q.floatModel))).run(probe.data, probe.dims);
    const int8 = await (await factory(encodeModel(q.model))).run(probe.data, probe.dims);
    expect(maxAbs(zeros, fp32.data)).toBeLessThan(1e-5);
    const int8Error = rmse(int8.data, fp32.data);
    expect(rmse(ones, int8.data) / int8Error).toBeLessThan(closeness);
    expect(rmse(ones, fp32.data) / int8Error).toBeGreaterThan(0.97);
    expect(rmse(ones, fp32.data) / int8Error).toBeLessThan(1.03);
    // One layer float: between the two.
    const mask = new Float32Array(layers.length).fill(1);
    mask[0] = 0;
    const one = (await sim.runOutputs(probe.data, probe.dims, [sim.outputName], { [LAYER_MASK]: { data: mask, dims: [layers.length] } }))[sim.outputName]!.data;
    expect(rmse(one, fp32.data)).toBeLessThan(rmse(ones, fp32.data) * 1.02);
    expect(rmse(one, fp32.data)).toBeGreaterThan(0);
  }, 120_000);
});

describe('a rewritten PRelu as one layer of the search', () => {
  // SRVGGNetCompact ×2 (PyTorch export): a PRelu after each of its convs, each rewritten into four int8 ops. The
  // search keeps such a PRelu "float" as the PRelu itself, whole and excluded; the simulation computes exactly
  // that with its four ops float.
  it('groups the four ops of each PRelu, and its float mask is the real model with that PRelu whole', async () => {
    const path = 'test/fixtures/corpus/srvgg-x2-interp-size.onnx';
    const q = await quantizeStatic(readModelFile(path), { tiles, createRunner: factory });
    const layers = layersOf(q);
    const prelus = layers.filter((l) => l.opType === 'PRelu');
    expect(prelus.map((l) => l.layer)).toEqual(q.preluRewrites.map((r) => r.prelu));
    expect(prelus.length).toBeGreaterThan(0);
    expect(prelus.every((l) => l.nodes.length === 4)).toBe(true);
    const grouped = new Set(prelus.flatMap((l) => l.nodes));
    expect(layers.filter((l) => l.opType !== 'PRelu').some((l) => l.nodes.some((n) => grouped.has(n)))).toBe(false);

    const index = layers.indexOf(prelus[prelus.length - 1]!);
    const name = layers[index]!.layer;
    const whole = await quantizeStatic(readModelFile(path), {
      tiles, createRunner: factory, wholePrelus: [name], exclude: [name], ranges: q.calibration.ranges,
      ...(q.biasShifts ? { biasShifts: q.biasShifts } : {}), ...(q.equalization ? { equalizationRanges: q.equalization.ranges } : {}),
      ...(q.gptqWeights ? { gptqWeights: q.gptqWeights } : {}),
    });
    expect(whole.wholePrelus).toEqual([name]);
    expect(whole.model.graph!.node!.filter((n) => n.opType === 'PRelu').map((n) => n.name)).toEqual([name]);
    expect(getMetadata(whole.model, 'srq.prelu')).toBe(`whole: ${name}`);

    const sim = await factory(encodeModel(simulationModel(q, layers)));
    const mask = new Float32Array(layers.length).fill(1);
    mask[index] = 0;
    const simulated = (await sim.runOutputs(probe.data, probe.dims, [sim.outputName], { [LAYER_MASK]: { data: mask, dims: [layers.length] } }))[sim.outputName]!.data;
    const real = (await (await factory(encodeModel(whole.model))).run(probe.data, probe.dims)).data;
    const fp32 = (await (await factory(encodeModel(q.floatModel))).run(probe.data, probe.dims)).data;
    // Measured: 0.066 of the INT8 error, 6.3e-5 RMS (the kernels' rounding; 0.057 and 8.7e-5 when the output sum was
    // quantized too, which made the INT8 error 1.6× larger).
    expect(rmse(simulated, real) / rmse(real, fp32)).toBeLessThan(0.08);
  }, 120_000);
});
