// Runtime-agnostic runner API. The ORT bindings live in their own files so that importing this never
// loads an ORT build: ort-node.ts (Node, native), ort-web.ts (onnxruntime-web root entry),
// ort-web-session.ts (bring your own onnxruntime-web module, e.g. 'onnxruntime-web/wasm' on Workers),
// create-runner.node.ts (Node: pick 'node' or 'web' by name).
export type { GraphOptimizationLevel, Runner, RunnerOptions, RunnerOutput } from './runner.ts';
export { RunnerInputError, RunnerOptionsError, RunnerOutputError, RunnerReleasedError } from './runner.ts';
export type { OrtWebModule } from './ort-web-session.ts';
export { createWebRunnerWith, wasmThreadsInUse, WasmThreadsLockedError } from './ort-web-session.ts';
