// Concat inputs and output share one range where that costs little (src-core/quantize/concat-ranges.ts), so ORT's
// QLinearConcat copies bytes instead of requantizing. Measured (`srq validate` on the held-out photos, `srq bench`
// 256², ORT-node 2 threads): the corpus's 6-block RRDBNet 1.68× → 2.15× over FP32 at fidelity 47.71 → 47.57 dB;
// esrgan-slim-x4 1.69× → 2.00× at 50.88 → 50.90 dB. A first version also merged folded Relu outputs, whose
// [0, max] range is what clamps them: esrgan-medium-x4 fell to 31.3 dB fidelity (49.3 before); the last test
// catches that.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { Graph } from '../src-core/onnx/graph.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { DataType, tensorToArray } from '../src-core/onnx/tensor.ts';
import type { ModelProto } from '../src-core/onnx/types.ts';
import { cutCalibrationTiles, rasterToTensor } from '../src-core/quantize/calibration-tiles.ts';
import { MAX_WIDENING } from '../src-core/quantize/concat-ranges.ts';
import { planQuantization, quantizeStatic, settleRanges } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { Weights } from './helpers/weights.ts';

const runner = (b: Uint8Array) => createNodeRunner(b, { threads: 1 });
const photos = readImages(['images/astronaut.png', 'images/coffee.png']);
const tiles = cutCalibrationTiles(photos, { count: 4, tileSize: 32, seed: 1 });

const conv = (w: Weights, name: string, x: string, y: string, cin: number, cout: number) =>
  makeNode('Conv', [x, w.add(`${name}_w`, [cout, cin, 3, 3], 0.2), w.add(`${name}_b`, [cout], 0.05)], [y], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, name);

/**
 * A dense block: t (trunk, read by a conv) · f1 = LeakyRelu(conv) (read only by Concats) · c1 = [t, f1] ·
 * f2 = Relu(conv c1) (folded into its conv) · c2 = [t, f1, f2] · g = conv(c2) (read by a conv too) · c3 = [c2, g].
 */
function denseBlock(): ModelProto {
  const w = new Weights();
  const nodes = [
    conv(w, 'stem', 'input', 't', 3, 4),
    conv(w, 'conv1', 't', 'p1', 4, 4),
    makeNode('LeakyRelu', ['p1'], ['f1'], { alpha: attr.float(0.2) }),
    makeNode('Concat', ['t', 'f1'], ['c1'], { axis: attr.int(1) }),
    conv(w, 'conv2', 'c1', 'p2', 8, 4),
    makeNode('Relu', ['p2'], ['f2']),
    makeNode('Concat', ['t', 'f1', 'f2'], ['c2'], { axis: attr.int(1) }),
    conv(w, 'conv3', 'c2', 'g', 12, 4),
    makeNode('Concat', ['c2', 'g'], ['c3'], { axis: attr.int(1) }),
    conv(w, 'conv4', 'g', 'h', 4, 4),
    conv(w, 'last', 'c3', 'y', 16, 3),
  ];
  return makeModel(makeGraph({
    name: 'dense', nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, null, null])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null]), makeValueInfo('h', DataType.FLOAT, [1, 4, null, null])],
    initializers: w.list,
  }));
}

/** For each Concat of a QDQ model, per input: whether its DQ has the output Q's scale and zero point (a copy). */
function concatCopies(m: ModelProto): boolean[][] {
  const g = new Graph(m.graph!);
  const value = (name: string) => Array.from(tensorToArray(g.initializer(name)!) as ArrayLike<number>);
  const params = (n: { input?: string[] | null }) => JSON.stringify([value(n.input![1]!), value(n.input![2]!)]);
  return g.nodes.filter((n) => n.opType === 'Concat').map((cat) => {
    const q = g.consumers(cat.output![0]!).find((n) => n.opType === 'QuantizeLinear')!;
    return cat.input!.map((x) => params(g.producer(x)!) === params(q));
  });
}

