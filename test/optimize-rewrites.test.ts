// The exact rewrites of src-core/optimize/ (ConvTranspose → Conv + DepthToSpace, BatchNormalization and constant
// Mul/Div/Add/Sub folded into convs): on random graphs built with srq's graph API and on the corpus files, the
// rewritten graph must give ORT-node's output of the original up to float rounding, and the op it replaces must
// be gone. ORT runs with graph optimisations disabled, so ORT's own fusions do not hide a wrong rewrite.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { opHistogram } from '../src-core/onnx/graph.ts';
import { cloneModel, encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import { ModelProtoType } from '../src-core/onnx/schema.ts';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from '../src-core/onnx/types.ts';
import { readImages } from '../src-core/image/image-files.node.ts';
import { convTransposesToSubpixel } from '../src-core/optimize/conv-transpose.ts';
import { foldIntoConvs } from '../src-core/optimize/fold-into-conv.ts';
import { optimizeGraph } from '../src-core/optimize/index.ts';
import { rewritePrelus } from '../src-core/optimize/prelu.ts';
import { cutCalibrationTiles, seededRandom } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { optimizedKernelCounts } from '../src-core/runtime/optimized-graph.node.ts';

const rand = seededRandom(7);
const randoms = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);

class Weights {
  readonly list: TensorProto[] = [];
  add(name: string, dims: number[], scale = 0.3, offset = 0): string {
    const data = randoms(dims.reduce((a, b) => a * b, 1), scale).map((v) => v + offset);
    this.list.push(makeTensor(name, DataType.FLOAT, dims, data));
    return name;
  }
}

function model(nodes: NodeProto[], w: Weights, channels: number): ModelProto {
  return makeModel(makeGraph({
    name: 'rewrite_test',
    nodes,
    inputs: [makeValueInfo('x', DataType.FLOAT, [1, channels, null, null])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, null, null, null])],
    initializers: w.list,
  }));
}

