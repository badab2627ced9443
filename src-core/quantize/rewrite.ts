// Turn a float model plus a quantization plan and calibrated ranges into a QDQ model: QuantizeLinear ->
// DequantizeLinear pairs on activations, DequantizeLinear on int8 weights / int32 biases / u8 constants.
// Tensor names are kept: a quantized tensor T is produced by its DequantizeLinear, so consumers and graph
// outputs need no edits. What the rewrite adds (scales, zero points, int8 data, the float value before
// quantization, the Q/DQ nodes) gets short numbered names (`q12.scale`, `q12.int`, `q12.float`): long
// exported names repeated on every Q/DQ input and output were 16% of a small INT8 file.
import { attr, makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto } from '../onnx/types.ts';
import { reductionOrder } from './weight-rounding.ts';
import type { RoundedWeight } from './gptq.ts';
import { computeQParams, minWeightScalesForBias, quantizeBias, quantizeWeightsPerChannel, type ActivationType, type QParams } from './params.ts';
import type { QuantPlan } from './plan.ts';

export interface Range { min: number; max: number }

export class QuantizeError extends Error {
  override name = 'QuantizeError';
}

/** Quantization parameters of every quantized activation (by tensor name), for reports and tests. */
export type ActivationParams = Map<string, QParams>;

/**
 * A folded Clip's output range: the calibrated range intersected with the bounds, each end snapped to its bound
 * when the data come within one quantization step of it (so [0, 1] outputs keep scale 1/255 and zero point 0).
 */
export function withinClipBounds(calibrated: Range, bounds: Range): Range {
  let min = Math.max(calibrated.min, bounds.min);
  let max = Math.min(calibrated.max, bounds.max);
  if (max < min) return { min: bounds.min, max: Math.max(bounds.min, Math.min(bounds.max, calibrated.max)) };
  const step = (max - Math.min(min, 0)) / 255;
  if (bounds.max - max <= step) max = bounds.max;
  if (min - bounds.min <= step) min = bounds.min;
  return { min, max };
}

