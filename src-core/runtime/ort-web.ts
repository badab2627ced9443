// Runner on onnxruntime-web's default entry (Node: ort.node.min.mjs; Deno/browsers: the bundled build).
// Cloudflare Workers need `onnxruntime-web/wasm` plus a precompiled module: call createWebRunnerWith there.
import * as ort from 'onnxruntime-web';
import type { Runner, RunnerOptions } from './runner.ts';
import { createWebRunnerWith, wasmMemoryBytes, wasmThreadsInUse, type OrtWebModule } from './ort-web-session.ts';

export { WasmThreadsLockedError } from './ort-web-session.ts';

export function createWebRunner(model: Uint8Array, opts: RunnerOptions = {}): Promise<Runner> {
  return createWebRunnerWith(ort as unknown as OrtWebModule, model, opts);
}

/** Wasm thread count fixed by the first web runner in this process, or undefined before it. */
export function webThreadsInUse(): number | undefined {
  return wasmThreadsInUse(ort as unknown as OrtWebModule);
}

/** The size of the wasm memory of the ORT this module loads, in bytes, or undefined before the first web runner. */
export function webMemoryBytes(): number | undefined {
  return wasmMemoryBytes(ort as unknown as OrtWebModule);
}
