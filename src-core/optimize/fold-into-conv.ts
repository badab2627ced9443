// Exact folds of per-channel affine ops into an adjacent Conv's weights and bias, so the quantizer sees one conv
// (one QLinearConv) instead of a conv plus a float or QLinear elementwise pass:
// - Conv → BatchNormalization (inference): W·γ/√(σ²+ε), (b − μ)·γ/√(σ²+ε) + β;
// - Conv → Mul / Div by a scalar or per-output-channel constant: W and b scaled (RRDB's ×0.2, EDSR's res_scale);
// - Conv → Add / Sub of such a constant: into b (c − conv negates W and b);
// - Mul by a scalar or per-input-channel constant → Conv (the Mul's output read only by the conv): W scaled along
//   its input channels; exact with zero padding (0·c = 0). Add/Sub → Conv folds only when the conv has no padding
//   (a padded border would see 0, not 0 + c): b += Σ W·c.
// The conv's output (or the Mul's input) must be read by that node only. Results equal the original up to float
// rounding (one product instead of two).
import { getAttr, getIntAttr, getIntsAttr, getStringAttr } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { floatConstant, perChannel, soleConsumer } from './constants.ts';

export interface FoldReport { batchNorms: number; affineAfter: number; affineBefore: number }

export interface ConvParams { node: NodeProto; w: Float32Array; dims: number[]; b: Float32Array; co: number; group: number }

export const isDefault = (n: NodeProto) => !n.domain || n.domain === 'ai.onnx';

export function convParams(graph: Graph, conv: NodeProto | undefined): ConvParams | undefined {
  if (!conv || conv.opType !== 'Conv' || !isDefault(conv)) return undefined;
  const [, wName, bName] = conv.input ?? [];
  const wt = wName ? graph.initializer(wName) : undefined;
  if (!wt || wt.dataType !== DataType.FLOAT) return undefined;
  const dims = tensorDims(wt);
  const co = dims[0]!;
  let b: Float32Array = new Float32Array(co);
  if (bName) {
    const bt = graph.initializer(bName);
    if (!bt || bt.dataType !== DataType.FLOAT) return undefined;
    b = tensorToFloat32(bt);
  }
  return { node: conv, w: tensorToFloat32(wt), dims, b, co, group: getIntAttr(conv, 'group', 1) };
}

/** Writes new weight and bias initializers for the conv (fresh names: the old ones may be shared). */
export function setConvParams(graph: Graph, p: ConvParams, w: Float32Array, b: Float32Array): void {
  const conv = p.node;
  const base = conv.name || conv.output![0]!;
  const wName = graph.uniqueName(`${conv.input![1]}_folded`);
  graph.addInitializer(makeTensor(wName, DataType.FLOAT, p.dims, w));
  const bName = graph.uniqueName(conv.input![2] ? `${conv.input![2]}_folded` : `${base}_bias_folded`);
  graph.addInitializer(makeTensor(bName, DataType.FLOAT, [p.co], b));
  conv.input = [conv.input![0]!, wName, bName];
  graph.invalidate();
}

/** Scale output channel o of the weights by s[o]. */
export function scaleOut(p: ConvParams, s: Float32Array): Float32Array {
  const per = p.w.length / p.co;
  const w = new Float32Array(p.w.length);
  for (let o = 0; o < p.co; o++) for (let j = 0; j < per; j++) w[o * per + j] = p.w[o * per + j]! * s[o]!;
  return w;
}

/** Conv's output is read only by `next`: the conv takes over next's output name, next is dropped. */
function absorb(graph: Graph, conv: NodeProto, next: NodeProto): void {
  conv.output = [next.output![0]!];
  graph.removeNode(next);
}

function foldBatchNorm(graph: Graph, bn: NodeProto): boolean {
  if ((bn.output ?? []).filter(Boolean).length !== 1 || getIntAttr(bn, 'training_mode', 0) !== 0) return false;
  const x = bn.input?.[0];
  if (!x || soleConsumer(graph, x) !== bn) return false;
  const p = convParams(graph, graph.producer(x));
  if (!p) return false;
  const params = bn.input!.slice(1, 5).map((n) => (n ? floatConstant(graph, n) : undefined));
  if (params.length !== 4 || params.some((c) => !c || c.data.length !== p.co)) return false;
  const [gamma, beta, mean, variance] = params.map((c) => c!.data) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const eps = getAttr(bn, 'epsilon');
  const epsilon = typeof eps === 'number' ? eps : 1e-5;
  const scale = new Float32Array(p.co);
  const b = new Float32Array(p.co);
  for (let o = 0; o < p.co; o++) {
    scale[o] = gamma[o]! / Math.sqrt(variance[o]! + epsilon);
    b[o] = (p.b[o]! - mean[o]!) * scale[o]! + beta[o]!;
  }
  setConvParams(graph, p, scaleOut(p, scale), b);
  absorb(graph, p.node, bn);
  return true;
}

