// A float model that computes the static INT8 model, layer by layer on demand: the accuracy-aware search measures
// any choice of layers kept float by one run of one session, instead of quantizing and loading a model per choice.
// Values pass through x + m·(q(x) − x), where q(x) is the INT8 model's own value (its Q/DQ parameters, int8 weights
// and corrected int32 bias) and m comes from one graph input, the layer mask (1 = int8, 0 = float, per layer):
// a weight or bias follows the layer that reads it; an activation is seen quantized by an int8 reader, and by a float
// reader when its producer is int8 (as in the real model, where an int8 op writes int8 whatever its neighbours are).
// All ones match the INT8 model up to its kernels' rounding; all zeros are the float graph.
// What it leaves out: a real model with some layers float is planned again (a tensor may then get its own range
// where it shared one, and bias corrections were measured with every layer int8), so the search confirms its
// final choice on the real model. Runtime-agnostic.
import { makeNode, makeValueInfo } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { cloneModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { dequantizedConstant } from './bias-correction.ts';
import type { StaticQuantizeResult } from './static.ts';

/** The graph input holding one float per layer: 1 = quantized, 0 = kept float. */
export const LAYER_MASK = 'srq_layer_mask';

export function simulationModel(q: StaticQuantizeResult, layers: readonly { nodes: readonly string[] }[]): ModelProto {
  const sim = cloneModel(q.floatModel);
  const g = new Graph(sim.graph!);
  const int8 = new Graph(q.model.graph!);
  const layerOf = new Map<string, number>();
  layers.forEach((l, i) => l.nodes.forEach((n) => layerOf.set(n, i)));
  sim.graph!.input!.push(makeValueInfo(LAYER_MASK, DataType.FLOAT, [layers.length]));

  const masks = new Map<number, string>();
  const maskOf = (layer: number) => {
    let m = masks.get(layer);
    if (!m) {
      m = g.uniqueName(`srq_mask_${layer}`);
      const index = g.uniqueName(`${m}_index`);
      g.addInitializer(makeTensor(index, DataType.INT64, [], new BigInt64Array([BigInt(layer)])));
      g.addNode(makeNode('Gather', [LAYER_MASK, index], [m], {}, m));
      masks.set(layer, m);
    }
    return m;
  };
  /** x + m·(xq − x), as a new tensor. */
  const blend = (x: string, xq: string, mask: string) => {
    const [d, md, out] = ['delta', 'masked', 'sim'].map((s) => g.uniqueName(`${x}_${s}`)) as [string, string, string];
    g.addNode(makeNode('Sub', [xq, x], [d]));
    g.addNode(makeNode('Mul', [d, mask], [md]));
    g.addNode(makeNode('Add', [x, md], [out]));
    return out;
  };
  /** x + m·Δ for an initializer whose INT8 value is known: Δ is a constant. */
  const blendConstant = (name: string, mask: string) => {
    const quantized = dequantizedConstant(int8, name);
    const float = g.initializer(name);
    if (!quantized || !float) return undefined;
    const values = tensorToFloat32(float);
    const delta = g.uniqueName(`${name}_int8_delta`);
    g.addInitializer(makeTensor(delta, DataType.FLOAT, tensorDims(float), Float32Array.from(quantized.values, (v, i) => v - values[i]!)));
    const [md, out] = [g.uniqueName(`${name}_masked`), g.uniqueName(`${name}_sim`)];
    g.addNode(makeNode('Mul', [delta, mask], [md]));
    g.addNode(makeNode('Add', [name, md], [out]));
    return out;
  };
  /** The INT8 model's QuantizeLinear of activation x (its scale and zero point), if it quantizes x. */
  const quantizerOf = (x: string) => {
    const dq = int8.producer(x);
    const q = dq?.opType === 'DequantizeLinear' ? int8.producer(dq.input![0]!) : int8.consumers(x).find((n) => n.opType === 'QuantizeLinear');
    return q?.opType === 'QuantizeLinear' ? q : undefined;
  };
  /** DQ(Q(source)) with the INT8 model's parameters for x, as a new tensor; undefined when x is not quantized there. */
  const fakeQuant = (x: string, source = x) => {
    const q = quantizerOf(x);
    if (!q) return undefined;
    const params = q.input!.slice(1).map((name) => {
      const copy = g.uniqueName(name);
      g.addInitializer({ ...int8.initializer(name)!, name: copy });
      return copy;
    });
    const [quantized, out] = [g.uniqueName(`${x}_fq`), g.uniqueName(`${x}_fdq`)];
    g.addNode(makeNode('QuantizeLinear', [source, ...params], [quantized]));
    g.addNode(makeNode('DequantizeLinear', [quantized, ...params], [out]));
    return out;
  };

  // Weights, biases and constant operands follow the layer that reads them.
  const blendedConstants = new Map<string, string>();
  for (const node of [...g.nodes]) {
    const layer = layerOf.get(node.name ?? '');
    if (layer === undefined) continue;
    node.input = (node.input ?? []).map((x) => {
      if (!x || !(q.plan.weights.has(x) || q.plan.biases.has(x) || q.plan.constants.has(x))) return x;
      const key = `${layer}\u0000${x}`;
      if (!blendedConstants.has(key)) blendedConstants.set(key, blendConstant(x, maskOf(layer)) ?? x);
      return blendedConstants.get(key)!;
    });
  }
  /** 1 − Π(1 − m) over the owners' masks: 1 as soon as one owner is int8. */
  const anyOf = (owners: readonly number[]) => {
    if (owners.length === 1) return maskOf(owners[0]!);
    const one = g.uniqueName('srq_one');
    g.addInitializer(makeTensor(one, DataType.FLOAT, [], new Float32Array([1])));
    let product = '';
    for (const o of owners) {
      const off = g.uniqueName(`srq_mask_${o}_off`);
      g.addNode(makeNode('Sub', [one, maskOf(o)], [off]));
      if (!product) product = off;
      else {
        const next = g.uniqueName('srq_mask_product');
        g.addNode(makeNode('Mul', [product, off], [next]));
        product = next;
      }
    }
    const any = g.uniqueName('srq_mask_any');
    g.addNode(makeNode('Sub', [one, product], [any]));
    return any;
  };
  // Which value each reader sees, as in the real model (rewrite.ts): an int8 reader reads the quantized copy; a
  // float reader reads it only when the producer is int8 (its output is int8), else the float value itself. With
  // masks: reader r sees x + (m_producer ∨ m_r)·(q(x) − x), where a node outside every layer is 1 when the plan
  // quantizes it and 0 when it is float. A graph output is quantized while any layer that touches it is int8.
  const quantizedNames = new Set([...q.plan.quantizedNodes].map((n) => n.name).filter(Boolean));
  /** A node's mask: a layer's, or a constant (true = always int8, false = always float). */
  const ownerOf = (n: NodeProto | undefined): number | boolean => {
    const layer = layerOf.get(n?.name ?? '');
    return layer ?? (!!n?.name && quantizedNames.has(n.name));
  };
  const activations = [...new Set([...q.plan.activations, ...q.plan.shared.keys()])].filter((x) => quantizerOf(x));
  for (const x of activations) {
    const producer = g.producer(x);
    const readers = g.consumers(x);
    const isOutput = g.isGraphOutput(x);
    let source = x;
    if (isOutput) {
      if (!producer) continue;
      source = g.uniqueName(`${x}_presim`);
      producer.output = producer.output!.map((o) => (o === x ? source : o));
      g.invalidate();
    }
    const xq = fakeQuant(x, source)!;
    const seen = new Map<string, string>();
    /** The value seen where these owners decide: x, q(x), or their blend (one per set of owners). */
    const valueFor = (owners: (number | boolean)[]) => {
      if (owners.includes(true)) return xq;
      const layers = [...new Set(owners.filter((o): o is number => typeof o === 'number'))].sort((a, b) => a - b);
      if (layers.length === 0) return source;
      const key = layers.join(',');
      if (!seen.has(key)) seen.set(key, blend(source, xq, anyOf(layers)));
      return seen.get(key)!;
    };
    const producerOwner = ownerOf(producer);
    if (isOutput) g.addNode(makeNode('Identity', [valueFor([producerOwner, ...readers.map(ownerOf)])], [x]));
    for (const r of readers) {
      const v = valueFor([producerOwner, ownerOf(r)]);
      r.input = r.input!.map((i) => (i === x ? v : i));
    }
    g.invalidate();
  }
  g.sort();
  return sim;
}
