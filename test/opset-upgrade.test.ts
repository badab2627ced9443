// Opset upgrade to 13 for older exports (opset 7–12): one SR-shaped graph written with each opset's own ops
// (Upsample with a scales attribute or input, Resize-10, Resize-11 with roi, Clip/Pad/Dropout/Split/Squeeze/
// Unsqueeze/ReduceSum attributes, coerced-2-D Softmax, BatchNormalization's spatial), upgraded, and compared with
// the original in ORT on real photo tiles: the outputs must be bit-identical. Then static and dynamic INT8 of the
// old model (which upgrade it first) must load and stay close to the float model.
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { Graph } from '../src-core/onnx/graph.ts';
import { cloneModel, encodeModel, getMetadata, opsetVersion } from '../src-core/onnx/model.ts';
import { describeUpgrade, OpsetUpgradeError, upgradeOpset } from '../src-core/onnx/opset-upgrade.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from '../src-core/onnx/types.ts';
import { cutCalibrationTiles, rasterToTensor, seededRandom } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeDynamic } from '../src-core/quantize/dynamic.ts';
import { convertToFp16 } from '../src-core/quantize/fp16.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { checkModelLoads } from '../src-core/runtime/load-check.node.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { sqnr } from './helpers/signal.ts';

const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const calibration = cutCalibrationTiles(photos, { count: 16, tileSize: 24, seed: 3 });
const probes = cutCalibrationTiles(photos, { count: 3, tileSize: 24, seed: 11 }).map(rasterToTensor);
const runner = (bytes: Uint8Array) => createNodeRunner(bytes, { threads: 1 });

const f32 = (name: string, dims: number[], values: number[]) => makeTensor(name, DataType.FLOAT, dims, Float32Array.from(values));
const i64 = (name: string, dims: number[], values: number[]) => makeTensor(name, DataType.INT64, dims, BigInt64Array.from(values.map(BigInt)));

class Weights {
  readonly list: TensorProto[] = [];
  private readonly rand = seededRandom(9);
  add(name: string, dims: number[], scale = 0.3, offset = 0): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.list.push(f32(name, dims, Array.from({ length: n }, () => offset + (this.rand() * 2 - 1) * scale)));
    return name;
  }
  tensor(t: TensorProto): string {
    this.list.push(t);
    return t.name!;
  }
}

const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number, pad = 1) =>
  makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, 3, 3]), w.add(`${name}_b`, [cout], 0.1)], [y], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([pad, pad, pad, pad]) }, name);

