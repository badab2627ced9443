// onnxruntime-web on Cloudflare Workers. workerd refuses to compile wasm from bytes at run time ("Wasm code
// generation disallowed by embedder"), so ORT's wasm arrives as a module import that wrangler precompiles
// (the CompiledWasm rule in wrangler.toml). ORT 1.30's Emscripten glue, when given env.wasm.wasmBinary,
// calls WebAssembly.instantiate(new Uint8Array(wasmBinary), imports); we hand it a placeholder buffer and
// answer exactly that call (recognised by the placeholder's identity) with the precompiled module. Every
// other instantiate call passes through untouched. The glue is an ORT internal, so the adapter refuses any
// other ORT version instead of failing obscurely; test/edge-workers.test.ts covers it end to end.
import * as ort from 'onnxruntime-web/wasm';
import ortWasm from '../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm';
import { createWebRunnerWith, wasmMemoryBytes, type OrtWebModule } from '../src-core/runtime/ort-web-session.ts';
import type { Runner } from '../src-core/runtime/runner.ts';

export const VERIFIED_ORT_WEB = '1.30.0';

const placeholder = new ArrayBuffer(8);
let patched = false;

function routeInstantiateToPrecompiled(): void {
  if (patched) return;
  patched = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (src: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (src: unknown, imports?: WebAssembly.Imports) => {
    if (ArrayBuffer.isView(src) && src.buffer === placeholder) {
      return { instance: await instantiate(ortWasm, imports), module: ortWasm };
    }
    return instantiate(src, imports);
  };
}

export function createWorkersRunner(model: Uint8Array, memoryBytes?: number): Promise<Runner> {
  const version = ort.env.versions.web;
  if (version !== VERIFIED_ORT_WEB) {
    throw new Error(
      `src-edge/ort-workers.ts is verified with onnxruntime-web ${VERIFIED_ORT_WEB} but ${version} is installed; pin ${VERIFIED_ORT_WEB} or re-verify the adapter`,
    );
  }
  routeInstantiateToPrecompiled();
  ort.env.wasm.proxy = false; // no Web Workers in workerd
  ort.env.wasm.wasmBinary = placeholder; // so the glue neither fetches the wasm by URL nor compiles bytes
  // Workers have no wasm threads (no SharedArrayBuffer across isolates).
  return createWebRunnerWith(ort as unknown as OrtWebModule, model, { threads: 1, ...(memoryBytes !== undefined ? { wasmMemoryBytes: memoryBytes } : {}) });
}

export const ortWebVersion = (): string => `onnxruntime-web ${ort.env.versions.web}`;

/** The size of this ORT's wasm memory now, in bytes, or undefined before the first session. */
export const workersMemoryBytes = (): number | undefined => wasmMemoryBytes(ort as unknown as OrtWebModule);
