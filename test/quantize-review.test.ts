// Regression tests for the review of src-core/quantize (issue 10): each finding has a test that failed before its
// fix. Small graphs built with srq's graph API, quantized with tiles from real photos and run on onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { Graph } from '../src-core/onnx/graph.ts';
import { cloneModel, encodeModel } from '../src-core/onnx/model.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../src-core/onnx/types.ts';
import { readImages } from '../src-core/image/image-files.node.ts';
import { optimizeGraph } from '../src-core/optimize/index.ts';
import { cutCalibrationTiles, rasterToTensor, seededRandom } from '../src-core/quantize/calibration-tiles.ts';
import { floatTensors } from '../src-core/quantize/float-tensors.ts';
import { klDivergence } from '../src-core/quantize/histogram.ts';
import { channelFirstTensors } from '../src-core/quantize/layout.ts';
import { planQuantization, quantizeStatic } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { optimizedKernelCounts } from '../src-core/runtime/optimized-graph.node.ts';
import { sqnr } from './helpers/signal.ts';
import { Weights } from './helpers/weights.ts';

const SIZE = 16;
const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const calibration = cutCalibrationTiles(photos, { count: 16, tileSize: SIZE, seed: 3 });
const probes = cutCalibrationTiles(photos, { count: 3, tileSize: SIZE, seed: 11 }).map(rasterToTensor);
const runner = (b: Uint8Array) => createNodeRunner(b, { threads: 1 });

const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number, k = 3) =>
  makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, k, k], 0.6 / Math.sqrt(cin * k * k)), w.add(`${name}_b`, [cout], 0.05)], [y], { kernel_shape: attr.ints([k, k]), pads: attr.ints(Array(4).fill((k - 1) / 2)) }, name);

function model(nodes: NodeProto[], w: Weights, opts: { outputs?: string[]; valueInfo?: ReturnType<typeof makeValueInfo>[] } = {}): ModelProto {
  const graph = makeGraph({
    name: 'review',
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, null, null])],
    outputs: (opts.outputs ?? ['y']).map((o) => makeValueInfo(o, DataType.FLOAT, [1, null, null, null])),
    initializers: w.list,
  });
  if (opts.valueInfo) graph.valueInfo = opts.valueInfo;
  return makeModel(graph);
}

async function outputs(m: ModelProto, probe = probes[0]!) {
  const r = await runner(encodeModel(m));
  try {
    return await r.run(probe.data, probe.dims);
  } finally {
    await r.release();
  }
}

const convCount = (m: ModelProto) => m.graph!.node!.filter((n) => n.opType === 'Conv').length;

