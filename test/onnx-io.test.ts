import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import {
  attr, DataType, decodeModel, encodeModel, getMetadata, Graph, makeGraph, makeModel, makeNode, makeTensor,
  makeValueInfo, OnnxFormatError, opHistogram, opsetVersion, setMetadata, tensorDims, tensorToArray, toNumber,
} from '../src-core/onnx/index.ts';
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

  it('rejects bytes that are not ONNX and truncated models with a clear error', () => {
    const bytes = encodeModel(tinyNet());
    expect(() => decodeModel(new TextEncoder().encode('hello, not a model'), 'notes.txt')).toThrow(OnnxFormatError);
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 100), 'cut.onnx')).toThrow(/cut.onnx is not a readable ONNX model/);
  });
});
