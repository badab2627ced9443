// One test per operator rule: a small graph built with srq's own graph API (seeded random weights) around the
// op under test, quantized with calibration tiles from real photos, loaded in ORT-node and ORT-web, and compared
// with the float graph. Each op must be quantized by its rule (not skipped), and the output must stay within
// the stated error: SQNR ≥ 18 dB against the float graph (12.6% RMS error). These graphs have random weights
// and 8 channels, so there is no redundancy to average noise out: measured 20–26 dB across the rules, where the
// real SR nets' tensors measure 23–45 dB (see srq quantize --report). ORT-node and ORT-web must agree.
import { describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { DataType } from '../src-core/onnx/tensor.ts';
import type { NodeProto } from '../src-core/onnx/types.ts';
import { readImages } from '../src-core/image/image-files.node.ts';
import { cutCalibrationTiles, rasterToTensor } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner } from '../src-core/runtime/ort-web.ts';
import { maxAbsDiff, sqnr } from './helpers/signal.ts';
import { Weights } from './helpers/weights.ts';

const SIZE = 16;
const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const calibration = cutCalibrationTiles(photos, { count: 32, tileSize: SIZE, seed: 3 });
const probes = cutCalibrationTiles(photos, { count: 3, tileSize: SIZE, seed: 11 }).map(rasterToTensor);

interface Case {
  /** Nodes between the stem conv's output `stem` and the graph output `y`. */
  body: (w: Weights) => NodeProto[];
  /** Ops the plan must have quantized. */
  quantized: string[];
  outputShape?: (number | string | null)[];
}

/** input [1,3,16,16] -> Conv 3->8 (stem) -> body -> y */
function buildModel(c: Case) {
  const w = new Weights();
  const nodes = [
    makeNode('Conv', ['input', w.add('stem_w', [8, 3, 3, 3]), w.add('stem_b', [8], 0.1)], ['stem'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'stem'),
    ...c.body(w),
  ];
  const graph = makeGraph({
    name: 'rule_test',
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, SIZE, SIZE])],
    outputs: [makeValueInfo('y', DataType.FLOAT, c.outputShape ?? [1, null, null, null])],
    initializers: w.list,
  });
  return makeModel(graph);
}

const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number, k = 3) =>
  makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, k, k]), w.add(`${name}_b`, [cout], 0.1)], [y], { kernel_shape: attr.ints([k, k]), pads: attr.ints(Array(4).fill((k - 1) / 2)) }, name);

