// How much memory an onnxruntime-node session takes, as `baseBytes + bytesPerPixel · window px`, measured as the
// edge's native engine runs it (its arena, no memory pattern): the edge sizes native windows from it, as it sizes
// wasm windows from wasm-memory.node.ts's measure. One cannot stand for the other: ORT-web's int8 conv unfolds its
// whole window (row strips lower that, src-core/quantize/row-strips.ts), ORT-node's only on some files (x4plus's
// served file 5471 B a px, 16758 without strips), and its arena grows in steps, keeps what a run touched, and grows
// again over the first few requests. So baseBytes is what loading the
// session took and bytesPerPixel the most a pixel took over windows of 256², 384² and 512², each side run three
// times (native-memory-task.node.ts) in a fresh child process: peak RSS is per process, and the arena's state
// decides the next run's growth. The Action measures within limits (a deep model's 512² windows would take minutes
// and gigabytes): fewer or smaller sides, which measure about as much a pixel (Real-ESRGAN x4plus without strips:
// 16591 B at 128² and 192² in 50 s, 16758 at 256²–512² in 269 s), and 128² alone up to a fifth less (firstSide).
// Within limits a child that runs past the time left is stopped: the sides are planned from a guess of the speed.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { WasmMemory } from './wasm-memory.ts';

export class NativeMemoryError extends Error {
  override name = 'NativeMemoryError';
}

/** Window sides measured: about the windows the edge runs within a few hundred MB. */
export const NATIVE_SIDES = [256, 384, 512] as const;
/** Smaller sides, for a model whose 256² windows would cost more time or memory than the measure may take. */
const SMALL_SIDES = [128, 192] as const;
/** Where a measure within limits starts: the largest whose guessed cost fits. */
const FIRST_SIDES = [256, 192, 128] as const;
/** A side's child runs the side three times and its half twice (native-memory-task.node.ts): 3.5 side² px. */
const RUNS_PER_SIDE = 3 + 2 / 4;

/** What the measure may cost: its child's memory above the child's own Node, and the whole measure's time. */
export interface NativeMeasureLimits {
  bytes: number;
  seconds: number;
  /** To plan the first side: a guess of the memory line (from the wasm measure) and of the seconds a window px runs. */
  guess: { memory: WasmMemory; secondsPerPixel: number };
}

export interface NativeMeasureOptions {
  /** The child's script; default: native-memory-task.node.js beside this module (also beside dist/index.js). */
  task?: URL;
  /** Without limits: NATIVE_SIDES, whatever they cost (the embedded models' build). */
  limits?: NativeMeasureLimits;
}

/** One side's child: memory before loading, after, and the peak after its runs; how long it took. */
export interface SideResult {
  side: number;
  before: number;
  loaded: number;
  peak: number;
  seconds: number;
}

/** What loading the session took, and the most bytes a window pixel over the sides measured. */
export async function measureNativeMemory(model: Uint8Array, opts: NativeMeasureOptions = {}): Promise<WasmMemory> {
  const task = opts.task ?? new URL('./native-memory-task.node.js', import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'srq-native-memory-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, model);
    const results: SideResult[] = [];
    const limits = opts.limits;
    let side: number | undefined = limits ? firstSide(limits) : NATIVE_SIDES[0];
    while (side !== undefined) {
      // Within limits a child gets what the time has left, whatever the guess said: the guess is the plan's FP32
      // speed, and a loaded machine runs slower than planned. A later side cut short leaves the sides measured.
      const spent = results.reduce((t, r) => t + r.seconds, 0);
      const result = await measureSide(task, file, side, limits && limits.seconds - spent);
      if (result === 'out of time') {
        if (results.length === 0) throw new NativeMemoryError(`measuring onnxruntime-node's memory at ${side}² px took over the ${+limits!.seconds.toFixed(1)} s the measure may take (stopped)`);
        break;
      }
      results.push(result);
      side = limits ? nextSide(results, limits) : NATIVE_SIDES.find((s) => s > side!);
    }
    const base = Math.max(...results.map((r) => r.loaded - r.before));
    const perPixel = Math.max(...results.map((r) => (r.peak - r.loaded) / r.side ** 2));
    return { baseBytes: Math.round(base), bytesPerPixel: Math.ceil(perPixel) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The largest side up to 256² whose guessed cost fits the limits with time left for two more (a third of the
 * seconds); else 128² alone when it fits the whole time. One small side under-states a pixel by up to a fifth
 * (Real-ESRGAN x4plus's served file, whose three sides would take ≈ 33 s of the job's 30: 4409–4838 B a px at 128²
 * alone, 5471 with larger sides), where the wasm measure the edge would fall back to is 3160.
 */
export function firstSide({ bytes, seconds, guess }: NativeMeasureLimits): number {
  const cost = (s: number) => ({ bytes: guess.memory.baseBytes + guess.memory.bytesPerPixel * s * s, seconds: guess.secondsPerPixel * RUNS_PER_SIDE * s * s });
  const fits = (s: number, share: number) => cost(s).bytes <= bytes && cost(s).seconds <= seconds * share;
  const smallest = FIRST_SIDES.at(-1)!;
  const side = FIRST_SIDES.find((s) => fits(s, 1 / 3)) ?? (fits(smallest, 1) ? smallest : undefined);
  if (side === undefined) {
    const least = cost(smallest);
    throw new NativeMemoryError(`even ${smallest}² px windows would take ≈ ${(least.bytes / 2 ** 20).toFixed(0)} MB and ≈ ${least.seconds.toFixed(0)} s, over the ${(bytes / 2 ** 20).toFixed(0)} MB and ${seconds.toFixed(0)} s the measure may take`);
  }
  return side;
}

/** The next larger side whose cost, predicted from the sides measured so far, fits what the limits have left. */
export function nextSide(results: readonly SideResult[], limits: NativeMeasureLimits): number | undefined {
  if (results.length >= NATIVE_SIDES.length) return undefined;
  const last = results.at(-1)!;
  const spent = results.reduce((t, r) => t + r.seconds, 0);
  // Both over-state the next side's cost: the session's load is in them.
  const bytesPerPixel = Math.max(...results.map((r) => (r.peak - r.before) / r.side ** 2));
  const secondsPerPixel = last.seconds / last.side ** 2;
  return [...SMALL_SIDES, ...NATIVE_SIDES]
    .filter((s) => s > last.side)
    .find((s) => bytesPerPixel * s * s <= limits.bytes && spent + secondsPerPixel * s * s <= limits.seconds);
}

async function measureSide(task: URL, file: string, side: number, seconds?: number): Promise<SideResult | 'out of time'> {
  const started = performance.now();
  // The task prints one JSON line, its error included; a crash (killed, out of memory) prints none.
  const timeout = seconds === undefined ? 0 : Math.max(1, Math.round(seconds * 1000));
  const run = await promisify(execFile)(process.execPath, [fileURLToPath(task), file, String(side)], { maxBuffer: 1 << 20, timeout })
    .then((r) => ({ stdout: r.stdout, stopped: false }), (error: { stdout?: string; message: string; killed?: boolean }) => ({ stdout: error.stdout || error.message, stopped: timeout > 0 && error.killed === true }));
  if (run.stopped) return 'out of time';
  let result: { before: number; loaded: number; peaks: [number] } | { error: string };
  try {
    result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  } catch {
    result = { error: run.stdout.trim() };
  }
  if ('error' in result) throw new NativeMemoryError(`measuring onnxruntime-node's memory at ${side}² px: ${result.error}`);
  return { side, before: result.before, loaded: result.loaded, peak: result.peaks[0], seconds: (performance.now() - started) / 1000 };
}
