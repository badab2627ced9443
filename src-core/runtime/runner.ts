// The one inference interface the rest of srq uses, whichever ONNX Runtime build sits behind it.
// Runtime-agnostic: no Node built-ins, no ORT import (see ort-node.ts / ort-web.ts for the bindings).

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface RunnerOptions {
  /**
   * Intra-op threads. ORT-node: per session, unset = every core the process may use (os.availableParallelism).
   * ORT-web: process-global and fixed by the first web session; unset = 1 (see ort-web-session.ts).
   */
  threads?: number;
  /** Default 'all'. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** ORT-node only: write the optimised graph here (to check which ops ORT fused). */
  optimizedModelFilePath?: string;
  /**
   * ORT-node only, default true: ORT's memory pattern on top of its arena, one planned block per input shape: the
   * fastest repeated runs of one shape (tiles). Off for sessions that return many tensors per run (calibration,
   * bias correction, error reports) or see a new shape on most runs (the edge's whole-image windows). Without the
   * arena (always on) every tensor is a malloc, and glibc's growing mmap threshold left the first run of Real-ESRGAN
   * x4plus's calibration graph (1023 tapped tensors, 128² tile) at 1.4 GB in most runs and 0.5 GB in some; with the
   * arena it took 0.55–0.61 GB every time and ran faster; the pattern on top adds a block per run (0.70–0.77 GB).
   * esrgan-medium-x4 INT8 on a 512² window: 853 MB over the session with the pattern, 484 MB without, same speed.
   * ORT-web sessions run without it (its default, stated in ort-web-session.ts): wasm windows are sized from one run's peak.
   */
  memoryPattern?: boolean;
  /**
   * ORT-node only, default true: ORT's intra-op threads spin while they wait for work, which speeds a run's
   * op-to-op hand-offs but keeps a core busy for a while after the run. Off for the edge, which encodes the image
   * right after the run: esrgan-slim-x4 INT8 on a 256² photo at 2 threads, the PNG encode just after the run
   * 7.7–8.7 ms spinning, 6.1–6.2 off (5.1–5.4 idle); the run itself 79–82 against 83–85 ms, 512² 327–390 against
   * 330–344, esrgan-medium-x4 512² 758–830 against 734–745.
   */
  spinning?: boolean;
  /**
   * ORT-web only, read by the process's first web runner (which starts the wasm runtime): the wasm memory starts at
   * this many bytes (the edge passes its memory budget). Runs that fit then never grow it; emscripten grows it by a
   * fifth of its size at a time, which took esrgan-slim-x4 INT8 on a 256² window to 86 MB where the run reached 75.6.
   */
  wasmMemoryBytes?: number;
  /** ORT-node only, default ['cpu']: e.g. ['cuda'] on a GPU host where the native build's CUDA provider is installed. */
  executionProviders?: ('cpu' | 'cuda')[];
}

export interface RunnerOutput {
  data: Float32Array;
  dims: number[];
}

/** One loaded model (one ORT session). Create once, reuse for every tile, release at the end. */
export interface Runner {
  readonly runtime: 'node' | 'web';
  /** The model's first graph input / output (srq models have exactly one of each). */
  readonly inputName: string;
  readonly outputName: string;
  /** Every graph output the session exposes, in model order. */
  readonly outputNames: readonly string[];
  run(input: Float32Array, dims: readonly number[]): Promise<RunnerOutput>;
  /**
   * Fetch several float32 graph outputs in one run. ORT can only return *graph outputs*: to read an
   * intermediate tensor, add it to graph.output before creating the runner. `extra` feeds the model's other
   * float32 graph inputs, by name (e.g. the layer mask of a quantization simulation).
   */
  runOutputs(input: Float32Array, dims: readonly number[], names: readonly string[], extra?: ExtraInputs): Promise<Record<string, RunnerOutput>>;
  /** Frees the session. Idempotent; any later run() throws RunnerReleasedError. */
  release(): Promise<void>;
}

/** Float32 graph inputs besides the image, by name. */
export type ExtraInputs = Readonly<Record<string, RunnerOutput>>;

/** The runner with `extra` fed to every run: for code (tiling, validation) that only passes the image. */
export function withInputs(runner: Runner, extra: ExtraInputs): Runner {
  return {
    runtime: runner.runtime,
    inputName: runner.inputName,
    outputName: runner.outputName,
    outputNames: runner.outputNames,
    run: async (input, dims) => (await runner.runOutputs(input, dims, [runner.outputName], extra))[runner.outputName]!,
    runOutputs: (input, dims, names, more) => runner.runOutputs(input, dims, names, { ...extra, ...more }),
    release: () => runner.release(),
  };
}

export class RunnerInputError extends Error {
  override name = 'RunnerInputError';
}

export class RunnerReleasedError extends Error {
  override name = 'RunnerReleasedError';
}

export class RunnerOutputError extends Error {
  override name = 'RunnerOutputError';
}

export class RunnerOptionsError extends Error {
  override name = 'RunnerOptionsError';
}

export function checkRunnerOptions(opts: RunnerOptions): void {
  const t = opts.threads;
  if (t !== undefined && (!Number.isInteger(t) || t < 1)) {
    throw new RunnerOptionsError(`threads must be a positive integer, got ${t}; pass e.g. threads: 1`);
  }
  const lvl = opts.graphOptimizationLevel;
  if (lvl !== undefined && !['disabled', 'basic', 'extended', 'all'].includes(lvl)) {
    throw new RunnerOptionsError(`graphOptimizationLevel '${lvl}' is unknown; use disabled, basic, extended or all`);
  }
  const w = opts.wasmMemoryBytes;
  if (w !== undefined && (!Number.isFinite(w) || w < 0)) throw new RunnerOptionsError(`wasmMemoryBytes must be a byte count >= 0, got ${w}`);
  for (const key of ['memoryPattern', 'spinning'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new RunnerOptionsError(`${key} must be true or false, got ${String(opts[key])}`);
  }
}

export function checkInputShape(input: Float32Array, dims: readonly number[]): void {
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RunnerInputError(`input dims [${dims.join(', ')}] must be positive integers, e.g. [1, 3, h, w]`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== input.length) {
    throw new RunnerInputError(
      `input has ${input.length} values but dims [${dims.join(', ')}] need ${n}; pass dims that match the data`,
    );
  }
}