export function applyPlan(
  model: ModelProto,
  plan: QuantPlan,
  ranges: ReadonlyMap<string, Range>,
  activationType: ActivationType,
  /** Conv weights GPTQ rounded (gptq.ts), by weight name. */
  rounded?: ReadonlyMap<string, RoundedWeight>,
): ActivationParams {
  const graph = new Graph(model.graph!);
  const newNames = qdqNamer(graph);
  const qType = activationType === 'u8' ? DataType.UINT8 : DataType.INT8;
  const zpArray = (zp: number) => (activationType === 'u8' ? new Uint8Array([zp]) : new Int8Array([zp]));

  // 1. Fold Relu/Clip: the producer writes the activation's output directly.
  for (const node of plan.folded) {
    const x = node.input![0]!;
    const producer = graph.producer(x)!;
    producer.output = producer.output!.map((o) => (o === x ? node.output![0]! : o));
    graph.removeNode(node);
  }

  // 2. Parameters per root tensor, stored once as `<root>_scale` / `<root>_zero_point`.
  const params: ActivationParams = new Map();
  const paramNames = new Map<string, { scale: string; zeroPoint: string }>();
  const rootParams = (root: string) => {
    let names = paramNames.get(root);
    if (!names) {
      const calibrated = ranges.get(root);
      if (!calibrated) throw new QuantizeError(`no calibrated range for tensor ${root}`);
      const bounds = plan.clipBounds.get(root);
      const range = bounds ? withinClipBounds(calibrated, bounds) : calibrated;
      const p = computeQParams(range.min, range.max, activationType);
      params.set(root, p);
      const name = newNames();
      names = { scale: name('scale'), zeroPoint: name('zero_point') };
      graph.addInitializer(makeTensor(names.scale, DataType.FLOAT, [], new Float32Array([p.scale])));
      graph.addInitializer(makeTensor(names.zeroPoint, qType, [], zpArray(p.zeroPoint)));
      paramNames.set(root, names);
    }
    return { names, p: params.get(root)! };
  };

  // 3. Activations (own range or shared). Quantized ops read the DQ copy. A float op reads the value itself when a
  //    float op (or the graph input) wrote it: the Q/DQ pair is there for int8 readers, and a float reader would only
  //    take its rounding (residual sums kept float read the stream this way). An int8 producer writes int8: everyone
  //    reads its DQ.
  const graphInputs = new Set(graph.inputs.map((v) => v.name));
  for (const tensor of [...plan.activations, ...plan.shared.keys()]) {
    const { names, p } = rootParams(plan.root(tensor));
    params.set(tensor, p);
    const name = newNames();
    const quantized = name('int');
    const producer = graph.producer(tensor);
    const floatWritten = !producer || !plan.quantizedNodes.has(producer);
    const readers = graph.consumers(tensor);
    if (graphInputs.has(tensor)) {
      const dequantized = name('dequantized');
      for (const r of readers) if (plan.quantizedNodes.has(r)) r.input = r.input!.map((x) => (x === tensor ? dequantized : x));
      graph.invalidate();
      graph.addNode(makeNode('QuantizeLinear', [tensor, names.scale, names.zeroPoint], [quantized], {}, name('Q')));
      graph.addNode(makeNode('DequantizeLinear', [quantized, names.scale, names.zeroPoint], [dequantized], {}, name('DQ')));
    } else {
      if (!producer) throw new QuantizeError(`tensor ${tensor} has no producer`);
      const prequant = name('float');
      producer.output = producer.output!.map((o) => (o === tensor ? prequant : o));
      if (floatWritten) {
        for (const r of readers) if (!plan.quantizedNodes.has(r)) r.input = r.input!.map((x) => (x === tensor ? prequant : x));
      }
      graph.invalidate();
      graph.addNode(makeNode('QuantizeLinear', [prequant, names.scale, names.zeroPoint], [quantized], {}, name('Q')));
      graph.addNode(makeNode('DequantizeLinear', [quantized, names.scale, names.zeroPoint], [tensor], {}, name('DQ')));
    }
  }

  // 4. Weights: int8 symmetric, per channel where the rule gave an axis. A bias must fit in int32 at scale
  //    s_input·s_weight[c] (QLinearConv adds it to its accumulator at exactly that scale), so a channel whose
  //    weights are tiny next to its bias gets a larger weight scale instead of a clamped bias.
  const biasNeeds = new Map<string, { bias: string; min: Float64Array }[]>();
  for (const [name, { input, weight }] of plan.biases) {
    const inputScale = params.get(input)?.scale;
    if (inputScale === undefined) continue;
    const min = minWeightScalesForBias(tensorToFloat32(graph.initializer(name)!), inputScale);
    biasNeeds.set(weight, [...(biasNeeds.get(weight) ?? []), { bias: name, min }]);
  }
  const weightScales = new Map<string, Float32Array>();
  for (const [name, { axis }] of plan.weights) {
    const t = graph.initializer(name)!;
    const dims = tensorDims(t);
    const values = tensorToFloat32(t);
    const perChannel = axis !== undefined && dims.length > axis;
    const channels = perChannel ? dims[axis]! : 1;
    let minScales: Float64Array | undefined;
    const needs = biasNeeds.get(name) ?? [];
    for (const { min } of needs) {
      minScales ??= new Float64Array(channels);
      for (let c = 0; c < min.length; c++) {
        const k = channels === 1 ? 0 : c;
        if (k < channels) minScales[k] = Math.max(minScales[k]!, min[c]!);
      }
    }
    const { data, scales, raised } = perChannel
      ? quantizeWeightsPerChannel(values, dims, axis, minScales, reductionOrder(dims, axis), rounded?.get(name))
      : quantizeWeightsPerChannel(values, [1, values.length], 0, minScales);
    if (raised > 0) {
      const biases = needs.map((n) => n.bias);
      for (const bias of biases) plan.biasScaleRaised.push({ bias, weight: name, channels: raised });
      plan.warnings.push({
        kind: 'bias-scale-raised',
        message: `bias ${biases.join(', ')} would overflow int32 at s_input·s_weight: raised the scale of weight ${name} on ${raised} of ${channels} channel(s) so it fits (those weights lose precision)`,
        tensors: [...biases, name],
      });
    }
    weightScales.set(name, scales);
    graph.removeInitializer(name);
    const added = newNames();
    const [q, s, z] = [added('int'), added('scale'), added('zero_point')];
    graph.addInitializer(makeTensor(q, DataType.INT8, dims, data));
    graph.addInitializer(makeTensor(s, DataType.FLOAT, perChannel ? [scales.length] : [], scales));
    graph.addInitializer(makeTensor(z, DataType.INT8, perChannel ? [scales.length] : [], new Int8Array(scales.length)));
    graph.addNode(makeNode('DequantizeLinear', [q, s, z], [name], perChannel ? { axis: attr.int(axis) } : {}, added('DQ')));
  }

  // 5. Biases: int32 with scale s_input·s_weight and no zero point (WebGPU rejects one on int32).
  for (const [name, { input, weight }] of plan.biases) {
    const t = graph.initializer(name)!;
    const inputScale = params.get(input)?.scale;
    const wScales = weightScales.get(weight);
    if (inputScale === undefined || !wScales) throw new QuantizeError(`bias ${name}: its input or weight is not quantized`);
    const { data, scales, clamped } = quantizeBias(tensorToFloat32(t), inputScale, wScales);
    if (clamped > 0) {
      plan.warnings.push({ kind: 'bias-clamped', message: `bias ${name}: ${clamped} value(s) clamped to the int32 range`, tensors: [name] });
    }
    graph.removeInitializer(name);
    const added = newNames();
    const [q, s] = [added('int'), added('scale')];
    graph.addInitializer(makeTensor(q, DataType.INT32, tensorDims(t), data));
    graph.addInitializer(makeTensor(s, DataType.FLOAT, [scales.length], scales));
    graph.addNode(makeNode('DequantizeLinear', [q, s], [name], { axis: attr.int(0) }, added('DQ')));
  }

  // 6. Constant operands (e.g. a mean added to the image): u8/s8 per-tensor over their own min..max.
  for (const name of plan.constants) {
    const t = graph.initializer(name)!;
    const values = tensorToFloat32(t);
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) { min = Math.min(min, v); max = Math.max(max, v); }
    const p = computeQParams(min, max, activationType);
    const data = activationType === 'u8' ? new Uint8Array(values.length) : new Int8Array(values.length);
    const [qmin, qmax] = activationType === 'u8' ? [0, 255] : [-128, 127];
    values.forEach((v, i) => (data[i] = Math.min(qmax, Math.max(qmin, Math.round(v / p.scale) + p.zeroPoint))));
    graph.removeInitializer(name);
    const added = newNames();
    const [q, s, z] = [added('int'), added('scale'), added('zero_point')];
    graph.addInitializer(makeTensor(q, qType, tensorDims(t), data));
    graph.addInitializer(makeTensor(s, DataType.FLOAT, [], new Float32Array([p.scale])));
    graph.addInitializer(makeTensor(z, qType, [], zpArray(p.zeroPoint)));
    graph.addNode(makeNode('DequantizeLinear', [q, s, z], [name], {}, added('DQ')));
  }

  // 7. Convs left float that read a quantized tensor stay float. Between Q/DQ, ORT's WeightBiasQuantization would
  //    quantize a float conv's weights itself (int8, one scale per tensor: coarser than any int8 layer srq makes) unless
  //    its bias is not an initializer; so the bias comes through an exact DequantizeLinear.
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv' || plan.quantizedNodes.has(node) || !plan.isQuantized(node.input?.[0] ?? '')) continue;
    const weight = graph.initializer(node.input?.[1] ?? '');
    if (weight?.dataType !== DataType.FLOAT) continue;
    const bias = node.input?.[2] ? graph.initializer(node.input[2]) : undefined;
    if (node.input?.[2] && !bias) continue; // already computed by a node
    const values = bias ? tensorToFloat32(bias) : new Float32Array(tensorDims(weight)[0]!);
    const { data, scales } = exactInt32(values);
    const added = newNames();
    const [q, s, out] = [added('int'), added('scale'), added('float_bias')];
    graph.addInitializer(makeTensor(q, DataType.INT32, [values.length], data));
    graph.addInitializer(makeTensor(s, DataType.FLOAT, [scales.length], scales));
    graph.addNode(makeNode('DequantizeLinear', [q, s], [out], { axis: attr.int(0) }, added('DQ')));
    node.input = [node.input![0]!, node.input![1]!, out];
  }

  // Folded Clips leave their bound initializers behind.
  graph.removeUnused();
  graph.sort();
  return params;
}

/** Each call starts a new number `qN`; the function it returns names the parts added under it. */
function qdqNamer(graph: Graph): () => (part: string) => string {
  let count = 0;
  return () => {
    const base = `q${++count}`;
    return (part) => graph.uniqueName(`${base}.${part}`);
  };
}

/**
 * Float values as int32 with a power-of-two scale per value, exact: |v| ≤ 2^e, scale 2^(e−30), so v/scale is v's
 * 24-bit mantissa shifted (an integer below 2^30) and int·scale gives v back.
 */
export function exactInt32(values: Float32Array): { data: Int32Array; scales: Float32Array } {
  const data = new Int32Array(values.length);
  const scales = new Float32Array(values.length).fill(1);
  values.forEach((v, i) => {
    if (v === 0 || !Number.isFinite(v)) return;
    const scale = 2 ** Math.max(-126, Math.ceil(Math.log2(Math.abs(v))) - 30);
    scales[i] = scale;
    data[i] = Math.round(v / scale);
  });
  return { data, scales };
}
