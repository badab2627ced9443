// Row strips: one int8 conv computed as several, each over a horizontal strip of its input, for onnxruntime-web's
// memory. Its int8 conv has no indirect kernel in wasm: before the GEMM it unfolds the whole input window (im2col,
// kernel_h·kernel_w·C_in bytes an output pixel) and keeps an int32 result (4·C_out bytes). On UpscalerJS's ESRGANs
// the 5×5 upsampling conv's 1.9 KB a pixel set the model's peak wasm memory, so the edge on Workers cut photos
// into more, smaller windows. K strips divide that scratch by K and compute the same integers: the strips read
// the same uint8 input rows (with their halo) and requantize with the same scale, so the output is byte-equal.
//
//   x ─ Pad(zero point: the conv's own top/bottom padding, plus K rows) ─┬─ Slice rows [o_k, o_k+1 + kh − 1) ─ DQ ─ Conv(no vertical pads) ─ Q ─┐
//                                                                        └─ …                                                                  Concat(H) ─ Slice [0, H_out) ─ y
//
// o_k = k·(H_out + K)/K: the K extra zero rows give every strip at least one output row at any input height (ORT
// rejects a conv with none); the last Slice drops their rows. Runtime-agnostic.
import { attr, getIntAttr, getIntsAttr, getStringAttr, makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { cloneModel, getMetadata, opsetVersion, setMetadata } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { ReceptiveFieldError, tensorScales } from '../tiling/receptive-field.ts';

/**
 * A conv's unfold scratch below this (bytes a model input pixel) is left alone: a 3×3 conv over 64 channels at the
 * input's resolution has 832.
 */
export const ROW_STRIP_MIN_SCRATCH = 1024;
/** Scratch bytes a model input pixel each strip may keep: sets the strip count (at most MAX_STRIPS). */
const SCRATCH_PER_STRIP = 512;
const MAX_STRIPS = 16;
/** Most convs split: strips are for a few outsized convs. */
const MAX_SPLIT = 8;

export interface RowStripCandidate {
  node: string;
  /**
   * onnxruntime-web's scratch for it (im2col + int32 result), bytes a model input pixel: a conv after a ×4
   * upsampling does its work on 16 output pixels for each.
   */
  scratch: number;
  strips: number;
  /** The conv is a 1×1 conv over a dense Concat, computed in strips together with its Concat (denseConcatPlans). */
  concat?: true;
}

const int8Types = new Set<number>([DataType.UINT8, DataType.INT8]);

/** The DequantizeLinear behind a tensor, if any. */
function dequantizer(graph: Graph, tensor: string | undefined): NodeProto | undefined {
  const n = tensor ? graph.producer(tensor) : undefined;
  return n?.opType === 'DequantizeLinear' ? n : undefined;
}

/** A static-int8 2-D conv ORT-web runs as QLinearConv (DQ → Conv → Q), stride 1: its scratch, else undefined. */
function int8ConvScratch(graph: Graph, conv: NodeProto): number | undefined {
  if (conv.opType !== 'Conv' || (conv.domain && conv.domain !== 'ai.onnx')) return undefined;
  const [x, w, b] = conv.input ?? [];
  const xdq = dequantizer(graph, x);
  const wdq = dequantizer(graph, w);
  const weight = wdq ? graph.initializer(wdq.input?.[0] ?? '') : undefined;
  if (!xdq || !weight || !int8Types.has(weight.dataType ?? 0) || graph.initializer(xdq.input?.[0] ?? '')) return undefined;
  if (b && !dequantizer(graph, b) && !graph.initializer(b)) return undefined;
  const consumers = graph.consumers(conv.output![0]!);
  if (consumers.length !== 1 || consumers[0]!.opType !== 'QuantizeLinear' || graph.isGraphOutput(conv.output![0]!)) return undefined;
  const dims = tensorDims(weight);
  if (dims.length !== 4 || getIntAttr(conv, 'group', 1) !== 1) return undefined;
  if (getStringAttr(conv, 'auto_pad', 'NOTSET') !== 'NOTSET') return undefined;
  if ([...getIntsAttr(conv, 'strides', [1, 1]), ...getIntsAttr(conv, 'dilations', [1, 1])].some((v) => v !== 1)) return undefined;
  const [cout, cin, kh, kw] = dims as [number, number, number, number];
  return (kh * kw > 1 ? kh * kw * cin : 0) + 4 * cout;
}

/**
 * The convs worth splitting, largest scratch first, with their strip counts: those whose scratch passes 1 KiB and
 * twice the median conv's (the floor the model's other convs set; splitting near it only adds copies), and none
 * when more than MAX_SPLIT do (then the peak is spread over the model, as in x4plus's dense blocks).
 */
export function rowStripCandidates(model: ModelProto): RowStripCandidate[] {
  // A served file is split once: its strips' convs keep their scratch an output pixel.
  if ((opsetVersion(model) ?? 0) < 13 || getMetadata(model, 'srq.row_strips') !== undefined) return [];
  const graph = new Graph(model.graph!);
  const scales = outputScales(model);
  const convs: { node: string; scratch: number }[] = [];
  for (const conv of graph.nodes) {
    const perOutputPixel = int8ConvScratch(graph, conv);
    if (perOutputPixel === undefined || !conv.name) continue;
    convs.push({ node: conv.name, scratch: Math.round(perOutputPixel * (scales.get(conv.output![0]!) ?? 1) ** 2) });
  }
  if (convs.length === 0) return [];
  const sorted = convs.map((c) => c.scratch).sort((a, b) => a - b);
  const floor = sorted[Math.floor(sorted.length / 2)]!;
  const found = convs
    .filter((c) => c.scratch >= Math.max(ROW_STRIP_MIN_SCRATCH, 2 * floor))
    .map((c) => ({ ...c, strips: Math.min(MAX_STRIPS, Math.ceil(c.scratch / SCRATCH_PER_STRIP)) }));
  return found.length > MAX_SPLIT ? [] : found.sort((a, b) => b.scratch - a.scratch);
}

/** Each tensor's pixels per model input pixel along a side; none where the graph defeats the analysis (then 1). */
function outputScales(model: ModelProto): Map<string, number> {
  try {
    return tensorScales(model);
  } catch (e) {
    if (e instanceof ReceptiveFieldError) return new Map();
    throw e;
  }
}

/** A copy of the model with each named candidate conv computed in row strips (byte-equal output). */
export function splitConvRows(model: ModelProto, splits: readonly RowStripCandidate[]): ModelProto {
  const out = cloneModel(model);
  const graph = new Graph(out.graph!);
  for (const { node, strips, concat } of splits) {
    const conv = graph.nodes.find((n) => n.name === node);
    if (!conv || int8ConvScratch(graph, conv) === undefined) throw new Error(`row strips: ${node} is not a static-int8 conv with stride 1`);
    if (!concat) splitOne(graph, conv, strips);
    else {
      const dense = denseConcatOf(graph, conv);
      if (!dense) throw new Error(`row strips: ${node} does not read a dense int8 Concat`);
      splitDense(graph, conv, dense, strips);
    }
  }
  graph.removeUnused();
  graph.sort();
  setMetadata(out, 'srq.row_strips', splits.map((s) => `${s.node}:${s.strips}`).join(','));
  return out;
}

/** Names under `<conv>.rows`, int64 constants and nodes for a conv's strips, and each strip's weight/bias inputs. */
function stripBuilder(graph: Graph, conv: NodeProto) {
  const base = `${conv.name}.rows`;
  const name = (s: string) => graph.uniqueName(`${base}.${s}`);
  const constant = (s: string, values: readonly number[]) =>
    graph.addInitializer(makeTensor(name(s), DataType.INT64, [values.length], BigInt64Array.from(values.map(BigInt)))).name!;
  const add = (op: string, inputs: string[], label: string, attrs = {}) => {
    const output = name(label);
    graph.addNode(makeNode(op, inputs, [output], attrs, name(`${label}.${op}`)));
    return output;
  };
  // Each strip its own weight and bias DequantizeLinear (same initializers): ORT fuses a DQ into one conv only.
  const convConstants = (k: number) => conv.input!.slice(1).map((t, j) => {
    const dq = dequantizer(graph, t);
    if (!dq) return t;
    const copy = name(`w${j}.${k}`);
    graph.addNode({ ...dq, output: [copy], name: name(`${dq.name ?? 'dq'}.${k}`) });
    return copy;
  });
  return { name, constant, add, convConstants };
}

function splitOne(graph: Graph, conv: NodeProto, strips: number): void {
  const xdq = dequantizer(graph, conv.input![0])!;
  const q = graph.consumers(conv.output![0]!)[0]!;
  const [kh] = tensorDims(graph.initializer(dequantizer(graph, conv.input![1])!.input![0]!)!).slice(2) as [number];
  const [top, left, bottom, right] = getIntsAttr(conv, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  const { name, constant, add, convConstants } = stripBuilder(graph, conv);

  const [x, scale, zeroPoint] = xdq.input! as [string, string, string | undefined];
  // Padded with the zero point: it dequantizes to the 0 the conv pads with.
  const padded = add('Pad', [x, constant('pads', [0, 0, top, 0, 0, 0, bottom + strips, 0]), ...(zeroPoint ? [zeroPoint] : [])], 'padded');
  const height = add('Slice', [add('Shape', [x], 'shape'), constant('h.start', [2]), constant('h.end', [3])], 'height');
  const outRows = add('Add', [height, constant('grow', [top + bottom - kh + 1])], 'out_rows');
  const extended = add('Add', [outRows, constant('strips', [strips])], 'extended_rows');
  const axis = constant('axis', [2]);
  const halo = constant('halo', [kh - 1]);
  const bounds = [constant('zero', [0])];
  for (let k = 1; k < strips; k++) bounds.push(add('Div', [add('Mul', [extended, constant(`k${k}`, [k])], `m${k}`), constant(`n${k}`, [strips])], `o${k}`));
  bounds.push(extended);

  const pads = attr.ints([0, left, 0, right]);
  const parts: string[] = [];
  for (let k = 0; k < strips; k++) {
    const rows = add('Slice', [padded, bounds[k]!, add('Add', [bounds[k + 1]!, halo], `end${k}`), axis], `x${k}`);
    const xf = add('DequantizeLinear', [rows, scale, ...(zeroPoint ? [zeroPoint] : [])], `xf${k}`);
    const consts = convConstants(k);
    const yf = name(`yf${k}`);
    graph.addNode({ ...conv, input: [xf, ...consts], output: [yf], name: name(`${k}`), attribute: [...(conv.attribute ?? []).filter((a) => a.name !== 'pads'), { ...pads, name: 'pads' }] });
    parts.push(add('QuantizeLinear', [yf, ...q.input!.slice(1)], `y${k}`));
  }
  const joined = add('Concat', parts, 'joined', { axis: attr.int(2) });
  graph.addNode(makeNode('Slice', [joined, bounds[0]!, outRows, axis], [q.output![0]!], {}, name('crop')));
  graph.removeNode(q);
  graph.removeNode(conv);
}

// Dense concats. RDN's global feature fusion (UpscalerJS's esrgan-medium and -thick) concatenates every block's output
// for one 1×1 conv, so each output waits, whole, from its block to the end of the body: on esrgan-medium-x4 (ten
// blocks of 64 channels) onnxruntime-web's peak rose from 1040 B a window px without the Concat (cut graphs) to 1552.
// Two splits together take it down, both byte-equal: the Concat and its 1×1 conv computed in row strips (the conv is
// per pixel, so no halo: each strip concatenates the same rows of every input), and the 3×3 convs that run while the
// inputs wait, whose unfold scratch sits on top of them. Either alone moved little (Concat 1552 → 1544, convs → 1416),
// both 1107–1239 depending on the strip count and ORT's allocator, so the served form measures a few plans
// (served-form.node.ts).

/** Least number of int8 maps a Concat joins to be dense. */
const DENSE_CONCAT_INPUTS = 4;
/** Strip counts of the plans the served form measures for a model with a dense concat. */
const DENSE_STRIP_COUNTS = [2, 3, 4];

interface DenseConcat {
  concat: NodeProto;
  /** The Concat's QuantizeLinear and the conv's DequantizeLinear of it: ORT runs them as QLinearConcat. */
  q: NodeProto;
  dq: NodeProto;
}

/** The dense int8 Concat a 1×1 int8 conv (no pads) reads, as the only reader of each step between them. */
function denseConcatOf(graph: Graph, conv: NodeProto): DenseConcat | undefined {
  const w = graph.initializer(dequantizer(graph, conv.input?.[1])?.input?.[0] ?? '');
  if (!w || tensorDims(w)[2] !== 1 || tensorDims(w)[3] !== 1 || getIntsAttr(conv, 'pads', [0, 0, 0, 0]).some((p) => p !== 0)) return undefined;
  const dq = dequantizer(graph, conv.input?.[0]);
  const q = dq ? graph.producer(dq.input![0]!) : undefined;
  const concat = q?.opType === 'QuantizeLinear' ? graph.producer(q.input![0]!) : undefined;
  if (!dq || !q || concat?.opType !== 'Concat' || getIntAttr(concat, 'axis', 0) !== 1) return undefined;
  const sole = (n: NodeProto, reader: NodeProto) => graph.consumers(n.output![0]!).length === 1 && graph.consumers(n.output![0]!)[0] === reader && !graph.isGraphOutput(n.output![0]!);
  if (!sole(concat, q) || !sole(q, dq) || !sole(dq, conv)) return undefined;
  const inputs = concat.input ?? [];
  if (inputs.length < DENSE_CONCAT_INPUTS || inputs.some((t) => !dequantizer(graph, t) || graph.initializer(dequantizer(graph, t)!.input![0]!))) return undefined;
  return { concat, q, dq };
}

/**
 * For each strip count, the dense concats' 1×1 convs and the convs with a kernel over 1×1 that run while their
 * inputs wait (from the Concat's second input's producer on) or first after them, all in that many strips; none for
 * a model without a dense concat or already split.
 */
export function denseConcatPlans(model: ModelProto): RowStripCandidate[][] {
  if ((opsetVersion(model) ?? 0) < 13 || getMetadata(model, 'srq.row_strips') !== undefined) return [];
  const graph = new Graph(model.graph!);
  const order = graph.topologicalOrder();
  const at = new Map(order.map((n, i) => [n, i]));
  const scales = outputScales(model);
  const scratchOf = (n: NodeProto) => Math.round((int8ConvScratch(graph, n) ?? 0) * (scales.get(n.output![0]!) ?? 1) ** 2);
  const unfolding = (n: NodeProto) => n.name !== undefined && n.name !== '' && int8ConvScratch(graph, n) !== undefined && !denseConcatOf(graph, n) && kernelPixels(graph, n) > 1;
  const spans = new Set<NodeProto>();
  const fusions: NodeProto[] = [];
  for (const conv of order) {
    if (!conv.name || int8ConvScratch(graph, conv) === undefined) continue;
    const dense = denseConcatOf(graph, conv);
    if (!dense) continue;
    fusions.push(conv);
    const from = at.get(graph.producer(dense.concat.input![1]!)!)!;
    const to = at.get(conv)!;
    const inSpan = order.filter((n, i) => i > from && i < to && unfolding(n));
    const after = order.find((n, i) => i > to && unfolding(n));
    for (const n of after ? [...inSpan, after] : inSpan) spans.add(n);
  }
  if (fusions.length === 0) return [];
  return DENSE_STRIP_COUNTS.map((strips) => [
    ...fusions.map((c) => ({ node: c.name!, scratch: scratchOf(c), strips, concat: true as const })),
    ...[...spans].map((n) => ({ node: n.name!, scratch: scratchOf(n), strips })),
  ]);
}

function kernelPixels(graph: Graph, conv: NodeProto): number {
  const [, , kh, kw] = tensorDims(graph.initializer(dequantizer(graph, conv.input![1])!.input![0]!)!);
  return (kh ?? 1) * (kw ?? 1);
}

/**
 * The Concat and its 1×1 conv in K row strips: each strip slices the same rows of every (uint8) input, joins them as
 * the Concat did and convolves them; the strips' outputs are joined along the rows. Strip k covers
 * [s_k, e_k) with s_k = min(⌊k·H/K⌋, H − 1) and e_k = max(⌊(k+1)·H/K⌋, s_k + 1), so no strip is empty (ORT rejects a
 * conv over no rows): they are disjoint when H ≥ K, and below that overlap, and each strip's output drops the
 * e_(k−1) − s_k rows the strip before it gave.
 */
function splitDense(graph: Graph, conv: NodeProto, dense: DenseConcat, strips: number): void {
  const q = graph.consumers(conv.output![0]!)[0]!;
  const { name, constant, add, convConstants } = stripBuilder(graph, conv);
  const sources = dense.concat.input!.map((t) => dequantizer(graph, t)!);
  const height = add('Slice', [add('Shape', [sources[0]!.input![0]!], 'shape'), constant('h.start', [2]), constant('h.end', [3])], 'height');
  const axis = constant('axis', [2]);
  const one = constant('one', [1]);
  const lastRow = add('Sub', [height, one], 'last_row');
  const floors = [constant('zero', [0])];
  for (let k = 1; k < strips; k++) floors.push(add('Div', [add('Mul', [height, constant(`k${k}`, [k])], `m${k}`), constant(`n${k}`, [strips])], `o${k}`));
  floors.push(height);
  const starts = floors.slice(0, strips).map((o, k) => (k === 0 ? o : add('Min', [o, lastRow], `s${k}`)));
  const ends = starts.map((s, k) => add('Max', [floors[k + 1]!, add('Add', [s, one], `s${k}_next`)], `e${k}`));
  const end = constant('end', [2 ** 31 - 1]);

  const parts: string[] = [];
  for (let k = 0; k < strips; k++) {
    const rows = sources.map((dq, i) => add('DequantizeLinear', [add('Slice', [dq.input![0]!, starts[k]!, ends[k]!, axis], `x${k}_${i}`), ...dq.input!.slice(1)], `xf${k}_${i}`));
    const joined = add('Concat', rows, `cat${k}`, { axis: attr.int(1) });
    const xf = add('DequantizeLinear', [add('QuantizeLinear', [joined, ...dense.q.input!.slice(1)], `catq${k}`), ...dense.dq.input!.slice(1)], `catf${k}`);
    const consts = convConstants(k);
    const yf = name(`yf${k}`);
    graph.addNode({ ...conv, input: [xf, ...consts], output: [yf], name: name(`${k}`) });
    const y = add('QuantizeLinear', [yf, ...q.input!.slice(1)], `y${k}`);
    parts.push(k === 0 ? y : add('Slice', [y, add('Sub', [ends[k - 1]!, starts[k]!], `drop${k}`), end, axis], `new${k}`));
  }
  graph.addNode(makeNode('Concat', parts, [q.output![0]!], { axis: attr.int(2) }, name('joined')));
  for (const n of [q, conv, dense.dq, dense.q, dense.concat]) graph.removeNode(n);
}
