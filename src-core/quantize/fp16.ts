// FP16: float16 weights and compute, float32 graph inputs and outputs (Cast at the edges), in the manner of
// onnxconverter-common's float16.py but decided per tensor, not per op:
// - Shape arithmetic stays float32: float values that feed Resize roi/scales or Upsample scales (float32-only
//   inputs in the ONNX spec) or are cast to an integer, and that do not depend on the image's values (e.g.
//   Shape → Gather → Cast → Mul → Cast → Concat → Resize sizes), with the nodes that compute them. fp16 holds
//   integers exactly only up to 2048, and a float16 Resize `scales` makes ORT refuse the model.
// - Constants are converted by their consumers: a Constant node or initializer read by both an fp16 and an fp32
//   consumer keeps its float32 form and gets an fp16 copy.
// - Ops that ORT 1.30 refuses in float16 (measured: Range, Celu, CumSum before opset 14, MeanVarianceNormalization
//   at opset 18; float16.py also blocks NonMaxSuppression and RoiAlign) run in float32 with Casts around them.
//   Everything else loads and runs in fp16 on ORT 1.30 CPU (Resize nearest/linear/cubic included, with float32
//   scales).
// Values beyond ±65504 are clamped and counted.
import { attr, getIntAttr, makeNode, setAttr } from '../onnx/build.ts';
import { toFloat16Array } from '../onnx/float16.ts';
import { Graph } from '../onnx/graph.ts';
import { cloneModel, opsetVersion, setMetadata } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { AttributeProto, ModelProto, NodeProto, TensorProto } from '../onnx/types.ts';
import { optimizeGraph } from '../optimize/index.ts';
import { SRQ_VERSION } from '../version.ts';
import { checkFloatModel } from './checks.ts';

export interface Fp16Result {
  model: ModelProto;
  clampedValues: number;
  /** Float tensors kept float32 because they only serve shapes (scales, sizes, values cast to integers). */
  keptFloat32: string[];
  /** Nodes left in float32 because their op has no float16 form (op type in brackets). */
  float32Nodes: string[];
  /** Cast nodes inserted between float16 and float32 parts (graph edges included). */
  casts: number;
}

/** Inputs the ONNX spec types as float32 whatever the data type: Resize roi/scales (scales at 1 for opset 10), Upsample scales. */
const float32Inputs: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };
/** Ops that read only their input's shape or convert its type: they take float16 or float32 alike. */
const typeAgnostic = new Set(['Shape', 'Size', 'Cast']);
/** Ops that read only shapes: their outputs do not depend on the input's values. */
const shapeOnly = new Set(['Shape', 'Size', 'ConstantOfShape']);
const floatTypes = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);
/** Op types whose first output is not of their first input's type. */
const boolOutputs = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const int64Outputs = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);

/**
 * Ops ORT 1.30 (CPU) refuses in float16, measured by loading one-op models at opsets 9–21 (about 110 ops and
 * modes; every other op loads and runs in fp16, ORT casting around the kernels it lacks), plus the index-heavy
 * ops float16.py blocks.
 */
function blockedOp(node: NodeProto, opset: number): boolean {
  switch (node.opType) {
    case 'Range': return true; // T: float, double, int16/32/64
    case 'Celu': return true; // T: float only
    case 'CumSum': return opset < 14; // float16 from CumSum-14
    // Opset 18's function body adds a float32 epsilon to the float16 input ("bound to different types").
    case 'MeanVarianceNormalization': return true;
    case 'NonMaxSuppression': case 'RoiAlign': return true;
    default: return false;
  }
}

function constantTensor(node: NodeProto): { a: AttributeProto; type: number } | undefined {
  const a = node.attribute?.find((x) => x.name?.startsWith('value'));
  if (!a) return undefined;
  if (a.name === 'value') return a.t ? { a, type: a.t.dataType ?? 0 } : undefined;
  if (a.name === 'value_float' || a.name === 'value_floats') return { a, type: DataType.FLOAT };
  if (a.name === 'value_int' || a.name === 'value_ints') return { a, type: DataType.INT64 };
  return { a, type: DataType.STRING };
}

