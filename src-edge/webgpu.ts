// WebGPU hosts (Deno, browsers): FP16 through onnxruntime-web's WebGPU build. Loaded only when an adapter
// exists, so CPU hosts never pay for the second ORT build. Runtime-agnostic.
import type { Runner } from '../src-core/runtime/runner.ts';
import { sessionRunner, type OrtSessionLike, type OrtTensorCtor } from '../src-core/runtime/session-runner.ts';
import type { HostCapabilities } from './host.ts';

interface GpuAdapterLike {
  features: { has(name: string): boolean };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
}

export async function probeWebGpu(): Promise<HostCapabilities> {
  const gpu = (globalThis.navigator as GpuNavigator | undefined)?.gpu;
  if (!gpu) return { gpu: undefined, noGpuReason: 'no WebGPU (navigator.gpu) in this runtime' };
  let adapter;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { gpu: undefined, noGpuReason: `WebGPU adapter request failed (${e instanceof Error ? e.message : e})` };
  }
  if (!adapter) return { gpu: undefined, noGpuReason: 'WebGPU found no adapter' };
  const name = adapter.info?.description || [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ') || 'unnamed';
  // A software rasteriser (e.g. Mesa's llvmpipe) is slower than wasm on the same CPU.
  if (adapter.info?.isFallbackAdapter) return { gpu: undefined, noGpuReason: `WebGPU offers only a software adapter (${name})` };
  if (!adapter.features.has('shader-f16')) return { gpu: undefined, noGpuReason: `WebGPU adapter ${name} has no shader-f16 for FP16` };
  return { gpu: { ep: 'webgpu', detail: `WebGPU ${name}` } };
}

export async function createWebGpuRunner(model: Uint8Array): Promise<Runner> {
  const ort = await import('onnxruntime-web/webgpu');
  const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' });
  return sessionRunner('web', session as unknown as OrtSessionLike, ort.Tensor as unknown as OrtTensorCtor);
}