async function run(m: ModelProto, input: Float32Array, dims: number[]) {
  const runner = await createNodeRunner(encodeModel(m), { threads: 1, graphOptimizationLevel: 'disabled' });
  try {
    return await runner.run(input, dims);
  } finally {
    await runner.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Runs original and rewritten on one random input: output dims equal, the max abs difference. */
async function compare(original: ModelProto, rewritten: ModelProto, dims: number[], scale = 1) {
  // Image-like input in [0, scale).
  const input = randoms(dims.reduce((a, b) => a * b, 1), scale).map(Math.abs);
  const expected = await run(original, input, dims);
  const actual = await run(rewritten, input, dims);
  expect(actual.dims).toEqual(expected.dims);
  return { diff: maxAbsDiff(expected.data, actual.data), peak: maxAbs(expected.data), dims: actual.dims };
}

const ops = (m: ModelProto) => opHistogram(m.graph!.node!);

describe('ConvTranspose → Conv + DepthToSpace', () => {
  // [k, s, pads (top, left, bottom, right), output_padding]
  const cases: [number, number, number[], number][] = [
    [4, 2, [3, 3, 3, 3], 0], // waifu2x upconv_7
    [4, 2, [1, 1, 1, 1], 0], // DCGAN-style exact ×2
    [2, 2, [0, 0, 0, 0], 0],
    [3, 2, [1, 1, 1, 1], 1], // PyTorch ×2 with output_padding
    [3, 3, [0, 0, 0, 0], 0],
    [5, 3, [1, 2, 0, 1], 2], // asymmetric pads
    [3, 2, [0, 1, 2, 0], 1],
    [6, 4, [1, 1, 1, 1], 3],
    [1, 2, [0, 0, 0, 0], 1], // taps fewer than the stride: empty phases
    [3, 1, [1, 1, 1, 1], 0], // stride 1: a flipped conv, no shuffle
  ];
  for (const [k, s, pads, op] of cases) {
    it(`k=${k} s=${s} pads=${pads.join(',')} output_padding=${op}: exact`, async () => {
      const w = new Weights();
      const attrs: Record<string, AttributeProto> = { kernel_shape: attr.ints([k, k]), strides: attr.ints([s, s]), pads: attr.ints(pads) };
      if (op) attrs.output_padding = attr.ints([op, op]);
      const original = model([makeNode('ConvTranspose', ['x', w.add('w', [5, 4, k, k]), w.add('b', [4], 0.1)], ['y'], attrs, 'up')], w, 5);
      const rewritten = cloneModel(original);
      expect(convTransposesToSubpixel(rewritten)).toBe(1);
      expect(ops(rewritten).ConvTranspose).toBeUndefined();
      const { diff, peak } = await compare(original, rewritten, [1, 5, 7, 9]);
      expect(peak).toBeGreaterThan(0.1);
      expect(diff).toBeLessThanOrEqual(2e-6);
    });
  }

  it('waifu2x upconv_7 corpus file: no ConvTranspose left, same output (max abs diff ≤ 2e-6)', async () => {
    const original = readModelFile('test/fixtures/corpus/waifu2x-upconv7-x2.onnx');
    const rewritten = cloneModel(original);
    expect(optimizeGraph(cloneModel(original)).convTransposes).toBe(0); // float variants keep ORT's ConvTranspose
    const report = optimizeGraph(rewritten, { staticInt8: true });
    expect(report.convTransposes).toBe(1);
    expect(ops(rewritten).ConvTranspose).toBeUndefined();
    const { diff, peak, dims } = await compare(original, rewritten, [1, 3, 40, 36]);
    expect(dims).toEqual([1, 3, 2 * 40 - 28, 2 * 36 - 28]);
    expect(peak).toBeGreaterThan(0.3);
    expect(diff).toBeLessThanOrEqual(2e-6);
  });

  it('waifu2x upconv_7 after static INT8: no float ConvTranspose, every conv an int8 kernel', async () => {
    const fp32 = readModelFile('test/fixtures/corpus/waifu2x-upconv7-x2.onnx');
    const tiles = cutCalibrationTiles(readImages(['images/astronaut.png']), { count: 4, tileSize: 48, seed: 1 });
    const { model: int8 } = await quantizeStatic(fp32, { tiles, createRunner: (b) => createNodeRunner(b, { threads: 1 }) });
    const counts = await optimizedKernelCounts(encodeModel(int8));
    expect(counts.ops.ConvTranspose).toBeUndefined();
    expect(counts.floatConvs).toBe(0);
    expect(counts.int8Convs).toBe(7);
  }, 120_000);
});

describe('folds into convs', () => {
  const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number, pad = 1, group = 1) =>
    makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin / group, 3, 3]), w.add(`${name}_b`, [cout], 0.1)], [y],
      { kernel_shape: attr.ints([3, 3]), pads: attr.ints([pad, pad, pad, pad]), group: attr.int(group) }, name);
  const constant = (w: Weights, name: string, dims: number[], scale = 0.5, offset = 0) => w.add(name, dims, scale, offset);

  interface FoldCase { build: (w: Weights) => NodeProto[]; folded: Partial<Record<'batchNorms' | 'affineAfter' | 'affineBefore', number>>; gone: string[] }
  const cases: Record<string, FoldCase> = {
    'Conv → BatchNormalization': {
      build: (w) => [
        conv(w, 'c', 'x', 'c_out', 6, 8),
        makeNode('BatchNormalization', ['c_out', constant(w, 'g', [8], 0.5, 1), constant(w, 'beta', [8]), constant(w, 'mean', [8]), constant(w, 'var', [8], 0.4, 0.6)],
          ['y'], { epsilon: attr.float(1e-3) }, 'bn'),
      ],
      folded: { batchNorms: 1 }, gone: ['BatchNormalization'],
    },
    'Conv → Mul by a scalar (RRDB ×0.2)': {
      build: (w) => [conv(w, 'c', 'x', 'c_out', 6, 8), makeNode('Mul', ['c_out', constant(w, 's', [], 0, 0.2)], ['y'], {}, 'mul')],
      folded: { affineAfter: 1 }, gone: ['Mul'],
    },
    'Mul by [1,C,1,1] ← Conv (constant first)': {
      build: (w) => [conv(w, 'c', 'x', 'c_out', 6, 8), makeNode('Mul', [constant(w, 's', [1, 8, 1, 1], 1), 'c_out'], ['y'], {}, 'mul')],
      folded: { affineAfter: 1 }, gone: ['Mul'],
    },
    'Conv → Div by [C,1,1]': {
      build: (w) => [conv(w, 'c', 'x', 'c_out', 6, 8), makeNode('Div', ['c_out', constant(w, 's', [8, 1, 1], 0.3, 1)], ['y'], {}, 'div')],
      folded: { affineAfter: 1 }, gone: ['Div'],
    },
    'Conv → Add, Sub and c − conv': {
      build: (w) => [
        conv(w, 'c', 'x', 'a', 6, 8),
        makeNode('Add', ['a', constant(w, 'k1', [8, 1, 1])], ['b'], {}, 'add'),
        conv(w, 'c2', 'b', 'c', 8, 8),
        makeNode('Sub', ['c', constant(w, 'k2', [1, 8, 1, 1])], ['d'], {}, 'sub'),
        conv(w, 'c3', 'd', 'e', 8, 4),
        makeNode('Sub', [constant(w, 'k3', [], 1), 'e'], ['y'], {}, 'rsub'),
      ],
      folded: { affineAfter: 3 }, gone: ['Add', 'Sub'],
    },
    'Mul → padded grouped Conv': {
      build: (w) => [makeNode('Mul', ['x', constant(w, 's', [1, 6, 1, 1], 1)], ['m'], {}, 'mul'), conv(w, 'c', 'm', 'y', 6, 8, 1, 2)],
      folded: { affineBefore: 1 }, gone: ['Mul'],
    },
    'Sub (MeanShift) → unpadded Conv': {
      build: (w) => [makeNode('Sub', ['x', constant(w, 'mean', [1, 6, 1, 1])], ['m'], {}, 'sub'), conv(w, 'c', 'm', 'y', 6, 8, 0)],
      folded: { affineBefore: 1 }, gone: ['Sub'],
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: folded, exact`, async () => {
      const w = new Weights();
      const original = model(c.build(w), w, 6);
      const rewritten = cloneModel(original);
      const report = foldIntoConvs(rewritten);
      expect(report).toEqual({ batchNorms: 0, affineAfter: 0, affineBefore: 0, ...c.folded });
      for (const op of c.gone) expect(ops(rewritten)[op]).toBeUndefined();
      const { diff, peak } = await compare(original, rewritten, [1, 6, 11, 13]);
      expect(peak).toBeGreaterThan(0.1);
      expect(diff / peak).toBeLessThanOrEqual(1e-6);
    });
  }

  it('Add → padded Conv stays (the zero border would change)', () => {
    const w = new Weights();
    const m = model([makeNode('Add', ['x', constant(w, 'k', [1, 6, 1, 1])], ['a'], {}, 'add'), conv(w, 'c', 'a', 'y', 6, 8)], w, 6);
    expect(foldIntoConvs(m)).toEqual({ batchNorms: 0, affineAfter: 0, affineBefore: 0 });
    expect(ops(m).Add).toBe(1);
  });

  it('a conv output read twice keeps its Mul', () => {
    const w = new Weights();
    const m = model([
      conv(w, 'c', 'x', 'a', 6, 6),
      makeNode('Mul', ['a', constant(w, 's', [], 0, 0.2)], ['m'], {}, 'mul'),
      makeNode('Add', ['a', 'm'], ['y'], {}, 'add'),
    ], w, 6);
    expect(foldIntoConvs(m).affineAfter).toBe(0);
  });

  for (const [file, field, count, dims] of [
    // 18 of the 24 ×0.2 Muls follow a conv (the dense blocks' last conv); the other 6 scale a residual Add.
    ['rrdbnet-x4-6b', 'affineAfterConvFolded', 18, [1, 3, 24, 20]],
    ['edsr-x2', 'affineAfterConvFolded', 8, [1, 3, 24, 20]],
  ] as const) {
    it(`${file} corpus file: ${count} constant Muls folded, same output`, async () => {
      const original = readModelFile(`test/fixtures/corpus/${file}.onnx`);
      const rewritten = cloneModel(original);
      const report = optimizeGraph(rewritten);
      expect(report[field]).toBe(count);
      // RRDB's two nearest ×2 Resizes (scales from Constant nodes) before convs become sub-pixel convs.
      expect(report.subpixelConvs).toBe(file === 'rrdbnet-x4-6b' ? 2 : 0);
      expect(ops(rewritten).Mul ?? 0).toBe((ops(original).Mul ?? 0) - count);
      const { diff, peak } = await compare(original, rewritten, [...dims]);
      expect(peak).toBeGreaterThan(0.3);
      expect(diff / peak).toBeLessThanOrEqual(1e-6);
    }, 60_000);
  }
});

describe('PRelu for static INT8', () => {
  const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number) =>
    makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, 3, 3]), w.add(`${name}_b`, [cout], 0.1)], [y],
      { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, name);
  const build = (slopes: number[]) => {
    const w = new Weights();
    w.list.push(makeTensor('slope', DataType.FLOAT, [slopes.length, 1, 1], Float32Array.from(slopes)));
    return model([conv(w, 'c1', 'x', 'a', 6, slopes.length), makeNode('PRelu', ['a', 'slope'], ['p'], {}, 'prelu'), conv(w, 'c2', 'p', 'y', slopes.length, 4)], w, 6);
  };
  for (const mode of ['mul-add', 'pair-conv', 'concat', 'relu-neg', 'depthwise'] as const) {
    for (const [label, slopes] of [['slopes in (−1, 1)', [0.25, -0.3, 0.9, 0.01, 0, -0.99]], ['slopes past ±1', [0.25, -1.5, 0.1, 2, 0.5, -1]]] as const) {
      it(`${mode}, ${label}: no PRelu, exact`, async () => {
        const original = build([...slopes]);
        const rewritten = cloneModel(original);
        expect(rewritePrelus(rewritten, mode)).toHaveLength(1);
        expect(ops(rewritten).PRelu).toBeUndefined();
        const { diff, peak } = await compare(original, rewritten, [1, 6, 10, 12]);
        expect(peak).toBeGreaterThan(0.1);
        expect(diff / peak).toBeLessThanOrEqual(1e-6);
      });
    }
  }

  it('optimizeGraph leaves PRelus to static INT8, which picks their form', () => {
    const plain = build([0.25, 0.1, 0.2, 0.3, 0.4, 0.5]);
    optimizeGraph(plain, { staticInt8: true });
    expect(ops(plain).PRelu).toBe(1);
    expect(rewritePrelus(plain, 'mul-add')).toHaveLength(1);
    expect(ops(plain)).toEqual({ Conv: 2, LeakyRelu: 1, Mul: 2, Add: 1 });
  });

  it('Real-ESRGAN x4fast (SRVGGNetCompact) corpus file: 33 PRelus rewritten, same output; static INT8 keeps one Q and the output sum\'s two DQs', async () => {
    const original = readModelFile('test/fixtures/corpus/realesr-x4fast-pytorch.onnx');
    const rewritten = cloneModel(original);
    optimizeGraph(rewritten, { staticInt8: true });
    expect(rewritePrelus(rewritten, 'mul-add')).toHaveLength(33);
    expect(ops(rewritten).PRelu).toBeUndefined();
    const { diff, peak } = await compare(original, rewritten, [1, 3, 24, 20]);
    expect(peak).toBeGreaterThan(0.3);
    expect(diff).toBeLessThanOrEqual(1e-5);

    const tiles = cutCalibrationTiles(readImages(['images/astronaut.png']), { count: 4, tileSize: 32, seed: 1 });
    const { model: int8 } = await quantizeStatic(original, { tiles, createRunner: (b) => createNodeRunner(b, { threads: 1 }) });
    const counts = await optimizedKernelCounts(encodeModel(int8));
    expect(counts.ops.PRelu).toBeUndefined();
    expect(counts.int8Convs).toBe(34);
    expect(counts.floatConvs).toBe(0);
    expect(counts.ops['com.microsoft.QLinearLeakyRelu']).toBe(33);
    // The image's Q, and the DQs of the two operands of the output sum, which stays float (rules/binary.ts).
    expect(counts.quantizeNodes).toBe(1);
    expect(counts.dequantizeNodes).toBe(2);
    expect(counts.ops.Add).toBe(1);
  }, 120_000);

  it('Real-ESRGAN x4fast as pair convs: every op int8, |y| exact at y\'s range, so each Concat copies bytes', async () => {
    const original = readModelFile('test/fixtures/corpus/realesr-x4fast-pytorch.onnx');
    const tiles = cutCalibrationTiles(readImages(['images/astronaut.png']), { count: 4, tileSize: 32, seed: 1 });
    const q = await quantizeStatic(original, { tiles, preluMode: 'pair-conv', createRunner: (b) => createNodeRunner(b, { threads: 1 }) });
    const counts = await optimizedKernelCounts(encodeModel(q.model));
    expect(counts.ops.PRelu).toBeUndefined();
    expect(counts.int8Convs).toBe(34 + 33);
    expect(counts.floatConvs).toBe(0);
    expect(counts.ops['com.microsoft.QLinearLeakyRelu']).toBe(33);
    expect(counts.ops['com.microsoft.QLinearConcat']).toBe(33);
    expect([counts.quantizeNodes, counts.dequantizeNodes]).toEqual([1, 2]);
    // Each pair Concat's inputs (y and |y|) are quantized like its output: ORT's QLinearConcat copies them.
    const g = q.model.graph!;
    const producer = new Map(g.node!.flatMap((n) => n.output!.map((o) => [o, n] as const)));
    const scalar = (name: string) => {
      const t = g.initializer!.find((i) => i.name === name)!;
      return t.floatData?.length ? t.floatData[0] : t.rawData!.length === 4 ? new DataView(t.rawData!.buffer, t.rawData!.byteOffset).getFloat32(0, true) : t.rawData![0];
    };
    const qParams = (n: NodeProto) => [scalar(n.input![1]!), scalar(n.input![2]!)];
    const concats = g.node!.filter((n) => n.opType === 'Concat');
    expect(concats).toHaveLength(33);
    for (const c of concats) {
      const out = g.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === c.output![0])!;
      for (const i of c.input!) expect(qParams(producer.get(i)!)).toEqual(qParams(out));
    }
    expect(getMetadata(q.model, 'srq.prelu')).toBe('pair-conv');

    // The mixes' weights are stored sparse: the file is about as small as the other forms' (dense: 33% of FP32).
    const bytes = encodeModel(q.model);
    expect((ModelProtoType.decode(bytes) as unknown as ModelProto).graph!.sparseInitializer).toHaveLength(33);
    expect(bytes.length / statSync('test/fixtures/corpus/realesr-x4fast-pytorch.onnx').size).toBeLessThan(0.29); // measured 0.282
  }, 120_000);
});
