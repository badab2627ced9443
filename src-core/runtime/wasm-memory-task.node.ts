// Worker of wasm-memory.node.ts: one fresh onnxruntime-web at 1 thread, one model, one run of a side² window;
// posts the highest byte of wasm memory written once the model is loaded and once the run is done.
//
// The peak, not the memory's size after the run: emscripten grows its heap by at least a fifth of its size, so the
// size after a run overshoots what the run needed by up to 20% (esrgan-slim-x4 INT8 at 256²: 86 MB after the run,
// 75.6 MB reached; started at 78 MB it ran without growing). So the memory is made at `ceiling` from the start,
// everything past what emscripten asked for filled with a sentinel word, and the highest word that no longer holds
// it is how far the heap reached. malloc hands out memory bottom-up and ORT writes every buffer it allocates (and
// calloc clears what it hands out, so the sentinel never reaches ORT as data).
import { parentPort, workerData } from 'node:worker_threads';
import { atLeast, makingWasmMemory } from './wasm-memory.ts';

const { model, side, wasmPaths, ceiling } = workerData as { model: Uint8Array; side: number; wasmPaths?: string; ceiling: number };

const PAGE = 65536;
const SENTINEL = 0xa5a5a5a5;

/** The end of the highest word from `from` up that no longer holds the sentinel (`from` when none changed). */
function reached(memory: WebAssembly.Memory, from: number): number {
  const words = new Uint32Array(memory.buffer);
  let i = words.length - 1;
  while (i >= from / 4 && words[i] === SENTINEL) i--;
  return Math.max(from, (i + 1) * 4);
}

try {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  if (wasmPaths) (ort.env.wasm as { wasmPaths?: string }).wasmPaths = wasmPaths;
  const made: { memory: WebAssembly.Memory; asked: number }[] = [];
  const session = await makingWasmMemory(
    (descriptor, construct) => {
      const memory = construct(atLeast(descriptor, ceiling));
      const asked = descriptor.initial * PAGE;
      new Uint32Array(memory.buffer, asked).fill(SENTINEL);
      made.push({ memory, asked });
      return memory;
    },
    // As ort-web-session.ts creates sessions: no memory pattern (onnxruntime-web's default; one run's peak is then every run's).
    () => ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', enableMemPattern: false }),
  );
  if (made.length !== 1) throw new Error(`onnxruntime-web made ${made.length} WebAssembly.Memory objects where this task expects one`);
  const { memory, asked } = made[0]!;
  const top = memory.buffer.byteLength;
  const loaded = reached(memory, asked);
  const input = new Float32Array(3 * side * side).fill(0.5);
  await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, side, side]) });
  // Past the ceiling the run grew the memory itself: its size is all that is known (and it is over the limit).
  const bytes = memory.buffer.byteLength > top ? memory.buffer.byteLength : Math.ceil(reached(memory, asked) / PAGE) * PAGE;
  parentPort!.postMessage({ loaded: Math.ceil(loaded / PAGE) * PAGE, bytes });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) });
}
