// onnxruntime-web's default entry as a CPU engine, for the Node and Deno entries (Workers build theirs on
// `onnxruntime-web/wasm` with a precompiled module: ort-workers.ts).
import * as ort from 'onnxruntime-web';
import { createWebRunner, webMemoryBytes } from '../src-core/runtime/ort-web.ts';
import type { CpuEngine } from './cpu-engine.ts';

export const wasmEngine: CpuEngine = {
  kind: 'wasm',
  version: `onnxruntime-web ${ort.env.versions.web}`,
  create: (model, threads, memoryBytes) => createWebRunner(model, { threads, wasmMemoryBytes: memoryBytes }),
  memoryBytes: webMemoryBytes,
};
