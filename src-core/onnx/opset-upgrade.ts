// Exact opset upgrade of the default ONNX domain to opset 13, for the ops SR models use, so that older exports
// (opset 7–12: Upsample, Clip/Pad/Split/Squeeze attributes) can be quantized. Each rewrite computes the same
// function as the original op; ops whose meaning cannot be kept exactly are refused with a clear message.
// Runtime-agnostic. What changed, by op (ONNX Changelog.md):
// - Upsample (7: scales attribute; 9/10: scales input) and Resize-10 → Resize-13 with mode nearest/linear,
//   coordinate_transformation_mode 'asymmetric' and nearest_mode 'floor' (what ORT's Upsample computes for
//   scales ≥ 1; constant scales < 1 are refused, run-time scales are taken as ≥ 1 and reported so).
// - Clip < 11: min/max attributes → inputs. Pad < 11: pads (paddings in Pad-1) and value attributes → inputs.
// - Slice < 10: starts/ends/axes attributes → inputs. TopK < 10: k attribute → input.
// - Split, Squeeze, Unsqueeze, ReduceSum < 13: split/axes attributes → inputs.
// - Softmax, LogSoftmax, Hardmax < 13 work on the input flattened to 2-D at `axis` (default 1): Flatten → op →
//   Reshape to the input's shape, unless axis is already the last one.
// - Dropout < 12 (ratio attribute): inference is the identity; becomes Identity when its mask is unused.
// - BatchNormalization < 9: spatial=1 (the default) is what later opsets compute; is_test/consumed_inputs go.
// - Scatter (deprecated in 11) → ScatterElements.
import { attr, getAttr, getIntAttr, getIntsAttr, getStringAttr, makeNode } from './build.ts';
import { Graph } from './graph.ts';
import { opsetVersion } from './model.ts';
import { toNumber } from './long.ts';
import { DataType, makeTensor, tensorToFloat32 } from './tensor.ts';
import type { GraphProto, ModelProto, NodeProto } from './types.ts';

export class OpsetUpgradeError extends Error {
  override name = 'OpsetUpgradeError';
}

/** Oldest opset the upgrade handles (opset 7 brought numpy broadcasting and dropped is_test attributes). */
export const MIN_UPGRADE_OPSET = 7;
export const UPGRADE_TARGET_OPSET = 13;

export interface OpsetUpgrade {
  from: number;
  to: number;
  /** Rewrites by kind, e.g. { 'Upsample → Resize': 2, 'Clip min/max → inputs': 3 }. */
  changes: Record<string, number>;
}

