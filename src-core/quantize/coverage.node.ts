// Node-only: measures int8 coverage (coverage.ts). MACs come from the quantized model's own conv/matmul nodes, their
// tensor shapes read by running it once on a 64² input; which of them run in int8 comes from the graph ORT really
// runs (optimized-graph.node.ts). The quantized graph keeps srq's node names and ORT keeps them too (its layout
// pass appends `_token_N`), so a layer runs in int8 when an int8 kernel carries its name or its int8 weight.
import * as ort from 'onnxruntime-node';
import { getIntAttr, valueInfoShape } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { decodeModel, encodeModel, getMetadata } from '../onnx/model.ts';
import { DataType, tensorDims } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { optimizedGraph, qdqCounts } from '../runtime/optimized-graph.node.ts';
import { SEARCH_WHY, type Coverage, type FloatLayer } from './coverage.ts';
import { ruleRegistry } from './rules/index.ts';

/** Input side the MACs are counted at: shares do not depend on it for padded convnets. */
export const COVERAGE_INPUT = 64;
/** Tensors whose shapes one probe session fetches. */
const FETCH_PER_SESSION = 128;

const LAYER_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'ConvInteger', 'MatMulInteger']);
/** Int8 kernels ORT 1.30 emits for them, and which input holds the int8 weight. */
const INT8_KERNELS: Record<string, number> = {
  QLinearConv: 3, 'com.microsoft.QLinearConv': 3, ConvInteger: 1, QLinearMatMul: 3, MatMulInteger: 1,
  'com.microsoft.QGemm': 3, 'com.microsoft.DynamicQuantizeMatMul': 1, 'com.microsoft.MatMulIntegerToFloat': 1,
};
/** Ops srq quantizes but ORT's CPU EP has no int8 kernel for (measured: QDQ around them stays DQ → float → Q). */
const NO_INT8_KERNEL = new Set(['ConvTranspose']);

const prod = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const opKey = (n: NodeProto) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '');

/** Dims of every named tensor, read by running the model on a [1, C, 64, 64] input (or its fixed size). */
async function tensorShapes(model: ModelProto, names: readonly string[]): Promise<Map<string, number[]>> {
  const graph = new Graph(model.graph!);
  const shapes = new Map<string, number[]>();
  const input = graph.inputs[0]!;
  const shape = valueInfoShape(input) ?? [];
  const dim = (i: number, fallback: number) => (typeof shape[i] === 'number' && shape[i] > 0 ? shape[i] : fallback);
  const inputDims = [1, dim(1, 3), dim(2, COVERAGE_INPUT), dim(3, COVERAGE_INPUT)];
  shapes.set(input.name!, inputDims);
  const fetch: string[] = [];
  for (const name of new Set(names)) {
    const init = graph.initializer(name);
    if (init) shapes.set(name, tensorDims(init));
    else if (!shapes.has(name)) fetch.push(name);
  }
  // A session per 128 tensors, each declaring only those as outputs: ORT keeps every graph output alive to
  // the end of a run, so one session declaring all of x4plus's 700 conv tensors held 2 GB at 64² (chunks: 0.6 GB).
  const feed = new ort.Tensor('float32', new Float32Array(prod(inputDims)).fill(0.5), inputDims);
  for (let i = 0; i < fetch.length; i += FETCH_PER_SESSION) {
    const names = fetch.slice(i, i + FETCH_PER_SESSION);
    const probe: ModelProto = { ...model, graph: { ...model.graph!, output: names.map((name) => ({ name })) } };
    const session = await ort.InferenceSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3, enableCpuMemArena: false });
    try {
      const results = await session.run({ [session.inputNames[0]!]: feed });
      for (const name of names) shapes.set(name, results[name]!.dims.map(Number));
    } finally {
      await session.release();
    }
  }
  return shapes;
}

function macs(node: NodeProto, shapes: Map<string, number[]>): number {
  const [a = '', w = ''] = node.input ?? [];
  const x = shapes.get(a)!;
  const out = shapes.get(node.output![0]!)!;
  switch (node.opType) {
    case 'Conv': case 'ConvInteger': return prod(out) * prod(shapes.get(w)!.slice(1));
    case 'ConvTranspose': return prod(x) * prod(shapes.get(w)!.slice(1));
    case 'Gemm': return prod(out) * (getIntAttr(node, 'transA', 0) ? x[0]! : x[1]!);
    default: return prod(out) * x[x.length - 1]!; // MatMul, MatMulInteger
  }
}