/** Element type of every tensor that the graph declares or that simple rules can infer. */
export function elementTypes(graph: Graph): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...graph.proto.input!, ...graph.proto.valueInfo!, ...graph.proto.output!]) {
    const t = v.type?.tensorType?.elemType;
    if (v.name && t) types.set(v.name, t);
  }
  for (const t of graph.proto.initializer!) if (t.name) types.set(t.name, t.dataType ?? 0);
  for (const node of graph.topologicalOrder()) {
    const op = node.opType ?? '';
    const inType = (i: number) => types.get(node.input?.[i] ?? '');
    const outs = node.output ?? [];
    const set = (i: number, t: number | undefined) => {
      const o = outs[i];
      if (o && t !== undefined && !types.has(o)) types.set(o, t);
    };
    if (node.domain && node.domain !== 'ai.onnx') continue;
    if (op === 'Constant') set(0, constantTensor(node)?.type);
    else if (op === 'ConstantOfShape') set(0, node.attribute?.find((a) => a.name === 'value')?.t?.dataType ?? DataType.FLOAT);
    else if (op === 'Cast') set(0, getIntAttr(node, 'to', 0));
    else if (op === 'CastLike') set(0, inType(1));
    else if (int64Outputs.has(op)) set(0, DataType.INT64);
    else if (boolOutputs.has(op)) set(0, DataType.BOOL);
    else if (op === 'Where') set(0, inType(1));
    else if (op === 'TopK') { set(0, inType(0)); set(1, DataType.INT64); }
    else if (op === 'MaxPool') { set(0, inType(0)); set(1, DataType.INT64); }
    else if (op === 'Dropout') { set(0, inType(0)); set(1, DataType.BOOL); }
    else if (op === 'Split' || op === 'BatchNormalization') outs.forEach((_, i) => set(i, inType(0)));
    else if (node.attribute?.some((a) => a.name === 'dtype')) set(0, getIntAttr(node, 'dtype', DataType.FLOAT));
    else set(0, inType(0));
  }
  return types;
}

type Precision = 16 | 32;

