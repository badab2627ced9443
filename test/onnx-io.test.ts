import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import {
  attr, DataType, decodeModel, encodeModel, getMetadata, Graph, makeGraph, makeModel, makeNode, makeTensor,
  makeValueInfo, OnnxFormatError, opHistogram, opsetVersion, setMetadata, tensorDims, tensorToArray, toNumber,
} from '../src-core/onnx/index.ts';
import type { ModelProto } from '../src-core/onnx/index.ts';
import { ModelProtoType } from '../src-core/onnx/schema.ts';
import { seededRandom } from '../src-core/quantize/calibration-tiles.ts';

/** conv3x3 -> relu -> conv3x3 -> add(skip) -> Resize x2: the shape of a tiny SR net. */
function tinyNet() {
  const rand = seededRandom(7);
  const w = (n: number) => Float32Array.from({ length: n }, () => rand() * 0.2 - 0.1);
  const nodes = [
    makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'conv1'),
    makeNode('Relu', ['c1'], ['r1'], {}, 'relu1'),
    makeNode('Conv', ['r1', 'w2', 'b2'], ['c2'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'conv2'),
    makeNode('Add', ['c2', 'x'], ['s'], {}, 'skip'),
    makeNode('Resize', ['s', '', 'scales'], ['y'], { mode: attr.string('nearest') }, 'up'),
  ];
  const graph = makeGraph({
    name: 'tiny',
    nodes,
    inputs: [makeValueInfo('x', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, null, null])],
    initializers: [
      makeTensor('w1', DataType.FLOAT, [8, 3, 3, 3], w(8 * 27)),
      makeTensor('b1', DataType.FLOAT, [8], w(8)),
      makeTensor('w2', DataType.FLOAT, [3, 8, 3, 3], w(3 * 72)),
      makeTensor('b2', DataType.FLOAT, [3], w(3)),
      makeTensor('scales', DataType.FLOAT, [4], new Float32Array([1, 1, 2, 2])),
    ],
  });
  return makeModel(graph, { metadata: { 'srq.scale': '2' } });
}

async function run(bytes: Uint8Array, x: Float32Array, dims: number[]) {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
  const y = out[session.outputNames[0]!]!;
  await session.release();
  return { data: y.data as Float32Array, dims: [...y.dims] };
}

