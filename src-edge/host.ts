// Which precision this host serves, and why. Pure: the runtime entry probes the capabilities, this decides.
// CPU hosts serve INT8 (onnxruntime-web, wasm); GPU hosts serve FP16 (onnxruntime-node's CUDA EP, or
// onnxruntime-web's WebGPU build). SRQ_VARIANT forces either: forced FP16 without a GPU runs on the CPU.
import type { ModelHost, ModelVariant } from './manifest.ts';

export interface GpuInfo {
  /** The execution provider that would run FP16. */
  ep: 'cuda' | 'webgpu';
  /** Where it was found, for the log and /v1/models. */
  detail: string;
}

export interface HostCapabilities {
  /** A usable GPU execution provider, or undefined. */
  gpu: GpuInfo | undefined;
  /** Why there is none (shown as the reason for serving on the CPU). */
  noGpuReason?: string;
}

export interface VariantChoice {
  variant: Extract<ModelVariant, 'int8' | 'fp16'>;
  device: ModelHost;
  /** The GPU when device is gpu. */
  gpu?: GpuInfo;
  reason: string;
}

export function chooseVariant(caps: HostCapabilities, override: 'int8' | 'fp16' | undefined): VariantChoice {
  const noGpu = caps.noGpuReason ?? 'no GPU found';
  if (override === 'int8') return { variant: 'int8', device: 'cpu', reason: 'SRQ_VARIANT=int8 forces INT8 on the CPU' };
  if (caps.gpu) {
    const how = override === 'fp16' ? 'SRQ_VARIANT=fp16' : 'GPU host';
    return { variant: 'fp16', device: 'gpu', gpu: caps.gpu, reason: `${how}: FP16 on ${caps.gpu.ep} (${caps.gpu.detail})` };
  }
  if (override === 'fp16') return { variant: 'fp16', device: 'cpu', reason: `SRQ_VARIANT=fp16 forces FP16; ${noGpu}, so it runs on the CPU` };
  return { variant: 'int8', device: 'cpu', reason: `CPU host (${noGpu}): INT8 on the CPU` };
}

/** What a host serves when GPU initialisation failed: the CPU path (FP16 stays FP16 only when forced). */
export function cpuFallback(override: 'int8' | 'fp16' | undefined, why: string): VariantChoice {
  const variant = override === 'fp16' ? 'fp16' : 'int8';
  return { variant, device: 'cpu', reason: `GPU init failed (${why}): ${variant.toUpperCase()} on the CPU` };
}

/** The label /v1/models and the response headers use, e.g. cpu-int8, gpu-fp16. */
export function choiceLabel(choice: Pick<VariantChoice, 'device' | 'variant'>): string {
  return `${choice.device}-${choice.variant}`;
}
