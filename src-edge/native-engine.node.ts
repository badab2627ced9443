// Native onnxruntime-node as the CPU engine of the Node and Deno entries. Imported dynamically, so that a host
// where the addon cannot load (no binary for its platform; Deno without --allow-ffi) serves on wasm instead.
import type { CpuEngine } from './cpu-engine.ts';

export async function loadNativeEngine(): Promise<CpuEngine> {
  const [{ createNodeRunner }, ort] = await Promise.all([import('../src-core/runtime/ort-node.ts'), import('onnxruntime-node')]);
  return {
    kind: 'native',
    version: `onnxruntime-node ${ort.env.versions.node}`,
    // No memory pattern: whole-image windows change shape from request to request and the pattern keeps a block
    // per shape (esrgan-medium-x4 INT8, 512² window: 853 MB over the session with it, 484 MB without, same speed).
    // No spinning: the response is encoded right after the run, on the cores a spinning ORT thread would hold.
    create: (model, threads) => createNodeRunner(model, { threads, memoryPattern: false, spinning: false }),
  };
}