const cases: Record<string, Case> = {
  Conv: { body: (w) => [conv(w, 'c', 'stem', 'y', 8, 4)], quantized: ['Conv'] },
  ConvTranspose: {
    // Dilated, so the exact ConvTranspose → Conv + DepthToSpace rewrite (src-core/optimize) leaves it to this rule.
    body: (w) => [makeNode('ConvTranspose', ['stem', w.add('t_w', [8, 4, 2, 2]), w.add('t_b', [4], 0.1)], ['y'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), dilations: attr.ints([2, 2]) }, 't')],
    quantized: ['ConvTranspose'],
  },
  MatMul: { body: (w) => [makeNode('MatMul', ['stem', w.add('m_w', [16, 8])], ['y'], {}, 'm')], quantized: ['MatMul'] },
  Gemm: {
    body: (w) => [
      makeNode('Reshape', ['stem', w.constant('shape', [2], [128, 16], DataType.INT64)], ['flat'], {}, 'flatten'),
      makeNode('Gemm', ['flat', w.add('g_w', [8, 16]), w.add('g_b', [8], 0.1)], ['y'], { transB: attr.int(1) }, 'g'),
    ],
    quantized: ['Gemm', 'Reshape'],
    outputShape: [128, 8],
  },
  // Read by a conv: an Add or Mul that writes the graph output stays float (quantize-residual-sums.test.ts).
  Add: {
    body: (w) => [conv(w, 'c', 'stem', 'c_out', 8, 8), makeNode('Add', ['c_out', 'stem'], ['s'], {}, 'add'), conv(w, 'd', 's', 'y', 8, 8)],
    quantized: ['Add'],
  },
  // After an Add, not a conv, and not before one: a constant Mul next to a conv is folded into it
  // (src-core/optimize/fold-into-conv.ts).
  Mul: {
    body: (w) => [
      makeNode('Add', ['stem', 'stem'], ['s2'], {}, 'add'), makeNode('Mul', ['s2', w.add('gain', [1, 8, 1, 1], 1)], ['m'], {}, 'mul'),
      makeNode('Sigmoid', ['m'], ['g'], {}, 'sig'), conv(w, 'c', 'g', 'y', 8, 8),
    ],
    quantized: ['Mul'],
  },
  Concat: { body: (w) => [conv(w, 'c', 'stem', 'c_out', 8, 4), makeNode('Concat', ['stem', 'c_out'], ['y'], { axis: attr.int(1) }, 'cat')], quantized: ['Concat'] },
  Resize: {
    body: (w) => [
      makeNode('Resize', ['stem', '', w.constant('scales', [4], [1, 1, 2, 2])], ['up'], { mode: attr.string('linear') }, 'resize'),
      conv(w, 'c', 'up', 'y', 8, 3),
    ],
    quantized: ['Resize', 'Conv'],
  },
  DepthToSpace: {
    body: (w) => [makeNode('DepthToSpace', ['stem'], ['d2s'], { blocksize: attr.int(2) }, 'd2s'), conv(w, 'c', 'd2s', 'y', 2, 3)],
    quantized: ['DepthToSpace'],
  },
  SpaceToDepth: {
    body: (w) => [makeNode('SpaceToDepth', ['stem'], ['s2d'], { blocksize: attr.int(2) }, 's2d'), conv(w, 'c', 's2d', 'y', 32, 3)],
    quantized: ['SpaceToDepth'],
  },
  Relu: { body: (w) => [makeNode('Relu', ['stem'], ['r'], {}, 'relu'), conv(w, 'c', 'r', 'y', 8, 3)], quantized: ['Relu'] },
  LeakyRelu: { body: (w) => [makeNode('LeakyRelu', ['stem'], ['r'], { alpha: attr.float(0.2) }, 'lrelu'), conv(w, 'c', 'r', 'y', 8, 3)], quantized: ['LeakyRelu'] },
  // After an Add, not a conv: static INT8 rewrites a conv's PRelu into int8 ops (src-core/optimize/prelu.ts).
  PRelu: {
    body: (w) => [makeNode('Add', ['stem', 'stem'], ['s2'], {}, 'add'), makeNode('PRelu', ['s2', w.add('slope', [8, 1, 1], 0.25)], ['r'], {}, 'prelu'), conv(w, 'c', 'r', 'y', 8, 3)],
    quantized: ['PRelu'],
  },
  Clip: {
    body: (w) => [makeNode('Clip', ['stem', w.constant('lo', [], [-0.5]), w.constant('hi', [], [0.5])], ['r'], {}, 'clip'), conv(w, 'c', 'r', 'y', 8, 3)],
    quantized: ['Clip'],
  },
  Sigmoid: { body: (w) => [makeNode('Sigmoid', ['stem'], ['r'], {}, 'sig'), conv(w, 'c', 'r', 'y', 8, 3)], quantized: ['Sigmoid'] },
  AveragePool: {
    body: (w) => [makeNode('AveragePool', ['stem'], ['p'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, 'pool'), conv(w, 'c', 'p', 'y', 8, 3)],
    quantized: ['AveragePool'],
  },
  GlobalAveragePool: {
    body: (w) => [makeNode('GlobalAveragePool', ['stem'], ['p'], {}, 'gap'), makeNode('Mul', ['stem', 'p'], ['a'], {}, 'attention'), conv(w, 'c', 'a', 'y', 8, 8)],
    quantized: ['GlobalAveragePool', 'Mul'],
  },
  MaxPool: {
    body: (w) => [makeNode('MaxPool', ['stem'], ['p'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, 'pool'), conv(w, 'c', 'p', 'y', 8, 3)],
    quantized: ['MaxPool'],
  },
  'Reshape/Transpose/Slice/Pad': {
    body: (w) => [
      makeNode('Transpose', ['stem'], ['t'], { perm: attr.ints([0, 1, 3, 2]) }, 'transpose'),
      makeNode('Slice', ['t', w.constant('starts', [2], [2, 2], DataType.INT64), w.constant('ends', [2], [14, 14], DataType.INT64), w.constant('axes', [2], [2, 3], DataType.INT64)], ['s'], {}, 'slice'),
      makeNode('Pad', ['s', w.constant('pads', [8], [0, 0, 2, 2, 0, 0, 2, 2], DataType.INT64)], ['p'], {}, 'pad'),
      makeNode('Reshape', ['p', w.constant('shape', [4], [1, 8, 16, 16], DataType.INT64)], ['r'], {}, 'reshape'),
      conv(w, 'c', 'r', 'y', 8, 3),
    ],
    quantized: ['Transpose', 'Slice', 'Pad', 'Reshape'],
  },
};

const MIN_SQNR_DB = 18;

describe('static INT8 rules', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: quantized, same output on ORT-node and ORT-web, SQNR ≥ ${MIN_SQNR_DB} dB`, async () => {
      const model = buildModel(c);
      const result = await quantizeStatic(model, { tiles: calibration, createRunner: (b) => createNodeRunner(b, { threads: 1 }) });
      const quantizedOps = [...result.plan.quantizedNodes].map((n) => n.opType);
      for (const op of c.quantized) expect(quantizedOps).toContain(op);
      const floatRunner = await createNodeRunner(encodeModel(model), { threads: 1 });
      const bytes = encodeModel(result.model);
      const nodeRunner = await createNodeRunner(bytes, { threads: 1 });
      const webRunner = await createWebRunner(bytes, { threads: 1 });
      for (const probe of probes) {
        const expected = await floatRunner.run(probe.data, probe.dims);
        const onNode = await nodeRunner.run(probe.data, probe.dims);
        const onWeb = await webRunner.run(probe.data, probe.dims);
        expect(onNode.dims).toEqual(expected.dims);
        expect(sqnr(expected.data, onNode.data)).toBeGreaterThanOrEqual(MIN_SQNR_DB);
        // The same int8 kernels in native and wasm builds: same numbers.
        expect(maxAbsDiff(onNode.data, onWeb.data)).toBeLessThanOrEqual(1e-5);
      }
      await nodeRunner.release();
      await webRunner.release();
      await floatRunner.release();
    });
  }
});
