// FP16 conversion of graphs shaped like PyTorch exports: Resize scales from a Constant node, Resize sizes computed
// at run time (Shape → Gather → Cast → Mul → Cast → Unsqueeze → Concat), a constant shared by shape arithmetic and
// the data path, and an op with no float16 form. Each converted model must load and run in ORT (node and web) and
// match the FP32 model on real photo tiles.
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { attr, getIntAttr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { Graph } from '../src-core/onnx/graph.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto } from '../src-core/onnx/types.ts';
import { cutCalibrationTiles, rasterToTensor, seededRandom } from '../src-core/quantize/calibration-tiles.ts';
import { convertToFp16, elementTypes } from '../src-core/quantize/fp16.ts';
import { checkModelLoads, ModelLoadError } from '../src-core/runtime/load-check.node.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner } from '../src-core/runtime/ort-web.ts';

const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const probes = cutCalibrationTiles(photos, { count: 3, tileSize: 24, seed: 5 }).map(rasterToTensor);

const f32 = (name: string, dims: number[], values: number[]) => makeTensor(name, DataType.FLOAT, dims, Float32Array.from(values));
const i64 = (name: string, dims: number[], values: number[]) => makeTensor(name, DataType.INT64, dims, BigInt64Array.from(values.map(BigInt)));
const constant = (out: string, t: TensorProto) => makeNode('Constant', [], [out], { value: attr.tensor(t) }, `${out}_Constant`);

class Weights {
  readonly list: TensorProto[] = [];
  private readonly rand = seededRandom(7);
  add(name: string, dims: number[], scale = 0.3): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.list.push(f32(name, dims, Array.from({ length: n }, () => (this.rand() * 2 - 1) * scale)));
    return name;
  }
}

const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number) =>
  makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, 3, 3]), w.add(`${name}_b`, [cout], 0.1)], [y], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, name);

/**
 * input → conv → relu → Resize ×2 (bilinear, scales from a Constant node) → conv → PRelu(slope `two`) → Resize to
 * 4·(h, w) (linear, sizes from runtime shape arithmetic that also multiplies by `two`) → Pad (Constant value) →
 * conv → Clip (Constant bounds) → y (×4).
 */
function pytorchLike(opset: number): ModelProto {
  const w = new Weights();
  const two = f32('two', [], [2]);
  w.list.push(two);
  // Opset 11/12: roi is a required input (an empty float tensor, as torch.onnx writes it); 13+: empty name.
  const roi = opset < 13 ? 'roi' : '';
  const emptyScales = opset < 13 ? 'no_scales' : '';
  const nodes: NodeProto[] = [
    conv(w, 'conv1', 'input', 'c1', 3, 8),
    makeNode('Relu', ['c1'], ['r1'], {}, 'relu1'),
    ...(opset < 13 ? [constant('roi', f32('', [0], [])), constant('no_scales', f32('', [0], []))] : []),
    constant('scales', f32('', [4], [1, 1, 2, 2])),
    // Bilinear (F.interpolate(scale_factor=2, mode='bilinear')): a nearest Resize before a conv would become a
    // sub-pixel conv in optimizeGraph, scales and all.
    makeNode('Resize', ['r1', roi, 'scales'], ['up1'], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('pytorch_half_pixel') }, 'resize1'),
    conv(w, 'conv2', 'up1', 'c2', 8, 8),
    // PRelu with slope `two` (not a Mul: optimizeGraph folds constant Muls next to a conv into it).
    makeNode('PRelu', ['c2', 'two'], ['c2x2'], {}, 'gain'),
    // sizes = [N, C, floor(h·2·2), floor(w·2·2)] of input, computed like torch.onnx's upsample_bilinear2d.
    makeNode('Shape', ['c2x2'], ['shape'], {}, 'shape'),
    constant('nc_start', i64('', [1], [0])),
    constant('nc_end', i64('', [1], [2])),
    makeNode('Slice', ['shape', 'nc_start', 'nc_end'], ['nc'], {}, 'slice_nc'),
    ...(['h', 'w'] as const).flatMap((d, i) => [
      constant(`${d}_index`, i64('', [], [2 + i])),
      makeNode('Gather', ['shape', `${d}_index`], [d], { axis: attr.int(0) }, `gather_${d}`),
      makeNode('Cast', [d], [`${d}_float`], { to: attr.int(DataType.FLOAT) }, `cast_${d}`),
      makeNode('Mul', [`${d}_float`, 'two'], [`${d}_scaled`], {}, `mul_${d}`),
      makeNode('Floor', [`${d}_scaled`], [`${d}_floor`], {}, `floor_${d}`),
      makeNode('Cast', [`${d}_floor`], [`${d}_int`], { to: attr.int(DataType.INT64) }, `cast_${d}_int`),
      ...(opset < 13
        ? [makeNode('Unsqueeze', [`${d}_int`], [`${d}_1d`], { axes: attr.ints([0]) }, `unsqueeze_${d}`)]
        : [constant(`${d}_axes`, i64('', [1], [0])), makeNode('Unsqueeze', [`${d}_int`, `${d}_axes`], [`${d}_1d`], {}, `unsqueeze_${d}`)]),
    ]),
    makeNode('Concat', ['nc', 'h_1d', 'w_1d'], ['sizes'], { axis: attr.int(0) }, 'concat_sizes'),
    makeNode('Resize', ['c2x2', roi, emptyScales, 'sizes'], ['up2'], { mode: attr.string('linear') }, 'resize2'),
    // F.pad(value=0.25) and torch.clamp(0, 1): their value and bounds are Constant nodes of the data's type.
    constant('pads', i64('', [8], [0, 0, 1, 1, 0, 0, 1, 1])),
    constant('pad_value', f32('', [], [0.25])),
    makeNode('Pad', ['up2', 'pads', 'pad_value'], ['padded'], { mode: attr.string('constant') }, 'pad'),
    makeNode('Conv', ['padded', w.add('conv3_w', [3, 8, 3, 3]), w.add('conv3_b', [3], 0.1)], ['c3'], { kernel_shape: attr.ints([3, 3]) }, 'conv3'),
    constant('lo', f32('', [], [0])),
    constant('hi', f32('', [], [1])),
    makeNode('Clip', ['c3', 'lo', 'hi'], ['y'], {}, 'clamp'),
  ];
  return makeModel(makeGraph({
    name: 'pytorch_like',
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null])],
    initializers: w.list,
  }), { opset });
}

