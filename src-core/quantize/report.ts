// Per-tensor error report: SQNR of each quantized activation (the quantized model's DequantizeLinear output,
// which keeps the tensor's float name) against the same tensor in the float model, over calibration tiles.
// Sorted worst first, so the layers that hurt most head the list.
import { computingOnly } from '../onnx/keep-only.ts';
import { encodeModel } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import type { RunnerFactory } from './calibrate.ts';

export interface TensorError {
  tensor: string;
  /** Signal-to-quantization-noise ratio in dB: 10·log10(Σx² / Σ(x − x̂)²); higher is better. */
  sqnrDb: number;
  /** The node that produces the tensor in the float model. */
  producer: string;
  opType: string;
}

/**
 * `floatModel` must be the graph the quantized model was rewritten from (after srq's exact rewrites), so tensor
 * names match. Tensors are fetched in groups of at most `groupSize` to bound memory.
 */
export async function tensorErrorReport(
  floatModel: ModelProto,
  quantizedModel: ModelProto,
  tensors: readonly string[],
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  groupSize = 8,
): Promise<TensorError[]> {
  const signal = new Map<string, number>();
  const noise = new Map<string, number>();
  for (let g = 0; g < tensors.length; g += groupSize) {
    const group = tensors.slice(g, g + groupSize);
    const reference = await createRunner(encodeModel(computingOnly(floatModel, group)), { memoryPattern: false });
    const candidate = await createRunner(encodeModel(computingOnly(quantizedModel, group)), { memoryPattern: false });
    try {
      for (const tile of tiles) {
        const { data, dims } = rasterToTensor(tile);
        const a = await reference.runOutputs(data, dims, group);
        const b = await candidate.runOutputs(data, dims, group);
        for (const t of group) {
          const x = a[t]!.data;
          const y = b[t]!.data;
          let s = 0;
          let n = 0;
          for (let i = 0; i < x.length; i++) {
            s += x[i]! * x[i]!;
            n += (x[i]! - y[i]!) ** 2;
          }
          signal.set(t, (signal.get(t) ?? 0) + s);
          noise.set(t, (noise.get(t) ?? 0) + n);
        }
      }
    } finally {
      await reference.release();
      await candidate.release();
    }
  }
  const producers = new Map<string, { name: string; opType: string }>();
  for (const n of floatModel.graph!.node ?? []) for (const o of n.output ?? []) producers.set(o, { name: n.name ?? '', opType: n.opType ?? '' });
  return tensors
    .map((tensor) => {
      const s = signal.get(tensor) ?? 0;
      const n = noise.get(tensor) ?? 0;
      const p = producers.get(tensor);
      return { tensor, sqnrDb: n === 0 ? Infinity : 10 * Math.log10(s / n), producer: p?.name ?? '(graph input)', opType: p?.opType ?? 'Input' };
    })
    .sort((a, b) => a.sqnrDb - b.sqnrDb);
}