describe('finding 1: element types are inferred for every standard op', () => {
  it('tensors after an op the old list lacked (Sum, Softsign, Sign) are float; int64/bool/int8 ones are not', () => {
    const w = new Weights();
    const nodes = [
      makeNode('Sum', ['input', 'input'], ['sum']),
      makeNode('Softsign', ['sum'], ['soft']),
      makeNode('Shape', ['soft'], ['shape']),
      makeNode('Size', ['soft'], ['size']),
      makeNode('Cast', ['shape'], ['shape_f'], { to: attr.int(DataType.FLOAT) }),
      makeNode('ArgMax', ['soft'], ['argmax'], { axis: attr.int(1) }),
      makeNode('Equal', ['soft', 'sum'], ['eq']),
      makeNode('NonZero', ['eq'], ['nz']),
      makeNode('Where', ['eq', 'soft', 'sum'], ['where']),
      makeNode('QuantizeLinear', ['where', w.constant('s', [], [0.1]), w.constant('zp', [], [0], DataType.INT8)], ['q']),
      makeNode('DequantizeLinear', ['q', 's', 'zp'], ['dq']),
      makeNode('ConstantOfShape', ['shape'], ['zeros_i'], { value: attr.tensor(makeTensor('v', DataType.INT32, [1], new Int32Array([0]))) }),
      makeNode('ConstantOfShape', ['shape'], ['zeros_f']),
      makeNode('Constant', [], ['k_f'], { value_float: attr.float(2) }),
      makeNode('Constant', [], ['k_i'], { value_ints: attr.ints([1, 2]) }),
      makeNode('RandomNormalLike', ['dq'], ['noise']),
      makeNode('TopK', ['dq', w.constant('k', [1], [1], DataType.INT64)], ['topv', 'topi'], { axis: attr.int(1) }),
      makeNode('Sign', ['topv'], ['sign']),
      makeNode('Mean', ['sign', 'dq'], ['y']),
    ];
    const floats = floatTensors(new Graph(model(nodes, w).graph!));
    for (const t of ['input', 'sum', 'soft', 'shape_f', 'where', 'dq', 'zeros_f', 'k_f', 'noise', 'topv', 'sign', 'y']) expect(floats, t).toContain(t);
    for (const t of ['shape', 'size', 'argmax', 'eq', 'nz', 'q', 'zeros_i', 'k_i', 'topi']) expect(floats, t).not.toContain(t);
  });

  it('an op whose output type cannot be known is named in a plan warning, not skipped silently', () => {
    const w = new Weights();
    const nodes = [conv(w, 'c1', 'input', 'a', 3, 4), makeNode('Mystery', ['a'], ['b'], {}, 'mystery', 'com.example'), conv(w, 'c2', 'b', 'y', 4, 3)];
    const plan = planQuantization(model(nodes, w));
    expect(plan.warnings.map((x) => x.message).join('\n')).toMatch(/mystery \(com\.example\.Mystery\).*b/);
    // Declared types (value_info) make it known: no warning, and c2 is quantized too.
    const typed = planQuantization(model(nodes, w, { valueInfo: [makeValueInfo('b', DataType.FLOAT, [1, 4, null, null])] }));
    expect(typed.warnings).toEqual([]);
    expect([...typed.quantizedNodes].map((n) => n.name)).toEqual(['c1', 'c2']);
  });

  it('a conv after an unlisted elementwise op (Softsign) is quantized and runs as QLinearConv', async () => {
    const w = new Weights();
    const nodes = [conv(w, 'c1', 'input', 'a', 3, 8), makeNode('Softsign', ['a'], ['b'], {}, 'softsign'), conv(w, 'c2', 'b', 'y', 8, 3)];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner });
    expect([...result.plan.quantizedNodes].map((n) => n.name)).toEqual(['c1', 'c2']);
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.int8Convs).toBe(2);
    expect(counts.floatConvs).toBe(0);
    const expected = await outputs(m);
    const got = await outputs(result.model);
    expect(sqnr(expected.data, got.data)).toBeGreaterThan(25);
  });
});

describe('finding 3 (Sum): Sum becomes Add before quantization', () => {
  it('Sum of 2 and of 3 inputs is rewritten to Adds, with bit-identical output', async () => {
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 4),
      conv(w, 'c2', 'a', 'b', 4, 4),
      makeNode('Sum', ['a', 'b'], ['s2'], {}, 'sum2'),
      conv(w, 'c3', 's2', 'c', 4, 4),
      makeNode('Sum', ['a', 'c', 's2'], ['s3'], {}, 'sum3'),
      makeNode('Sum', ['s3'], ['s1'], {}, 'sum1'),
      conv(w, 'c4', 's1', 'y', 4, 3),
    ];
    const m = model(nodes, w);
    const rewritten = cloneModel(m);
    const report = optimizeGraph(rewritten);
    expect(report.sumsToAdds).toBe(3);
    const ops = rewritten.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'Sum')).toEqual([]);
    expect(ops.filter((op) => op === 'Add')).toHaveLength(3);
    for (const probe of probes) expect((await outputs(rewritten, probe)).data).toEqual((await outputs(m, probe)).data);
  });

  it('a Sum residual quantizes: the Add is planned and ORT runs it as QLinearAdd, every conv as QLinearConv', async () => {
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 8),
      makeNode('LeakyRelu', ['a'], ['a_act'], { alpha: attr.float(0.2) }),
      conv(w, 'c2', 'a_act', 'b', 8, 8),
      makeNode('Sum', ['b', 'a'], ['s'], {}, 'residual'),
      conv(w, 'c3', 's', 'y', 8, 3),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner });
    expect([...result.plan.quantizedNodes].map((n) => n.opType)).toContain('Add');
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.int8Convs).toBe(3);
    expect(counts.ops['com.microsoft.QLinearAdd']).toBe(1);
    expect(sqnr((await outputs(m)).data, (await outputs(result.model)).data)).toBeGreaterThan(25);
  });
});

