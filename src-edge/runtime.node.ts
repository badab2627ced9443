// Node as an edge runtime: INT8 on native onnxruntime-node (onnxruntime-web's wasm where the addon does not load)
// on CPU hosts, FP16 on onnxruntime-node's CUDA EP on GPU hosts. Models and manifests come from the local disk.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../src-core/package-root.node.ts';
import { loadSharpJpeg } from './jpeg-sharp.node.ts';
import { loadNapiPng } from './png-napi.node.ts';
import { loadNativeEngine } from './native-engine.node.ts';
import { wasmEngine } from './wasm-engine.ts';
import type { EdgeRuntime } from './engine.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { fileSource } from './file-source.node.ts';
import { createCudaRunner, probeCuda } from './gpu.node.ts';

export function nodeRuntime(): EdgeRuntime {
  return {
    name: 'node',
    // Threads scale to about 4 on these nets; more only contend with request handling.
    defaultThreads: Math.min(availableParallelism(), 4),
    // Memory for inference: whole 512² photos with the default models (their measures are in the manifest).
    memoryBudgetMB: 512,
    wasm: wasmEngine,
    loadNative: loadNativeEngine,
    jpegWasm: loadJpegWasm,
    loadNativeJpeg: loadSharpJpeg,
    loadNativePng: loadNapiPng,
    createGpuRunner: (model) => createCudaRunner(model),
    probeGpu: probeCuda,
    embedded: () => fileSource(join(packageRoot(), 'src-edge', 'models', 'manifest.json'), 'embedded'),
    fileSource: (path) => fileSource(resolve(path), path),
    log: (line) => console.error(line),
  };
}