/** One line for reports: "opset 9 → 13 (Upsample → Resize ×2, Clip min/max → inputs ×3)". */
export function describeUpgrade(u: OpsetUpgrade): string {
  const parts = Object.entries(u.changes).map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
  return `opset ${u.from} → ${u.to}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

const isDefaultDomain = (n: NodeProto) => !n.domain || n.domain === 'ai.onnx';
const removeAttrs = (node: NodeProto, ...names: string[]) => {
  node.attribute = (node.attribute ?? []).filter((a) => !names.includes(a.name ?? ''));
};
const hasAttr = (node: NodeProto, name: string) => (node.attribute ?? []).some((a) => a.name === name);

class Upgrader {
  readonly changes: Record<string, number> = {};
  constructor(private readonly from: number, private readonly label: string) {}

  private count(kind: string): void {
    this.changes[kind] = (this.changes[kind] ?? 0) + 1;
  }

  private refuse(node: NodeProto, why: string): never {
    throw new OpsetUpgradeError(`${this.label} uses opset ${this.from}; srq cannot upgrade its ${node.opType} node ${node.name || node.output?.[0]} to opset ${UPGRADE_TARGET_OPSET} exactly (${why}); re-export the model with opset 13 or newer`);
  }

  graph(proto: GraphProto): void {
    const graph = new Graph(proto);
    for (const node of [...graph.nodes]) {
      for (const a of node.attribute ?? []) {
        if (a.g) this.graph(a.g);
        for (const g of a.graphs ?? []) this.graph(g);
      }
      if (isDefaultDomain(node)) this.node(graph, node);
    }
    graph.sort();
  }

  private int64Input(graph: Graph, node: NodeProto, what: string, values: number[], scalar = false): string {
    const name = graph.uniqueName(`${node.name || node.output?.[0]}_${what}`);
    graph.addInitializer(makeTensor(name, DataType.INT64, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt))));
    return name;
  }

  private floatInput(graph: Graph, node: NodeProto, what: string, values: number[], scalar = false): string {
    const name = graph.uniqueName(`${node.name || node.output?.[0]}_${what}`);
    graph.addInitializer(makeTensor(name, DataType.FLOAT, scalar ? [] : [values.length], Float32Array.from(values)));
    return name;
  }

  /** Constant values of a tensor (initializer or Constant node), if it is one. */
  private constantFloats(graph: Graph, name: string): Float32Array | undefined {
    const init = graph.initializer(name);
    if (init) return tensorToFloat32(init);
    const producer = graph.producer(name);
    const t = producer?.opType === 'Constant' ? producer.attribute?.find((a) => a.name === 'value')?.t : undefined;
    return t ? tensorToFloat32(t) : undefined;
  }

  private node(graph: Graph, node: NodeProto): void {
    const op = node.opType ?? '';
    const from = this.from;
    if (op === 'Upsample' || (op === 'Resize' && from < 11)) {
      this.upsample(graph, node);
    } else if (op === 'Resize') {
      if (getStringAttr(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_half_pixel_for_nn') this.refuse(node, 'coordinate_transformation_mode tf_half_pixel_for_nn was removed in opset 13');
    } else if (op === 'Clip' && from < 11) {
      const min = getAttr(node, 'min');
      const max = getAttr(node, 'max');
      node.input = [node.input![0]!, min !== undefined ? this.floatInput(graph, node, 'min', [min as number], true) : '', max !== undefined ? this.floatInput(graph, node, 'max', [max as number], true) : ''];
      while (node.input.length > 1 && node.input[node.input.length - 1] === '') node.input.pop();
      removeAttrs(node, 'min', 'max');
      this.count('Clip min/max → inputs');
    } else if (op === 'Pad' && from < 11) {
      const pads = getIntsAttr(node, hasAttr(node, 'pads') ? 'pads' : 'paddings', []);
      const value = getAttr(node, 'value');
      const inputs = [node.input![0]!, this.int64Input(graph, node, 'pads', pads)];
      if (typeof value === 'number' && value !== 0) inputs.push(this.floatInput(graph, node, 'value', [value], true));
      node.input = inputs;
      removeAttrs(node, 'pads', 'paddings', 'value');
      this.count('Pad pads → input');
    } else if (op === 'Slice' && from < 10) {
      const starts = getIntsAttr(node, 'starts', []);
      const ends = getIntsAttr(node, 'ends', []);
      const inputs = [node.input![0]!, this.int64Input(graph, node, 'starts', starts), this.int64Input(graph, node, 'ends', ends)];
      if (hasAttr(node, 'axes')) inputs.push(this.int64Input(graph, node, 'axes', getIntsAttr(node, 'axes', [])));
      node.input = inputs;
      removeAttrs(node, 'starts', 'ends', 'axes');
      this.count('Slice starts/ends → inputs');
    } else if (op === 'TopK' && from < 10) {
      node.input = [node.input![0]!, this.int64Input(graph, node, 'k', [getIntAttr(node, 'k', 1)])];
      removeAttrs(node, 'k');
      this.count('TopK k → input');
    } else if (op === 'Split' && hasAttr(node, 'split')) {
      node.input = [node.input![0]!, this.int64Input(graph, node, 'split', getIntsAttr(node, 'split', []))];
      removeAttrs(node, 'split');
      this.count('Split split → input');
    } else if ((op === 'Squeeze' || op === 'Unsqueeze' || op === 'ReduceSum') && hasAttr(node, 'axes')) {
      node.input = [node.input![0]!, this.int64Input(graph, node, 'axes', getIntsAttr(node, 'axes', []))];
      removeAttrs(node, 'axes');
      this.count(`${op} axes → input`);
    } else if ((op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax')) {
      this.softmax(graph, node);
    } else if (op === 'Dropout' && from < 12) {
      const mask = node.output?.[1];
      if (mask && (graph.consumers(mask).length > 0 || graph.isGraphOutput(mask))) this.refuse(node, 'its mask output is used');
      node.opType = 'Identity';
      node.output = [node.output![0]!];
      node.attribute = [];
      this.count('Dropout → Identity');
    } else if (op === 'BatchNormalization' && from < 9) {
      if (getIntAttr(node, 'spatial', 1) !== 1) this.refuse(node, 'spatial=0 (per-activation statistics) has no opset 9+ form');
      if (['spatial', 'is_test', 'consumed_inputs'].some((a) => hasAttr(node, a))) {
        removeAttrs(node, 'spatial', 'is_test', 'consumed_inputs');
        this.count('BatchNormalization spatial dropped');
      }
    } else if (op === 'Scatter') {
      node.opType = 'ScatterElements';
      this.count('Scatter → ScatterElements');
    }
  }

  /** Upsample (any version) or Resize-10 → Resize-13 with the same arithmetic. */
  private upsample(graph: Graph, node: NodeProto): void {
    const mode = getStringAttr(node, 'mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') this.refuse(node, `mode ${mode}`);
    let scales: string;
    if (hasAttr(node, 'scales')) {
      scales = this.floatInput(graph, node, 'scales', (getAttr(node, 'scales') as number[]).map(Number));
    } else {
      scales = node.input?.[1] ?? '';
      if (!scales) this.refuse(node, 'it has no scales');
    }
    const values = hasAttr(node, 'scales') ? Float32Array.from(getAttr(node, 'scales') as number[]) : this.constantFloats(graph, scales);
    // Upsample's nearest rounds down when enlarging and up when shrinking (ORT's NearestMode::SIMPLE);
    // Resize's 'floor' is the same only for scales ≥ 1.
    // Scales computed at run time (torch.onnx's interpolate(size=...) at opset 9: output size ÷ input size) are
    // taken as ≥ 1, as upsampling is what Upsample is for; the change is named so, for the report.
    if (mode === 'nearest' && values && values.some((s) => s < 1)) this.refuse(node, `nearest with scales [${[...values].join(', ')}] < 1`);
    const kind = `${node.opType === 'Upsample' ? 'Upsample → Resize' : 'Resize-10 → Resize-13'}${mode === 'nearest' && !values ? ' (run-time scales, taken as ≥ 1)' : ''}`;
    node.opType = 'Resize';
    node.input = [node.input![0]!, '', scales];
    node.attribute = [
      { ...attr.string(mode === 'nearest' ? 'nearest' : 'linear'), name: 'mode' },
      { ...attr.string('asymmetric'), name: 'coordinate_transformation_mode' },
      ...(mode === 'nearest' ? [{ ...attr.string('floor'), name: 'nearest_mode' }] : []),
    ];
    this.count(kind);
  }

  /** Opset < 13 softmax family: coerce to 2-D at axis, normalize each row, restore the shape. */
  private softmax(graph: Graph, node: NodeProto): void {
    if (this.from >= 13) return;
    const axis = getIntAttr(node, 'axis', 1);
    if (axis === -1) return; // the last axis: same in both definitions
    const x = node.input![0]!;
    const y = node.output![0]!;
    const base = node.name || y;
    const flat = graph.uniqueName(`${base}_2d`);
    const rows = graph.uniqueName(`${base}_rows`);
    const shape = graph.uniqueName(`${base}_shape`);
    graph.addNode(makeNode('Flatten', [x], [flat], { axis: attr.int(axis) }, graph.uniqueName(`${base}_flatten`)));
    graph.addNode(makeNode('Shape', [x], [shape], {}, graph.uniqueName(`${base}_input_shape`)));
    node.input = [flat];
    node.output = [rows];
    node.attribute = [{ ...attr.int(-1), name: 'axis' }];
    graph.addNode(makeNode('Reshape', [rows, shape], [y], {}, graph.uniqueName(`${base}_reshape`)));
    this.count(`${node.opType} axis → Flatten/Reshape`);
  }
}

/**
 * Upgrade the default domain of `model` (in place) to opset 13. Returns what changed; a model already at
 * opset ≥ 13 is left as it is (changes empty, from = to).
 */
export function upgradeOpset(model: ModelProto, label = 'the model'): OpsetUpgrade {
  const from = opsetVersion(model);
  if (from === undefined) throw new OpsetUpgradeError(`${label} imports no default ONNX opset`);
  if (from >= UPGRADE_TARGET_OPSET) return { from, to: from, changes: {} };
  if (from < MIN_UPGRADE_OPSET) {
    throw new OpsetUpgradeError(`${label} uses opset ${from}; srq upgrades opset ${MIN_UPGRADE_OPSET} or newer (re-export the model with opset 13 or newer)`);
  }
  const upgrader = new Upgrader(from, label);
  upgrader.graph(model.graph!);
  for (const o of model.opsetImport ?? []) if (!o.domain || o.domain === 'ai.onnx') o.version = UPGRADE_TARGET_OPSET;
  // Opset 13 goes with IR version 7 (onnx/helper.py VERSION_TABLE).
  if (toNumber(model.irVersion ?? 0) < 7) model.irVersion = 7;
  return { from, to: UPGRADE_TARGET_OPSET, changes: upgrader.changes };
}
