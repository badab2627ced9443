// Which tensors hold float32 values, found by propagating element types through the graph with ONNX's type
// rules for every standard (ai.onnx) operator. Declared types (graph inputs and outputs, value_info,
// initializers) win. An output whose type no rule can tell (an op of another domain, an op newer than this
// table, a subgraph without declared outputs) is reported in `untyped`, so callers can say so instead of
// silently treating everything downstream as "not float".
import { Graph } from '../onnx/graph.ts';
import { getAttr, getIntAttr } from '../onnx/build.ts';
import { DataType } from '../onnx/tensor.ts';
import type { GraphProto, NodeProto, TypeProto } from '../onnx/types.ts';

const { FLOAT, UINT8, INT32, INT64, BOOL, STRING } = DataType;

/** Outputs of one node whose element type could not be inferred. */
export interface UntypedOutput {
  node: string;
  opType: string;
  domain: string;
  tensors: string[];
  reason: string;
}

/** The float tensors of a graph, plus the outputs whose type is unknown (root causes only, not their descendants). */
export class FloatTensorSet extends Set<string> {
  constructor(names: Iterable<string>, readonly untyped: readonly UntypedOutput[]) {
    super(names);
  }
}

/** A known non-tensor value (sequence, optional, map): never float, but known. Container element types are kept apart. */
const CONTAINER = -1;

/** Outputs of these ops have the element type of input 0 (all outputs, unless `fixedOutputs` says otherwise). */
const sameAsInput0 = [
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BatchNormalization', 'BitShift', 'BitwiseNot',
  'Ceil', 'Celu', 'CenterCropPad', 'Clip', 'Col2Im', 'Compress', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum',
  'DeformConv', 'DepthToSpace', 'Det', 'DFT', 'Dropout', 'Elu', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather',
  'GatherElements', 'GatherND', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'GridSample',
  'GroupNormalization', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'InstanceNormalization', 'LRN',
  'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization', 'LpPool', 'MatMul', 'MaxPool', 'MaxRoiPool',
  'MaxUnpool', 'MeanVarianceNormalization', 'Mish', 'Neg', 'NegativeLogLikelihoodLoss', 'Pad', 'Pow', 'Reciprocal',
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd',
  'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'ReverseSequence', 'RoiAlign', 'Round', 'Scatter',
  'ScatterElements', 'ScatterND', 'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Slice', 'Softmax',
  'SoftmaxCrossEntropyLoss', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'STFT', 'Tan', 'Tanh',
  'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Trilu', 'Unique', 'Unsqueeze', 'Upsample', 'AffineGrid',
  'RMSNormalization', 'RotaryEmbedding', 'Attention', 'Swish', 'TensorScatter', 'Range', 'LSTM', 'GRU', 'RNN',
  // Experimental ops of early opsets.
  'ImageScaler', 'Crop', 'Affine', 'ScaledTanh', 'ParametricSoftplus', 'DynamicSlice', 'MeanVarianceNormalization',
];

/** Ops whose inputs all share the output's type T (any typed input tells it). */
const sameAsAnyInput = ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Max', 'Min', 'Mean', 'Sum', 'Concat', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'Einsum', 'PRelu'];

/** Output index -> fixed type for ops whose secondary outputs are indices or masks. */
const fixedOutputs: Record<string, Record<number, number>> = {
  MaxPool: { 1: INT64 },
  TopK: { 1: INT64 },
  Unique: { 1: INT64, 2: INT64, 3: INT64 },
  Dropout: { 1: BOOL },
  // LayerNormalization's mean and inverse std dev have stash_type (float by default); see below.
};

const fixed: Record<string, number> = {
  Shape: INT64, Size: INT64, NonZero: INT64, ArgMax: INT64, ArgMin: INT64, NonMaxSuppression: INT64, SequenceLength: INT64,
  Equal: BOOL, Greater: BOOL, GreaterOrEqual: BOOL, Less: BOOL, LessOrEqual: BOOL, Not: BOOL, And: BOOL, Or: BOOL, Xor: BOOL,
  IsNaN: BOOL, IsInf: BOOL, RegexFullMatch: BOOL, OptionalHasElement: BOOL,
  MatMulInteger: INT32, ConvInteger: INT32,
  StringNormalizer: STRING, StringConcat: STRING, TfIdfVectorizer: FLOAT, ImageDecoder: UINT8,
  SequenceEmpty: CONTAINER, SequenceConstruct: CONTAINER, SequenceInsert: CONTAINER, SequenceErase: CONTAINER,
  SplitToSequence: CONTAINER, Optional: CONTAINER, SequenceMap: CONTAINER,
};

