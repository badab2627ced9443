// onnxruntime-web's wasm memory for one model file, as a line in the model input window's pixels: what the
// manifest carries (measured by wasm-memory.node.ts) and the edge sizes its windows from. Runtime-agnostic.

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