describe('finding 5: int32 bias overflow and non-finite weights', () => {
  // Channel 1 of the conv has weights ~1e-8 and bias 1: s_x·s_w ≈ (1/255)·(1e-8/127) ≈ 3e-13, so the bias
  // would need ≈3e12 in int32. Before the fix it was clamped to 2^31−1 (output ≈ 0.0007 instead of ≈ 1).
  function overflowModel() {
    const w = new Weights();
    const weights = new Float32Array(2 * 3 * 3 * 3);
    const rand = seededRandom(5);
    for (let i = 0; i < weights.length; i++) weights[i] = i < 27 ? (rand() * 2 - 1) * 0.3 : (rand() * 2 - 1) * 1e-8;
    const nodes = [makeNode('Conv', ['input', w.constant('cw', [2, 3, 3, 3], weights), w.constant('cb', [2], [0.1, 1])], ['y'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'c')];
    return model(nodes, w);
  }

  it('a bias too large for s_x·s_w raises that channel\'s weight scale instead of clamping, and says so', async () => {
    const m = overflowModel();
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    const expected = await outputs(m);
    const got = await outputs(result.model);
    const plane = SIZE * SIZE;
    // Channel 1 is the constant 1 (to 1e-7) in float; the output's u8 step is ≈ 2.2/255.
    const step = result.params.get('y')!.scale;
    for (let i = plane; i < 2 * plane; i++) expect(Math.abs(got.data[i]! - expected.data[i]!)).toBeLessThanOrEqual(step);
    expect(result.plan.biasScaleRaised).toEqual([{ bias: 'cb', weight: 'cw', channels: 1 }]);
    expect(result.plan.warnings.map((x) => x.message).join('\n')).toMatch(/cb/);
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.int8Convs).toBe(1);
  });

  it('NaN or Inf weights are a QuantizeError naming the tensor', async () => {
    const w = new Weights();
    const values = Float32Array.from({ length: 4 * 3 * 9 }, (_, i) => (i === 40 ? NaN : 0.1));
    const nodes = [makeNode('Conv', ['input', w.constant('bad_w', [4, 3, 3, 3], values)], ['a'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'c1'), conv(w, 'c2', 'a', 'y', 4, 3)];
    await expect(quantizeStatic(model(nodes, w), { tiles: calibration.slice(0, 2), createRunner: runner, method: 'minmax' })).rejects.toThrow(/bad_w.*(NaN|not finite)/);
    const inf = new Weights();
    const infNodes = [conv(inf, 'c1', 'input', 'a', 3, 4), makeNode('Conv', ['a', inf.constant('inf_w', [3, 4, 1, 1], Float32Array.from({ length: 12 }, (_, i) => (i === 3 ? Infinity : 0.1)))], ['y'], { kernel_shape: attr.ints([1, 1]) }, 'c2')];
    // Inf makes the float model's activations non-finite too; the weight is named before calibration runs.
    await expect(quantizeStatic(model(infNodes, inf), { tiles: calibration.slice(0, 2), createRunner: runner, method: 'minmax' })).rejects.toThrow(/inf_w.*(Inf|not finite)/);
  });
});

/**
 * An RRDBNet as ncnn conversions write it: residual adds as ONNX Sum. nf feature channels, gc growth channels,
 * `blocks` RRDBs of 3 dense blocks of 5 convs, LeakyRelu 0.2, ×0.2 residual scaling, nearest ×2 upsampling.
 */
function rrdbWithSums(blocks = 2, nf = 16, gc = 8): ModelProto {
  const w = new Weights();
  const nodes: NodeProto[] = [];
  const scale = w.constant('res_scale', [], [0.2]);
  let id = 0;
  const lrelu = (x: string) => {
    const y = `lrelu_${id++}`;
    nodes.push(makeNode('LeakyRelu', [x], [y], { alpha: attr.float(0.2) }));
    return y;
  };
  const c = (x: string, cin: number, cout: number) => {
    const y = `conv_${id++}`;
    nodes.push(conv(w, y, x, y, cin, cout));
    return y;
  };
  const residual = (x: string, branch: string) => {
    const scaled = `scaled_${id++}`;
    nodes.push(makeNode('Mul', [branch, scale], [scaled]));
    const y = `sum_${id++}`;
    nodes.push(makeNode('Sum', [scaled, x], [y], {}, y));
    return y;
  };
  const rdb = (x: string) => {
    const feats = [x];
    for (let i = 0; i < 4; i++) {
      const cat = `cat_${id++}`;
      nodes.push(makeNode('Concat', [...feats], [cat], { axis: attr.int(1) }));
      feats.push(lrelu(c(feats.length === 1 ? x : cat, nf + i * gc, gc)));
    }
    const cat = `cat_${id++}`;
    nodes.push(makeNode('Concat', [...feats], [cat], { axis: attr.int(1) }));
    return residual(x, c(cat, nf + 4 * gc, nf));
  };
  const fea = c('input', 3, nf);
  let trunk = fea;
  for (let b = 0; b < blocks; b++) trunk = residual(trunk, rdb(rdb(rdb(trunk))));
  const body = c(trunk, nf, nf);
  const sum = `sum_${id++}`;
  nodes.push(makeNode('Sum', [fea, body], [sum], {}, sum));
  const up = `up_${id++}`;
  nodes.push(makeNode('Resize', [sum, '', w.constant('scales', [4], [1, 1, 2, 2])], [up], { mode: attr.string('nearest') }));
  const hr = lrelu(c(lrelu(c(up, nf, nf)), nf, nf));
  nodes.push(conv(w, 'conv_last', hr, 'y', nf, 3));
  // The first conv of each dense block reads x directly: drop its (single-input) Concat.
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  return model(nodes.filter((n) => n.opType !== 'Concat' || used.has(n.output![0]!)), w);
}

describe('an RRDB-like net with Sum residual adds', () => {
  it('quantizes every conv: all become QLinearConv in ORT\'s optimized graph', async () => {
    const m = rrdbWithSums();
    const convs = convCount(m);
    expect(convs).toBe(35);
    expect(m.graph!.node!.filter((n) => n.opType === 'Sum')).toHaveLength(2 * 4 + 1);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect(result.plan.warnings).toEqual([]);
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    // The Resize+conv pair becomes a sub-pixel conv + DepthToSpace (exact rewrite): still 35 convs.
    expect(counts.int8Convs).toBe(convCount(result.floatModel));
    expect(counts.int8Convs).toBe(35);
    expect(counts.floatConvs).toBe(0);
    expect(counts.ops['com.microsoft.QLinearAdd']).toBe(9);
    const expected = await outputs(m);
    const got = await outputs(result.model);
    expect(sqnr(expected.data, got.data)).toBeGreaterThan(20);
  });
});

describe('finding 3: a bias shared by two convs', () => {
  it('is quantized for each conv at that conv\'s own s_input·s_weight', async () => {
    const w = new Weights();
    // convX reads `a` (range ≈ ±1.5), convY reads the image (scale 1/255): the same bias B at two scales.
    const shared = w.constant('shared_b', [4], [0.5, -0.4, 0.3, 0.6]);
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 8),
      makeNode('Conv', ['a', w.add('wx', [4, 8, 3, 3], 0.05), shared], ['x'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'convX'),
      makeNode('Conv', ['input', w.add('wy', [4, 3, 3, 3], 0.1), shared], ['z'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'convY'),
      makeNode('Concat', ['x', 'z'], ['y'], { axis: attr.int(1) }, 'cat'),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.int8Convs).toBe(3);
    const step = result.params.get('y')!.scale;
    const plane = SIZE * SIZE;
    for (const probe of probes) {
      const expected = (await outputs(m, probe)).data;
      const got = (await outputs(result.model, probe)).data;
      // Mean error of each output channel: a bias at the wrong scale shifts a whole channel.
      for (let c = 0; c < 8; c++) {
        let sum = 0;
        for (let i = c * plane; i < (c + 1) * plane; i++) sum += got[i]! - expected[i]!;
        expect(Math.abs(sum / plane), `channel ${c}`).toBeLessThan(step);
      }
    }
  });
});

describe('finding 4: Clip bounds and calibrated ranges', () => {
  const clipModel = (lo: number, hi: number) => {
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 8),
      makeNode('Clip', ['a', w.constant('lo', [], [lo]), w.constant('hi', [], [hi])], ['r'], {}, 'clip'),
      conv(w, 'c2', 'r', 'y', 8, 3),
    ];
    return model(nodes, w);
  };

  it('Clip(0, 3.4e38) (ReLU written as Clip) keeps the calibrated range', async () => {
    const m = clipModel(0, 3.4e38);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect(result.plan.folded.map((n) => n.name)).toEqual(['clip']);
    const p = result.params.get('r')!;
    expect(p.zeroPoint).toBe(0);
    expect(p.scale).toBeCloseTo(result.calibration.ranges.get('r')!.max / 255, 6);
    for (const probe of probes) expect(sqnr((await outputs(m, probe)).data, (await outputs(result.model, probe)).data)).toBeGreaterThan(25);
  });

  it('Clip(0, 6) on values below 2 uses the calibrated max, with zero point 0', async () => {
    const m = clipModel(0, 6);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    const seen = result.calibration.ranges.get('r')!;
    expect(seen.max).toBeLessThan(2);
    const p = result.params.get('r')!;
    expect(p.zeroPoint).toBe(0);
    expect(p.scale).toBeCloseTo(seen.max / 255, 6);
  });

  it('a [0, 1] output clip reached by the data keeps the exact bounds (scale 1/255)', async () => {
    // c1's output saturates the clip at both ends on these photos.
    const w = new Weights();
    const nodes = [
      makeNode('Conv', ['input', w.add('c1_w', [3, 3, 3, 3], 1), w.add('c1_b', [3], 0.1)], ['a'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'c1'),
      makeNode('Clip', ['a', w.constant('lo', [], [0]), w.constant('hi', [], [1])], ['y'], {}, 'clip'),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect(result.calibration.ranges.get('y')).toEqual({ min: 0, max: 1 });
    expect(result.params.get('y')).toEqual({ scale: Math.fround(1 / 255), zeroPoint: 0 });
  });
});

describe('finding 6: entropy calibration smooths counts, as ORT does', () => {
  it('KL(P||Q) smooths the raw counts (eps per empty bin) and then normalises, like ORT\'s smooth_distribution + scipy entropy', () => {
    const p = Float64Array.from([40, 0, 25, 3, 0, 12]);
    const q = Float64Array.from([30, 10, 0, 5, 5, 10]);
    // ORT: p, q = smooth_distribution(counts) (zeros -> 1e-4, others − 1e-4·zeros/nonzeros); scipy.stats.entropy(p, q)
    // normalises both. Computed in float64: 3.7484439226346886 (normalising first, then smoothing, gives 2.467).
    expect(klDivergence(p, q)).toBeCloseTo(3.7484439226346886, 12);
  });

  it('entropy calibration end to end: ranges inside the observed ones, output within 25 dB', async () => {
    const w = new Weights();
    const nodes = [conv(w, 'c1', 'input', 'a', 3, 8), makeNode('LeakyRelu', ['a'], ['l'], { alpha: attr.float(0.2) }, 'lrelu'), conv(w, 'c2', 'l', 'y', 8, 3)];
    const m = model(nodes, w);
    const minmax = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    const entropy = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'entropy' });
    for (const [t, r] of entropy.calibration.ranges) {
      const seen = minmax.calibration.ranges.get(t)!;
      expect(r.min, t).toBeGreaterThanOrEqual(seen.min);
      expect(r.max, t).toBeLessThanOrEqual(seen.max);
      expect(r.max, t).toBeGreaterThan(0.5 * seen.max);
    }
    for (const probe of probes) expect(sqnr((await outputs(m, probe)).data, (await outputs(entropy.model, probe)).data)).toBeGreaterThan(25);
  });
});

