// Calibration and bias correction add measurement nodes ("taps") to copies of the model. Where they sit in the
// node list decides when ORT runs them (src-core/quantize/taps.ts): this test reads the order ORT actually runs
// from its profiler, on a deep conv chain, for both placements.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto } from '../src-core/onnx/types.ts';
import { seededRandom } from '../src-core/quantize/calibration-tiles.ts';
import { appendTapsEarliestLast, productionOrder } from '../src-core/quantize/taps.ts';
import { keepOnlyOutputs } from '../src-core/onnx/keep-only.ts';
import { cloneModel } from '../src-core/onnx/model.ts';

const DEPTH = 12;

/** conv → LeakyRelu, DEPTH times, with a ReduceMax tap on every activation. */
function tappedChain(place: 'earliest-last' | 'earliest-first'): ModelProto {
  const rand = seededRandom(5);
  const init: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const taps = new Map<string, NodeProto[]>();
  let x = 'input';
  for (let i = 0; i < DEPTH; i++) {
    const cin = i === 0 ? 3 : 16;
    init.push(makeTensor(`w${i}`, DataType.FLOAT, [16, cin, 3, 3], Float32Array.from({ length: 16 * cin * 9 }, () => (rand() - 0.5) * 0.3)));
    nodes.push(makeNode('Conv', [x, `w${i}`], [`c${i}`], { pads: attr.ints([1, 1, 1, 1]) }, `conv${i}`));
    nodes.push(makeNode('LeakyRelu', [`c${i}`], [`a${i}`], { alpha: attr.float(0.2) }, `act${i}`));
    taps.set(`a${i}`, [makeNode('ReduceMax', [`a${i}`], [`max${i}`], { keepdims: attr.int(0) }, `tap${i}`)]);
    x = `a${i}`;
  }
  const graph = makeGraph({
    name: 'chain', nodes, initializers: init,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w'])],
    outputs: [makeValueInfo(x, DataType.FLOAT, [1, 16, null, null]), ...[...taps.keys()].map((_, i) => makeValueInfo(`max${i}`, DataType.FLOAT, []))],
  });
  const order = productionOrder(graph, [...taps.keys()].reverse());
  expect(order).toEqual([...taps.keys()]);
  const groups = order.map((t) => taps.get(t)!);
  if (place === 'earliest-last') appendTapsEarliestLast(graph, groups);
  else graph.node = [...graph.node!, ...groups.flat()];
  return makeModel(graph, { opset: 17 });
}

const dir = mkdtempSync(join(tmpdir(), 'srq-taps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Node names in the order ORT ran them (its profiler's kernel events). */
async function executionOrder(model: ModelProto, prefix: string): Promise<string[]> {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    enableProfiling: true, profileFilePrefix: join(dir, prefix), graphOptimizationLevel: 'all', logSeverityLevel: 3,
  });
  await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32]) });
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).find((f) => f.startsWith(prefix))!;
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat?: string; name: string }[];
  return events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).map((e) => e.name.replace(/_kernel_time$/, ''));
}

/** Where layer i's conv ran: ORT names it conv<i>, or a<i>_nchwc once fused with its LeakyRelu in NCHWc layout. */
function layerStart(order: string[], i: number): number {
  return order.findIndex((n) => n === `conv${i}` || n === `a${i}_nchwc`);
}

describe('tap placement (calibration, bias correction)', () => {
  it('appended earliest-last, each tap runs before the next conv: its tensor is freed as in the plain model', async () => {
    const order = await executionOrder(tappedChain('earliest-last'), 'last');
    for (let i = 0; i < DEPTH - 1; i++) {
      const tap = order.indexOf(`tap${i}`);
      expect(tap, `tap${i} ran`).toBeGreaterThanOrEqual(0);
      const next = layerStart(order, i + 1);
      expect(next, `layer ${i + 1} found`).toBeGreaterThan(0);
      expect(tap, `tap${i} before conv${i + 1} in ${order.join(' ')}`).toBeLessThan(next);
    }
  });

  it('appended earliest-first (as calibration did), every tap ran after the last conv', async () => {
    const order = await executionOrder(tappedChain('earliest-first'), 'first');
    const lastConv = layerStart(order, DEPTH - 1);
    expect(lastConv).toBeGreaterThan(0);
    for (let i = 0; i < DEPTH; i++) expect(order.indexOf(`tap${i}`)).toBeGreaterThan(lastConv);
  });
});

describe('a copy cut after the tensors a part reads (GPTQ, bias correction, error reports)', () => {
  it('runs only the layers they depend on and returns the same values: ORT runs every node whatever a run fetches', async () => {
    const full = tappedChain('earliest-last');
    full.graph!.output!.push(makeValueInfo('a2', DataType.FLOAT, [1, 16, null, null]));
    const cut = cloneModel(full);
    keepOnlyOutputs(cut.graph!, ['max3', 'a2']);
    expect(cut.graph!.output!.map((o) => o.name)).toEqual(['max3', 'a2']);
    expect(cut.graph!.initializer!.map((t) => t.name)).toEqual(['w0', 'w1', 'w2', 'w3']);
    expect(cut.graph!.node!.map((n) => n.name)).toEqual(['conv0', 'act0', 'conv1', 'act1', 'conv2', 'act2', 'conv3', 'act3', 'tap3']);
    const input = new ort.Tensor('float32', Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i % 7) / 7), [1, 3, 32, 32]);
    const values = async (model: ModelProto) => {
      const session = await ort.InferenceSession.create(encodeModel(model), { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
      const out = await session.run({ input }, ['max3', 'a2']);
      await session.release();
      return [out.max3!.data as Float32Array, out.a2!.data as Float32Array];
    };
    const [fullMax, fullA2] = await values(full);
    const [cutMax, cutA2] = await values(cut);
    expect(cutMax).toEqual(fullMax);
    expect(cutA2).toEqual(fullA2);
    const ran = await executionOrder(cut, 'cut');
    expect(ran.some((n) => n.includes('4') || n.includes('11'))).toBe(false);
  });
});
