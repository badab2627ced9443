// How much memory an onnxruntime-node session takes, as `baseBytes + bytesPerPixel · window px`, measured as the
// edge's native engine runs it (its arena, no memory pattern): the edge sizes native windows from it, as it sizes
// wasm windows from wasm-memory.node.ts's measure. One cannot stand for the other: ORT-web's int8 conv unfolds its
// whole window (row strips lower that, src-core/quantize/row-strips.ts), ORT-node's does not, and its arena grows in
// steps, keeps what a run touched, and grows again over the first few requests. So baseBytes is what loading the
// session took and bytesPerPixel the most a pixel took over windows of 256², 384² and 512², each side run three
// times (native-memory-task.node.ts) in a fresh child process: peak RSS is per process, and the arena's state
// decides the next run's growth.
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

/** What loading the session took, and the most bytes a window pixel over NATIVE_SIDES. */
export async function measureNativeMemory(model: Uint8Array, task = new URL('./native-memory-task.node.js', import.meta.url)): Promise<WasmMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'srq-native-memory-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, model);
    let base = 0;
    let perPixel = 0;
    for (const side of NATIVE_SIDES) {
      // The task prints one JSON line, its error included; a crash (killed, out of memory) prints none.
      const stdout: string = await promisify(execFile)(process.execPath, [fileURLToPath(task), file, String(side)], { maxBuffer: 1 << 20 })
        .then((r) => r.stdout, (error: { stdout?: string; message: string }) => error.stdout || error.message);
      let result: { before: number; loaded: number; peaks: [number] } | { error: string };
      try {
        result = JSON.parse(stdout.trim().split('\n').at(-1)!);
      } catch {
        result = { error: stdout.trim() };
      }
      if ('error' in result) throw new NativeMemoryError(`measuring onnxruntime-node's memory at ${side}² px: ${result.error}`);
      const { before, loaded, peaks } = result;
      base = Math.max(base, loaded - before);
      perPixel = Math.max(perPixel, (peaks[0] - loaded) / side ** 2);
    }
    return { baseBytes: Math.round(base), bytesPerPixel: Math.ceil(perPixel) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