describe('finding 7: histogram sampling sees every sub-pixel phase', () => {
  it('after DepthToSpace, the sampled histogram covers all phases (odd stride)', async () => {
    // conv 3->96 at 64² then DepthToSpace(2): 24 channels at 128², sampled with stride 2 before the fix. The
    // conv's channels for phase (0, 0) (DCR: channels 0..23) are zero, so phase (0, 0) pixels are all 0.
    const w = new Weights();
    const rand = seededRandom(9);
    const weights = Float32Array.from({ length: 96 * 27 }, (_, i) => (i < 24 * 27 ? 0 : (rand() * 2 - 1) * 0.4));
    const bias = Float32Array.from({ length: 96 }, (_, c) => (c < 24 ? 0 : 0.2));
    const nodes = [
      makeNode('Conv', ['input', w.constant('c1_w', [96, 3, 3, 3], weights), w.constant('c1_b', [96], bias)], ['a'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'c1'),
      makeNode('DepthToSpace', ['a'], ['d'], { blocksize: attr.int(2) }, 'd2s'),
      makeNode('LeakyRelu', ['d'], ['l'], { alpha: attr.float(0.2) }, 'lrelu'),
      conv(w, 'c2', 'l', 'y', 24, 3),
    ];
    const m = model(nodes, w);
    const tiles = cutCalibrationTiles(photos, { count: 4, tileSize: 64, seed: 5 });
    const result = await quantizeStatic(m, { tiles, createRunner: runner });
    const r = result.calibration.ranges.get('l')!;
    // Percentile 99.999 of all phases: close to the observed max, not ≈ 0 as a phase-(0,0)-only sample gives.
    expect(r.max).toBeGreaterThan(1);
    const probe = rasterToTensor(cutCalibrationTiles(photos, { count: 1, tileSize: 64, seed: 21 })[0]!);
    expect(sqnr((await outputs(m, probe)).data, (await outputs(result.model, probe)).data)).toBeGreaterThan(25);
  });

  it('an NHWC map (SwinIR\'s rolled windows) is sampled in every channel, its outlier channel included', async () => {
    // conv 3->16 at 128², Transpose to [1, H, W, 16], channel 3 ×16 and the others ×0.25, MatMul over the channels.
    // 16·128² values per crop need a stride: strided in the last two axes (W and C, as if NCHW), stride 5 sampled
    // channels 0, 5, 10, 15 and fitted the range to the quiet ones, clipping channel 3.
    const w = new Weights();
    const gains = Float32Array.from({ length: 16 }, (_, c) => (c === 3 ? 16 : 0.25));
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 16),
      makeNode('Transpose', ['a'], ['nhwc'], { perm: attr.ints([0, 2, 3, 1]) }, 'to_nhwc'),
      makeNode('Mul', ['nhwc', w.constant('gains', [16], gains)], ['m'], {}, 'gain'),
      makeNode('MatMul', ['m', w.add('mm_w', [16, 16], 0.25)], ['y'], {}, 'mm'),
    ];
    const m = model(nodes, w);
    m.graph!.output = [makeValueInfo('y', DataType.FLOAT, [1, null, null, 16])];
    const tiles = cutCalibrationTiles(photos, { count: 2, tileSize: 128, seed: 5 });
    const result = await quantizeStatic(m, { tiles, createRunner: runner });
    const probed = cloneModel(m);
    probed.graph!.output!.push(makeValueInfo('m', DataType.FLOAT, [1, null, null, 16]));
    const r = await runner(encodeModel(probed));
    let loudest = 0;
    let quiet = 0;
    try {
      for (const tile of tiles) {
        const { data, dims } = rasterToTensor(tile);
        const x = (await r.runOutputs(data, dims, ['m'])).m!.data;
        for (let i = 0; i < x.length; i++) {
          if (i % 16 === 3) loudest = Math.max(loudest, Math.abs(x[i]!));
          else quiet = Math.max(quiet, Math.abs(x[i]!));
        }
      }
    } finally {
      await r.release();
    }
    expect(loudest).toBeGreaterThan(3 * quiet);
    const range = result.calibration.ranges.get('m')!;
    // Before: the range ended near the quiet channels' largest values.
    expect(Math.max(range.max, -range.min)).toBeGreaterThan(0.5 * loudest);
    const probe = rasterToTensor(tiles[0]!);
    expect(sqnr((await outputs(m, probe)).data, (await outputs(result.model, probe)).data)).toBeGreaterThan(25);
  });

  it('the pixel grid is kept for maps known NCHW: read or written by a conv-like op, or joined to one element-wise', () => {
    // conv → relu → (+ skip) → D2S → conv, and a Transpose to NHWC → Mul → MatMul beside it.
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 16),
      makeNode('Relu', ['a'], ['r'], {}, 'relu'),
      makeNode('Add', ['r', 'a'], ['s'], {}, 'skip'),
      makeNode('DepthToSpace', ['s'], ['d'], { blocksize: attr.int(2) }, 'd2s'),
      conv(w, 'c2', 'd', 'y', 4, 3),
      makeNode('Transpose', ['s'], ['nhwc'], { perm: attr.ints([0, 2, 3, 1]) }, 'to_nhwc'),
      makeNode('Mul', ['nhwc', w.add('gains', [16], 1)], ['m'], {}, 'gain'),
      makeNode('MatMul', ['m', w.add('mm_w', [16, 16], 0.25)], ['t'], {}, 'mm'),
    ];
    const known = channelFirstTensors(model(nodes, w, { outputs: ['y', 't'] }));
    expect([...known].sort()).toEqual(['a', 'd', 'input', 'r', 's', 'y']);
  });
});

