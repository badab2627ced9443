// How much wasm memory an onnxruntime-web session of a model takes for a model input window of p pixels, as
// `baseBytes + bytesPerPixel · p`: measured, because ORT's allocator decides it, not the graph. The edge worker turns
// it into the largest window its runtime's memory budget holds (src-edge/windows.ts, src-core/tiling/window-plan.ts),
// and starts the memory at that budget (RunnerOptions.wasmMemoryBytes), so emscripten's own growth steps (a fifth of
// the heap at a time) never add to it. Each size runs in a fresh worker thread (a fresh ORT module and wasm instance)
// and reads the highest byte the run reached (wasm-memory-task.node.ts).
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-web';
import type { WasmMemory } from './wasm-memory.ts';

export type { WasmMemory };

export class WasmMemoryError extends Error {
  override name = 'WasmMemoryError';
}

/** First window sides tried: the first whose run reaches past what loading the model did starts the line. */
const SIDES = [128, 256, 384, 512];
/**
 * The second side: twice the first (far-apart sides give the truest slope; the peaks lie near a line: esrgan-slim-x4
 * INT8's from 128² and 256² predicts its 384²–640² peaks within 0.12%, esrgan-medium-x4's its 192² within 0.5%,
 * Real-ESRGAN x4fast's runs 1.1–1.4% under its 384²–640² peaks, waifu2x upconv_7's 1.5% under at 384²), or less
 * where that would pass this much memory (a deep model: the measure must not cost the job gigabytes).
 */
const SECOND_SIDE_FACTORS = [2, 1.75, 1.5, 1.25];
/** Most wasm memory one measuring run may reach: a deep model's measure must not cost the job gigabytes. */
const MEASURE_LIMIT_BYTES = 512 * 2 ** 20;

export interface MeasureOptions {
  /** Where ORT's wasm files are; default: where this thread's onnxruntime-web takes them from (the Action sets it). */
  wasmPaths?: string;
  /** The worker script; default: wasm-memory-task.node.js beside this module (also beside dist/index.js). */
  task?: URL;
  /** Most wasm memory a measuring run may reach (default and cap: 512 MB); the job's memory budget lowers it. */
  limitBytes?: number;
}

export async function measureWasmMemory(model: Uint8Array, opts: MeasureOptions = {}): Promise<WasmMemory> {
  const limit = Math.min(MEASURE_LIMIT_BYTES, opts.limitBytes ?? Infinity);
  const overLimit = () => new WasmMemoryError(`measuring needs more wasm memory than the ${Math.max(0, limit / 2 ** 20).toFixed(0)} MB the memory budget leaves`);
  if (limit <= 0) throw overLimit();
  let first: { side: number; loaded: number; bytes: number } | undefined;
  for (const side of SIDES) {
    const m = await wasmMemoryAt(model, side, opts);
    if (m.bytes > limit) throw overLimit();
    // Windows that fit in the initial memory say nothing about growth.
    if (m.bytes > m.loaded) {
      first = { side, ...m };
      break;
    }
  }
  if (!first) {
    throw new WasmMemoryError(`wasm memory did not grow with the window (up to ${SIDES.at(-1)}² px); the model's input does not look like an image`);
  }
  // Growth per pixel from the loaded model to the first side over-estimates the slope: a safe guess for the limit.
  const guess = (first.bytes - first.loaded) / first.side ** 2;
  const sides = SECOND_SIDE_FACTORS.map((f) => Math.round(first!.side * f));
  const side = sides.find((s) => first!.loaded + guess * s * s <= limit);
  if (side === undefined) throw overLimit();
  const second = await wasmMemoryAt(model, side, opts);
  const [a, b] = [{ pixels: first.side ** 2, bytes: first.bytes }, { pixels: side ** 2, bytes: second.bytes }];
  const bytesPerPixel = Math.max(0, (b.bytes - a.bytes) / (b.pixels - a.pixels));
  return { baseBytes: Math.max(0, Math.round(b.bytes - bytesPerPixel * b.pixels)), bytesPerPixel: Math.ceil(bytesPerPixel) };
}

/**
 * Wasm memory after loading the model, and the highest byte one run of a side² window reached (its size, where the
 * run grew it past the measure's limit), in a fresh worker.
 */
export function wasmMemoryAt(model: Uint8Array, side: number, opts: MeasureOptions): Promise<{ loaded: number; bytes: number }> {
  const task = opts.task ?? new URL('./wasm-memory-task.node.js', import.meta.url);
  const ceiling = Math.min(MEASURE_LIMIT_BYTES, opts.limitBytes ?? Infinity);
  return new Promise((resolve, reject) => {
    const wasmPaths = opts.wasmPaths ?? (ort.env.wasm as { wasmPaths?: string }).wasmPaths;
    const worker = new Worker(task, { workerData: { model, side, wasmPaths, ceiling } });
    worker.once('message', (m: { loaded: number; bytes: number } | { error: string }) => {
      void worker.terminate();
      if ('error' in m) reject(new WasmMemoryError(`measuring wasm memory at ${side}² px: ${m.error}`));
      else resolve(m);
    });
    worker.once('error', (e) => reject(new WasmMemoryError(`measuring wasm memory at ${side}² px: ${e.message}`)));
    // Ended without a word (killed, out of memory): a settled promise ignores this.
    worker.once('exit', (code) => reject(new WasmMemoryError(`measuring wasm memory at ${side}² px: the worker exited with code ${code}`)));
  });
}