/** Conv → Mul/Div/Add/Sub with a per-output-channel constant. */
function foldAfter(graph: Graph, op: NodeProto): boolean {
  const [a, c] = op.input ?? [];
  if (!a || !c || (op.input ?? []).length !== 2) return false;
  for (const [convSide, constSide] of [[a, c], [c, a]] as const) {
    if (soleConsumer(graph, convSide) !== op) continue;
    const p = convParams(graph, graph.producer(convSide));
    if (!p) continue;
    const k = floatConstant(graph, constSide);
    const v = k && perChannel(k, p.dims.length, p.co);
    if (!v) continue;
    const convFirst = convSide === a;
    if (op.opType === 'Mul') {
      setConvParams(graph, p, scaleOut(p, v), p.b.map((x, o) => x * v[o]!));
    } else if (op.opType === 'Div' && convFirst) {
      const inv = v.map((x) => 1 / x);
      if (inv.some((x) => !Number.isFinite(x))) return false;
      setConvParams(graph, p, scaleOut(p, inv), p.b.map((x, o) => x / v[o]!));
    } else if (op.opType === 'Add') {
      setConvParams(graph, p, p.w, p.b.map((x, o) => x + v[o]!));
    } else if (op.opType === 'Sub') {
      if (convFirst) setConvParams(graph, p, p.w, p.b.map((x, o) => x - v[o]!));
      else setConvParams(graph, p, p.w.map((x) => -x), p.b.map((x, o) => v[o]! - x));
    } else {
      return false;
    }
    absorb(graph, p.node, op);
    return true;
  }
  return false;
}

/** Mul/Add/Sub with a per-channel constant → Conv, the elementwise op's output read by the conv alone. */
function foldBefore(graph: Graph, op: NodeProto): boolean {
  const y = op.output?.[0];
  const [a, c] = op.input ?? [];
  if (!y || !a || !c || (op.input ?? []).length !== 2) return false;
  const conv = soleConsumer(graph, y);
  const p = convParams(graph, conv);
  if (!p || conv!.input![0] !== y) return false;
  const cinPerGroup = p.dims[1]!;
  const cin = cinPerGroup * p.group;
  const coPerGroup = p.co / p.group;
  for (const [xSide, constSide] of [[a, c], [c, a]] as const) {
    const k = floatConstant(graph, constSide);
    const v = k && perChannel(k, p.dims.length, cin);
    if (!v || floatConstant(graph, xSide)) continue;
    // Broadcasting must not grow x: the constant's rank must not exceed the conv input's.
    const spatial = p.w.length / (p.co * cinPerGroup);
    if (op.opType === 'Mul') {
      const w = new Float32Array(p.w.length);
      for (let o = 0; o < p.co; o++) {
        const g = Math.floor(o / coPerGroup);
        for (let i = 0; i < cinPerGroup; i++) {
          const s = v[g * cinPerGroup + i]!;
          const base = (o * cinPerGroup + i) * spatial;
          for (let j = 0; j < spatial; j++) w[base + j] = p.w[base + j]! * s;
        }
      }
      setConvParams(graph, p, w, p.b);
    } else if (op.opType === 'Add' || (op.opType === 'Sub' && xSide === a)) {
      const pads = getIntsAttr(conv!, 'pads', []);
      const autoPad = getStringAttr(conv!, 'auto_pad', 'NOTSET');
      if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return false;
      if (pads.some((x) => x !== 0)) return false;
      const sign = op.opType === 'Sub' ? -1 : 1;
      const b = Float32Array.from(p.b);
      for (let o = 0; o < p.co; o++) {
        const g = Math.floor(o / coPerGroup);
        let acc = 0;
        for (let i = 0; i < cinPerGroup; i++) {
          const base = (o * cinPerGroup + i) * spatial;
          let sum = 0;
          for (let j = 0; j < spatial; j++) sum += p.w[base + j]!;
          acc += sum * v[g * cinPerGroup + i]!;
        }
        b[o] = b[o]! + sign * acc;
      }
      setConvParams(graph, p, p.w, b);
    } else {
      return false;
    }
    conv!.input = [xSide, ...conv!.input!.slice(1)];
    graph.removeNode(op);
    return true;
  }
  return false;
}

/** Runs every fold until none applies; returns the counts. */
export function foldIntoConvs(model: ModelProto): FoldReport {
  const graph = new Graph(model.graph!);
  const report: FoldReport = { batchNorms: 0, affineAfter: 0, affineBefore: 0 };
  let changed = true;
  while (changed) {
    changed = false;
    for (const node of [...graph.nodes]) {
      if (!graph.nodes.includes(node) || !isDefault(node)) continue;
      if (node.opType === 'BatchNormalization' && foldBatchNorm(graph, node)) report.batchNorms++;
      else if (['Mul', 'Div', 'Add', 'Sub'].includes(node.opType ?? '') && foldAfter(graph, node)) report.affineAfter++;
      else if (['Mul', 'Add', 'Sub'].includes(node.opType ?? '') && foldBefore(graph, node)) report.affineBefore++;
      else continue;
      changed = true;
    }
  }
  if (report.batchNorms + report.affineAfter + report.affineBefore > 0) {
    graph.removeUnused();
    graph.sort();
  }
  return report;
}