/** Ops with a dtype-like attribute: [attribute, default when absent (undefined: input 0's type)]. */
const byAttribute: Record<string, [string, number | undefined]> = {
  RandomNormal: ['dtype', FLOAT], RandomUniform: ['dtype', FLOAT], RandomNormalLike: ['dtype', undefined],
  RandomUniformLike: ['dtype', undefined], Bernoulli: ['dtype', undefined], EyeLike: ['dtype', undefined],
  Multinomial: ['dtype', INT32], HannWindow: ['output_datatype', FLOAT], HammingWindow: ['output_datatype', FLOAT],
  BlackmanWindow: ['output_datatype', FLOAT], MelWeightMatrix: ['output_datatype', FLOAT],
};

const rules = new Map<string, (n: NodeProto, type: (i: number) => number | undefined) => (number | undefined)[] | number | undefined>();
for (const op of sameAsInput0) rules.set(op, (n, type) => type(0));
for (const op of sameAsAnyInput) rules.set(op, (n, type) => (n.input ?? []).map((_, i) => type(i)).find((t) => t !== undefined));
for (const [op, t] of Object.entries(fixed)) rules.set(op, () => t);
for (const [op, [name, fallback]] of Object.entries(byAttribute)) {
  rules.set(op, (n, type) => {
    const v = getAttr(n, name);
    return typeof v === 'number' ? v : fallback ?? type(0);
  });
}
rules.set('Cast', (n) => {
  const to = getAttr(n, 'to');
  return typeof to === 'number' ? to : undefined;
});
rules.set('CastLike', (n, type) => type(1));
rules.set('Where', (n, type) => type(1) ?? type(2));
rules.set('OneHot', (n, type) => type(2));
// QuantizeLinear: the zero point's type, else output_dtype (opset 21), else uint8.
rules.set('QuantizeLinear', (n, type) => type(2) ?? (getIntAttr(n, 'output_dtype', 0) || UINT8));
// DequantizeLinear: the scale's type (float unless fp16/bf16 scales), or output_dtype (opset 23).
rules.set('DequantizeLinear', (n, type) => (getIntAttr(n, 'output_dtype', 0) || type(1)) ?? FLOAT);
rules.set('DynamicQuantizeLinear', () => [UINT8, FLOAT, UINT8]);
rules.set('QLinearConv', (n, type) => type(7) ?? type(0));
rules.set('QLinearMatMul', (n, type) => type(7) ?? type(0));
rules.set('StringSplit', () => [STRING, INT64]);
rules.set('LayerNormalization', (n, type) => {
  const stash = getIntAttr(n, 'stash_type', FLOAT);
  return [type(0), stash, stash];
});
rules.set('ConstantOfShape', (n) => {
  const v = getAttr(n, 'value');
  return v && typeof v === 'object' && 'dataType' in v ? v.dataType ?? FLOAT : FLOAT;
});
rules.set('Constant', (n) => {
  for (const a of n.attribute ?? []) {
    switch (a.name) {
      case 'value': return a.t?.dataType ?? undefined;
      case 'value_float': case 'value_floats': return FLOAT;
      case 'value_int': case 'value_ints': return INT64;
      case 'value_string': case 'value_strings': return STRING;
    }
  }
  return undefined;
});

function subgraphOutputTypes(g: GraphProto | undefined, skip = 0): (number | undefined)[] | undefined {
  return g?.output?.slice(skip).map((o) => typeOfTypeProto(o.type));
}

function typeOfTypeProto(t: TypeProto | null | undefined): number | undefined {
  if (!t) return undefined;
  if (t.tensorType?.elemType) return t.tensorType.elemType;
  if (t.sequenceType || t.optionalType || t.mapType) return CONTAINER;
  return undefined;
}

function graphAttr(n: NodeProto, name: string): GraphProto | undefined {
  const g = getAttr(n, name);
  return g && typeof g === 'object' && 'node' in g ? (g as GraphProto) : undefined;
}

