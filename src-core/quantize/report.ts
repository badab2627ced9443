// Per-tensor error report: SQNR of each quantized activation (the quantized model's DequantizeLinear output,
// which keeps the tensor's float name) against the same tensor in the float model, over calibration tiles.
// Sorted worst first, so the layers that hurt most head the list.
import { computingOnly } from '../onnx/keep-only.ts';
import { encodeModel } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import { rasterToTensor } from './calibration-tiles.ts';
import { stepProgress } from '../progress.ts';
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
 * Float bytes one group of tensors may fetch per tile. Each session holds its fetched tensors to the end of a run and
 * each group runs both models up to its deepest tensor, so fewer, larger groups cost far less on a deep model:
 * RRDBNet-6b's 277 tensors took 35 groups of 8 and 78 s, by bytes 4 groups and 23 s (same report); on Real-ESRGAN
 * x4plus groups of 8 had not finished after 13 min.
 */
const GROUP_BYTES = 256 * 2 ** 20;
/** What a tensor of unknown size counts for: eight of them a group, as before groups went by bytes. */
const UNKNOWN_BYTES = GROUP_BYTES / 8;

/** `tensors` in order, cut into groups of at most GROUP_BYTES per tile (one tensor alone may exceed it). */
export function reportGroups(tensors: readonly string[], elements: ReadonlyMap<string, number> = new Map()): string[][] {
  const groups: string[][] = [];
  let bytes = Infinity;
  for (const t of tensors) {
    const size = elements.has(t) ? elements.get(t)! * 4 : UNKNOWN_BYTES;
    if (bytes + size > GROUP_BYTES) {
      groups.push([]);
      bytes = 0;
    }
    groups[groups.length - 1]!.push(t);
    bytes += size;
  }
  return groups;
}

/**
 * `floatModel` must be the graph the quantized model was rewritten from (after srq's exact rewrites), so tensor
 * names match. `elements`: each tensor's size on one tile (calibration's), which sizes the groups (reportGroups).
 */
export async function tensorErrorReport(
  floatModel: ModelProto,
  quantizedModel: ModelProto,
  tensors: readonly string[],
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  elements?: ReadonlyMap<string, number>,
  onProgress?: (message: string) => void,
): Promise<TensorError[]> {
  const signal = new Map<string, number>();
  const noise = new Map<string, number>();
  const groups = reportGroups(tensors, elements);
  const done = stepProgress('per-tensor error report: group', groups.length, onProgress);
  for (const [g, group] of groups.entries()) {
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
    done(g + 1);
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
