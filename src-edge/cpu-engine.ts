// Which ONNX Runtime build runs models on this host's CPU. Native onnxruntime-node (MLAS with the CPU's own int8
// instructions) where the runtime can load Node addons: Node, and Deno when allowed FFI. onnxruntime-web's wasm
// everywhere else (Workers, Deno Deploy, a platform without ORT's binaries). Same INT8 file, same quality: the two
// builds' int8 kernels round some requantizations differently, so esrgan-slim gives the same bytes, esrgan-medium
// up to 3 LSB apart and realesr-x4fast up to 32, each equally far from FP32 (x4fast on held-out photos: 36.6–38.8 dB
// on both). The speed differs: esrgan-slim-x4 on a 256² window, 1 thread, 113 ms native, 758 ms wasm here. SRQ_CPU_ENGINE=wasm forces wasm; =native makes a missing native build an error.
import type { Runner } from '../src-core/runtime/runner.ts';
import { oneLine } from './errors.ts';

export interface CpuEngine {
  readonly kind: 'native' | 'wasm';
  /** e.g. "onnxruntime-node 1.30.0". */
  readonly version: string;
  /**
   * One session. `memoryBytes`: the memory budget inference may take; a wasm engine's memory starts at it (so runs
   * that fit never grow it past the budget by emscripten's steps), a native engine ignores it.
   */
  create(model: Uint8Array, threads: number, memoryBytes: number): Promise<Runner>;
  /** A wasm engine's memory now, in bytes (undefined before its first session, and on a native engine). */
  memoryBytes?(): number | undefined;
}

export interface CpuEngineChoice {
  engine: CpuEngine;
  /** Why this one, for the ready line and /v1/models. */
  reason: string;
}

export class CpuEngineError extends Error {
  override name = 'CpuEngineError';
}

/**
 * Native when the runtime offers it and it loads, unless SRQ_CPU_ENGINE says otherwise. `loadNative` is absent
 * where the runtime cannot load addons at all (Workers).
 */
export async function chooseCpuEngine(
  wasm: CpuEngine,
  loadNative: (() => Promise<CpuEngine>) | undefined,
  forced: 'native' | 'wasm' | undefined,
  runtimeName: string,
): Promise<CpuEngineChoice> {
  if (forced === 'wasm') return { engine: wasm, reason: 'SRQ_CPU_ENGINE=wasm' };
  if (!loadNative) {
    if (forced === 'native') throw new CpuEngineError(`SRQ_CPU_ENGINE=native: ${runtimeName} cannot load onnxruntime-node; unset it to serve on wasm`);
    return { engine: wasm, reason: `${runtimeName} runs wasm only` };
  }
  try {
    const native = await loadNative();
    return { engine: native, reason: forced === 'native' ? 'SRQ_CPU_ENGINE=native' : `native ${native.version} loaded` };
  } catch (e) {
    const why = oneLine(e);
    if (forced === 'native') throw new CpuEngineError(`SRQ_CPU_ENGINE=native, but onnxruntime-node did not load (${why}); install it or unset SRQ_CPU_ENGINE`);
    return { engine: wasm, reason: `onnxruntime-node did not load (${why}): wasm` };
  }
}

/** "onnxruntime-node 1.30.0 (native, 2 threads)", for /v1/models. */
export function describeCpuEngine(engine: CpuEngine, threads: number): string {
  return `${engine.version} (${engine.kind}, ${threads} thread${threads > 1 ? 's' : ''})`;
}
