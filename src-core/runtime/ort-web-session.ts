// Runner on onnxruntime-web (wasm CPU backend), given the ORT module the caller imported. Taking the module
// as a parameter lets the edge worker pass `onnxruntime-web/wasm` (the build workerd can load) while Node and
// Deno use the package root (see ort-web.ts). No Node built-ins here: runs in Deno, Workers, browsers.
//
// Threads: ort.env.wasm.numThreads is global to one ORT module instance and is read once, when the first
// session initialises the wasm runtime; later changes are silently ignored. So the first web runner fixes
// the thread count (its `threads`, else a value already set on ort.env.wasm.numThreads, else 1), and a later
// runner that asks for a different count gets WasmThreadsLockedError instead of silently running with the
// wrong count. To compare thread counts, use one process (or worker) per count.
// Default 1 because Workers (no threads at all) need it;
// in Node pass threads: 2+ (≈1.8× faster on 2 cores).
import { RunnerOptionsError, checkRunnerOptions, type Runner, type RunnerOptions } from './runner.ts';
import { sessionRunner, type OrtSessionLike, type OrtTensorCtor } from './session-runner.ts';
import { atLeast, makingWasmMemory } from './wasm-memory.ts';

/** The slice of an onnxruntime-web module this file uses. */
export interface OrtWebModule {
  env: { wasm: { numThreads?: number } };
  InferenceSession: {
    create(model: Uint8Array, options: Record<string, unknown>): Promise<unknown>;
  };
  Tensor: unknown;
}

export class WasmThreadsLockedError extends Error {
  override name = 'WasmThreadsLockedError';
}

// Per ORT module instance (keyed by its env object): the thread count its wasm runtime was started with.
const lockedThreads = new WeakMap<object, number>();
// Per ORT module instance: the wasm memory its runtime created (caught while its first session is created).
const wasmMemories = new WeakMap<object, WebAssembly.Memory>();

/**
 * Runs `create` (the ORT module's first session, which starts its wasm runtime) with the runtime's memory starting
 * at `initialBytes` where that is more than emscripten asks for, so runs that fit never grow it: emscripten grows its
 * heap by a fifth at a time, up to 20% past what a run needs. (Growing it later, from outside, would leave
 * emscripten's and ORT's views of the heap at the old size: ORT's next copy past it fails with "offset is out of
 * bounds".) The memory is kept where the runtime made exactly one (an ORT whose glue differs: none kept, and its
 * memory grows on its own).
 */
async function startWithMemory<T>(env: object, create: () => Promise<T>, initialBytes = 0): Promise<T> {
  const made: WebAssembly.Memory[] = [];
  const make = (descriptor: WebAssembly.MemoryDescriptor, construct: (d: WebAssembly.MemoryDescriptor) => WebAssembly.Memory) => {
    let memory: WebAssembly.Memory;
    try {
      memory = construct(atLeast(descriptor, initialBytes));
    } catch {
      // A host that cannot map that much up front: start as emscripten asked, and grow on demand as before.
      memory = construct(descriptor);
    }
    made.push(memory);
    return memory;
  };
  try {
    return await makingWasmMemory(make, create);
  } finally {
    if (made.length === 1) wasmMemories.set(env, made[0]!);
  }
}

/** The size of this ORT module's wasm memory now, in bytes; undefined before its first runner or where it was not caught. */
export function wasmMemoryBytes(ortWeb: OrtWebModule): number | undefined {
  return wasmMemories.get(ortWeb.env)?.buffer.byteLength;
}

/** The thread count this ORT module's wasm runtime runs with, or undefined before the first web runner. */
export function wasmThreadsInUse(ortWeb: OrtWebModule): number | undefined {
  return lockedThreads.get(ortWeb.env);
}

export async function createWebRunnerWith(
  ortWeb: OrtWebModule,
  model: Uint8Array,
  opts: RunnerOptions = {},
): Promise<Runner> {
  checkRunnerOptions(opts);
  if (opts.optimizedModelFilePath !== undefined) {
    throw new RunnerOptionsError(
      'optimizedModelFilePath is not supported by onnxruntime-web (no file system); use the node runtime for it',
    );
  }
  const wasm = ortWeb.env.wasm;
  const locked = lockedThreads.get(ortWeb.env);
  if (locked === undefined) {
    const preset = wasm.numThreads;
    const threads = opts.threads ?? (typeof preset === 'number' && preset > 0 ? preset : 1);
    wasm.numThreads = threads;
    lockedThreads.set(ortWeb.env, threads);
  } else if (opts.threads !== undefined && opts.threads !== locked) {
    throw new WasmThreadsLockedError(
      `onnxruntime-web already runs with ${locked} wasm thread(s) in this process and cannot change; ` +
        `create web runners with threads: ${locked}, or use a separate process/worker for ${opts.threads}`,
    );
  }
  const create = () =>
    ortWeb.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      executionMode: 'sequential',
      graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      // onnxruntime-web's default, stated because window sizes rest on it: every run of a shape then takes what the
      // first took, which is what the wasm measure reads (wasm-memory-task.node.ts). With ORT's memory pattern the
      // second run's peak was higher (esrgan-medium-x4 INT8 at 256²: 1489 → 2199 B a px above the loaded model) and
      // 8 windows of 274×155 at an 80 MB start grew the memory to 115 MB (test/edge-wasm-runs.test.ts fails with it).
      enableMemPattern: false,
    });
  // The first runner (no thread count locked before it) starts the wasm runtime, and with it its memory.
  const session = locked === undefined ? await startWithMemory(ortWeb.env, create, opts.wasmMemoryBytes) : await create();
  return sessionRunner('web', session as OrtSessionLike, ortWeb.Tensor as OrtTensorCtor);
}
