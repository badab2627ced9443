// onnxruntime-web's wasm memory for one model file, as a line in the model input window's pixels: what the
// manifest carries (measured by wasm-memory.node.ts) and the edge sizes its windows from; and the hook where an
// ORT-web runtime's memory is made, which both the measure and the edge use to choose its starting size.
// Runtime-agnostic.

/** Wasm memory of one model file on onnxruntime-web at 1 thread: baseBytes + bytesPerPixel · window px. */
export interface WasmMemory {
  baseBytes: number;
  bytesPerPixel: number;
}

/** The largest window (input px) whose wasm memory stays within budgetBytes; 0 when even the base does not fit. */
export function windowPixelsFor(memory: WasmMemory, budgetBytes: number): number {
  if (memory.bytesPerPixel <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.floor((budgetBytes - memory.baseBytes) / memory.bytesPerPixel));
}

/**
 * Runs `start` (what starts an onnxruntime-web runtime: its first session) with every `WebAssembly.Memory` made by
 * `make` (given the descriptor and the real constructor): emscripten's glue creates the module's memory in JS and
 * imports it, so this is where its size is chosen and the memory caught. The constructor is restored when `start`
 * settles.
 */
export async function makingWasmMemory<T>(
  make: (descriptor: WebAssembly.MemoryDescriptor, construct: (d: WebAssembly.MemoryDescriptor) => WebAssembly.Memory) => WebAssembly.Memory,
  start: () => Promise<T>,
): Promise<T> {
  const Memory = WebAssembly.Memory;
  const Made = function (descriptor: WebAssembly.MemoryDescriptor) {
    return make(descriptor, (d) => new Memory(d));
  } as unknown as typeof WebAssembly.Memory;
  Made.prototype = Memory.prototype;
  WebAssembly.Memory = Made;
  try {
    return await start();
  } finally {
    WebAssembly.Memory = Memory;
  }
}

/** A memory descriptor raised to at least `bytes` (in whole pages, within its maximum). */
export function atLeast(descriptor: WebAssembly.MemoryDescriptor, bytes: number): WebAssembly.MemoryDescriptor {
  const pages = Math.min(Math.ceil(bytes / 65536), descriptor.maximum ?? Infinity);
  return { ...descriptor, initial: Math.max(descriptor.initial, pages) };
}
