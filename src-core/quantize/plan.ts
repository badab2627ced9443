// A quantization plan: which tensors get Q/DQ, which share another tensor's parameters, which initializers are
// weights, biases or constants, and which activations fold into their producer. Rules (rules/*.ts) fill it in;
// rewrite.ts turns it plus calibrated ranges into a QDQ model.
import type { NodeProto, TensorProto } from '../onnx/types.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType, makeTensor, tensorToFloat32 } from '../onnx/tensor.ts';
import { QuantizeError } from './rewrite.ts';
import { describeUntyped, FloatTensorSet } from './float-tensors.ts';

export interface WeightPlan { axis: number | undefined }
export interface BiasPlan { input: string; weight: string }

/** Something the caller should hear about: the model is still quantized, but not as fully or exactly as asked. */
export interface QuantWarning {
  kind: 'untyped-output' | 'bias-scale-raised' | 'bias-clamped';
  message: string;
  /** Tensors concerned. */
  tensors: string[];
}

/** A bias whose int32 value would overflow at s_input·s_weight: the weight's scale was raised on these channels. */
export interface BiasScaleRaise { bias: string; weight: string; channels: number }

export class QuantPlan {
  /** Activation tensors quantized with their own calibrated range. */
  readonly activations = new Set<string>();
  /** Tensor -> tensor whose quantization parameters it reuses (ops that only move values: Resize, MaxPool...). */
  readonly shared = new Map<string, string>();
  /** Float initializers quantized to int8 (symmetric; per-channel along `axis` when given). */
  readonly weights = new Map<string, WeightPlan>();
  /** Float bias initializers quantized to int32 with scale s_input·s_weight. */
  readonly biases = new Map<string, BiasPlan>();
  /** Float initializers used as activation-like operands (e.g. a constant added to a tensor): uint8, per-tensor. */
  readonly constants = new Set<string>();
  /** Relu/Clip nodes removed because their producer's quantized output already clamps (asymmetric u8). */
  readonly folded: NodeProto[] = [];
  /**
   * A Concat's output and activation inputs: candidates for one shared range (the union of their calibrated ones),
   * so ORT's QLinearConcat copies bytes instead of requantizing; concat-ranges.ts decides which share.
   */
  readonly rangeGroups: string[][] = [];
  /** Ranges known exactly from the graph, used instead of calibrated ones. */
  readonly fixedRanges = new Map<string, { min: number; max: number }>();
  /** A folded Clip's constant bounds: its output's range is the calibrated one intersected with them. */
  readonly clipBounds = new Map<string, { min: number; max: number }>();
  /** Nodes some rule quantized, for reports. */
  readonly quantizedNodes = new Set<NodeProto>();
  /** Adds and Muls that write a graph output, left float: no int8 op reads them, quantizing would only round them. */
  readonly floatSums = new Set<NodeProto>();
  /** Warnings for the caller (also filled in by applyPlan). */
  readonly warnings: QuantWarning[] = [];
  /** Biases that needed a larger scale than s_input·s_weight (filled in by applyPlan). */
  readonly biasScaleRaised: BiasScaleRaise[] = [];

  /** The tensor whose calibrated range decides `tensor`'s parameters. */
  root(tensor: string): string {
    let t = tensor;
    for (let guard = 0; this.shared.has(t); guard++) {
      if (guard > 10_000) throw new Error(`parameter sharing loops at ${tensor}`);
      t = this.shared.get(t)!;
    }
    return t;
  }

  isQuantized(tensor: string): boolean {
    return this.activations.has(tensor) || this.shared.has(tensor);
  }

  /** Tensors whose ranges calibration must measure. */
  calibrationTensors(): string[] {
    return [...new Set([...this.activations, ...[...this.shared.keys()].map((t) => this.root(t))])];
  }
}

/** What a rule may ask for while it looks at one node. */
export class RuleContext {
  /** Tensors whose values depend on the graph inputs' values (not only on their shapes). */
  private readonly dataTensors: Set<string>;

  /**
   * Float Constant nodes become initializers first (an exact rewrite of the graph being planned), so a ×0.2 or a
   * bias written as a Constant node is a constant operand like an initializer.
   */
  constructor(readonly graph: Graph, readonly plan: QuantPlan, private readonly floatTensors: Set<string>) {
    // Outputs of unknown type: everything computed from them stays float, which the caller must be told.
    if (floatTensors instanceof FloatTensorSet) {
      for (const u of floatTensors.untyped) plan.warnings.push({ kind: 'untyped-output', message: describeUntyped(u), tensors: u.tensors });
    }
    constantNodesToInitializers(graph);
    this.dataTensors = dataDependentTensors(graph);
  }

  /**
   * A float tensor computed at run time from the input's values (not a weight, not shape arithmetic such as
   * Cast(Shape(x))·2): a candidate for activation Q/DQ.
   */
  isActivation(tensor: string | undefined): tensor is string {
    return !!tensor && !this.graph.initializer(tensor) && this.floatTensors.has(tensor) && this.dataTensors.has(tensor);
  }

  isFloatInitializer(tensor: string | undefined): tensor is string {
    const t = tensor ? this.graph.initializer(tensor) : undefined;
    return !!t && t.dataType === DataType.FLOAT;
  }