describe('Concat ranges', () => {
  it('share the union where no tensor read by another op widens past the limit; folded Relu outputs keep theirs', () => {
    const m = denseBlock();
    const plan = planQuantization(m);
    const calibrated = new Map(Object.entries({
      input: { min: 0, max: 1 },
      t: { min: -1, max: 1 },
      f1: { min: -0.1, max: 0.3 }, // only Concats read it: widening costs nothing it had
      c1: { min: -1, max: 0.95 },
      f2: { min: 0, max: 2 }, // a folded Relu: [0, max] is its clamp
      c2: { min: -1, max: 1.1 },
      g: { min: -0.2, max: 0.2 }, // conv4 reads it: [-1, 1.1] would be 5× as wide
      c3: { min: -1, max: 1.1 },
      h: { min: -1, max: 1 },
    }));
    const ranges = settleRanges(m, plan, calibrated);
    for (const t of ['t', 'f1', 'c1', 'c2', 'c3']) expect(ranges.get(t), t).toEqual({ min: -1, max: 1.1 });
    expect(ranges.get('f2')).toEqual({ min: 0, max: 2 });
    expect(ranges.get('g')).toEqual({ min: -0.2, max: 0.2 });
    expect(MAX_WIDENING).toBe(1.25);
    // Just inside the limit, g joins.
    calibrated.set('g', { min: -0.8, max: 0.9 });
    expect(settleRanges(m, plan, calibrated).get('g')).toEqual({ min: -1, max: 1.1 });
  });

  it('keep a graph input\'s own range (an image in [0, 1] stays on the 1/255 grid)', () => {
    const w = new Weights();
    const m = makeModel(makeGraph({
      name: 'input-concat',
      nodes: [conv(w, 'a', 'input', 'a', 3, 3), makeNode('Concat', ['input', 'a'], ['c'], { axis: attr.int(1) }), conv(w, 'last', 'c', 'y', 6, 3)],
      inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, null, null])],
      outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null])],
      initializers: w.list,
    }));
    const calibrated = new Map(Object.entries({ input: { min: 0, max: 1 }, a: { min: -0.05, max: 1.1 }, c: { min: -0.05, max: 1.1 } }));
    const ranges = settleRanges(m, planQuantization(m), calibrated);
    expect(ranges.get('input')).toEqual({ min: 0, max: 1 });
    expect(ranges.get('a')).toEqual({ min: -0.05, max: 1.1 });
  });

  it('RRDBNet (corpus, PyTorch export): its 72 Concats copy their inputs in ORT', async () => {
    const fp32 = readModelFile(join(import.meta.dirname, 'fixtures', 'corpus', 'rrdbnet-x4-6b.onnx'));
    const { model } = await quantizeStatic(fp32, { tiles, createRunner: runner, method: 'minmax', biasCorrection: false });
    const copies = concatCopies(model);
    expect(copies.length).toBe(72);
    // 4 tiles of 32², min/max: two Concats keep one input requantized (its range too narrow to widen).
    expect(copies.filter((c) => c.every(Boolean)).length).toBeGreaterThanOrEqual(70);
  });

  it('esrgan-medium-x4 (folded Relus inside its dense blocks) stays as close to FP32 as before', async () => {
    const fp32 = readModelFile(join(import.meta.dirname, '..', 'models', 'esrgan-medium-x4.onnx'));
    const { model } = await quantizeStatic(fp32, { tiles, createRunner: runner, method: 'minmax', biasCorrection: false });
    const copies = concatCopies(model);
    // The folded Relu outputs keep their own range; the dense blocks' trunks are copied.
    const probe = rasterToTensor(cutCalibrationTiles([photos[1]!], { count: 1, tileSize: 48, seed: 7 })[0]!);
    const run = async (m: ModelProto) => {
      const r = await runner(encodeModel(m));
      try { return (await r.run(probe.data, probe.dims)).data; } finally { await r.release(); }
    };
    const [want, got] = [await run(fp32), await run(model)];
    let se = 0;
    for (let i = 0; i < want.length; i++) se += (want[i]! - got[i]!) ** 2;
    const fidelity = 10 * Math.log10(1 / (se / want.length));
    // Measured 47.25 dB on this crop (min/max, 4 tiles); 38.99 dB when folded Relu outputs were merged too.
    expect(fidelity).toBeGreaterThan(45);
    expect(copies.map((c) => c.map(Number).join('')).join(' ')).toBe(`${'10 '.repeat(10)}0000000001`);

  });
});