export function convertToFp16(source: ModelProto, opts: { name?: string } = {}): Fp16Result {
  checkFloatModel(source, opts.name ?? 'the model');
  const model = cloneModel(source);
  optimizeGraph(model);
  const graph = new Graph(model.graph!);
  const opset = opsetVersion(model) ?? 1;
  const types = elementTypes(graph);
  const isFloat = (t: string | undefined) => !!t && types.get(t) === DataType.FLOAT;
  const nodes = graph.topologicalOrder();

  // Values that depend on the image's values (not only on its shape).
  const dataDependent = new Set(graph.inputs.map((v) => v.name ?? ''));
  for (const node of nodes) {
    if (shapeOnly.has(node.opType ?? '')) continue;
    if ((node.input ?? []).some((x) => dataDependent.has(x))) node.output?.forEach((o) => o && dataDependent.add(o));
  }

  const blocked = new Set(nodes.filter((n) => blockedOp(n, opset) || (n.domain && n.domain !== 'ai.onnx') || n.attribute?.some((a) => a.g || (a.graphs?.length ?? 0) > 0)));

  // Shape arithmetic: float values that must stay float32, walked back from where they are used.
  const keep = new Set<string>();
  const stack: string[] = [];
  for (const node of nodes) {
    const ins = node.input ?? [];
    (float32Inputs[node.opType ?? ''] ?? []).forEach((i) => ins[i] && stack.push(ins[i]!));
    if (node.opType === 'Cast' && !floatTypes.has(getIntAttr(node, 'to', 0))) stack.push(ins[0] ?? '');
    if (blocked.has(node)) stack.push(...ins);
  }
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (keep.has(t) || !isFloat(t) || dataDependent.has(t)) continue;
    keep.add(t);
    const producer = graph.producer(t);
    if (producer && producer.opType !== 'Constant') producer.input?.forEach((x) => x && stack.push(x));
  }

  // Each node's precision: float32 for blocked ops and for nodes computing shape values.
  const precision = new Map<NodeProto, Precision>();
  for (const node of nodes) {
    if (node.opType === 'Constant') continue; // a source, converted by its consumers
    const fp32 = blocked.has(node) || (node.output ?? []).some((o) => keep.has(o));
    precision.set(node, fp32 ? 32 : 16);
  }

  // Where each float tensor comes from, and which precision each use of it needs.
  type Use = { node: NodeProto; index: number } | { output: number };
  const uses = new Map<string, { use: Use; need: Precision }[]>();
  const addUse = (t: string, use: Use, need: Precision) => {
    const list = uses.get(t);
    if (list) list.push({ use, need });
    else uses.set(t, [{ use, need }]);
  };
  for (const node of nodes) {
    const p = precision.get(node);
    if (p === undefined || typeAgnostic.has(node.opType ?? '')) continue;
    const pinned = float32Inputs[node.opType ?? ''] ?? [];
    node.input?.forEach((x, i) => {
      if (isFloat(x)) addUse(x, { node, index: i }, p === 16 && !pinned.includes(i) ? 16 : 32);
    });
  }
  graph.outputs.forEach((o, i) => isFloat(o.name) && addUse(o.name!, { output: i }, 32));

  let clampedValues = 0;
  const toHalf = (t: TensorProto, name = t.name ?? ''): TensorProto => {
    const { bits, clamped } = toFloat16Array(tensorToFloat32(t));
    clampedValues += clamped;
    return makeTensor(name, DataType.FLOAT16, tensorDims(t), bits);
  };
  const rewire = (list: { use: Use }[], name: string) => {
    for (const { use } of list) {
      if ('node' in use) use.node.input![use.index] = name;
      else graph.outputs[use.output]!.name = name;
    }
  };
  const halfNames = new Set<string>();
  const added: NodeProto[] = [];
  let casts = 0;
  const castNode = (from: string, to: string, type: number) => {
    casts++;
    added.push(makeNode('Cast', [from], [to], { to: attr.int(type) }, graph.uniqueName(`${to}_cast`)));
  };

  // Constants and initializers: converted in place, kept, or kept with an fp16 copy.
  const initializers = new Map(graph.proto.initializer!.map((t) => [t.name ?? '', t]));
  const constants = new Map(nodes.filter((n) => n.opType === 'Constant').map((n) => [n.output?.[0] ?? '', n]));
  for (const [t, list] of uses) {
    const init = initializers.get(t);
    const constant = constants.get(t);
    if (!init && !constant) continue;
    const half = list.filter((u) => u.need === 16);
    if (half.length === 0) continue;
    const all = half.length === list.length && !graph.isGraphOutput(t);
    if (init) {
      if (all) {
        Object.assign(init, toHalf(init));
        halfNames.add(t);
        // Old IR versions also list initializers among the graph inputs, with their type.
        const listed = graph.proto.input!.find((v) => v.name === t)?.type?.tensorType;
        if (listed) listed.elemType = DataType.FLOAT16;
      } else {
        const copy = graph.uniqueName(`${t}_fp16`);
        graph.proto.initializer!.push(toHalf(init, copy));
        rewire(half, copy);
        halfNames.add(copy);
      }
    } else if (constant) {
      const { a } = constantTensor(constant)!;
      const value = a.name === 'value' ? a.t! : makeTensor('', DataType.FLOAT, a.name === 'value_float' ? [] : [a.floats!.length], Float32Array.from(a.name === 'value_float' ? [a.f ?? 0] : a.floats!));
      const halfValue = attr.tensor(toHalf(value, value.name ?? ''));
      if (all) {
        constant.attribute = [{ ...halfValue, name: 'value' }];
        halfNames.add(t);
      } else {
        const copy = graph.uniqueName(`${t}_fp16`);
        added.push(makeNode('Constant', [], [copy], { value: halfValue }, graph.uniqueName(`${constant.name || t}_fp16`)));
        rewire(half, copy);
        halfNames.add(copy);
      }
    }
  }

  // fp16 nodes: outputs become float16 (Cast to float, constant fills and dtype attributes follow).
  const float32Nodes: string[] = [];
  for (const node of nodes) {
    const p = precision.get(node);
    if (p === 32) {
      if ((node.input ?? []).some(isFloat) || (node.output ?? []).some(isFloat)) float32Nodes.push(`${node.name || node.output?.[0]} (${node.opType})`);
      continue;
    }
    if (p !== 16) continue;
    if (node.opType === 'Cast' && getIntAttr(node, 'to', 0) === DataType.FLOAT) setAttr(node, 'to', attr.int(DataType.FLOAT16));
    if (node.opType === 'ConstantOfShape' && isFloat(node.output?.[0])) {
      const value = node.attribute?.find((a) => a.name === 'value')?.t ?? makeTensor('', DataType.FLOAT, [1], new Float32Array([0]));
      setAttr(node, 'value', attr.tensor(toHalf(value)));
    }
    if (getIntAttr(node, 'dtype', 0) === DataType.FLOAT) setAttr(node, 'dtype', attr.int(DataType.FLOAT16));
    node.output?.forEach((o) => isFloat(o) && halfNames.add(o));
  }

  // Casts where a value's precision differs from what a use needs (graph inputs and outputs included).
  for (const [t, list] of uses) {
    if (initializers.has(t) || constants.has(t)) continue;
    const produced: Precision = halfNames.has(t) ? 16 : 32;
    const other = list.filter((u) => u.need !== produced);
    if (other.length === 0) continue;
    const outputUses = other.filter((u) => 'output' in u.use);
    if (produced === 16 && outputUses.length > 0) {
      // A float32 graph output computed in fp16: the producer writes `t_fp16`, a Cast writes `t` for every
      // float32 use, and fp16 uses read `t_fp16`.
      const half = graph.uniqueName(`${t}_fp16`);
      const producer = graph.producer(t)!;
      producer.output = producer.output!.map((o) => (o === t ? half : o));
      rewire(list.filter((u) => u.need === 16), half);
      halfNames.delete(t);
      halfNames.add(half);
      castNode(half, t, DataType.FLOAT);
      continue;
    }
    const converted = graph.uniqueName(`${t}_${produced === 16 ? 'fp32' : 'fp16'}`);
    rewire(other, converted);
    castNode(t, converted, produced === 16 ? DataType.FLOAT : DataType.FLOAT16);
    if (produced === 32) halfNames.add(converted);
  }
  added.forEach((n) => graph.addNode(n));
  graph.invalidate();

  // Type annotations of tensors that became float16.
  for (const v of graph.proto.valueInfo!) {
    if (v.name && halfNames.has(v.name) && v.type?.tensorType) v.type.tensorType.elemType = DataType.FLOAT16;
  }
  graph.sort();
  setMetadata(model, 'srq.version', SRQ_VERSION);
  setMetadata(model, 'srq.quantization', 'fp16');
  return { model, clampedValues, keptFloat32: [...keep], float32Nodes, casts };
}
