// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization"; NNCF's default step): rounding
// weights and clipping activations shifts the mean of each conv's output channels. Those shifts add up
// through an SR network into a colour cast that costs PSNR. Each conv's shift is measured on the calibration
// tiles against a float copy of itself (measureBiasShifts) and taken out of its float bias before the int32
// biases are made. Weights and activation ranges do not change.
import { makeNode } from '../onnx/build.ts';
import { cloneModel, encodeModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { GraphProto, ModelProto, NodeProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import type { RunnerFactory } from './calibrate.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import type { QuantPlan } from './plan.ts';

/** A quantized conv whose float bias gets corrected: the node (in the graph being rewritten) and its bias. */
export interface BiasTarget {
  node: NodeProto;
  bias: string;
  /** The bounds of a Relu/Clip folded into the conv's input quantizer: the float copy must apply them itself. */
  inputClamp?: { min: number; max: number };
}

/**
 * Convs the plan quantizes with a float bias, recorded before applyPlan folds activations and renames outputs.
 * Conv and ConvTranspose only: their channels are axis 1 (Gemm's and MatMul's are the last axis, and an SR
 * model's error lives in its convs).
 */
export function biasTargets(graph: GraphProto, plan: QuantPlan): BiasTarget[] {
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const bound = (name: string | undefined, fallback: number) => {
    const t = name ? initializers.get(name) : undefined;
    return t ? tensorToFloat32(t)[0]! : fallback;
  };
  const clamps = new Map(plan.folded.map((n) => [
    n.output![0]!,
    n.opType === 'Relu' ? { min: 0, max: Infinity } : { min: bound(n.input?.[1], -Infinity), max: bound(n.input?.[2], Infinity) },
  ]));
  return (graph.node ?? [])
    .filter((n) => (n.opType === 'Conv' || n.opType === 'ConvTranspose') && plan.quantizedNodes.has(n) && n.input?.[2] && plan.biases.has(n.input[2]))
    .map((node) => {
      const inputClamp = clamps.get(node.input![0]!);
      return { node, bias: node.input![2]!, ...(inputClamp ? { inputClamp } : {}) };
    });
}

/**
 * Each target conv's mean output shift, per channel: what its own quantization adds (int8 weights, quantized
 * input) on top of the values that reach it in the quantized graph. A float copy of the conv runs next to it on
 * the input before its QuantizeLinear, and both outputs are averaged per channel (GlobalAveragePool: any opset,
 * any spatial rank), so a run returns C numbers per conv, not activations. Measuring each conv against its own
 * float copy, not against the float network, keeps upstream shifts out: correcting every conv at once for the
 * network-level difference over-corrects downstream convs for shifts their inputs no longer have.
 */
export async function measureBiasShifts(
  quantized: ModelProto,
  float: ModelProto,
  targets: readonly BiasTarget[],
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
): Promise<Map<string, Float64Array>> {
  const m = cloneModel(quantized);
  const g = m.graph!;
  const producers = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producers.set(o, n);
  const floatInit = new Map((float.graph!.initializer ?? []).map((t) => [t.name ?? '', t]));
  const taps = new Map<string, [string, string]>();
  targets.forEach((t, i) => {
    const dq = producers.get(t.node.input![0]!);
    const q = dq?.opType === 'DequantizeLinear' ? producers.get(dq.input![0]!) : undefined;
    const w = floatInit.get(t.node.input![1]!);
    const b = floatInit.get(t.bias);
    let before = q?.opType === 'QuantizeLinear' ? q.input![0]! : undefined;
    if (!before || !w || !b) return;
    const names = [`srq_bc_${i}_w`, `srq_bc_${i}_b`, `srq_bc_${i}_ref`, `srq_bc_${i}_ref_mean`, `srq_bc_${i}_mean`] as const;
    g.initializer!.push({ ...w, name: names[0] }, { ...b, name: names[1] });
    // A folded Relu/Clip exists only as the quantizer's clamp: apply it to the float copy's input (Max/Min, any opset).
    for (const [op, value] of [['Max', t.inputClamp?.min], ['Min', t.inputClamp?.max]] as const) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const [constant, clamped] = [`srq_bc_${i}_${op}_bound`, `srq_bc_${i}_${op}`];
      g.initializer!.push(makeTensor(constant, DataType.FLOAT, [], new Float32Array([value])));
      g.node!.push(makeNode(op, [before, constant], [clamped]));
      before = clamped;
    }
    g.node!.push(
      makeNode(t.node.opType!, [before, names[0], names[1]], [names[2]], Object.fromEntries((t.node.attribute ?? []).map((a) => [a.name!, a]))),
      makeNode('GlobalAveragePool', [names[2]], [names[3]]),
      makeNode('GlobalAveragePool', [t.node.output![0]!], [names[4]]),
    );
    for (const o of [names[3], names[4]]) g.output!.push({ name: o, type: { tensorType: { elemType: DataType.FLOAT } } });
    taps.set(t.bias, [names[4], names[3]]);
  });
  const sums = new Map<string, { sum: Float64Array; squares: Float64Array }>();
  if (taps.size === 0) return new Map();
  const runner = await createRunner(encodeModel(m), { memoryArena: false });
  try {
    for (const tile of tiles) {
      const { data, dims } = rasterToTensor(tile);
      const out = await runner.runOutputs(data, dims, [...taps.values()].flat());
      for (const [bias, [quantizedMean, floatMean]] of taps) {
        const qm = out[quantizedMean]!.data;
        const fm = out[floatMean]!.data;
        const acc = sums.get(bias) ?? { sum: new Float64Array(qm.length), squares: new Float64Array(qm.length) };
        for (let c = 0; c < qm.length; c++) {
          const d = qm[c]! - fm[c]!;
          acc.sum[c]! += d;
          acc.squares[c]! += d * d;
        }
        sums.set(bias, acc);
      }
    }
  } finally {
    await runner.release();
  }
  return new Map([...sums].map(([bias, { sum, squares }]) => [bias, consistentShift(sum, squares, tiles.length)]));
}

/**
 * The mean shift per channel, shrunk by how much it varies from tile to tile: mean·max(0, 1 − se²/mean²), with se
 * the standard error of the mean. A shift that depends on the content (clipping on bright tiles only) would not
 * carry over to other photos. On the corpus the shifts hold across the 32 tiles and this changes nothing
 * measurable (waifu2x, whose held-out drop bias correction raises, included); it guards few or unlike tiles.
 */
export function consistentShift(sum: Float64Array, squares: Float64Array, n: number): Float64Array {
  return Float64Array.from(sum, (s, c) => {
    const mean = s / n;
    if (n < 2 || mean === 0) return mean;
    const variance = Math.max(0, (squares[c]! - n * mean * mean) / (n - 1));
    return mean * Math.max(0, 1 - variance / n / (mean * mean));
  });
}

/** What bias correction changed, for reports: convs corrected and the largest shift taken out (in output units). */
export interface BiasCorrection { convs: number; maxShift: number }

/** Subtracts each conv's measured shift from its float bias initializer in `graph` (the float graph, re-quantized next). */
export function correctBiases(graph: GraphProto, shifts: ReadonlyMap<string, Float64Array>): BiasCorrection {
  let maxShift = 0;
  let convs = 0;
  for (const [name, shift] of shifts) {
    const index = graph.initializer!.findIndex((i) => i.name === name);
    if (index < 0) continue;
    const old = graph.initializer![index]!;
    const bias = tensorToFloat32(old);
    if (bias.length !== shift.length) continue;
    for (const d of shift) maxShift = Math.max(maxShift, Math.abs(d));
    graph.initializer![index] = makeTensor(name, DataType.FLOAT, tensorDims(old), Float32Array.from(bias, (v, c) => v - shift[c]!));
    convs++;
  }
  return { convs, maxShift };
}