describe('finding 8: calibration fetches bounded samples of tensors of any rank', () => {
  it('a rank-3 token tensor larger than the sample budget is sampled in-graph, not fetched whole', async () => {
    // conv 3->16 at 128², Reshape to tokens [1, 16, HW], Transpose to [1, HW, 16], MatMul: the MatMul's output is a
    // rank-3 tensor of 16·128² = 262144 values per tile (the budget is 2^17 per tensor per crop).
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 16),
      makeNode('Reshape', ['a', w.constant('tokens_shape', [3], [1, 16, -1], DataType.INT64)], ['r'], {}, 'reshape'),
      makeNode('Transpose', ['r'], ['t'], { perm: attr.ints([0, 2, 1]) }, 'transpose'),
      makeNode('MatMul', ['t', w.add('mm_w', [16, 16], 0.25)], ['y'], {}, 'mm'),
    ];
    const m = model(nodes, w);
    m.graph!.output = [makeValueInfo('y', DataType.FLOAT, [1, null, 16])];
    const fetched: number[] = [];
    const recording = async (bytes: Uint8Array) => {
      const r = await runner(bytes);
      const runOutputs = r.runOutputs.bind(r);
      r.runOutputs = async (data, dims, names) => {
        const out = await runOutputs(data, dims, names);
        for (const o of Object.values(out)) fetched.push(o.data.length);
        return out;
      };
      return r;
    };
    const tiles = cutCalibrationTiles(photos, { count: 2, tileSize: 128, seed: 5 });
    const result = await quantizeStatic(m, { tiles, createRunner: recording });
    expect(Math.max(...fetched)).toBeLessThanOrEqual(2 ** 17);
    const probe = rasterToTensor(tiles[0]!);
    expect(sqnr((await outputs(m, probe)).data, (await outputs(result.model, probe)).data)).toBeGreaterThan(25);
  });
});

