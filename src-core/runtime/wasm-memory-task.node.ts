// Worker of wasm-memory.node.ts: one fresh onnxruntime-web at 1 thread, one model, one run of a side² window;
// posts the wasm memory's size after loading and after the run. The memory is caught where emscripten creates
// it (ORT's threaded build makes a WebAssembly.Memory and imports it), before ORT is imported.
import { parentPort, workerData } from 'node:worker_threads';

const { model, side, wasmPaths } = workerData as { model: Uint8Array; side: number; wasmPaths?: string };
const memories: WebAssembly.Memory[] = [];
const Memory = WebAssembly.Memory;
const Tracked = function (this: unknown, descriptor: WebAssembly.MemoryDescriptor) {
  const memory = new Memory(descriptor);
  memories.push(memory);
  return memory;
} as unknown as typeof WebAssembly.Memory;
Tracked.prototype = Memory.prototype;
WebAssembly.Memory = Tracked;
const size = () => Math.max(0, ...memories.map((m) => m.buffer.byteLength));

try {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  if (wasmPaths) (ort.env.wasm as { wasmPaths?: string }).wasmPaths = wasmPaths;
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const loaded = size();
  if (memories.length === 0) throw new Error('onnxruntime-web created no WebAssembly.Memory this task could see');
  const input = new Float32Array(3 * side * side).fill(0.5);
  await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, side, side]) });
  parentPort!.postMessage({ loaded, bytes: size() });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) });
}