/** int8 coverage of a quantized model (static QDQ or dynamic INT8) as ORT-node's CPU EP runs it. */
export async function int8Coverage(bytes: Uint8Array): Promise<Coverage> {
  const model = decodeModel(bytes);
  const graph = new Graph(model.graph!);
  const layers = graph.nodes.filter((n) => (!n.domain || n.domain === 'ai.onnx') && LAYER_OPS.has(n.opType ?? ''));
  const shapes = await tensorShapes(model, layers.flatMap((n) => [n.input![0]!, n.input![1]!, n.output![0]!]));
  const work = layers.map((n) => macs(n, shapes));
  const total = work.reduce((a, b) => a + b, 0) || 1;

  // Each layer's weight as stored: the int8 initializer behind its DequantizeLinear, or the tensor itself.
  const dq = (t: string) => (graph.producer(t)?.opType === 'DequantizeLinear' ? graph.producer(t) : undefined);
  const storedWeight = (n: NodeProto) => dq(n.input![1]!)?.input?.[0] ?? n.input![1]!;
  const optimized = await optimizedGraph(bytes);
  const int8Names = new Set<string>();
  const int8Weights = new Set<string>();
  for (const n of optimized.graph!.node!) {
    const w = INT8_KERNELS[opKey(n)];
    if (w === undefined) continue;
    int8Names.add((n.name ?? '').replace(/(_token_\d+)+$/, ''));
    if (n.input?.[w]) int8Weights.add(n.input[w]!);
  }
  const isInt8 = (n: NodeProto) => (!!n.name && int8Names.has(n.name)) || int8Weights.has(storedWeight(n));

  const list = (key: string) => new Set((getMetadata(model, key) ?? '').split(',').filter(Boolean));
  const searched = list('srq.float_nodes');
  const excluded = list('srq.exclude');
  const why = (n: NodeProto): string => {
    const op = n.opType ?? '';
    if (searched.has(n.name ?? '')) return SEARCH_WHY;
    if (excluded.has(n.name ?? '') || excluded.has(op)) return 'left float by --exclude';
    if (NO_INT8_KERNEL.has(op)) return `no int8 kernel for ${op} in ORT's CPU EP`;
    if (getMetadata(model, 'srq.quantization') === 'int8-dynamic') return 'not quantized (int8-dynamic takes only Conv/MatMul with a constant float weight)';
    if (!ruleRegistry.has(op)) return `not quantized (srq has no rule for ${op})`;
    if (!dq(n.input![0]!) || !dq(n.input![1]!)) return 'not quantized (srq left its input or weight float)';
    return 'ORT did not fuse its Q/DQ into an int8 kernel';
  };
  // A conv computed in row strips (row-strips.ts, metadata srq.row_strips) is one layer, under its own name.
  const stripped = new Set([...list('srq.row_strips')].map((s) => s.replace(/:\d+$/, '')));
  const layerName = (n: NodeProto) => {
    const name = n.name ?? n.output![0]!;
    const base = name.replace(/\.rows\.\d+$/, '');
    return stripped.has(base) ? base : name;
  };
  const floatLayers: FloatLayer[] = [];
  const quantizedByOrt: string[] = [];
  let int8Macs = 0;
  layers.forEach((n, i) => {
    if (!isInt8(n)) {
      const name = layerName(n);
      const known = floatLayers.find((l) => l.name === name);
      if (known) known.macShare += work[i]! / total;
      else floatLayers.push({ name, op: n.opType!, macShare: work[i]! / total, why: why(n) });
      return;
    }
    int8Macs += work[i]!;
    const weight = graph.initializer(storedWeight(n));
    if (weight?.dataType === DataType.FLOAT) quantizedByOrt.push(n.name ?? n.output![0]!);
  });
  const layerCount = new Set(layers.map(layerName)).size;
  return {
    int8MacShare: int8Macs / total,
    int8Layers: layerCount - floatLayers.length,
    layers: layerCount,
    unit: layers.every((n) => n.opType?.startsWith('Conv')) ? 'convs' : 'layers',
    floatLayers: floatLayers.sort((a, b) => b.macShare - a.macShare),
    quantizedByOrt,
    ...qdqCounts(optimized),
  };
}