describe('ONNX model I/O', () => {
  it('builds a model that ORT runs, and a decode/encode round trip gives identical outputs', async () => {
    const model = tinyNet();
    const bytes = encodeModel(model);
    const x = Float32Array.from({ length: 3 * 5 * 7 }, (_, i) => (i % 11) / 10);
    const first = await run(bytes, x, [1, 3, 5, 7]);
    expect(first.dims).toEqual([1, 3, 10, 14]);

    const decoded = decodeModel(bytes);
    expect(getMetadata(decoded, 'srq.scale')).toBe('2');
    expect(opsetVersion(decoded)).toBe(17);
    const reencoded = encodeModel(decoded);
    expect(reencoded).toEqual(bytes);
    const second = await run(reencoded, x, [1, 3, 5, 7]);
    expect(second.data).toEqual(first.data);
  });

  it('reads tensors from raw_data and from typed fields, int64 losslessly', () => {
    const decoded = decodeModel(encodeModel(tinyNet()));
    const w1 = decoded.graph!.initializer!.find((t) => t.name === 'w1')!;
    expect(tensorDims(w1)).toEqual([8, 3, 3, 3]);
    expect(tensorToArray(w1)).toBeInstanceOf(Float32Array);
    const typed = { name: 'ends', dataType: DataType.INT64, dims: [2], int64Data: ['9223372036854775807', 5] };
    const model = tinyNet();
    model.graph!.initializer!.push(typed as never);
    const back = decodeModel(encodeModel(model)).graph!.initializer!.find((t) => t.name === 'ends')!;
    expect(Array.from(tensorToArray(back) as BigInt64Array)).toEqual([9223372036854775807n, 5n]);
    expect(toNumber(back.dims![0]!)).toBe(2);
  });

  it('edits graphs: producers, consumers, topological order, remove unused', () => {
    const model = tinyNet();
    const g = new Graph(model.graph!);
    expect(g.producer('c1')?.name).toBe('conv1');
    expect(g.consumers('x').map((n) => n.name).sort()).toEqual(['conv1', 'skip']);
    g.nodes.reverse();
    g.sort();
    expect(g.nodes.map((n) => n.name)).toEqual(['conv1', 'relu1', 'conv2', 'skip', 'up']);
    g.addInitializer(makeTensor('unused', DataType.FLOAT, [1], new Float32Array([1])));
    g.addNode(makeNode('Relu', ['x'], ['dead'], {}, 'dead'));
    g.removeUnused();
    expect(g.initializer('unused')).toBeUndefined();
    expect(g.nodes.map((n) => n.name)).not.toContain('dead');
    expect(opHistogram(g.nodes)).toEqual({ Conv: 2, Relu: 1, Add: 1, Resize: 1 });
    expect(g.uniqueName('c1')).toBe('c1_1');
    setMetadata(model, 'srq.scale', '3');
    expect(getMetadata(model, 'srq.scale')).toBe('3');
  });

  it('stores mostly-zero int8 weights sparse, reads sparse initializers (either index form) back dense, ORT output equal', async () => {
    // y = x + DequantizeLinear(w): w is 1024 int8 values with 32 non-zeros (a pair conv's weights look like this).
    const w = new Int8Array(32 * 32);
    for (let i = 0; i < 32; i++) w[i * 32 + ((i * 7) % 32)] = (i % 5) - 6;
    const dense = new Int8Array(32 * 32).map((_, i) => (i % 10 === 0 ? 1 : 0)); // 10% non-zero: smaller dense
    const model = makeModel(makeGraph({
      name: 'sparse', inputs: [makeValueInfo('x', DataType.FLOAT, [32, 32])], outputs: [makeValueInfo('y', DataType.FLOAT, [32, 32])],
      nodes: [
        makeNode('DequantizeLinear', ['w', 'scale'], ['wf'], {}, 'dq'), makeNode('DequantizeLinear', ['d', 'scale'], ['df'], {}, 'dq2'),
        makeNode('Add', ['x', 'wf'], ['s'], {}, 'add'), makeNode('Add', ['s', 'df'], ['y'], {}, 'add2'),
      ],
      initializers: [
        makeTensor('w', DataType.INT8, [32, 32], w), makeTensor('d', DataType.INT8, [32, 32], dense),
        makeTensor('scale', DataType.FLOAT, [], new Float32Array([0.5])),
      ],
    }));
    const bytes = encodeModel(model);
    const stored = ModelProtoType.decode(bytes) as unknown as ModelProto;
    expect(stored.graph!.sparseInitializer!.map((s) => s.values!.name)).toEqual(['w']);
    expect(stored.graph!.initializer!.map((t) => t.name)).toEqual(['d', 'scale']);
    expect(model.graph!.initializer!.length).toBe(3); // encoding leaves the model as it was
    // 32 values (1 byte) and their linear indices (8 bytes) instead of 1024 bytes.
    expect(bytes.length).toBeLessThan(ModelProtoType.encode(ModelProtoType.fromObject(model)).finish().length - 700);

    const back = decodeModel(bytes).graph!;
    expect(back.sparseInitializer ?? []).toEqual([]);
    expect(tensorToArray(back.initializer!.find((t) => t.name === 'w')!)).toEqual(w);
    const x = Float32Array.from({ length: 1024 }, (_, i) => i / 100);
    const expected = x.map((v, i) => Math.fround(v + w[i]! * 0.5) + dense[i]! * 0.5); // two float32 adds, as ORT
    expect((await run(bytes, x, [32, 32])).data).toEqual(expected);

    // Coordinates ([NNZ, rank]) as other tools write them read back the same.
    const coords = new BigInt64Array(64);
    let k = 0;
    for (let i = 0; i < 1024; i++) if (w[i] !== 0) { coords[2 * k] = BigInt(Math.floor(i / 32)); coords[2 * k + 1] = BigInt(i % 32); k++; }
    const viaCoordinates = ModelProtoType.decode(bytes) as unknown as ModelProto;
    viaCoordinates.graph!.sparseInitializer![0]!.indices = makeTensor('', DataType.INT64, [32, 2], coords);
    const reread = decodeModel(ModelProtoType.encode(ModelProtoType.fromObject(viaCoordinates)).finish()).graph!;
    expect(tensorToArray(reread.initializer!.find((t) => t.name === 'w')!)).toEqual(w);
  });

  it('rejects bytes that are not ONNX and truncated models with a clear error', () => {
    const bytes = encodeModel(tinyNet());
    expect(() => decodeModel(new TextEncoder().encode('hello, not a model'), 'notes.txt')).toThrow(OnnxFormatError);
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 100), 'cut.onnx')).toThrow(/cut.onnx is not a readable ONNX model/);
  });
});