/** input → conv → op with no float16 form in ORT 1.30 → Mul → conv → conv → y, with a bias shared by two convs. */
function withBlockedOp(op: 'CumSum' | 'Celu' | 'MeanVarianceNormalization', opset: number): ModelProto {
  const w = new Weights();
  const blocked = op === 'CumSum' ? makeNode('CumSum', ['c1', 'axis'], ['cs'], {}, 'blocked') : makeNode(op, ['c1'], ['cs'], {}, 'blocked');
  const nodes = [
    makeNode('Conv', ['input', w.add('c1_w', [4, 3, 3, 3]), w.add('shared_b', [4], 0.1)], ['c1'], { pads: attr.ints([1, 1, 1, 1]) }, 'conv1'),
    blocked,
    makeNode('Mul', ['cs', 'inv'], ['avg'], {}, 'mean'),
    makeNode('Conv', ['avg', w.add('c2_w', [4, 4, 3, 3]), 'shared_b'], ['c2'], { pads: attr.ints([1, 1, 1, 1]) }, 'conv2'),
    makeNode('Conv', ['c2', w.add('c3_w', [3, 4, 3, 3]), w.add('c3_b', [3], 0.1)], ['y'], { pads: attr.ints([1, 1, 1, 1]) }, 'conv3'),
  ];
  w.list.push(i64('axis', [], [3]), f32('inv', [], [op === 'CumSum' ? 1 / 24 : 0.5]));
  return makeModel(makeGraph({
    name: 'blocked',
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, 'h', 'w'])],
    initializers: w.list,
  }), { opset });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Largest |FP16 − FP32| over the probes, on ORT-node; ORT-web must give the same FP16 numbers. */
async function compare(fp32: ModelProto, fp16: ModelProto, scale: number): Promise<number> {
  const reference = await createNodeRunner(encodeModel(fp32), { threads: 1 });
  const half = await createNodeRunner(encodeModel(fp16), { threads: 1 });
  const web = await createWebRunner(encodeModel(fp16), { threads: 1 });
  let worst = 0;
  for (const p of probes) {
    const want = await reference.run(p.data, p.dims);
    const got = await half.run(p.data, p.dims);
    const onWeb = await web.run(p.data, p.dims);
    expect(got.dims).toEqual([1, 3, p.dims[2] * scale, p.dims[3] * scale]);
    expect(got.dims).toEqual(want.dims);
    expect(onWeb.dims).toEqual(want.dims);
    worst = Math.max(worst, maxAbsDiff(want.data, got.data));
    // Both runtimes compute fp16 kernels their own way: at most one fp16 step of an output in [0.5, 1) apart
    // (measured 1.2e-4, one step below 0.25, through the clamped PyTorch-shaped graph; 2.4e-6 elsewhere).
    expect(maxAbsDiff(got.data, onWeb.data)).toBeLessThanOrEqual(2 ** -11);
  }
  await Promise.all([reference.release(), half.release(), web.release()]);
  return worst;
}

const producerOf = (m: ModelProto, t: string) => new Graph(m.graph!).producer(t);

