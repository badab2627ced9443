// The INT8 file the edge serves, and its wasm memory: as quantized, or with its outsized convs in row strips
// (src-core/quantize/row-strips.ts, which picks them) where that measurably lowers onnxruntime-web's memory a window
// pixel. The split is kept only when the measure drops by a tenth and the split file's output is byte-equal to the
// original's on a probe window; otherwise the file stays as it was. A model with a dense concat (row-strips.ts
// denseConcatPlans) gets a few plans, each measured, and keeps the lowest.
// Node only: it measures in worker threads and checks on the job's runtime (default onnxruntime-node).
import { valueInfoShape } from '../onnx/build.ts';
import { decodeModel, encodeModel } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import { denseConcatPlans, rowStripCandidates, splitConvRows, type RowStripCandidate } from '../quantize/row-strips.ts';
import { createRunner, type RuntimeName } from './create-runner.node.ts';
import type { RunnerOutput } from './runner.ts';
import { measureWasmMemory, type MeasureOptions } from './wasm-memory.node.ts';
import type { WasmMemory } from './wasm-memory.ts';

/** Least relative drop of bytes a window pixel that pays for the split's extra nodes. */
const MIN_GAIN = 0.1;

export interface ServedForm {
  bytes: Uint8Array;
  memory: WasmMemory;
  /** The convs now in row strips (empty: the file as quantized). */
  rowStrips: RowStripCandidate[];
  /** The measure of the file as quantized, when a split was tried. */
  before?: WasmMemory;
  /** Why a split was not kept though its convs qualified (a bug: its output differed, or it failed to run). */
  refused?: string;
}

export interface ServedFormOptions extends MeasureOptions {
  /** Runtime and threads of the equality check (default node, its default threads): the job passes its own. */
  runtime?: RuntimeName;
  threads?: number;
}

export async function servedForm(bytes: Uint8Array, opts: ServedFormOptions = {}): Promise<ServedForm> {
  const memory = await measureWasmMemory(bytes, opts);
  const model = decodeModel(bytes);
  const chosen = rowStripCandidates(model);
  // With a dense concat, a few strip counts: which is lowest depends on ORT's allocator, so each is measured.
  const dense = denseConcatPlans(model);
  const plans = dense.length > 0 ? dense.map((plan) => [...chosen, ...plan.filter((c) => !chosen.some((o) => o.node === c.node))]) : [chosen];
  if (plans[0]!.length === 0) return { bytes, memory, rowStrips: [] };
  const original = { bytes, memory, rowStrips: [], before: memory };
  // The split is an optimisation of a file already measured: if it fails, the original is served, with the reason.
  try {
    let best: { bytes: Uint8Array; memory: WasmMemory; rowStrips: RowStripCandidate[] } | undefined;
    for (const plan of plans) {
      const split = encodeModel(splitConvRows(model, plan));
      const splitMemory = await measureWasmMemory(split, opts);
      if (!best || splitMemory.bytesPerPixel < best.memory.bytesPerPixel) best = { bytes: split, memory: splitMemory, rowStrips: plan };
    }
    if (best!.memory.bytesPerPixel > (1 - MIN_GAIN) * memory.bytesPerPixel) return original;
    if (!(await sameOutput(model, bytes, best!.bytes, opts.runtime ?? 'node', opts.threads))) {
      return { ...original, refused: `row strips changed the output on a probe window ${BUG}` };
    }
    return { ...best!, before: memory };
  } catch (error) {
    return { ...original, refused: `row strips failed (${error instanceof Error ? error.message : String(error)}) ${BUG}` };
  }
}

const BUG = '(a bug in srq: src-core/quantize/row-strips.ts); the file is served as quantized';

/** Whether both files give equal outputs on one odd-sized window (the split computes the same integers). */
async function sameOutput(model: ModelProto, a: Uint8Array, b: Uint8Array, runtime: RuntimeName, threads?: number): Promise<boolean> {
  const shape = valueInfoShape(model.graph!.input![0]!) ?? [];
  const dim = (i: number, fallback: number) => (typeof shape[i] === 'number' && shape[i]! > 0 ? (shape[i] as number) : fallback);
  const dims = [1, dim(1, 3), dim(2, 45), dim(3, 37)];
  const input = new Float32Array(dims[1]! * dims[2]! * dims[3]!).map((_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const outputs: RunnerOutput[] = [];
  for (const file of [a, b]) {
    // onnxruntime-web's thread count is fixed by the process's first session: the caller's.
    const runner = await createRunner(runtime, file, threads !== undefined ? { threads } : {});
    try {
      outputs.push(await runner.run(input, dims));
    } finally {
      await runner.release();
    }
  }
  const [x, y] = outputs as [RunnerOutput, RunnerOutput];
  return x.data.length === y.data.length && x.data.every((v, i) => v === y.data[i]);
}
