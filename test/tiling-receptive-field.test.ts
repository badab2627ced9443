// The receptive field computed from the graph must match what the model actually does in ORT.
import { describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto } from '../src-core/onnx/types.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { receptiveField, receptiveFieldRadius, ReceptiveFieldError } from '../src-core/tiling/receptive-field.ts';
import { measureExtent } from './fixtures/tiling/measure.ts';
import { buildSyntheticSr, seededRandom, syntheticRadius, type SyntheticSrOptions } from './fixtures/tiling/synthetic-sr.ts';

async function measured(model: ModelProto, scale: number, size: number) {
  const runner = await createNodeRunner(encodeModel(model), { threads: 1 });
  try {
    return await measureExtent(runner, scale, size);
  } finally {
    await runner.release();
  }
}

describe('synthetic SR nets (conv + relu, dense concat, nearest Resize, convs)', () => {
  const configs: SyntheticSrOptions[] = [
    { scale: 2, convsBefore: 3, convsAfter: 2 },
    { scale: 4, convsBefore: 2, convsAfter: 3 },
    { scale: 2, convsBefore: 2, convsAfter: 1, dilation: 2 },
    { scale: 4, convsBefore: 4, convsAfter: 1 },
  ];
  for (const cfg of configs) {
    it(`${JSON.stringify(cfg)}: graph radius = hand-worked radius = measured radius`, async () => {
      const model = buildSyntheticSr(cfg);
      const rf = receptiveField(model);
      expect(rf.scale).toBe(cfg.scale);
      expect(rf.radius).toBe(syntheticRadius(cfg));
      const m = await measured(model, cfg.scale!, 2 * rf.radius + 9);
      // The computed field contains every measured dependency and is tight once rounded up.
      expect(rf.before).toBeGreaterThanOrEqual(m.before - 1e-9);
      expect(rf.after).toBeGreaterThanOrEqual(m.after - 1e-9);
      expect(m.radius).toBe(rf.radius);
    });
  }
});

// One-path nets through the other spatial ops the analysis handles, each checked against ORT.
function chain(build: (add: (n: NodeProto) => void, init: (t: TensorProto) => void, w: (...dims: number[]) => string) => string) {
  const rand = seededRandom(11);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let k = 0;
  const w = (...dims: number[]) => {
    const name = `w${k++}`;
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push(makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: n }, () => rand() - 0.5)));
    return name;
  };
  const out = build((n) => nodes.push(n), (t) => inits.push(t), w);
  nodes.push(makeNode('Identity', [out], ['output']));
  return makeModel(makeGraph({
    name: 'chain',
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('output', DataType.FLOAT, [1, null, null, null])],
    initializers: inits,
  }), { opset: 17 });
}

const conv3 = (x: string, y: string, w: string, pads = [1, 1, 1, 1], extra: Record<string, ReturnType<typeof attr.ints>> = {}) =>
  makeNode('Conv', [x, w], [y], { kernel_shape: attr.ints([3, 3]), pads: attr.ints(pads), ...extra });

describe('other spatial ops, checked against ORT', () => {
  const cases: { name: string; scale: number; radius: number; model: ModelProto }[] = [
    {
      name: 'DepthToSpace (pixel shuffle) between convs',
      scale: 2,
      radius: 2, // 1 + (1/2 floor phase) + 1/2 -> 2
      model: chain((add, _i, w) => {
        add(conv3('input', 'a', w(12, 3, 3, 3)));
        add(makeNode('DepthToSpace', ['a'], ['b'], { blocksize: attr.int(2), mode: attr.string('CRD') }));
        add(conv3('b', 'c', w(3, 3, 3, 3)));
        return 'c';
      }),
    },
    {
      name: 'ConvTranspose k4 s2 p1',
      scale: 2,
      radius: 2,
      model: chain((add, _i, w) => {
        add(conv3('input', 'a', w(4, 3, 3, 3)));
        add(makeNode('ConvTranspose', ['a', w(4, 3, 4, 4)], ['b'], {
          kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]),
        }));
        return 'b';
      }),
    },
    {
      name: 'bilinear half_pixel Resize x2 after a conv',
      scale: 2,
      radius: 2,
      model: chain((add, init, w) => {
        init(makeTensor('scales', DataType.FLOAT, [4], new Float32Array([1, 1, 2, 2])));
        add(conv3('input', 'a', w(3, 3, 3, 3)));
        add(makeNode('Resize', ['a', '', 'scales'], ['b'], { mode: attr.string('linear') }));
        return 'b';
      }),
    },
    {
      name: 'explicit Pad + valid 5x5 conv, stride-2 conv, max pool',
      scale: 0.5,
      radius: 6, // 2 (5x5) + 1 (3x3) + 1 (3x3 s2), then the 3x3 pool at scale 1/2 reaches 2 more
      model: chain((add, init, w) => {
        init(makeTensor('pads', DataType.INT64, [8], BigInt64Array.from([0, 0, 2, 2, 0, 0, 2, 2], BigInt)));
        add(makeNode('Pad', ['input', 'pads'], ['p']));
        add(makeNode('Conv', ['p', w(4, 3, 5, 5)], ['a'], { kernel_shape: attr.ints([5, 5]) }));
        add(makeNode('Relu', ['a'], ['ar']));
        add(conv3('ar', 'b', w(4, 4, 3, 3)));
        add(conv3('b', 'c', w(4, 4, 3, 3), [1, 1, 1, 1], { strides: attr.ints([2, 2]) }));
        add(makeNode('MaxPool', ['c'], ['d'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }));
        return 'd';
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const rf = receptiveField(c.model);
      expect(rf.scale).toBe(c.scale);
      expect(rf.radius).toBe(c.radius);
      const m = await measured(c.model, c.scale, 2 * rf.radius + 13);
      expect(rf.before).toBeGreaterThanOrEqual(m.before - 1e-9);
      expect(rf.after).toBeGreaterThanOrEqual(m.after - 1e-9);
      expect(m.radius).toBe(rf.radius);
    });
  }

  it('refuses ops that mix all pixels, naming the node and the fix', () => {
    const model = chain((add, _i, w) => {
      add(conv3('input', 'a', w(3, 3, 3, 3)));
      add(makeNode('GlobalAveragePool', ['a'], ['g'], {}, 'squeeze'));
      add(makeNode('Mul', ['a', 'g'], ['b']));
      return 'b';
    });
    expect(() => receptiveFieldRadius(model)).toThrow(ReceptiveFieldError);
    expect(() => receptiveFieldRadius(model)).toThrow(/GlobalAveragePool node 'squeeze'.*pass the tile overlap/);
  });
});