describe('FP16 on PyTorch-shaped graphs', () => {
  for (const opset of [11, 13, 17]) {
    it(`opset ${opset}: Constant scales and runtime sizes stay float32; loads, runs and matches FP32`, async () => {
      const fp32 = pytorchLike(opset);
      await checkModelLoads(encodeModel(fp32), { name: 'fp32' });
      const result = convertToFp16(fp32);
      const { model } = result;
      const graph = new Graph(model.graph!);
      const types = elementTypes(graph);
      // Resize scales: the Constant kept its float32 value.
      const resize1 = graph.nodes.find((n) => n.name === 'resize1')!;
      expect(producerOf(model, resize1.input![2]!)?.opType).toBe('Constant');
      expect(types.get(resize1.input![2]!)).toBe(DataType.FLOAT);
      if (opset < 13) expect(types.get(resize1.input![1]!)).toBe(DataType.FLOAT);
      // Shape arithmetic in float32, `two` shared: float32 for the sizes, an fp16 copy for the data path.
      const resizeInputs = opset < 13 ? ['no_scales', 'roi', 'scales'] : ['scales'];
      expect(result.keptFloat32.sort()).toEqual(['h_float', 'h_floor', 'h_scaled', ...resizeInputs, 'two', 'w_float', 'w_floor', 'w_scaled']);
      expect(getIntAttr(graph.nodes.find((n) => n.name === 'cast_h')!, 'to', 0)).toBe(DataType.FLOAT);
      expect(graph.nodes.find((n) => n.name === 'mul_h')!.input).toEqual(['h_float', 'two']);
      expect(graph.nodes.find((n) => n.name === 'gain')!.input).toEqual(['c2', 'two_fp16']);
      expect(graph.initializer('two')!.dataType).toBe(DataType.FLOAT);
      expect(graph.initializer('two_fp16')!.dataType).toBe(DataType.FLOAT16);
      expect(graph.initializer('conv2_w')!.dataType).toBe(DataType.FLOAT16);
      for (const t of ['pad_value', 'lo', 'hi']) expect(types.get(t), t).toBe(DataType.FLOAT16);
      expect(types.get('pads')).toBe(DataType.INT64);
      // Float32 at the edges only: one Cast in, one Cast out.
      expect(result.casts).toBe(2);
      expect(types.get('input')).toBe(DataType.FLOAT);
      expect(types.get('y')).toBe(DataType.FLOAT);
      const loaded = await checkModelLoads(encodeModel(model), { name: 'fp16' });
      expect(loaded.outputs['y']).toEqual([1, 3, 64, 64]);
      // Measured 8.0e-4 (opset 11) and 1.0e-3 (13, 17): fp16 rounding (2^-11 relative) through three convs, on
      // outputs in [0, 1]; not 0, so the convs really ran on float16 weights.
      const worst = await compare(fp32, model, 4);
      expect(worst).toBeGreaterThan(1e-5);
      expect(worst).toBeLessThan(1.5e-3);
    });
  }

  it('the conversion the issue reported (Constant scales turned float16) is what ORT refuses, and the load check says so', async () => {
    const broken = convertToFp16(pytorchLike(13)).model;
    const scales = broken.graph!.node!.find((n) => n.output?.[0] === 'scales')!;
    const value = scales.attribute![0]!.t!;
    scales.attribute![0]!.t = makeTensor('', DataType.FLOAT16, [4], new Uint16Array([0x3c00, 0x3c00, 0x4000, 0x4000]));
    expect(value.dataType).toBe(DataType.FLOAT);
    const error = await checkModelLoads(encodeModel(broken), { name: 'out.onnx' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(/^out\.onnx would not load in onnxruntime-node 1\.30\.0 \(.*Type 'tensor\(float16\)' of input parameter \(scales\) of operator \(Resize\).*\), so it was not written; this is an srq bug: please report/);
    expect((error as Error).message).not.toMatch(/\n/);
  });

  // Measured worst |FP16 − FP32|: CumSum 5.7e-4 (it sums up to 24 fp16-rounded values in float32), Celu 1.8e-4,
  // MeanVarianceNormalization 1.6e-3 (normalizing amplifies the fp16 rounding of its input).
  const blockedCases = [['CumSum', 13, 8e-4], ['Celu', 17, 3e-4], ['MeanVarianceNormalization', 18, 2.5e-3]] as const;
  for (const [op, opset, bound] of blockedCases) {
    it(`a blocked op (${op}, opset ${opset}) runs in float32 between Casts; a bias shared by fp16 convs is converted once`, async () => {
      const fp32 = withBlockedOp(op, opset);
      const result = convertToFp16(fp32);
      const graph = new Graph(result.model.graph!);
      expect(result.float32Nodes).toEqual([`blocked (${op})`]);
      const node = graph.nodes.find((n) => n.name === 'blocked')!;
      expect(producerOf(result.model, node.input![0]!)).toMatchObject({ opType: 'Cast', input: ['c1'] });
      expect(graph.consumers('cs').map((n) => n.opType)).toEqual(['Cast']);
      // input, in/out of the blocked op, output.
      expect(result.casts).toBe(4);
      expect(graph.initializer('shared_b')!.dataType).toBe(DataType.FLOAT16);
      expect(graph.initializer('shared_b_fp16')).toBeUndefined();
      await checkModelLoads(encodeModel(result.model), { name: 'fp16' });
      const worst = await compare(fp32, result.model, 1);
      expect(worst).toBeGreaterThan(1e-5);
      expect(worst).toBeLessThan(bound);
    });
  }
});