describe('complete typing does not quantize shape arithmetic', () => {
  const constant = (name: string, value: number) => makeNode('Constant', [], [name], { value: attr.tensor(makeTensor(name, DataType.FLOAT, [], new Float32Array([value]))) });

  it('float size arithmetic (Shape -> Cast -> Mul by a Constant -> Resize sizes) stays float and works at any input size', async () => {
    const w = new Weights();
    const int64 = (name: string, values: number[]) => w.constant(name, [values.length], values, DataType.INT64);
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 8),
      makeNode('Shape', ['a'], ['shape']),
      makeNode('Slice', ['shape', int64('s0', [0]), int64('s2', [2])], ['nc']),
      makeNode('Gather', ['shape', int64('i2', [2])], ['h']),
      makeNode('Gather', ['shape', int64('i3', [3])], ['w']),
      makeNode('Cast', ['h'], ['hf'], { to: attr.int(DataType.FLOAT) }),
      makeNode('Cast', ['w'], ['wf'], { to: attr.int(DataType.FLOAT) }),
      constant('two', 2),
      makeNode('Mul', ['hf', 'two'], ['h2f'], {}, 'mul_h'),
      makeNode('Mul', ['wf', 'two'], ['w2f'], {}, 'mul_w'),
      makeNode('Cast', ['h2f'], ['h2'], { to: attr.int(DataType.INT64) }),
      makeNode('Cast', ['w2f'], ['w2'], { to: attr.int(DataType.INT64) }),
      makeNode('Concat', ['nc', 'h2', 'w2'], ['sizes'], { axis: attr.int(0) }),
      makeNode('Resize', ['a', '', '', 'sizes'], ['up'], { mode: attr.string('nearest') }, 'resize'),
      conv(w, 'c2', 'up', 'y', 8, 3),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect([...result.plan.quantizedNodes].map((n) => n.name).sort()).toEqual(['c1', 'c2', 'resize']);
    // Calibrated on 16² tiles, run on 24².
    const probe = rasterToTensor(cutCalibrationTiles(photos, { count: 1, tileSize: 24, seed: 4 })[0]!);
    const expected = await outputs(m, probe);
    const got = await outputs(result.model, probe);
    expect(got.dims).toEqual([1, 3, 48, 48]);
    expect(sqnr(expected.data, got.data)).toBeGreaterThan(25);
  });

  it('a residual ×0.2 by a Constant node quantizes as a constant operand (QLinearMul)', async () => {
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 8),
      constant('res_scale', 0.2),
      // a also feeds the Add, so the exact rewrites cannot fold the ×0.2 into c1 (RRDB's residual form).
      makeNode('Mul', ['a', 'res_scale'], ['scaled'], {}, 'mul'),
      makeNode('Add', ['scaled', 'a'], ['sum'], {}, 'residual'),
      conv(w, 'c2', 'sum', 'y', 8, 3),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect(result.plan.constants.has('res_scale')).toBe(true);
    expect(result.plan.activations.has('res_scale')).toBe(false);
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.ops['com.microsoft.QLinearMul']).toBe(1);
    expect(counts.int8Convs).toBe(2);
    expect(sqnr((await outputs(m)).data, (await outputs(result.model)).data)).toBeGreaterThan(25);
  });
});

describe('weights reached through Identity (PyTorch\'s export of a weight shared by two layers)', () => {
  it('are quantized as int8 per-channel weights, not as activations', async () => {
    const w = new Weights();
    const nodes = [
      conv(w, 'c1', 'input', 'a', 3, 3),
      makeNode('Identity', ['c1_w'], ['c2_w_shared'], {}, 'share'),
      makeNode('Conv', ['a', 'c2_w_shared', 'c1_b'], ['y'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'c2'),
    ];
    const m = model(nodes, w);
    const result = await quantizeStatic(m, { tiles: calibration, createRunner: runner, method: 'minmax' });
    expect([...result.plan.weights.keys()].sort()).toEqual(['c1_w', 'c2_w_shared']);
    expect(result.plan.activations.has('c2_w_shared')).toBe(false);
    const counts = await optimizedKernelCounts(encodeModel(result.model));
    expect(counts.int8Convs).toBe(2);
    expect(sqnr((await outputs(m)).data, (await outputs(result.model)).data)).toBeGreaterThan(25);
  });
});