  activation(tensor: string): void {
    if (!this.plan.shared.has(tensor)) this.plan.activations.add(tensor);
  }

  /** `output` takes `input`'s parameters; `input` is quantized in its own right (or shares further up). */
  share(output: string, input: string): void {
    this.activation(input);
    this.plan.activations.delete(output);
    this.plan.shared.set(output, input);
  }

  weight(tensor: string, axis: number | undefined): void {
    this.checkFinite(tensor, 'weight');
    this.plan.weights.set(tensor, { axis });
  }

  /**
   * `tensor` is `node`'s bias, quantized at s_input·s_weight. A bias initializer shared with a node of another
   * input or weight gets its own copy for `node` (one int32 tensor cannot carry two scales).
   */
  bias(tensor: string, input: string, weight: string, node: NodeProto): void {
    this.checkFinite(tensor, 'bias');
    const planned = this.plan.biases.get(tensor);
    if (planned && (planned.input !== input || planned.weight !== weight)) {
      const copy = this.graph.uniqueName(`${tensor}_${node.name || node.opType}`);
      this.graph.addInitializer({ ...this.graph.initializer(tensor)!, name: copy });
      const i = node.input!.lastIndexOf(tensor);
      node.input = node.input!.map((x, j) => (j === i ? copy : x));
      this.graph.invalidate();
      tensor = copy;
    }
    this.plan.biases.set(tensor, { input, weight });
  }

  constant(tensor: string): void {
    this.checkFinite(tensor, 'constant');
    this.plan.constants.add(tensor);
  }

  /** NaN or ±Inf in an initializer would give NaN scales: refuse it by name, before calibration runs. */
  private checkFinite(tensor: string, role: string): void {
    const t = this.graph.initializer(tensor);
    if (!t) return;
    const values = tensorToFloat32(t);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        const bad = values.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
        throw new QuantizeError(`${role} ${tensor} is not finite: ${values[i]} at element ${i} (${bad} of ${values.length} values are NaN or ±Inf); fix the FP32 model first`);
      }
    }
  }

  /** An input operand: activation if computed, constant if a float initializer; false if neither. */
  operand(tensor: string | undefined): boolean {
    if (this.isActivation(tensor)) return this.activation(tensor), true;
    if (this.isFloatInitializer(tensor)) return this.constant(tensor), true;
    return false;
  }

  fold(node: NodeProto): void {
    this.plan.folded.push(node);
  }

  done(node: NodeProto): void {
    this.plan.quantizedNodes.add(node);
  }
}

/** Ops whose outputs depend on their inputs' shapes (or nothing), never on their values. */
const shapeOnly = new Set(['Shape', 'Size', 'ConstantOfShape', 'EyeLike', 'RandomNormalLike', 'RandomUniformLike', 'RandomNormal', 'RandomUniform', 'Constant']);

/** Tensors computed from the graph inputs' values: forward from the inputs, cut at ops that read shapes only. */
function dataDependentTensors(graph: Graph): Set<string> {
  const data = new Set(graph.inputs.map((v) => v.name ?? ''));
  for (const node of graph.topologicalOrder()) {
    if (shapeOnly.has(node.opType ?? '') && (!node.domain || node.domain === 'ai.onnx')) continue;
    if ((node.input ?? []).some((x) => x && data.has(x))) for (const o of node.output ?? []) if (o) data.add(o);
  }
  return data;
}

/**
 * Default-domain Constant nodes holding a float32 tensor (value, value_float, value_floats) become initializers,
 * and so do Identity nodes of an initializer (PyTorch's export of a weight shared by two layers).
 */
function constantNodesToInitializers(graph: Graph): void {
  for (const node of graph.topologicalOrder()) {
    if (node.domain && node.domain !== 'ai.onnx') continue;
    const out = node.output?.[0];
    if (!out || graph.initializer(out) || graph.isGraphOutput(out)) continue;
    if (node.opType === 'Identity') {
      const source = graph.initializer(node.input?.[0] ?? '');
      if (source?.dataType !== DataType.FLOAT) continue;
      graph.removeNode(node);
      graph.addInitializer({ ...source, name: out });
      continue;
    }
    if (node.opType !== 'Constant') continue;
    const a = node.attribute?.[0];
    if (!a || node.attribute!.length !== 1) continue;
    let t: TensorProto | undefined;
    if (a.name === 'value' && a.t?.dataType === DataType.FLOAT) t = { ...a.t, name: out };
    else if (a.name === 'value_float') t = makeTensor(out, DataType.FLOAT, [], new Float32Array([a.f ?? 0]));
    else if (a.name === 'value_floats') t = makeTensor(out, DataType.FLOAT, [a.floats?.length ?? 0], Float32Array.from(a.floats ?? []));
    if (!t) continue;
    graph.removeNode(node);
    graph.addInitializer(t);
  }
}

/** One family of operators and how they are quantized (cf. onnxruntime/python/tools/quantization/operators/). */
export interface OpRule {
  readonly opTypes: readonly string[];
  apply(node: NodeProto, ctx: RuleContext): void;
}