/** ×f upsampling as each opset's exporters wrote it. */
function upsample(w: Weights, opset: number, name: string, x: string, y: string, mode: 'nearest' | 'linear', f: number): NodeProto[] {
  const scales = [1, 1, f, f];
  if (opset < 9) return [makeNode('Upsample', [x], [y], { mode: attr.string(mode), scales: attr.floats(scales) }, name)];
  const s = w.tensor(f32(`${name}_scales`, [4], scales));
  if (opset === 9) return [makeNode('Upsample', [x, s], [y], { mode: attr.string(mode) }, name)];
  if (opset === 10) return [makeNode('Resize', [x, s], [y], { mode: attr.string(mode) }, name)];
  // torch.onnx at opset 11/12: nearest → asymmetric/floor, bilinear → pytorch_half_pixel; roi an empty tensor.
  const roi = w.tensor(f32(`${name}_roi`, [0], []));
  const coords: Record<string, AttributeProto> = mode === 'nearest'
    ? { coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') }
    : { coordinate_transformation_mode: attr.string('pytorch_half_pixel') };
  return [makeNode('Resize', [x, roi, s], [y], { mode: attr.string(mode), ...coords }, name)];
}

/** An opset-7…12 ×6 SR net: conv, BN, relu, up, conv, clip, pad, conv, dropout, softmax gate, up, split/concat, (un)squeeze, channel sum, conv. */
function legacyModel(opset: number): ModelProto {
  const w = new Weights();
  const withAttrs = opset < 11;
  const nodes: NodeProto[] = [
    conv(w, 'conv1', 'input', 'c1', 3, 8),
    makeNode('BatchNormalization', ['c1', w.add('bn_s', [8], 0.2, 1), w.add('bn_b', [8], 0.1), w.add('bn_m', [8], 0.1), w.add('bn_v', [8], 0.2, 1)], ['bn'], opset < 9 ? { spatial: attr.int(1) } : {}, 'bn'),
    makeNode('Relu', ['bn'], ['r1'], {}, 'relu1'),
    // ×3: nearest rounding modes differ only at odd factors (floor vs round_prefer_floor).
    ...upsample(w, opset, 'up1', 'r1', 'u1', 'nearest', 3),
    conv(w, 'conv2', 'u1', 'c2', 8, 8),
    withAttrs
      ? makeNode('Clip', ['c2'], ['clipped'], { min: attr.float(-0.5), max: attr.float(0.5) }, 'clip')
      : makeNode('Clip', ['c2', w.tensor(f32('lo', [], [-0.5])), w.tensor(f32('hi', [], [0.5]))], ['clipped'], {}, 'clip'),
    withAttrs
      ? makeNode('Pad', ['clipped'], ['padded'], { mode: attr.string('reflect'), pads: attr.ints([0, 0, 1, 1, 0, 0, 1, 1]) }, 'pad')
      : makeNode('Pad', ['clipped', w.tensor(i64('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]))], ['padded'], { mode: attr.string('reflect') }, 'pad'),
    conv(w, 'conv3', 'padded', 'c3', 8, 8, 0),
    makeNode('Dropout', ['c3'], ['dropped', ...(opset < 12 ? ['mask'] : [])], opset < 12 ? { ratio: attr.float(0.3) } : {}, 'dropout'),
    makeNode('Softmax', ['dropped'], ['weights'], { axis: attr.int(1) }, 'softmax'),
    makeNode('Mul', ['dropped', 'weights'], ['gated'], {}, 'gate'),
    makeNode('Add', ['dropped', 'gated'], ['g'], {}, 'residual'),
    ...upsample(w, opset, 'up2', 'g', 'u2', 'linear', 2),
    makeNode('Split', ['u2'], ['half_a', 'half_b'], { axis: attr.int(1), split: attr.ints([3, 5]) }, 'split'),
    makeNode('Concat', ['half_b', 'half_a'], ['swapped'], { axis: attr.int(1) }, 'concat'),
    makeNode('Unsqueeze', ['swapped'], ['u5d'], { axes: attr.ints([0]) }, 'unsqueeze'),
    makeNode('Squeeze', ['u5d'], ['s4d'], { axes: attr.ints([0]) }, 'squeeze'),
    makeNode('ReduceSum', ['s4d'], ['channel_sum'], { axes: attr.ints([1]), keepdims: attr.int(1) }, 'reduce_sum'),
    makeNode('Mul', ['channel_sum', w.tensor(f32('tenth', [], [0.1]))], ['sum_scaled'], {}, 'scale_sum'),
    makeNode('Add', ['s4d', 'sum_scaled'], ['mixed'], {}, 'mix'),
    conv(w, 'conv4', 'mixed', 'y', 8, 3),
  ];
  return makeModel(makeGraph({
    name: `legacy_opset${opset}`,
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null])],
    initializers: w.list,
  }), { opset });
}

const common = {
  'Softmax axis → Flatten/Reshape': 1,
  'Split split → input': 1,
  'Unsqueeze axes → input': 1,
  'Squeeze axes → input': 1,
  'ReduceSum axes → input': 1,
};
const expectedChanges: Record<number, Record<string, number>> = {
  7: { 'BatchNormalization spatial dropped': 1, 'Upsample → Resize': 2, 'Clip min/max → inputs': 1, 'Pad pads → input': 1, 'Dropout → Identity': 1, ...common },
  9: { 'Upsample → Resize': 2, 'Clip min/max → inputs': 1, 'Pad pads → input': 1, 'Dropout → Identity': 1, ...common },
  10: { 'Resize-10 → Resize-13': 2, 'Clip min/max → inputs': 1, 'Pad pads → input': 1, 'Dropout → Identity': 1, ...common },
  11: { 'Dropout → Identity': 1, ...common },
  12: common,
};

async function outputs(model: ModelProto, scale = 6): Promise<Float32Array[]> {
  const r = await runner(encodeModel(model));
  const out: Float32Array[] = [];
  for (const p of probes) {
    const o = await r.run(p.data, p.dims);
    expect(o.dims).toEqual([1, 3, p.dims[2] * scale, p.dims[3] * scale]);
    out.push(o.data);
  }
  await r.release();
  return out;
}

function differing(a: Float32Array, b: Float32Array): number {
  let n = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

/**
 * torch.onnx at opset 9 for F.interpolate(size=(3h, 3w), mode='nearest'): the scales are computed at run time
 * (output size ÷ input size, from Shape), then Upsample.
 */
function sizeInterpolateOpset9(): ModelProto {
  const w = new Weights();
  const constant = (out: string, t: TensorProto) => makeNode('Constant', [], [out], { value: attr.tensor(t) }, `${out}_Constant`);
  const nodes: NodeProto[] = [
    conv(w, 'conv1', 'input', 'features', 3, 8),
    makeNode('Shape', ['features'], ['shape'], {}, 'shape'),
    constant('hw_start', i64('', [1], [2])),
    constant('hw_end', i64('', [1], [4])),
    makeNode('Slice', ['shape', 'hw_start', 'hw_end'], ['hw'], {}, 'slice_hw'),
    makeNode('Cast', ['hw'], ['hw_float'], { to: attr.int(DataType.FLOAT) }, 'cast_hw'),
    constant('three', f32('', [], [3])),
    makeNode('Mul', ['hw_float', 'three'], ['size_float'], {}, 'target_size'),
    makeNode('Floor', ['size_float'], ['size_floor'], {}, 'floor'),
    makeNode('Div', ['size_floor', 'hw_float'], ['hw_scales'], {}, 'scales_hw'),
    constant('ones', f32('', [2], [1, 1])),
    makeNode('Concat', ['ones', 'hw_scales'], ['scales'], { axis: attr.int(0) }, 'scales'),
    makeNode('Upsample', ['features', 'scales'], ['up'], { mode: attr.string('nearest') }, 'upsample'),
    conv(w, 'conv2', 'up', 'y', 8, 3),
  ];
  // The opset-9 form of slice: starts/ends attributes.
  const slice = nodes.find((n) => n.name === 'slice_hw')!;
  slice.input = ['shape'];
  slice.attribute = [{ ...attr.ints([2]), name: 'starts' }, { ...attr.ints([4]), name: 'ends' }];
  return makeModel(makeGraph({
    name: 'size_interpolate',
    nodes: nodes.filter((n) => n.output![0] !== 'hw_start' && n.output![0] !== 'hw_end'),
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null])],
    initializers: w.list,
  }), { opset: 9 });
}