// Control flow: the branches' or body's declared output types (ONNX requires them to be typed).
rules.set('If', (n) => subgraphOutputTypes(graphAttr(n, 'then_branch')) ?? subgraphOutputTypes(graphAttr(n, 'else_branch')));
rules.set('Loop', (n) => subgraphOutputTypes(graphAttr(n, 'body'), 1)); // body outputs: cond, carried..., scans...
rules.set('Scan', (n) => subgraphOutputTypes(graphAttr(n, 'body')));

const isDefaultDomain = (n: NodeProto) => !n.domain || n.domain === 'ai.onnx';

/** Element types of every tensor whose type can be known, and the nodes whose outputs could not be typed. */
export function inferElementTypes(graph: Graph): { types: Map<string, number>; untyped: UntypedOutput[] } {
  const types = new Map<string, number>();
  // Element types of sequences / optionals, for the ops that take a value out of them.
  const containers = new Map<string, number>();
  for (const v of [...graph.proto.input!, ...graph.proto.valueInfo!, ...graph.proto.output!]) {
    const t = typeOfTypeProto(v.type);
    if (v.name && t !== undefined) types.set(v.name, t);
    const inner = v.type?.sequenceType?.elemType ?? v.type?.optionalType?.elemType;
    if (v.name && inner?.tensorType?.elemType) containers.set(v.name, inner.tensorType.elemType);
  }
  for (const t of graph.proto.initializer!) if (t.name) types.set(t.name, t.dataType ?? 0);

  const untyped: UntypedOutput[] = [];
  /** Tensors without a type, because of an untyped ancestor: reported once, at the root. */
  const unknown = new Set<string>();
  for (const node of graph.topologicalOrder()) {
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    const type = (i: number) => (inputs[i] ? types.get(inputs[i]!) : undefined);
    let out: (number | undefined)[] | number | undefined;
    let reason = '';
    if (isDefaultDomain(node) && ['SequenceAt', 'ConcatFromSequence', 'OptionalGetElement'].includes(op)) {
      out = containers.get(inputs[0] ?? '') ?? (op === 'OptionalGetElement' && type(0) !== CONTAINER ? type(0) : undefined);
    } else if (isDefaultDomain(node) && rules.has(op)) {
      out = rules.get(op)!(node, type);
    } else {
      reason = isDefaultDomain(node) ? 'no type rule for this op' : `op of domain ${node.domain}`;
    }
    // Containers built from tensors remember their element type.
    if (['SequenceConstruct', 'SequenceInsert', 'SplitToSequence', 'Optional'].includes(op) && type(op === 'SequenceInsert' ? 1 : 0) !== undefined) {
      containers.set(node.output?.[0] ?? '', type(op === 'SequenceInsert' ? 1 : 0)!);
    } else if (['SequenceInsert', 'SequenceErase'].includes(op) && containers.has(inputs[0] ?? '')) {
      containers.set(node.output?.[0] ?? '', containers.get(inputs[0]!)!);
    }
    const missing: string[] = [];
    (node.output ?? []).forEach((o, i) => {
      if (!o || types.has(o)) return;
      const t = Array.isArray(out) ? out[i] : fixedOutputs[op]?.[i] ?? out;
      if (t !== undefined && t !== 0) types.set(o, t);
      else missing.push(o);
    });
    if (missing.length === 0) continue;
    const inherited = inputs.some((x) => x && unknown.has(x));
    for (const o of missing) unknown.add(o);
    const used = missing.filter((o) => graph.consumers(o).length > 0 || graph.isGraphOutput(o));
    if (inherited || used.length === 0) continue;
    untyped.push({
      node: node.name || `(unnamed ${op})`,
      opType: op,
      domain: node.domain || '',
      tensors: used,
      reason: reason || (inputs.some((x, i) => x && type(i) === undefined) ? 'an input has no known type' : 'its attributes or subgraph do not say'),
    });
  }
  return { types, untyped };
}

export function floatTensors(graph: Graph): FloatTensorSet {
  const { types, untyped } = inferElementTypes(graph);
  return new FloatTensorSet([...types].filter(([, t]) => t === FLOAT).map(([name]) => name), untyped);
}

/** One line per untyped node, for warnings. */
export function describeUntyped(u: UntypedOutput): string {
  const op = u.domain ? `${u.domain}.${u.opType}` : u.opType;
  return `${u.node} (${op}): element type of ${u.tensors.join(', ')} unknown (${u.reason}); it and everything computed from it stay float, unquantized — declare its type in value_info to quantize past it`;
}
