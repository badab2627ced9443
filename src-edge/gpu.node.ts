// Node on a GPU host: FP16 through onnxruntime-node's CUDA execution provider. The CUDA provider library is
// not part of the npm package (its install script fetches it unless told to skip, as srq's .npmrc does), so the probe
// looks for it next to the native binding before claiming a GPU; a failing session then falls back to CPU.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Runner } from '../src-core/runtime/runner.ts';
import type { HostCapabilities } from './host.ts';

function bindingDir(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

export async function probeCuda(): Promise<HostCapabilities> {
  if (process.platform !== 'linux') return { gpu: undefined, noGpuReason: `no CUDA provider for onnxruntime-node on ${process.platform}` };
  const lib = join(bindingDir(), 'libonnxruntime_providers_cuda.so');
  if (!existsSync(lib)) {
    return { gpu: undefined, noGpuReason: 'onnxruntime-node has no CUDA provider installed' };
  }
  return { gpu: { ep: 'cuda', detail: `onnxruntime-node, ${lib}` } };
}

export async function createCudaRunner(model: Uint8Array): Promise<Runner> {
  // Loaded on demand: CPU hosts serve from onnxruntime-web and never need the native addon.
  const { createNodeRunner } = await import('../src-core/runtime/ort-node.ts');
  return createNodeRunner(model, { executionProviders: ['cuda'] });
}