describe('opset upgrade to 13', () => {
  for (const opset of [7, 9, 10, 11, 12]) {
    it(`opset ${opset}: upgraded exactly (bit-identical outputs in ORT), then static and dynamic INT8 load and run`, async () => {
      const original = legacyModel(opset);
      await checkModelLoads(encodeModel(original), { name: `opset ${opset}` });
      const upgraded = cloneModel(original);
      const result = upgradeOpset(upgraded);
      expect(result).toEqual({ from: opset, to: 13, changes: expectedChanges[opset] });
      expect(opsetVersion(upgraded)).toBe(13);
      const ops = new Set(new Graph(upgraded.graph!).nodes.map((n) => n.opType));
      expect(ops.has('Upsample')).toBe(false);
      if (opset < 12) expect(ops.has('Dropout')).toBe(false);
      for (const n of upgraded.graph!.node!) {
        expect(n.attribute?.map((a) => a.name) ?? []).not.toContain('axes');
        expect(n.attribute?.map((a) => a.name) ?? []).not.toContain('split');
      }
      const want = await outputs(original);
      const got = await outputs(upgraded);
      // Bit-identical (a count of differing values, not toEqual: a diff of 100k floats takes minutes to print).
      for (let i = 0; i < want.length; i++) expect(differing(want[i]!, got[i]!)).toBe(0);

      const int8 = await quantizeStatic(original, { tiles: calibration, createRunner: runner, name: `opset${opset}.onnx` });
      expect(int8.opsetUpgrade).toEqual(result);
      expect(getMetadata(int8.model, 'srq.opset_upgrade')).toBe(describeUpgrade(result));
      expect(opsetVersion(int8.model)).toBe(13);
      expect(int8.plan.quantizedNodes.size).toBeGreaterThanOrEqual(4);
      await checkModelLoads(encodeModel(int8.model), { name: 'int8' });
      const quantized = await outputs(int8.model);
      const dynamic = quantizeDynamic(original);
      expect(dynamic.opsetUpgrade).toEqual(result);
      const dynamicOut = await outputs(dynamic.model);
      for (let i = 0; i < want.length; i++) {
        // Measured 24.4–29.2 dB (static) and 29.4–35.3 dB (dynamic) over the probes and opsets.
        expect(sqnr(want[i]!, quantized[i]!)).toBeGreaterThan(23);
        expect(sqnr(want[i]!, dynamicOut[i]!)).toBeGreaterThan(28);
      }
    });
  }

  it('opset 9 Upsample with run-time scales (interpolate(size=...)): upgraded exactly, reported, and FP16 keeps the scales float32', async () => {
    const original = sizeInterpolateOpset9();
    await checkModelLoads(encodeModel(original), { name: 'opset 9' });
    const upgraded = cloneModel(original);
    expect(upgradeOpset(upgraded)).toEqual({ from: 9, to: 13, changes: { 'Slice starts/ends → inputs': 1, 'Upsample → Resize (run-time scales, taken as ≥ 1)': 1 } });
    const [want, got] = [await outputs(original, 3), await outputs(upgraded, 3)];
    for (let i = 0; i < want.length; i++) expect(differing(want[i]!, got[i]!)).toBe(0);
    const fp16 = convertToFp16(original);
    expect(fp16.keptFloat32.sort()).toEqual(['hw_float', 'hw_scales', 'ones', 'scales', 'size_float', 'size_floor', 'three']);
    expect(fp16.casts).toBe(2);
    await checkModelLoads(encodeModel(fp16.model), { name: 'fp16' });
    const half = await outputs(fp16.model, 3);
    // SQNR against FP32 measured 70.6–71.3 dB: fp16 rounding only (a float16 size computation would be off by
    // whole pixels past 2048 and fail ORT's type check on Upsample's scales).
    for (let i = 0; i < want.length; i++) expect(sqnr(want[i]!, half[i]!)).toBeGreaterThan(68);
    const int8 = await quantizeStatic(original, { tiles: calibration, createRunner: runner });
    await checkModelLoads(encodeModel(int8.model), { name: 'int8' });
  });

  it('describes the upgrade in one line', () => {
    expect(describeUpgrade(upgradeOpset(legacyModel(9)))).toBe('opset 9 → 13 (Upsample → Resize ×2, Clip min/max → inputs, Pad pads → input, Dropout → Identity, Softmax axis → Flatten/Reshape, Split split → input, Unsqueeze axes → input, Squeeze axes → input, ReduceSum axes → input)');
    const current = legacyModel(12);
    current.opsetImport = [{ domain: '', version: 13 }];
    expect(upgradeOpset(current)).toEqual({ from: 13, to: 13, changes: {} });
  });

  it('refuses what it cannot keep exact, in one line', () => {
    const old = legacyModel(7);
    old.opsetImport = [{ domain: '', version: 6 }];
    expect(() => upgradeOpset(old, 'old.onnx')).toThrow(/^old\.onnx uses opset 6; srq upgrades opset 7 or newer \(re-export the model with opset 13 or newer\)$/);
    const shrink = legacyModel(9);
    shrink.graph!.initializer!.find((t) => t.name === 'up1_scales')!.rawData = new Uint8Array(Float32Array.from([1, 1, 0.5, 0.5]).buffer);
    expect(() => upgradeOpset(shrink, 'shrink.onnx')).toThrow(OpsetUpgradeError);
    expect(() => upgradeOpset(legacyModel(9), 'x')).not.toThrow();
    expect(() => upgradeOpset(shrink, 'shrink.onnx')).toThrow(/^shrink\.onnx uses opset 9; srq cannot upgrade its Upsample node up1 to opset 13 exactly \(nearest with scales \[1, 1, 0\.5, 0\.5\] < 1\); re-export/);
  });
});
